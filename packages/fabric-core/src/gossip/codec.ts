import { assert } from "../vocabulary/index.js";
import { GossipMessage } from "./types.js";

/**
 * The wire encoding of gossip messages: UTF-8 JSON, validated by the zod schemas on the way
 * in. The length is checked before anything is parsed, and every array in the schemas has a
 * bound, so a hostile packet costs at most one bounded parse. Authentication (the cluster
 * key) is the driver's envelope around these bytes.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export type DecodeOutcome =
  | { readonly ok: true; readonly message: GossipMessage }
  | { readonly ok: false; readonly reason: "malformed" | "oversized" };

export function encodeMessage(message: GossipMessage): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(message));
  assert(bytes.length > 0, "empty encoding");
  return bytes;
}

export function decodeMessage(bytes: Uint8Array, bytesMax: number): DecodeOutcome {
  if (bytes.length > bytesMax) return { ok: false, reason: "oversized" };
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const parsed = GossipMessage.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed" };
  return { ok: true, message: parsed.data };
}

/** Bytes of `text` in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}
