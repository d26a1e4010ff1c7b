import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { maxSealedPlaintextBytes, sealToNode, unsealerFromSeed } from "./seal.js";

function nodeKeys() {
  const seed = randomBytes(32);
  const signer = signerFromSeed(seed);
  return { nodeId: signer.nodeId, unsealer: unsealerFromSeed(seed, signer.nodeId) };
}

describe("sealed boxes to a node's ed25519 identity", () => {
  it("open only for the node sealed to, under the context sealed with", () => {
    const alice = nodeKeys();
    const bob = nodeKeys();
    const secret = Buffer.from("-----BEGIN PRIVATE KEY-----\nsecret\n");
    const box = sealToNode(alice.nodeId, secret, "etcd-peer-key node-1");
    assert.deepEqual(alice.unsealer.open(box, "etcd-peer-key node-1"), secret);
    assert.equal(bob.unsealer.open(box, "etcd-peer-key node-1"), undefined);
    assert.equal(alice.unsealer.open(box, "etcd-peer-key node-2"), undefined);
    assert.equal(box.includes(Buffer.from("secret")), false);
  });

  it("works for many keys (the ed25519 to X25519 map holds for any identity)", () => {
    for (let i = 0; i < 32; i += 1) {
      const node = nodeKeys();
      const message = randomBytes(i * 7);
      assert.deepEqual(node.unsealer.open(sealToNode(node.nodeId, message, "c"), "c"), message);
    }
  });

  it("refuses a tampered, truncated, re-versioned or oversized box without throwing", () => {
    const node = nodeKeys();
    const box = sealToNode(node.nodeId, Buffer.from("hello"), "c");
    for (let i = 0; i < box.length; i += 1) {
      const tampered = Buffer.from(box);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      assert.equal(node.unsealer.open(tampered, "c"), undefined, `byte ${i} flipped`);
    }
    assert.equal(node.unsealer.open(box.subarray(0, 20), "c"), undefined);
    assert.equal(node.unsealer.open(Buffer.alloc(maxSealedPlaintextBytes + 100), "c"), undefined);
    assert.throws(() => sealToNode(node.nodeId, Buffer.alloc(maxSealedPlaintextBytes + 1), "c"), /over/);
  });

  it("seals each time under a fresh ephemeral key", () => {
    const node = nodeKeys();
    const first = sealToNode(node.nodeId, Buffer.from("same"), "c");
    const second = sealToNode(node.nodeId, Buffer.from("same"), "c");
    assert.notDeepEqual(first, second);
  });
});
