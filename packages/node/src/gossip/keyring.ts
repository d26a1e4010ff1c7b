import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { type KeyId, KeySet } from "../keys/key-set.js";

/**
 * The cluster keyring that encrypts and authenticates every gossip packet (AES-256-GCM),
 * with rotation the memberlist way: a primary key (sends), accepted keys (received too) and
 * the ids of retired keys (refused by name). To rotate (`revoada keys rotate --gossip`):
 * install the new key everywhere, promote it everywhere, then retire the old one.
 *
 * Envelope: "RVG2" (4) | key id (4: SHA-256(key)[0..4]) | nonce (12, random) | ciphertext |
 * tag (16); the first 20 bytes are the AEAD's associated data. The sender's identity is
 * inside the payload (every gossip message names its sender), so it is encrypted and
 * covered by the tag. Random 96-bit nonces are safe well past 2^32 packets per key (NIST
 * SP 800-38D's bound), which a rotation schedule stays far below.
 */
export const envelopeBytes = 36;
const magic = Buffer.from("RVG2", "ascii");
const headerBytes = 20;
const tagBytes = 16;

export type OpenOutcome =
  | { readonly ok: true; readonly payload: Uint8Array; readonly keyId: KeyId }
  | { readonly ok: false; readonly reason: "short" | "bad-magic" | "unknown-key" | "bad-mac" }
  | { readonly ok: false; readonly reason: "retired-key"; readonly keyId: KeyId };

export class Keyring {
  /** The live key set: rotation steps on it take effect on the next packet. */
  readonly keys: KeySet;

  private constructor(keys: KeySet) {
    this.keys = keys;
  }

  /** Keys as raw 32-byte values; the first one seals outgoing packets. */
  static create(keys: readonly Uint8Array[]): Keyring {
    return new Keyring(KeySet.create(keys));
  }

  static of(keys: KeySet): Keyring {
    return new Keyring(keys);
  }

  /** Keys as 64-character hex strings, comma-separated (the form in tools and env). */
  static parse(text: string): Keyring {
    const parts = text
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part.length > 0);
    for (const part of parts) {
      if (!/^[0-9a-fA-F]{64}$/.test(part)) throw new RangeError("a cluster key is 64 hex characters");
    }
    return Keyring.create(parts.map((part) => Buffer.from(part, "hex")));
  }

  seal(payload: Uint8Array): Buffer {
    const primary = this.keys.primary;
    const header = Buffer.allocUnsafe(headerBytes);
    magic.copy(header, 0);
    primary.idBytes.copy(header, 4);
    randomBytes(12).copy(header, 8);
    const cipher = createCipheriv("aes-256-gcm", primary.key, header.subarray(8, 20), {
      authTagLength: tagBytes,
    });
    cipher.setAAD(header);
    const packet = Buffer.concat([header, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
    if (packet.length !== payload.length + envelopeBytes) throw new Error("envelope size drifted");
    return packet;
  }

  open(packet: Uint8Array): OpenOutcome {
    if (packet.length < envelopeBytes) return { ok: false, reason: "short" };
    const bytes = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
    if (!bytes.subarray(0, 4).equals(magic)) return { ok: false, reason: "bad-magic" };
    const found = this.keys.lookup(bytes.subarray(4, 8));
    if (found.type === "retired")
      return { ok: false, reason: "retired-key", keyId: bytes.subarray(4, 8).toString("hex") };
    if (found.type === "unknown") return { ok: false, reason: "unknown-key" };
    const decipher = createDecipheriv("aes-256-gcm", found.entry.key, bytes.subarray(8, 20), {
      authTagLength: tagBytes,
    });
    decipher.setAAD(bytes.subarray(0, headerBytes));
    decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes));
    const first = decipher.update(bytes.subarray(headerBytes, bytes.length - tagBytes));
    try {
      const last = decipher.final();
      return {
        ok: true,
        payload: last.length === 0 ? first : Buffer.concat([first, last]),
        keyId: found.entry.id,
      };
    } catch {
      return { ok: false, reason: "bad-mac" };
    }
  }
}
