import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * The cluster keyring that authenticates every gossip packet (HMAC-SHA256), with rotation
 * the memberlist way: a list of 32-byte keys, the first used for sending, all accepted for
 * receiving. To rotate: add the new key everywhere (second position), make it first
 * everywhere, then remove the old one.
 *
 * Envelope: "RVG1" | key id (4 bytes: SHA-256(key)[0..4]) | HMAC-SHA256(key, "RVG1" | key
 * id | payload) (32 bytes) | payload. The sender's identity is inside the payload (every
 * gossip message names its sender), so it is covered by the MAC. Packets are not encrypted.
 */
export const envelopeBytes = 40;
const magic = Buffer.from("RVG1", "ascii");
const keyBytes = 32;

export type OpenOutcome =
  | { readonly ok: true; readonly payload: Uint8Array }
  | { readonly ok: false; readonly reason: "short" | "bad-magic" | "unknown-key" | "bad-mac" };

export class Keyring {
  private readonly keys: readonly { readonly key: Buffer; readonly id: Buffer }[];

  private constructor(keys: readonly Uint8Array[]) {
    this.keys = keys.map((key) => ({ key: Buffer.from(key), id: keyId(key) }));
  }

  /** Keys as raw 32-byte values; the first one signs outgoing packets. */
  static create(keys: readonly Uint8Array[]): Keyring {
    if (keys.length === 0) throw new RangeError("a keyring needs at least one key");
    for (const key of keys) {
      if (key.length !== keyBytes)
        throw new RangeError(`a cluster key is ${keyBytes} bytes, not ${key.length}`);
    }
    return new Keyring(keys);
  }

  /** Keys as 64-character hex strings, comma-separated (the form in config files and env). */
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
    const primary = this.keys[0]!;
    const tag = mac(primary.key, primary.id, payload);
    const packet = Buffer.concat([magic, primary.id, tag, payload]);
    if (packet.length !== payload.length + envelopeBytes) throw new Error("envelope size drifted");
    return packet;
  }

  open(packet: Uint8Array): OpenOutcome {
    if (packet.length < envelopeBytes) return { ok: false, reason: "short" };
    const bytes = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
    if (!bytes.subarray(0, 4).equals(magic)) return { ok: false, reason: "bad-magic" };
    const id = bytes.subarray(4, 8);
    const received = bytes.subarray(8, 40);
    const payload = bytes.subarray(40);
    let known = false;
    for (const entry of this.keys) {
      if (!entry.id.equals(id)) continue;
      known = true;
      if (timingSafeEqual(mac(entry.key, entry.id, payload), received)) return { ok: true, payload };
    }
    return { ok: false, reason: known ? "bad-mac" : "unknown-key" };
  }
}

function keyId(key: Uint8Array): Buffer {
  return createHash("sha256").update(key).digest().subarray(0, 4);
}

function mac(key: Buffer, id: Buffer, payload: Uint8Array): Buffer {
  return createHmac("sha256", key).update(magic).update(id).update(payload).digest();
}
