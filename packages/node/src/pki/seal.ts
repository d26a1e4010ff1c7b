import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import type { NodeId } from "@revoada/fabric-core/vocabulary";

/**
 * Sealed boxes to a node's identity: anyone who knows a NodeId (its ed25519 public key) can
 * encrypt bytes only that node can open, with no key exchange first. The ed25519 key is
 * mapped to its X25519 twin (RFC 7748's birational map; the private side is the clamped
 * first half of SHA-512(seed), as libsodium's crypto_sign_ed25519_sk_to_curve25519 does),
 * an ephemeral X25519 key agrees a secret with it, HKDF-SHA256 derives a one-time key and
 * ChaCha20-Poly1305 seals. `context` is authenticated but not sent: a box sealed for one
 * purpose ("etcd-peer-key node-3") does not open as another.
 *
 * Box layout: version (1) | ephemeral X25519 public key (32) | ciphertext | tag (16).
 */
export const sealVersion = 1;
const headerBytes = 1 + 32;
const tagBytes = 16;
/** The largest plaintext a box carries; a decoder never allocates more. */
export const maxSealedPlaintextBytes = 1 << 20;
// The key is used once (fresh ephemeral key per box), so a fixed nonce is safe.
const nonce = Buffer.alloc(12);
const x25519SpkiPrefix = Buffer.from("302a300506032b656e032100", "hex");
const x25519Pkcs8Prefix = Buffer.from("302e020100300506032b656e04220420", "hex");
const fieldPrime = (1n << 255n) - 19n;

export function sealToNode(nodeId: NodeId, plaintext: Uint8Array, context: string): Buffer {
  if (plaintext.length > maxSealedPlaintextBytes)
    throw new Error(`sealed plaintext over ${maxSealedPlaintextBytes} bytes`);
  const recipient = x25519PublicKeyOf(nodeId);
  const ephemeral = generateKeyPairSync("x25519");
  const ephemeralPublic = rawX25519Public(ephemeral.publicKey);
  const key = boxKey(
    diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }),
    ephemeralPublic,
    nodeId,
  );
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: tagBytes });
  cipher.setAAD(Buffer.from(context, "utf8"), { plaintextLength: plaintext.length });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(sealVersion), ephemeralPublic, ciphertext, cipher.getAuthTag()]);
}

/** Opens boxes sealed to one node; made from the node's 32-byte ed25519 seed. */
export interface Unsealer {
  readonly nodeId: NodeId;
  /** The plaintext, or undefined when the box is malformed, for another node, or for another context. */
  open(box: Uint8Array, context: string): Buffer | undefined;
}

export function unsealerFromSeed(seed: Uint8Array, nodeId: NodeId): Unsealer {
  if (seed.length !== 32) throw new Error("an ed25519 seed is 32 bytes");
  const scalar = createHash("sha512").update(seed).digest().subarray(0, 32);
  const privateKey = createPrivateKey({
    key: Buffer.concat([x25519Pkcs8Prefix, scalar]),
    format: "der",
    type: "pkcs8",
  });
  return {
    nodeId,
    open(box, context) {
      if (
        box.length < headerBytes + tagBytes ||
        box.length > headerBytes + tagBytes + maxSealedPlaintextBytes
      ) {
        return undefined;
      }
      if (box[0] !== sealVersion) return undefined;
      const bytes = Buffer.from(box.buffer, box.byteOffset, box.length);
      const ephemeralPublic = bytes.subarray(1, headerBytes);
      let shared: Buffer;
      try {
        shared = diffieHellman({ privateKey, publicKey: x25519KeyFromRaw(ephemeralPublic) });
      } catch {
        return undefined; // a low-order point
      }
      const key = boxKey(shared, ephemeralPublic, nodeId);
      const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: tagBytes });
      decipher.setAAD(Buffer.from(context, "utf8"), {
        plaintextLength: bytes.length - headerBytes - tagBytes,
      });
      decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes));
      try {
        return Buffer.concat([
          decipher.update(bytes.subarray(headerBytes, bytes.length - tagBytes)),
          decipher.final(),
        ]);
      } catch {
        return undefined;
      }
    },
  };
}

function boxKey(shared: Buffer, ephemeralPublic: Buffer, nodeId: NodeId): Buffer {
  const salt = Buffer.concat([ephemeralPublic, Buffer.from(nodeId, "hex")]);
  return Buffer.from(hkdfSync("sha256", shared, salt, "revoada sealed box v1", 32));
}

/** u = (1 + y) / (1 - y) mod p, from the ed25519 public key's y coordinate. */
function x25519PublicKeyOf(nodeId: NodeId): KeyObject {
  if (!/^[0-9a-f]{64}$/.test(nodeId)) throw new Error("a NodeId is 64 hex characters");
  const bytes = Buffer.from(nodeId, "hex");
  bytes[31] = (bytes[31] ?? 0) & 0x7f;
  const y = littleEndianToBigInt(bytes);
  if (y >= fieldPrime || y === 1n)
    throw new Error(`NodeId ${nodeId.slice(0, 12)} is not a usable ed25519 key`);
  const u = ((1n + y) * modularInverse((1n - y + fieldPrime) % fieldPrime)) % fieldPrime;
  return x25519KeyFromRaw(bigIntToLittleEndian(u));
}

function x25519KeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([x25519SpkiPrefix, raw]), format: "der", type: "spki" });
}

function rawX25519Public(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" }).subarray(x25519SpkiPrefix.length);
}

function littleEndianToBigInt(bytes: Buffer): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i -= 1) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

function bigIntToLittleEndian(value: bigint): Buffer {
  const bytes = Buffer.alloc(32);
  let rest = value;
  for (let i = 0; i < 32; i += 1) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

function modularInverse(value: bigint): bigint {
  // Fermat: value^(p-2) mod p, by square-and-multiply.
  let result = 1n;
  let base = value % fieldPrime;
  let exponent = fieldPrime - 2n;
  while (exponent > 0n) {
    if ((exponent & 1n) === 1n) result = (result * base) % fieldPrime;
    base = (base * base) % fieldPrime;
    exponent >>= 1n;
  }
  return result;
}
