import type { z } from "zod";
import { canonicalJson, failed, parseWith, type Result } from "../vocabulary/index.js";
import { ConfChange, Entry, HardState, RaftMessage, Snapshot } from "./types.js";

/**
 * Byte encodings of the core's schemas, for the transport (messages) and the storage driver
 * (entries, hard state, snapshots). JSON with byte arrays as `{"$bytes": "<base64>"}`; every
 * decode validates against the zod schema and returns issues instead of throwing, so a bad
 * frame is dropped with a log line, never a crash.
 */

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

function replaceBytes(this: unknown, key: string, value: unknown): unknown {
  const holder = this as Record<string, unknown>;
  const original = holder[key];
  if (original instanceof Uint8Array) {
    return {
      $bytes: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString("base64"),
    };
  }
  return value;
}

function reviveBytes(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    const encoded = record.$bytes;
    if (typeof encoded === "string" && Object.keys(record).length === 1) {
      return new Uint8Array(Buffer.from(encoded, "base64"));
    }
  }
  return value;
}

function encodeWith(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value, replaceBytes));
}

/**
 * Parses UTF-8 JSON bytes and validates them against `schema`; byte arrays in the
 * `{"$bytes": ...}` form are revived unless `reviveByteArrays` is false (plain JSON payloads).
 */
export function decodeJsonBytes<S extends z.ZodType>(
  schema: S,
  bytes: Uint8Array,
  reviveByteArrays = true,
): Result<z.output<S>> {
  let parsed: unknown;
  try {
    const text = textDecoder.decode(bytes);
    parsed = reviveByteArrays ? JSON.parse(text, reviveBytes) : JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return failed([{ code: "invalid_json", message, path: [] }]);
  }
  return parseWith(schema, parsed);
}

export function encodeRaftMessage(message: RaftMessage): Uint8Array {
  return encodeWith(message);
}

export function decodeRaftMessage(bytes: Uint8Array): Result<RaftMessage> {
  return decodeJsonBytes(RaftMessage, bytes);
}

export function encodeEntry(entry: Entry): Uint8Array {
  return encodeWith(entry);
}

export function decodeEntry(bytes: Uint8Array): Result<Entry> {
  return decodeJsonBytes(Entry, bytes);
}

export function encodeHardState(hardState: HardState): Uint8Array {
  return encodeWith(hardState);
}

export function decodeHardState(bytes: Uint8Array): Result<HardState> {
  return decodeJsonBytes(HardState, bytes);
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  return encodeWith(snapshot);
}

export function decodeSnapshot(bytes: Uint8Array): Result<Snapshot> {
  return decodeJsonBytes(Snapshot, bytes);
}

/** Canonical (sorted-key) JSON, so the same change is the same bytes on every node. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return textEncoder.encode(canonicalJson(change, 0));
}

export function decodeConfChange(bytes: Uint8Array): Result<ConfChange> {
  return decodeJsonBytes(ConfChange, bytes);
}
