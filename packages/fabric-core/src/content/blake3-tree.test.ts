// Goal: the chunk-group tree is a real BLAKE3 tree: its root equals the plain BLAKE3 hash (so a
// blob's id is its b3sum), for every size and however the bytes arrive. Method: the official
// BLAKE3 test vectors (input byte i = i % 251; the values agree with b3sum 1.2.0), then
// property checks of tree root against the one-shot hash over sizes around group boundaries.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import { type BlobHasher, chunkGroupBytes, loadBlobHasher } from "./blake3-tree.js";
import {
  BlobTreeBuilder,
  buildBlobTree,
  groupCountOf,
  hashToHex,
  isGroupOf,
  isOutboardOf,
} from "./blob-tree.js";

const officialVectors: readonly [number, string][] = [
  [0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"],
  [1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"],
  [1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"],
  [1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"],
  [1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"],
  [2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"],
  [2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"],
  [3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"],
  [3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"],
  [4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969"],
  [4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"],
  [5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833"],
  [5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff"],
  [6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205"],
  [6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f"],
  [7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a"],
  [7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817"],
  [8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"],
  [8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"],
  [16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"],
  [31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"],
  [102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"],
];

function patterned(length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) data[i] = i % 251;
  return data;
}

let hasher: BlobHasher;
before(async () => {
  hasher = await loadBlobHasher();
});

describe("BLAKE3 chunk-group tree", () => {
  for (const [length, expected] of officialVectors) {
    it(`matches the official vector for ${length} bytes, one-shot and as a tree`, () => {
      const data = patterned(length);
      assert.equal(hashToHex(hasher.hash(data)), expected);
      const tree = buildBlobTree(hasher, data);
      assert.equal(tree.hash, expected);
      assert.equal(tree.size, length);
      assert.equal(tree.outboard.length, length > chunkGroupBytes ? groupCountOf(length) * 32 : 0);
    });
  }

  it("gives the plain BLAKE3 hash for sizes around group boundaries, however the bytes are split", () => {
    const sizeArbitrary = fc.oneof(
      fc.integer({ min: 0, max: 40 * chunkGroupBytes }),
      fc
        .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: -2, max: 2 }))
        .map(([groups, delta]) => groups * chunkGroupBytes + delta),
    );
    fc.assert(
      fc.property(
        sizeArbitrary,
        fc.integer({ min: 1, max: 3 * chunkGroupBytes }),
        fc.nat(255),
        (size, piece, seed) => {
          const data = patterned(size + seed).subarray(seed);
          const builder = new BlobTreeBuilder(hasher);
          for (let at = 0; at < data.length; at += piece) builder.update(data.subarray(at, at + piece));
          const tree = builder.finish();
          assert.equal(tree.hash, hashToHex(hasher.hash(data)));
          assert.ok(isOutboardOf(tree.hash, groupCountOf(size), tree.outboard));
        },
      ),
      { numRuns: 120 },
    );
  });

  it("verifies each group against the outboard and rejects any flipped byte or wrong length", () => {
    const data = patterned(5 * chunkGroupBytes + 100);
    const tree = buildBlobTree(hasher, data);
    const count = groupCountOf(data.length);
    assert.equal(count, 6);
    for (let index = 0; index < count; index += 1) {
      const group = data.slice(index * chunkGroupBytes, Math.min(data.length, (index + 1) * chunkGroupBytes));
      assert.ok(isGroupOf(hasher, tree.hash, tree.outboard, count, index, group));
      group[index * 7] = group[index * 7]! ^ 1;
      assert.equal(isGroupOf(hasher, tree.hash, tree.outboard, count, index, group), false);
    }
    const last = data.slice(5 * chunkGroupBytes);
    assert.equal(isGroupOf(hasher, tree.hash, tree.outboard, count, 5, last.subarray(0, 99)), false);
    assert.equal(
      isGroupOf(hasher, tree.hash, tree.outboard, count, 4, last),
      false,
      "a group in another slot",
    );
  });

  it("rejects an outboard that does not hash to the id", () => {
    const tree = buildBlobTree(hasher, patterned(3 * chunkGroupBytes));
    const bad = tree.outboard.slice();
    bad[40] = bad[40]! ^ 0x80;
    assert.equal(isOutboardOf(tree.hash, 3, bad), false);
    assert.equal(isOutboardOf(tree.hash, 4, tree.outboard), false);
    assert.equal(isOutboardOf(tree.hash, 3, tree.outboard.subarray(0, 64)), false);
    assert.ok(isOutboardOf(tree.hash, 3, tree.outboard));
  });

  it("handles groups far into a large blob (64-bit chunk counters)", () => {
    // Group 2^33 / 16 starts at chunk 2^33: the counter's high word is non-zero there.
    const group = patterned(chunkGroupBytes);
    const far = hasher.groupChainingValue(2 ** 29, group);
    const near = hasher.groupChainingValue(0, group);
    assert.notDeepEqual(far, near);
    assert.equal(far.length, 32);
  });
});
