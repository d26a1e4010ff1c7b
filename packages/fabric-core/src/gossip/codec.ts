import { assert } from "../vocabulary/index.js";
import { GossipMessage, gossipAddressLengthMax, memberIdPattern } from "./types.js";

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
  // Probes without piggybacked updates (most of the traffic at rest) are checked by hand first;
  // anything the check does not certainly accept goes through the schema, which decides.
  const probe = bareProbe(json);
  if (probe !== null) return { ok: true, message: probe };
  const parsed = GossipMessage.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed" };
  return { ok: true, message: parsed.data };
}

// ---------------------------------------------------------------------------------------
// A hand-written check of the probes (`ping`, `ack`, `nack`) that carry no update, accepting
// only what `GossipMessage` accepts; a property test holds it to that. Every member probes
// and answers several times a second: zod was ~5% of a daemon's CPU at rest (docs/scale.md).

/** The keys of each hand-checked probe type. */
const bareProbeKeys = new Map<unknown, readonly string[]>([
  ["ping", ["type", "from", "address", "seq", "target", "updates"]],
  ["ack", ["type", "from", "address", "seq", "target", "updates"]],
  ["nack", ["type", "from", "address", "seq", "target"]],
]);

function isMemberId(value: unknown): boolean {
  return typeof value === "string" && memberIdPattern.test(value);
}

/** `json` as a probe without updates, or null to let the schema decide. */
export function bareProbe(json: unknown): GossipMessage | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const record = json as Record<string, unknown>;
  const keys = bareProbeKeys.get(record.type);
  if (keys === undefined) return null;
  const present = Object.keys(record);
  if (present.length !== keys.length || !keys.every((key) => Object.hasOwn(record, key))) return null;
  const { from, address, seq, target, updates } = record;
  const fits =
    isMemberId(from) &&
    isMemberId(target) &&
    typeof address === "string" &&
    address.length >= 1 &&
    address.length <= gossipAddressLengthMax &&
    typeof seq === "number" &&
    Number.isSafeInteger(seq) &&
    seq >= 0 &&
    (record.type === "nack" || (Array.isArray(updates) && updates.length === 0));
  return fits ? (record as GossipMessage) : null;
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
