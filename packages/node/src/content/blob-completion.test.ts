// Goal: a download killed at any point of its end (mid-transfer, all written, data synced,
// outboard placed, committed, cleaned up) leaves its blob either stored, whole and verifying
// with its outboard, or absent and resumable to the same blob; and the data file's writeback
// during the transfer (`WritebackPacer`) makes no difference to that. Method: this file also
// runs as a child process (REVOADA_KILL_AT set) that downloads a 3 MiB blob into a store with
// a 256 KiB writeback step and SIGKILLs itself at the named point; the test then reopens the
// store, checks what is visible, and resumes the download from what the child left. A process
// kill keeps the page cache, so this checks the order of the steps, not what a power loss
// drops (the fsyncs before each rename are what cover that).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { buildBlobTree, chunkGroupBytes, GroupBitfield } from "@revoada/fabric-core/content";
import type { Blake3Hash } from "@revoada/fabric-core/vocabulary";
import { BlobStore, type CompletionStep, type PartialBlob } from "./blob-store.js";

const killPoints = [
  "mid-transfer",
  "written",
  "data-synced",
  "outboard-placed",
  "committed",
  "cleaned",
] as const;
type KillPoint = (typeof killPoints)[number];
/** Where the blob must be visible after the kill: from the data file's rename on. */
const visibleFrom: ReadonlySet<KillPoint> = new Set(["committed", "cleaned"]);

const blobBytes = 3 * 1024 * 1024 + 1234;
const writebackStepBytes = 256 * 1024;

function blobData(): Uint8Array {
  return new Uint8Array(blobBytes).map((_, i) => (i * 131 + (i >> 12)) & 0xff);
}

const groupCount = Math.ceil(blobBytes / chunkGroupBytes);

/** Writes the groups `groups` of `data` (as the fetch driver does) and records them in `written`. */
async function writeGroups(
  partial: PartialBlob,
  data: Uint8Array,
  groups: readonly number[],
  written: GroupBitfield,
): Promise<void> {
  for (const index of groups) {
    const offset = index * chunkGroupBytes;
    await partial.writeGroup(offset, data.subarray(offset, Math.min(data.length, offset + chunkGroupBytes)));
    written.maybeSet(index);
  }
  await partial.saveBits(written);
}

/** The child: download into `dataDir`, and die at `killAt`. */
async function runChild(dataDir: string, killAt: KillPoint): Promise<void> {
  const die = (): never => {
    process.kill(process.pid, "SIGKILL");
    throw new Error("unreachable: SIGKILL did not stop the process");
  };
  const store = await BlobStore.open(dataDir);
  const data = blobData();
  const tree = buildBlobTree(store.hasher, data);
  const partial = await store.openPartial(tree.hash, {
    writebackStepBytes,
    onCompletionStep: (step: CompletionStep) => {
      if (step === killAt) die();
    },
  });
  await partial.saveTree(tree.size, tree.outboard);
  // Out of order, as a fetch writes its spans.
  const order = Array.from({ length: groupCount }, (_, i) => (i * 67) % groupCount);
  const written = new GroupBitfield(groupCount);
  await writeGroups(partial, data, order.slice(0, Math.floor(groupCount / 2)), written);
  if (killAt === "mid-transfer") die();
  await writeGroups(partial, data, order.slice(Math.floor(groupCount / 2)), written);
  if (killAt === "written") die();
  await partial.complete(tree.size, tree.outboard);
  process.exit(3); // every kill point is before the end: reaching it is a failure
}

if (process.env.REVOADA_KILL_AT !== undefined) {
  await runChild(process.env.REVOADA_KILL_DIR!, process.env.REVOADA_KILL_AT as KillPoint);
}

const scratch = mkdtempSync(join(tmpdir(), "revoada-completion-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Resumes what the child left: writes the groups not durable and completes; returns how many it wrote. */
async function resume(store: BlobStore, data: Uint8Array, hash: Blake3Hash): Promise<number> {
  const partial = await store.openPartial(hash, { writebackStepBytes });
  try {
    const durable = new GroupBitfield(groupCount, partial.resume?.durable);
    const missing = Array.from({ length: groupCount }, (_, i) => i).filter((i) => !durable.has(i));
    await writeGroups(partial, data, missing, durable);
    const tree = buildBlobTree(store.hasher, data);
    await partial.complete(tree.size, tree.outboard);
    return missing.length;
  } finally {
    await partial.close();
  }
}

describe("PartialBlob.complete under a kill", () => {
  const data = blobData();
  for (const killAt of killPoints) {
    it(`killed at ${killAt}: the blob is ${visibleFrom.has(killAt) ? "stored and verifies" : "absent, and resumes"}`, async () => {
      const dataDir = join(scratch, killAt);
      const child = spawnSync(
        process.execPath,
        ["--conditions=source", "--import", import.meta.resolve("tsx"), new URL(import.meta.url).pathname],
        { env: { ...process.env, REVOADA_KILL_AT: killAt, REVOADA_KILL_DIR: dataDir }, encoding: "utf8" },
      );
      assert.equal(
        child.signal,
        "SIGKILL",
        `the child died at ${killAt} (status ${child.status}): ${child.stderr}`,
      );

      const store = await BlobStore.open(dataDir);
      const tree = buildBlobTree(store.hasher, data);
      if (visibleFrom.has(killAt)) {
        assert.ok(await store.has(tree.hash), "a committed blob survives");
        assert.equal(await store.verify(tree.hash), "ok");
        assert.deepEqual(new Uint8Array(await store.outboard(tree.hash, tree.size)), tree.outboard);
        return;
      }
      assert.equal(await store.has(tree.hash), false, "nothing shows before the commit");
      const fetched = await resume(store, data, tree.hash);
      if (killAt === "mid-transfer") assert.ok(fetched > 0, "the unwritten half is fetched again");
      else assert.equal(fetched, 0, "every written group is kept");
      assert.equal(await store.verify(tree.hash), "ok");
      assert.deepEqual(new Uint8Array(await store.outboard(tree.hash, tree.size)), tree.outboard);
      assert.deepEqual(
        readdirSync(store.partialDir),
        [],
        "no partial file left after the resumed completion",
      );
      assert.deepEqual(readdirSync(store.completeDir).sort(), [tree.hash, `${tree.hash}.outboard`].sort());
    });
  }
});
