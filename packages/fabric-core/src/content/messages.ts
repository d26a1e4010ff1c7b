import { z } from "zod";
import {
  assert,
  Blake3Hash,
  type FabricIssue,
  failed,
  issuesFromZod,
  limits,
  ok,
  type Result,
} from "../vocabulary/index.js";
import { chainingValueBytes, chunkGroupBytes } from "./blake3-tree.js";
import { groupCountOf } from "./blob-tree.js";

/**
 * The content protocol's messages. A frame is `[u32 header length][header JSON][payload]`:
 * the header is validated by these schemas, the payload carries the bytes (group data, an
 * outboard, a bitfield) without base64. Requests carry an `id` the response echoes.
 */

const requestId = z
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const groupIndex = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const blobSize = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const OutboardRequest = z.strictObject({
  type: z.literal("outboard-request"),
  id: requestId,
  hash: Blake3Hash,
});
export const HaveRequest = z.strictObject({
  type: z.literal("have-request"),
  id: requestId,
  hash: Blake3Hash,
});
export const RangeRequest = z.strictObject({
  type: z.literal("range-request"),
  id: requestId,
  hash: Blake3Hash,
  first_group: groupIndex,
  group_count: z.int().min(1).max(limits.contentGroupsPerRequestMax),
});
export const ContentRequest = z.discriminatedUnion("type", [OutboardRequest, HaveRequest, RangeRequest]);
export type ContentRequest = z.infer<typeof ContentRequest>;

/** The outboard (payload: one chaining value per group, or nothing for a one-group blob). */
export const OutboardResponse = z.strictObject({
  type: z.literal("outboard"),
  id: requestId,
  hash: Blake3Hash,
  size: blobSize,
});
/**
 * What a provider holds. When `complete` is false the payload is two bitfields: the groups it
 * holds, then the groups it has asked for (so other fetchers do not ask a seed for them too).
 */
export const HaveResponse = z.strictObject({
  type: z.literal("have"),
  id: requestId,
  hash: Blake3Hash,
  size: blobSize,
  complete: z.boolean(),
});
/** Group data (payload: the groups' bytes, each 16 KiB but the blob's last). */
export const RangeResponse = z.strictObject({
  type: z.literal("range"),
  id: requestId,
  hash: Blake3Hash,
  first_group: groupIndex,
  group_count: z.int().min(1).max(limits.contentGroupsPerRequestMax),
});
export const NotFoundResponse = z.strictObject({
  type: z.literal("not-found"),
  id: requestId,
  hash: Blake3Hash,
});
export const RefusedResponse = z.strictObject({
  type: z.literal("refused"),
  id: requestId,
  hash: Blake3Hash,
  reason: z.enum(["busy", "unavailable", "bad-request"]),
});
export const ContentResponse = z.discriminatedUnion("type", [
  OutboardResponse,
  HaveResponse,
  RangeResponse,
  NotFoundResponse,
  RefusedResponse,
]);
export type ContentResponse = z.infer<typeof ContentResponse>;

export const ContentMessage = z.discriminatedUnion("type", [
  OutboardRequest,
  HaveRequest,
  RangeRequest,
  OutboardResponse,
  HaveResponse,
  RangeResponse,
  NotFoundResponse,
  RefusedResponse,
]);
export type ContentMessage = z.infer<typeof ContentMessage>;

export interface ContentFrame {
  readonly message: ContentMessage;
  readonly payload: Uint8Array;
}

const headerBytesMax = 4096;

/** Encodes a frame as two buffers (header with its length prefix, payload) for a vectored write. */
export function encodeContentFrame(frame: ContentFrame): readonly [Uint8Array, Uint8Array] {
  const header = Buffer.from(JSON.stringify(frame.message), "utf8");
  assert(header.length <= headerBytesMax, "content header over limit");
  assert(4 + header.length + frame.payload.length <= limits.frameBytesMax, "content frame over limit");
  const prefixed = Buffer.allocUnsafe(4 + header.length);
  prefixed.writeUInt32BE(header.length, 0);
  header.copy(prefixed, 4);
  return [prefixed, frame.payload];
}

/** Decodes and checks a frame; payload lengths are checked against what the header claims. */
export function decodeContentFrame(frame: Uint8Array): Result<ContentFrame> {
  if (frame.length < 4) return failed([frameIssue("frame shorter than its header length")]);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  const headerLength = view.getUint32(0, false);
  if (headerLength > headerBytesMax || 4 + headerLength > frame.length) {
    return failed([frameIssue(`header length ${headerLength} does not fit the frame`)]);
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(frame.subarray(4, 4 + headerLength)).toString("utf8"));
  } catch {
    return failed([frameIssue("header is not JSON")]);
  }
  const parsed = ContentMessage.safeParse(header);
  if (!parsed.success) return failed(issuesFromZod(parsed.error));
  const payload = frame.subarray(4 + headerLength);
  const problem = payloadProblem(parsed.data, payload.length);
  if (problem !== null) return failed([frameIssue(problem)]);
  return ok({ message: parsed.data, payload });
}

function payloadProblem(message: ContentMessage, length: number): string | null {
  switch (message.type) {
    case "outboard": {
      const groups = groupCountOf(message.size);
      const expected = groups === 1 ? 0 : groups * chainingValueBytes;
      return length === expected ? null : `outboard of ${length} bytes for ${groups} groups`;
    }
    case "have":
      if (message.complete) return length === 0 ? null : "a complete provider sends no bitfield";
      return length === 2 * Math.ceil(groupCountOf(message.size) / 8) ? null : "bitfield length mismatch";
    case "range":
      return length >= 1 && length <= message.group_count * chunkGroupBytes ? null : "range payload length";
    case "outboard-request":
    case "have-request":
    case "range-request":
    case "not-found":
    case "refused":
      return length === 0 ? null : `${message.type} carries no payload`;
  }
}

function frameIssue(message: string): FabricIssue {
  return { code: "bad-frame", message, path: [] };
}
