import { assert, type Blake3Hash } from "../vocabulary/index.js";
import { chunkGroupBytes } from "./blake3-tree.js";
import { groupCountOf } from "./blob-tree.js";
import type { GroupBitfield } from "./group-bitfield.js";
import type { ContentMessage, ContentRequest } from "./messages.js";

/**
 * The provider side of the content protocol, as a pure decision: given a request and what this
 * node holds of the blob, which response to send and which bytes of the blob to read for it.
 * The driver does the read. A partial holder (a fetch in progress) serves the groups it has
 * made durable, so fetchers of the same blob trade among themselves.
 */

export interface Holding {
  readonly hash: Blake3Hash;
  readonly size: number;
  readonly outboard: Uint8Array;
  /** null when the blob is complete. */
  readonly durable: GroupBitfield | null;
  /** Groups a partial holder has asked for and not yet received. */
  readonly requested?: GroupBitfield | null;
}

export interface PlannedResponse {
  readonly message: ContentMessage;
  /** Payload known without IO (an outboard or a bitfield). */
  readonly payload: Uint8Array;
  /** Bytes of the blob to read and send as the payload instead. */
  readonly read: { readonly offset: number; readonly length: number } | null;
}

/**
 * `holding` is null when this node has none of the blob: `not-found`, unless `fetching` says a
 * download of it has started here (no verified outboard yet): then `refused: unavailable`, so
 * the asker keeps this node as a future provider.
 */
export function planContentResponse(
  request: ContentRequest,
  holding: Holding | null,
  fetching = false,
): PlannedResponse {
  const { id, hash } = request;
  if (holding === null) {
    const message: ContentMessage = fetching
      ? { type: "refused", id, hash, reason: "unavailable" }
      : { type: "not-found", id, hash };
    return { message, payload: new Uint8Array(0), read: null };
  }
  assert(holding.hash === hash, "holding is of the requested blob");
  switch (request.type) {
    case "outboard-request":
      return {
        message: { type: "outboard", id, hash, size: holding.size },
        payload: holding.outboard,
        read: null,
      };
    case "have-request":
      return {
        message: { type: "have", id, hash, size: holding.size, complete: holding.durable === null },
        payload:
          holding.durable === null ? new Uint8Array(0) : haveBitfields(holding.durable, holding.requested),
        read: null,
      };
    case "range-request":
      return planRange(request, holding);
  }
}

function planRange(
  request: Extract<ContentRequest, { type: "range-request" }>,
  holding: Holding,
): PlannedResponse {
  const { id, hash } = request;
  const groupCount = groupCountOf(holding.size);
  const first = request.first_group;
  const end = first + request.group_count;
  if (end > groupCount || holding.size === 0) {
    return {
      message: { type: "refused", id, hash, reason: "bad-request" },
      payload: new Uint8Array(0),
      read: null,
    };
  }
  if (holding.durable !== null && !holding.durable.hasRange(first, end)) {
    return {
      message: { type: "refused", id, hash, reason: "unavailable" },
      payload: new Uint8Array(0),
      read: null,
    };
  }
  const offset = first * chunkGroupBytes;
  const length = Math.min(holding.size, end * chunkGroupBytes) - offset;
  return {
    message: { type: "range", id, hash, first_group: first, group_count: request.group_count },
    payload: new Uint8Array(0),
    read: { offset, length },
  };
}

function haveBitfields(durable: GroupBitfield, requested: GroupBitfield | null | undefined): Uint8Array {
  const payload = new Uint8Array(2 * durable.bytes.length);
  payload.set(durable.bytes, 0);
  if (requested !== null && requested !== undefined) payload.set(requested.bytes, durable.bytes.length);
  return payload;
}
