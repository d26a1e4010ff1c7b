// Goal: the store keeps blobs by their BLAKE3 hash (= b3sum), shows a blob only once it is
// whole and verified, survives concurrent puts of the same bytes, detects corruption on
// verify, resumes partial downloads from re-verified groups, and collects only unpinned blobs
// past their retention. Method: real files in a temporary data dir; b3sum cross-checks when
// the Debian tool is installed. A 2 GiB generated blob runs in CI; SOAK=1 makes it 6 GiB.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { buildBlobTree, chunkGroupBytes, GroupBitfield, hashToHex } from "@revoada/fabric-core/content";
import type { Blake3Hash } from "@revoada/fabric-core/vocabulary";
import { BlobStore, workerHashBytesMin } from "./blob-store.js";
import { writeGeneratedFile } from "./generated-file.js";

const scratch = mkdtempSync(join(tmpdir(), "revoada-store-"));
// The 2 GiB test leaves 4 GiB here (the file and its stored copy): every run removes it.
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The Debian tool's answer, for a cross-check; CI installs it (scripts/setup-system.sh) and must have it. */
function b3sum(path: string): string | null {
  try {
    return execFileSync("b3sum", ["--no-names", path], { encoding: "utf8" }).trim();
  } catch (error) {
    if (process.env.CI === "true")
      throw new Error("b3sum is missing in CI (scripts/setup-system.sh installs it)", { cause: error });
    return null;
  }
}

async function freshStore(name: string): Promise<BlobStore> {
  return BlobStore.open(join(scratch, name));
}

describe("BlobStore", () => {
  for (const size of [0, 1, 1000, chunkGroupBytes, chunkGroupBytes + 1, 10 * chunkGroupBytes - 3]) {
    it(`round-trips a ${size}-byte blob by its BLAKE3 hash`, async () => {
      const store = await freshStore(`round-${size}`);
      const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
      const stored = await store.put(data);
      assert.equal(stored.size, size);
      assert.equal(stored.hash, hashToHex(store.hasher.hash(data)));
      assert.ok(await store.has(stored.hash));
      assert.deepEqual(new Uint8Array((await store.read(stored.hash))!), data);
      assert.deepEqual(await store.list(), [stored]);
      assert.equal(await store.verify(stored.hash), "ok");
      const sum = b3sum(store.blobPath(stored.hash));
      if (sum !== null) assert.equal(stored.hash, sum);
      assert.ok(await store.delete(stored.hash));
      assert.equal(await store.has(stored.hash), false);
      assert.equal(await store.verify(stored.hash), "missing");
    });
  }

  it("imports a large generated file through a worker thread, equal to b3sum", async () => {
    const size = process.env.SOAK === "1" ? 6 * 1024 ** 3 + 12_345 : 2 * 1024 ** 3 + 999;
    assert.ok(size >= workerHashBytesMin);
    const source = join(scratch, "large.bin");
    await writeGeneratedFile(source, size, 42);
    const store = await freshStore("large");
    const stored = await store.putFile(source);
    assert.equal(stored.size, size);
    const sum = b3sum(source);
    if (sum !== null) assert.equal(stored.hash, sum);
    assert.equal(await store.verify(stored.hash), "ok");
    assert.deepEqual(readdirSync(store.partialDir), [], "no temporary file left behind");
  });

  it("stores concurrent puts of the same bytes once, with no leftovers", async () => {
    const store = await freshStore("concurrent");
    const data = new Uint8Array(5 * chunkGroupBytes + 17).fill(9);
    const file = join(scratch, "same.bin");
    writeFileSync(file, data);
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => store.put(data)),
      ...Array.from({ length: 2 }, () => store.putFile(file)),
    ]);
    assert.equal(new Set(results.map((r) => r.hash)).size, 1);
    assert.equal((await store.list()).length, 1);
    assert.deepEqual(readdirSync(store.partialDir), []);
    assert.equal(await store.verify(results[0]!.hash), "ok");
  });

  it("finds a flipped byte on verify", async () => {
    const store = await freshStore("corrupt");
    const stored = await store.put(new Uint8Array(3 * chunkGroupBytes).fill(1));
    const path = store.blobPath(stored.hash);
    const bytes = readFileSync(path);
    bytes[chunkGroupBytes + 5] = bytes[chunkGroupBytes + 5]! ^ 0x10;
    writeFileSync(path, bytes);
    assert.equal(await store.verify(stored.hash), "corrupt");
  });

  it("collects only unpinned blobs, after the retention", async () => {
    const store = await freshStore("gc");
    const kept = await store.put(new Uint8Array([1]));
    const dropped = await store.put(new Uint8Array([2]));
    const pins = new Set<Blake3Hash>([kept.hash]);
    assert.deepEqual(await store.collectGarbage(pins, 1000, 60_000), []);
    assert.deepEqual(await store.collectGarbage(pins, 60_999, 60_000), []);
    assert.deepEqual(await store.collectGarbage(pins, 61_000, 60_000), [dropped.hash]);
    assert.ok(await store.has(kept.hash));
    assert.equal(await store.has(dropped.hash), false);
  });

  it("resumes a partial download from the groups that still verify", async () => {
    const store = await freshStore("partial");
    const data = new Uint8Array(5 * chunkGroupBytes + 300).map((_, i) => (i * 13) & 0xff);
    const tree = buildBlobTree(store.hasher, data);
    const source = { data, hash: tree.hash, outboard: tree.outboard, groups: 6 };
    const partial = await store.openPartial(source.hash);
    assert.equal(partial.resume, undefined);
    await partial.saveTree(source.data.length, source.outboard);
    const written = new GroupBitfield(source.groups);
    for (const index of [0, 2, 3, 5]) {
      const offset = index * chunkGroupBytes;
      await partial.writeGroup(
        offset,
        source.data.subarray(offset, Math.min(source.data.length, offset + chunkGroupBytes)),
      );
      written.maybeSet(index);
    }
    await partial.saveBits(written);
    await partial.close();
    // Damage group 3 on disk, as a torn write would.
    const handle = await open(join(store.partialDir, `${source.hash}.data`), "r+");
    await handle.write(new Uint8Array([0xff, 0xff]), 0, 2, 3 * chunkGroupBytes + 100);
    await handle.close();
    const reopened = await store.openPartial(source.hash);
    assert.ok(reopened.resume !== undefined);
    const durable = new GroupBitfield(source.groups, reopened.resume.durable);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].filter((i) => durable.has(i)),
      [0, 2, 5],
    );
    assert.equal(await store.has(source.hash), false, "a partial blob is not visible");
    for (const index of [1, 3, 4]) {
      const offset = index * chunkGroupBytes;
      await reopened.writeGroup(offset, source.data.subarray(offset, offset + chunkGroupBytes));
    }
    const stored = await reopened.complete(source.data.length, source.outboard);
    assert.equal(stored.hash, source.hash);
    assert.equal(await store.verify(source.hash), "ok");
  });
});
