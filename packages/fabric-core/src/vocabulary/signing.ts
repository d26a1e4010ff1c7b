import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { assert } from "./assert.js";
import type { NodeId } from "./ids.js";

/**
 * ed25519 through node:crypto (10x faster than pure JS here, toolchain.md §7). A NodeId is
 * the raw 32-byte public key in hex; KeyObjects are cached because importing a key costs
 * more than verifying with it.
 */
export interface Signer {
  readonly nodeId: NodeId;
  sign(message: Uint8Array): Uint8Array;
}

const spkiPrefix = Buffer.from("302a300506032b6570032100", "hex");
const pkcs8Prefix = Buffer.from("302e020100300506032b657004220420", "hex");
const publicKeyCache = new Map<string, KeyObject>();
const publicKeyCacheMax = 8192;

/** A signer from a 32-byte ed25519 seed (the private key). */
export function signerFromSeed(seed: Uint8Array): Signer {
  assert(seed.length === 32, "an ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({
    key: Buffer.concat([pkcs8Prefix, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const nodeId = spki.subarray(spkiPrefix.length).toString("hex") as NodeId;
  assert(nodeId.length === 64, "public key is 32 bytes");
  return {
    nodeId,
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

function publicKeyOf(nodeId: string): KeyObject | undefined {
  const cached = publicKeyCache.get(nodeId);
  if (cached !== undefined) return cached;
  if (!/^[0-9a-f]{64}$/.test(nodeId)) return undefined;
  const key = createPublicKey({
    key: Buffer.concat([spkiPrefix, Buffer.from(nodeId, "hex")]),
    format: "der",
    type: "spki",
  });
  if (publicKeyCache.size >= publicKeyCacheMax) publicKeyCache.clear();
  publicKeyCache.set(nodeId, key);
  return key;
}

/** True when `signature` is `nodeId`'s ed25519 signature of `message`. Never throws on bad input. */
export function verifySignature(nodeId: string, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = publicKeyOf(nodeId);
  if (key === undefined) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
