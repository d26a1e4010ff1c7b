// Goal: witnesses cosign only append-only growth (split-view defence) and the leader's
// sealer cuts checkpoints on size or time, seals at k cosignatures and reports overdue
// sealing. Method: a real chain, witnesses fed honest and forked checkpoints, and a sealer
// driven by an explicit clock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadBlake3 } from "../vocabulary/index.js";
import { checkCheckpointSignatures, formatCheckpointNote, signCheckpoint } from "./checkpoint.js";
import { MerkleTree } from "./merkle.js";
import { generateSampleChain } from "./sample.js";
import { Sealer } from "./sealer.js";
import { Witness } from "./witness.js";

await loadBlake3();
const sample = generateSampleChain({ blocks: 100, seed: 21, checkpointEvery: 100 });
const origin = sample.genesis.body.origin;
const [leader, witnessKey, otherKey] = sample.founders as [never, never, never];
const members = new Set(sample.genesis.body.control_plane);

function noteAt(tree: MerkleTree, size: number): string {
  return formatCheckpointNote(signCheckpoint({ origin, size, root: tree.rootAt(size) }, leader));
}

function forkedTree(at: number): MerkleTree {
  const tree = new MerkleTree();
  for (const [i, block] of sample.blocks.entries())
    tree.append(Buffer.from(i === at ? "f".repeat(64) : block.hash, "hex"));
  return tree;
}

describe("witness", () => {
  test("cosigns append-only growth with consistency proofs and remembers the largest size", () => {
    const tree = sample.chain.tree;
    const witness = new Witness(witnessKey, origin, null);
    for (const [oldSize, size] of [
      [0, 10],
      [10, 10],
      [10, 37],
      [37, 100],
    ] as const) {
      const outcome = witness.cosign(
        { note: noteAt(tree, size), oldSize, proof: tree.consistencyProof(oldSize, size) },
        members,
        5000,
      );
      assert.ok(outcome.ok, outcome.ok ? "" : outcome.message);
      assert.equal(outcome.state.size, size);
    }
    assert.equal(witness.state?.size, 100);
  });

  test("refuses forks, rollbacks, stale old sizes, bad proofs, other logs and unsigned notes", () => {
    const tree = sample.chain.tree;
    const witness = new Witness(witnessKey, origin, null);
    assert.ok(witness.cosign({ note: noteAt(tree, 50), oldSize: 0, proof: [] }, members, 0).ok);
    const forked = forkedTree(20);
    const refusals = [
      witness.cosign({ note: noteAt(forked, 50), oldSize: 50, proof: [] }, members, 0),
      witness.cosign(
        { note: noteAt(forked, 80), oldSize: 50, proof: forked.consistencyProof(50, 80) },
        members,
        0,
      ),
      witness.cosign({ note: noteAt(tree, 40), oldSize: 50, proof: [] }, members, 0),
      witness.cosign(
        { note: noteAt(tree, 80), oldSize: 30, proof: tree.consistencyProof(30, 80) },
        members,
        0,
      ),
      witness.cosign(
        { note: noteAt(tree, 80).replace(origin, `${origin}-other`), oldSize: 50, proof: [] },
        members,
        0,
      ),
      witness.cosign(
        { note: noteAt(tree, 80), oldSize: 50, proof: tree.consistencyProof(50, 80) },
        new Set([otherKey]),
        0,
      ),
      witness.cosign({ note: "garbage", oldSize: 50, proof: [] }, members, 0),
    ];
    assert.deepEqual(
      refusals.map((outcome) => (outcome.ok ? "cosigned" : outcome.refusal)),
      ["fork", "bad-proof", "conflict", "conflict", "wrong-origin", "unsigned", "malformed"],
    );
    assert.ok(
      refusals.every((outcome) => outcome.ok || outcome.size === 50),
      "refusals report the witness's size",
    );
    assert.equal(witness.state?.size, 50, "a refusal changes nothing");
  });

  test("a witness restored from its persisted state keeps refusing the fork", () => {
    const tree = sample.chain.tree;
    const first = new Witness(witnessKey, origin, null);
    const outcome = first.cosign({ note: noteAt(tree, 64), oldSize: 0, proof: [] }, members, 0);
    assert.ok(outcome.ok);
    const restored = new Witness(witnessKey, origin, JSON.parse(JSON.stringify(outcome.state)));
    const forked = forkedTree(3);
    const refused = restored.cosign(
      { note: noteAt(forked, 90), oldSize: 64, proof: forked.consistencyProof(64, 90) },
      members,
      0,
    );
    assert.ok(!refused.ok);
    assert.equal(refused.refusal, "bad-proof");
  });
});

