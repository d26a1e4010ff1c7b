// Goal: the tree is RFC 9162's: roots, audit paths and consistency proofs match the RFC's
// recursive definitions and the published CT test vectors, and verification accepts exactly
// the proofs the tree produces. Method: a direct (recursive, test-only) transcription of the
// RFC definitions as the reference, every (index, size) and (old, new) pair up to 40 leaves,
// and single-bit tampering of every proof.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  emptyTreeRoot,
  MerkleTree,
  merkleLeafHash,
  merkleNodeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function largestPowerBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return emptyTreeRoot();
  if (leaves.length === 1) return merkleLeafHash(leaves[0]!);
  const k = largestPowerBelow(leaves.length);
  return merkleNodeHash(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

function referencePath(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerBelow(leaves.length);
  if (m < k) return [...referencePath(m, leaves.slice(0, k)), referenceRoot(leaves.slice(k))];
  return [...referencePath(m - k, leaves.slice(k)), referenceRoot(leaves.slice(0, k))];
}

function referenceSubproof(m: number, leaves: readonly Uint8Array[], complete: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [referenceRoot(leaves)];
  const k = largestPowerBelow(n);
  if (m <= k) return [...referenceSubproof(m, leaves.slice(0, k), complete), referenceRoot(leaves.slice(k))];
  return [...referenceSubproof(m - k, leaves.slice(k), false), referenceRoot(leaves.slice(0, k))];
}

function leavesOf(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => Buffer.from([i & 0xff, i >> 8, 7]));
}

function flipBit(proof: readonly Uint8Array[], at: number): Uint8Array[] {
  return proof.map((hash, i) => {
    if (i !== at) return hash;
    const copy = Buffer.from(hash);
    copy[0] = copy[0]! ^ 1;
    return copy;
  });
}

describe("merkle tree", () => {
  test("published CT vectors: roots of the eight-leaf test tree at every size", () => {
    const leaves = [
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f",
    ];
    const roots = [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    const tree = new MerkleTree();
    assert.equal(hex(tree.rootAt(0)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (const leaf of leaves) tree.append(Buffer.from(leaf, "hex"));
    for (const [i, root] of roots.entries())
      assert.equal(hex(tree.rootAt(i + 1)), root, `root at size ${i + 1}`);
  });

  test("roots, audit paths and consistency proofs equal the RFC definitions up to 40 leaves", () => {
    const leaves = leavesOf(40);
    const tree = new MerkleTree();
    for (const leaf of leaves) tree.append(leaf);
    for (let size = 1; size <= leaves.length; size += 1) {
      const prefix = leaves.slice(0, size);
      const root = referenceRoot(prefix);
      assert.equal(hex(tree.rootAt(size)), hex(root), `root ${size}`);
      for (let index = 0; index < size; index += 1) {
        const path = tree.inclusionProof(index, size);
        assert.deepEqual(path.map(hex), referencePath(index, prefix).map(hex), `path ${index}/${size}`);
        assert.ok(verifyInclusion(index, size, tree.leafHash(index), path, root));
        for (let at = 0; at < path.length; at += 1) {
          assert.equal(verifyInclusion(index, size, tree.leafHash(index), flipBit(path, at), root), false);
        }
        if (size > 1)
          assert.equal(verifyInclusion((index + 1) % size, size, tree.leafHash(index), path, root), false);
      }
      for (let old = 1; old <= size; old += 1) {
        const proof = tree.consistencyProof(old, size);
        assert.deepEqual(
          proof.map(hex),
          referenceSubproof(old, prefix, true).map(hex),
          `consistency ${old}->${size}`,
        );
        assert.ok(verifyConsistency(old, size, tree.rootAt(old), root, proof));
        for (let at = 0; at < proof.length; at += 1) {
          assert.equal(verifyConsistency(old, size, tree.rootAt(old), root, flipBit(proof, at)), false);
        }
      }
    }
  });

  test("a tree that rewrote any leaf is not consistent with the original (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 60 }),
        (size, at, extra) => {
          fc.pre(at < size);
          const leaves = leavesOf(size + extra);
          const honest = new MerkleTree();
          const forked = new MerkleTree();
          leaves.forEach((leaf, i) => {
            honest.append(leaf);
            forked.append(i === at ? Buffer.from("forked") : leaf);
          });
          const proof = forked.consistencyProof(size, size + extra);
          assert.equal(
            verifyConsistency(size, size + extra, honest.rootAt(size), forked.rootAt(), proof),
            false,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
