// Goal: hashing a fetch's groups on a worker thread changes nothing the fetch accepts. The
// core still compares every group's chaining value with the verified outboard; the values the
// thread computed are used only for the very bytes they were computed over; the thread's
// results match the hasher's on its own thread (short last group, groups far into a blob);
// the built thread loads in a process run from source (as `bench content` runs the fetcher);
// and a frame other listeners of the link also receive is left whole for them.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  chainingValueBytes,
  chunkGroupBytes,
  decodeContentFrame,
  loadBlobHasher,
} from "@revoada/fabric-core/content";
import { fetchBlob, hashThreadBlobBytes } from "./blob-fetcher.js";
import { BlobStore } from "./blob-store.js";
import { ContentService } from "./content-service.js";
import { memoryLinkPair } from "./frame-link.js";
import { groupHashThread, PrecomputedGroupHasher } from "./group-hash-thread.js";

const hasher = await loadBlobHasher();
let scratch = "";
after(() => rm(scratch, { recursive: true, force: true }));

/** Bytes that differ from group to group. */
function sampleBytes(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + seed * 7 + (i >> 14)) & 0xff);
}

function valuesHere(firstGroup: number, payload: Uint8Array): Uint8Array {
  const groups = Math.ceil(payload.length / chunkGroupBytes);
  const values = new Uint8Array(groups * chainingValueBytes);
  for (let i = 0; i < groups; i += 1) {
    const data = payload.subarray(i * chunkGroupBytes, (i + 1) * chunkGroupBytes);
    values.set(hasher.groupChainingValue(firstGroup + i, data), i * chainingValueBytes);
  }
  return values;
}

describe("groupHashThread", () => {
  test("gives the hasher's chaining values, a short last group and far group indexes included", async () => {
    for (const [firstGroup, length] of [
      [0, 4 * chunkGroupBytes],
      [1_000_003, 5 * chunkGroupBytes + 123],
      [7, 1],
    ] as const) {
      const payload = sampleBytes(length, firstGroup);
      const result = await groupHashThread.hashGroups(firstGroup, payload);
      assert.ok(result !== null, "the thread answered");
      assert.deepEqual(
        result.values,
        valuesHere(firstGroup, payload),
        `groups ${firstGroup}.., ${length} bytes`,
      );
      assert.deepEqual(new Uint8Array(result.hashed), payload, "the bytes hashed are the payload's");
      result.release();
    }
  });

  test("takes as many payloads at once as it has slots, and each slot again once released", async () => {
    const payloads = Array.from({ length: 20 }, (_, i) => sampleBytes(64 * chunkGroupBytes, i));
    const results = await Promise.all(
      payloads.map((payload, i) => groupHashThread.hashGroups(64 * i, payload)),
    );
    const taken = results.filter((result) => result !== null);
    assert.equal(taken.length, 16, "16 slots, the rest hashed by the caller");
    for (const [i, result] of results.entries()) {
      if (result === null) continue;
      assert.deepEqual(result.values, valuesHere(64 * i, payloads[i]!), `payload ${i}`);
      result.release();
    }
    const again = await Promise.all(
      payloads.map((payload, i) => groupHashThread.hashGroups(64 * i, payload)),
    );
    assert.equal(again.filter((result) => result !== null).length, 16, "every slot was freed");
    for (const result of again) result?.release();
  });

  test("the built thread loads and answers in a process run from source", async () => {
    const built = new URL("../../dist/content/group-hash-thread.js", import.meta.url);
    assert.ok(existsSync(built), "run `pnpm build` in packages/node before this test");
    const { groupHashThread: builtThread } = (await import(
      built.href
    )) as typeof import("./group-hash-thread.js");
    const payload = sampleBytes(3 * chunkGroupBytes, 5);
    const result = await builtThread.hashGroups(9, payload);
    assert.ok(result !== null, "the built hashing thread started");
    assert.deepEqual(result.values, valuesHere(9, payload));
    result.release();
  });
});

describe("PrecomputedGroupHasher", () => {
  test("answers with a given value only for the same bytes in the same place, until forgotten", () => {
    const precomputed = new PrecomputedGroupHasher(hasher);
    const payload = sampleBytes(2 * chunkGroupBytes, 1);
    const wrong = new Uint8Array(2 * chainingValueBytes).fill(0xee);
    precomputed.expect(40, payload, wrong);
    const group = payload.subarray(chunkGroupBytes);
    assert.deepEqual(precomputed.groupChainingValue(41, group), wrong.subarray(chainingValueBytes));
    const truth = hasher.groupChainingValue(41, group);
    // The same content elsewhere, another group index, a shorter view: hashed, not looked up.
    assert.deepEqual(precomputed.groupChainingValue(41, new Uint8Array(group)), truth);
    assert.deepEqual(precomputed.groupChainingValue(42, group), hasher.groupChainingValue(42, group));
    assert.deepEqual(
      precomputed.groupChainingValue(41, group.subarray(0, 100)),
      hasher.groupChainingValue(41, group.subarray(0, 100)),
    );
    precomputed.forget();
    assert.deepEqual(precomputed.groupChainingValue(41, group), truth);
  });
});

test("a fetch hashing on the thread leaves the link's frames whole for its other listeners", async () => {
  scratch = await mkdtemp(join(tmpdir(), "revoada-group-hash-"));
  // Large enough that the fetcher hashes its ranges on the thread (smaller blobs never start it).
  const data = sampleBytes(hashThreadBlobBytes + 9, 3);
  const source = await BlobStore.open(join(scratch, "source"));
  const stored = await source.put(data);
  const target = await BlobStore.open(join(scratch, "target"));
  const [serverSide, clientSide] = memoryLinkPair();
  new ContentService(source).serve(serverSide);
  const seen: Uint8Array[] = [];
  clientSide.onFrame((frame) => seen.push(frame));
  const fetched = await fetchBlob({
    store: target,
    hash: stored.hash,
    providers: new Map([["source", { link: clientSide, complete: true }]]),
  });
  assert.deepEqual(fetched, stored);
  assert.equal(await target.verify(stored.hash), "ok");
  const ranges = seen
    .map((frame) => decodeContentFrame(frame))
    .filter((decoded) => decoded.ok && decoded.value.message.type === "range");
  assert.ok(ranges.length >= 2, "the blob came in several range responses");
  let bytes = 0;
  for (const decoded of ranges) if (decoded.ok) bytes += decoded.value.payload.length;
  assert.equal(bytes, data.length, "every range frame still holds its payload");
});
