import { assert, type Blake3Hash } from "../vocabulary/index.js";
import {
  type BlobHasher,
  chainingValueBytes,
  chunkGroupBytes,
  type GroupHasher,
  mergeChainingValues,
} from "./blake3-tree.js";

/**
 * A blob's geometry and its outboard: the chaining values of its chunk groups, in order
 * (32 bytes per 16 KiB group, 0.2% of the blob). The blob itself is stored unaltered beside
 * it. With the outboard verified against the blob's id once, every group verifies on its
 * own, so groups can arrive in any order, from any provider, and resume needs no re-reading.
 * A blob of one group (<= 16 KiB, including the empty blob) has an empty outboard: the group
 * verifies against the id directly.
 */

export function groupCountOf(size: number): number {
  assert(Number.isSafeInteger(size) && size >= 0, "blob size is a safe unsigned integer");
  return Math.max(1, Math.ceil(size / chunkGroupBytes));
}

/** Byte length of group `index` in a blob of `size` bytes. */
export function groupLengthOf(size: number, index: number): number {
  const count = groupCountOf(size);
  assert(Number.isSafeInteger(index) && index >= 0 && index < count, "group index inside the blob");
  return index < count - 1 ? chunkGroupBytes : size - (count - 1) * chunkGroupBytes;
}

export function outboardBytesOf(size: number): number {
  const count = groupCountOf(size);
  return count === 1 ? 0 : count * chainingValueBytes;
}

/** The groups `[first, end)` that cover bytes `[offset, offset + length)` of a blob. */
export function groupsCovering(size: number, offset: number, length: number): { first: number; end: number } {
  assert(Number.isSafeInteger(offset) && offset >= 0 && offset <= size, "range starts inside the blob");
  assert(
    Number.isSafeInteger(length) && length >= 0 && offset + length <= size,
    "range ends inside the blob",
  );
  if (length === 0) return { first: 0, end: 0 };
  return {
    first: Math.floor(offset / chunkGroupBytes),
    end: Math.ceil((offset + length) / chunkGroupBytes),
  };
}

export function hashToHex(hash: Uint8Array): Blake3Hash {
  assert(hash.length === 32, "a BLAKE3 hash is 32 bytes");
  return Buffer.from(hash).toString("hex") as Blake3Hash;
}

/** The root (the blob's id) of an outboard of two or more groups. */
export function rootOfOutboard(outboard: Uint8Array): Uint8Array {
  assert(outboard.length % chainingValueBytes === 0, "an outboard is whole chaining values");
  assert(outboard.length >= 2 * chainingValueBytes, "an outboard has two or more groups");
  const values: Uint8Array[] = [];
  for (let at = 0; at < outboard.length; at += chainingValueBytes) {
    values.push(outboard.subarray(at, at + chainingValueBytes));
  }
  return mergeChainingValues(values, true);
}

/** Whether `outboard` is the right shape for `groupCount` groups and hashes to `hash`. */
export function isOutboardOf(hash: Blake3Hash, groupCount: number, outboard: Uint8Array): boolean {
  if (groupCount === 1) return outboard.length === 0;
  if (outboard.length !== groupCount * chainingValueBytes) return false;
  return hashToHex(rootOfOutboard(outboard)) === hash;
}

/**
 * Whether `data` is group `index` of the blob `hash` (with `groupCount` groups and a verified
 * outboard). The last group may be short; every other group must be exactly 16 KiB.
 */
export function isGroupOf(
  hasher: GroupHasher,
  hash: Blake3Hash,
  outboard: Uint8Array,
  groupCount: number,
  index: number,
  data: Uint8Array,
): boolean {
  assert(index >= 0 && index < groupCount, "group index inside the blob");
  if (groupCount === 1) return hashToHex(hasher.hash(data)) === hash;
  const isLast = index === groupCount - 1;
  if (isLast ? data.length === 0 || data.length > chunkGroupBytes : data.length !== chunkGroupBytes)
    return false;
  const expected = outboard.subarray(index * chainingValueBytes, (index + 1) * chainingValueBytes);
  return Buffer.compare(hasher.groupChainingValue(index, data), expected) === 0;
}

export interface BlobTree {
  readonly hash: Blake3Hash;
  readonly size: number;
  readonly outboard: Uint8Array;
}

/**
 * Builds a blob's id and outboard from its bytes as they stream in, holding at most one group
 * (plus the outboard, 0.2% of the blob). A full group is hashed only once the next byte shows
 * it is not the last, because a blob of exactly one group hashes differently (as the root).
 */
export class BlobTreeBuilder {
  private readonly pending = new Uint8Array(chunkGroupBytes);
  private pendingLength = 0;
  private finishedGroups = 0;
  private size = 0;
  private readonly values: Uint8Array[] = [];
  private finished = false;

  constructor(private readonly hasher: BlobHasher) {}

  update(data: Uint8Array): void {
    assert(!this.finished, "update after finish");
    let at = 0;
    while (at < data.length) {
      if (this.pendingLength === chunkGroupBytes) this.flushPending();
      // Whole groups straight from the caller's buffer when a later byte exists.
      while (this.pendingLength === 0 && data.length - at > chunkGroupBytes) {
        this.pushGroup(data.subarray(at, at + chunkGroupBytes));
        at += chunkGroupBytes;
      }
      const take = Math.min(chunkGroupBytes - this.pendingLength, data.length - at);
      this.pending.set(data.subarray(at, at + take), this.pendingLength);
      this.pendingLength += take;
      at += take;
    }
    this.size += data.length;
  }

  finish(): BlobTree {
    assert(!this.finished, "finish twice");
    this.finished = true;
    const last = this.pending.subarray(0, this.pendingLength);
    if (this.finishedGroups === 0) {
      return { hash: hashToHex(this.hasher.hash(last)), size: this.size, outboard: new Uint8Array(0) };
    }
    assert(last.length > 0, "a blob of several groups ends in a non-empty group");
    this.values.push(this.hasher.groupChainingValue(this.finishedGroups, last));
    const outboard = new Uint8Array(this.values.length * chainingValueBytes);
    this.values.forEach((value, index) => {
      outboard.set(value, index * chainingValueBytes);
    });
    const hash = hashToHex(mergeChainingValues(this.values, true));
    assert(groupCountOf(this.size) === this.values.length, "one chaining value per group");
    return { hash, size: this.size, outboard };
  }

  private flushPending(): void {
    this.pushGroup(this.pending);
    this.pendingLength = 0;
  }

  private pushGroup(group: Uint8Array): void {
    assert(group.length === chunkGroupBytes, "only full groups are pushed before the end");
    this.values.push(this.hasher.groupChainingValue(this.finishedGroups, group));
    this.finishedGroups += 1;
  }
}

/** Id and outboard of a blob held in memory. */
export function buildBlobTree(hasher: BlobHasher, data: Uint8Array): BlobTree {
  const builder = new BlobTreeBuilder(hasher);
  builder.update(data);
  return builder.finish();
}
