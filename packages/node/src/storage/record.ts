import { crc32 } from "node:zlib";
import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * The framing every write-ahead-log record shares (docs/storage.md has the byte layout):
 *
 *   0  u32 LE  body length n (the type byte plus the payload), 1 <= n <= recordBodyBytesMax
 *   4  u32 LE  CRC-32 (IEEE, zlib's) of bytes 0..3 followed by the body
 *   8  u8      record type
 *   9  ...     payload, n - 1 bytes
 *
 * The checksum covers the length, so a flipped length byte is caught directly instead of
 * sending the reader off into the middle of another record.
 */
export const recordHeaderBytes = 8;
/** A record holds one entry; entries are bounded well below this by the frame limit. */
export const recordBodyBytesMax = 64 * 1024 * 1024;

export const RecordType = {
  segment: 1,
  hardState: 2,
  entry: 3,
  snapshot: 4,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const recordTypes = new Set<number>(Object.values(RecordType));

export interface RecordView {
  readonly type: RecordType;
  /** Payload bytes (a view into the segment buffer, not a copy). */
  readonly payload: Buffer;
  /** Total bytes the record occupies, header included. */
  readonly size: number;
}

/** Appends one record to `chunks`; returns its size. */
export function encodeRecord(type: RecordType, payload: Uint8Array, chunks: Buffer[]): number {
  const bodyLength = payload.length + 1;
  assert(bodyLength <= recordBodyBytesMax, "record over the size limit");
  const header = Buffer.allocUnsafe(recordHeaderBytes + 1);
  header.writeUInt32LE(bodyLength, 0);
  header.writeUInt8(type, 8);
  let checksum = crc32(header.subarray(0, 4));
  checksum = crc32(header.subarray(8, 9), checksum);
  checksum = crc32(payload, checksum);
  header.writeUInt32LE(checksum, 4);
  chunks.push(header, Buffer.from(payload.buffer, payload.byteOffset, payload.length));
  return recordHeaderBytes + bodyLength;
}

export type DecodeOutcome =
  | { readonly ok: true; readonly record: RecordView }
  | { readonly ok: false; readonly reason: string; readonly truncated: boolean };

/** Decodes the record at `offset`; never throws, never reads past `buffer.length`. */
export function decodeRecord(buffer: Buffer, offset: number): DecodeOutcome {
  const remaining = buffer.length - offset;
  if (remaining < recordHeaderBytes + 1) {
    return { ok: false, reason: `incomplete header (${remaining} bytes left)`, truncated: true };
  }
  const bodyLength = buffer.readUInt32LE(offset);
  if (bodyLength < 1 || bodyLength > recordBodyBytesMax) {
    return { ok: false, reason: `record length ${bodyLength} out of range`, truncated: false };
  }
  if (bodyLength > remaining - recordHeaderBytes) {
    return { ok: false, reason: `record of ${bodyLength} bytes runs past end of file`, truncated: true };
  }
  const stored = buffer.readUInt32LE(offset + 4);
  const bodyStart = offset + recordHeaderBytes;
  let checksum = crc32(buffer.subarray(offset, offset + 4));
  checksum = crc32(buffer.subarray(bodyStart, bodyStart + bodyLength), checksum);
  if (checksum !== stored) {
    return { ok: false, reason: "checksum mismatch", truncated: false };
  }
  const type = buffer.readUInt8(bodyStart);
  if (!recordTypes.has(type)) {
    return { ok: false, reason: `unknown record type ${type}`, truncated: false };
  }
  const payload = buffer.subarray(bodyStart + 1, bodyStart + bodyLength);
  return { ok: true, record: { type: type as RecordType, payload, size: recordHeaderBytes + bodyLength } };
}

/**
 * True when a valid record starts anywhere after `offset`. Used to tell a torn tail (garbage
 * up to the end of the file) from damage in the middle (valid records follow the bad one).
 */
export function hasValidRecordAfter(buffer: Buffer, offset: number): boolean {
  for (let position = offset + 1; position + recordHeaderBytes < buffer.length; position += 1) {
    const bodyLength = buffer.readUInt32LE(position);
    if (bodyLength < 1 || bodyLength > buffer.length - position - recordHeaderBytes) continue;
    if (!recordTypes.has(buffer[position + recordHeaderBytes] ?? 0)) continue;
    if (decodeRecord(buffer, position).ok) return true;
  }
  return false;
}

/** u64 as two u32 halves: log indexes and terms are safe integers (< 2^53). */
export function writeUint64(buffer: Buffer, value: number, offset: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, "u64 field is a safe unsigned integer");
  buffer.writeUInt32LE(value % 2 ** 32, offset);
  buffer.writeUInt32LE(Math.floor(value / 2 ** 32), offset + 4);
}

/** Returns NaN for a value past 2^53, so callers can report it as corruption. */
export function readUint64(buffer: Buffer, offset: number): number {
  const low = buffer.readUInt32LE(offset);
  const high = buffer.readUInt32LE(offset + 4);
  if (high >= 2 ** 21) return Number.NaN;
  return high * 2 ** 32 + low;
}