describe("sealer", () => {
  const config = { origin, cosignaturesMin: 2, sealIntervalMs: 1000, blocksPerCheckpointMax: 64 };

  test("cuts on a full batch or after a quarter interval, seals at k cosignatures", () => {
    const tree = new MerkleTree();
    const sealer = new Sealer(config, leader);
    for (const block of sample.blocks.slice(0, 10)) tree.append(Buffer.from(block.hash, "hex"));
    assert.equal(sealer.maybeCheckpoint(tree, 0), null, "ten blocks wait for the interval");
    assert.equal(sealer.maybeCheckpoint(tree, 249), null);
    const byTime = sealer.maybeCheckpoint(tree, 250);
    assert.ok(byTime !== null);
    for (const block of sample.blocks.slice(10, 74)) tree.append(Buffer.from(block.hash, "hex"));
    const bySize = sealer.maybeCheckpoint(tree, 251);
    assert.ok(bySize !== null, "64 new blocks cut at once");
    const witnesses = [new Witness(witnessKey, origin, null), new Witness(otherKey, origin, null)];
    const text = formatCheckpointNote(bySize);
    const cosignatures = witnesses.map((witness) => {
      const outcome = witness.cosign({ note: text, oldSize: 0, proof: [] }, members, 300);
      assert.ok(outcome.ok);
      return outcome.cosignature;
    });
    assert.equal(sealer.addCosignature(74, cosignatures[0]!, members), null, "one of two");
    assert.equal(sealer.addCosignature(74, cosignatures[0]!, members), null, "a repeat does not count twice");
    const sealed = sealer.addCosignature(74, cosignatures[1]!, members);
    assert.ok(sealed !== null);
    assert.equal(sealer.sealedSize, 74);
    const check = checkCheckpointSignatures(sealed, members, 2);
    assert.ok(check.ok);
    assert.equal(sealer.overdueMs(10_000), 0);
  });

  test("reports overdue sealing and cuts again when no quorum answers", () => {
    const tree = new MerkleTree();
    const sealer = new Sealer(config, leader);
    tree.append(Buffer.from(sample.blocks[0]!.hash, "hex"));
    assert.equal(sealer.maybeCheckpoint(tree, 1000), null);
    assert.ok(sealer.maybeCheckpoint(tree, 1250) !== null);
    assert.equal(sealer.maybeCheckpoint(tree, 1300), null, "waiting for cosignatures");
    assert.ok(sealer.maybeCheckpoint(tree, 1750) !== null, "no quorum in half the interval: cut again");
    assert.equal(sealer.overdueMs(1999), 0);
    assert.equal(sealer.overdueMs(2500), 500);
  });

  test("a cosignature by the leader, a non-member or for another checkpoint does not count", () => {
    const tree = sample.chain.tree;
    const sealer = new Sealer({ ...config, blocksPerCheckpointMax: 1 }, leader);
    const note = sealer.maybeCheckpoint(tree, 0);
    assert.ok(note !== null);
    const text = formatCheckpointNote(note);
    const self = new Witness(leader, origin, null).cosign({ note: text, oldSize: 0, proof: [] }, members, 0);
    const outsider = new Witness(sample.outsider, origin, null).cosign(
      { note: text, oldSize: 0, proof: [] },
      members,
      0,
    );
    assert.ok(self.ok && outsider.ok);
    assert.equal(sealer.addCosignature(100, self.cosignature, members), null);
    assert.equal(sealer.addCosignature(100, outsider.cosignature, members), null);
    assert.equal(sealer.addCosignature(99, self.cosignature, members), null);
    assert.equal(sealer.sealedSize, 0);
  });
});
