// Goal: the durable chain survives restart byte for byte, cuts a torn tail (and the lost
// blocks are re-derived from the log identically), refuses damage in the middle and a
// foreign genesis. Method: a real sample history written through the store into a temp
// directory, then truncated, padded and corrupted by hand between opens.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  AttestChain,
  type CommittedEntry,
  generateSampleChain,
  verifyChain,
} from "@revoada/fabric-core/attest";
import { encodeProposal, loadBlake3, type RoleCommand } from "@revoada/fabric-core/vocabulary";
import { StorageCorruptionError, StorageStateError } from "../errors.js";
import { ChainStore, chainFileName } from "./chain-store.js";

await loadBlake3();
const sample = generateSampleChain({ blocks: 40, seed: 31, checkpointEvery: 16 });
const root = mkdtempSync(join(tmpdir(), "revoada-chain-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let directories = 0;

/** The committed entries that produce the sample's blocks (proposals carry the leader signatures). */
function entriesOf(): CommittedEntry[] {
  return sample.blocks.map((block) => ({
    term: block.body.term,
    index: block.body.index,
    data: encodeProposal({
      // The sample's blocks are role commands (a strategy block records a digest, not the strategy).
      command: block.body.command as RoleCommand,
      proposer: block.body.proposer,
      issued_at_ms: block.body.committed_at_ms,
      origin: block.body.origin,
      force: block.body.force,
      ...(block.body.operator_signature === undefined
        ? {}
        : { operator_signature: block.body.operator_signature }),
      ...(block.body.operator_after === undefined ? {} : { operator_after: block.body.operator_after }),
      ...(block.signature === null ? {} : { leader_signature: block.signature }),
    }),
  }));
}

/** A store filled with the sample through `applyCommitted`, checkpoints appended as they seal. */
function filledStore(): ChainStore {
  directories += 1;
  const store = ChainStore.open(join(root, `node-${directories}`), sample.genesis);
  for (const [i, entry] of entriesOf().entries()) {
    const outcome = store.chain.applyCommitted(entry);
    assert.equal(outcome.type, "appended");
    if ((i + 1) % 5 === 0) store.persistBlocks();
    for (const checkpoint of sample.checkpoints.filter((c) => c.size === i + 1)) {
      store.persistBlocks();
      store.appendCheckpoint(checkpoint.size, checkpoint.note);
    }
  }
  store.persistBlocks();
  return store;
}

/** What the node does after a restart: feed the committed log again; seal what is missing. */
function catchUp(store: ChainStore): void {
  const sealed = (size: number) => store.checkpoints.some((checkpoint) => checkpoint.size === size);
  for (const entry of entriesOf()) {
    store.chain.applyCommitted(entry);
    const size = store.chain.blocks.length;
    const checkpoint = sample.checkpoints.find((candidate) => candidate.size === size);
    if (checkpoint !== undefined && !sealed(size)) {
      store.persistBlocks();
      store.appendCheckpoint(checkpoint.size, checkpoint.note);
    }
  }
  store.persistBlocks();
}

describe("chain store", () => {
  test("the file is the export, byte for byte, and survives a restart", () => {
    const store = filledStore();
    const text = store.exportText();
    assert.equal(text, sample.text, "derived from the log, the file equals the sample export");
    assert.ok(verifyChain(text, { mode: "every-block" }).ok);
    store.close();
    const reopened = ChainStore.open(store.directory, sample.genesis);
    assert.equal(reopened.exportText(), text);
    assert.deepEqual(reopened.recovery, {
      truncatedBytes: 0,
      blocks: 40,
      checkpoints: sample.checkpoints.length,
    });
    assert.equal(reopened.chain.head.hash, sample.chain.head.hash);
    assert.deepEqual(reopened.chain.roles.snapshot(), sample.chain.roles.snapshot());
    reopened.close();
  });

  test("a torn tail is cut, and re-applying the log restores the same bytes", () => {
    const store = filledStore();
    const path = join(store.directory, chainFileName);
    const full = readFileSync(path);
    store.close();
    for (const cut of [1, 57, 300, 1500, 4000]) {
      truncateSync(path, full.length - cut);
      appendFileSync(path, Buffer.alloc(cut % 7, 0));
      const reopened = ChainStore.open(store.directory, sample.genesis);
      assert.ok(reopened.recovery.truncatedBytes > 0);
      assert.ok(reopened.recovery.blocks < 40 || reopened.recovery.checkpoints < sample.checkpoints.length);
      catchUp(reopened);
      assert.deepEqual(readFileSync(path), full, `restored after cutting ${cut} bytes`);
      reopened.close();
    }
  });

  test("damage in the middle refuses to open; so does another cluster's genesis", () => {
    const store = filledStore();
    const path = join(store.directory, chainFileName);
    store.close();
    const bytes = readFileSync(path);
    const middle = bytes.indexOf('"sequence":7,');
    bytes[middle + 12] = "9".charCodeAt(0);
    writeFileSync(path, bytes);
    assert.throws(() => ChainStore.open(store.directory, sample.genesis), StorageCorruptionError);
    const other = generateSampleChain({ blocks: 1, seed: 32 });
    assert.throws(() => ChainStore.open(store.directory, other.genesis), StorageStateError);
  });

  test("a chain rebuilt from stored blocks accepts the next committed entries", () => {
    const store = filledStore();
    store.close();
    const reopened = ChainStore.open(store.directory, sample.genesis);
    const fresh = new AttestChain(sample.genesis);
    for (const entry of entriesOf()) fresh.applyCommitted(entry);
    assert.equal(reopened.chain.head.hash, fresh.head.hash);
    reopened.close();
  });
});
