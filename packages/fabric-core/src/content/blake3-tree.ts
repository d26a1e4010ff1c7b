import type { IHasher } from "hash-wasm";
import { assert, createBlake3Hasher, limits } from "../vocabulary/index.js";

/**
 * The BLAKE3 tree of a blob, cut at chunk groups (16 chunks of 1 KiB), as bao and iroh-blobs
 * do. A chunk group is a whole subtree of BLAKE3's own tree, so the root computed from the
 * groups' chaining values IS the plain BLAKE3 hash of the blob: a blob's id is its `b3sum`.
 *
 * hash-wasm's WASM BLAKE3 only returns root hashes, but its hasher can save and load its
 * internal state (the reference C `blake3_hasher`). A full group is hashed at its true
 * position by loading a state whose chunk counter is the group's first chunk: the WASM code
 * then leaves the group's two 8-chunk subtrees on its chaining-value stack, and one parent
 * compression (in JS, below) joins them. Only the short last group of a blob, and parent
 * nodes, are compressed in JS; the bulk stays in WASM. `blake3-tree.test.ts` checks all of it
 * against the official test vectors and against the plain hash.
 */

export const chunkBytes = 1024;
export const chunkGroupBytes = limits.chunkGroupBytes;
export const chunksPerGroup = chunkGroupBytes / chunkBytes;
export const chainingValueBytes = 32;

assert(chunksPerGroup === 16, "chunk groups are 16 chunks: the WASM split below relies on it");

const flagChunkStart = 1;
const flagChunkEnd = 2;
const flagParent = 4;
const flagRoot = 8;

const iv = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** The message word order of each of the 7 rounds. */
const schedule: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8],
  [3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1],
  [10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6],
  [12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4],
  [9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7],
  [11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13],
];

/** The message schedule of all 7 rounds, flattened: word indexes, 16 per round. */
const m = Uint8Array.from(schedule.flat());
const w = new Int32Array(16);

/**
 * The BLAKE3 compression function, keeping the first 8 output words (a chaining value, or a
 * 32-byte root hash when `flags` has ROOT). `block` is 64 bytes, zero-padded past blockLength.
 * State words live in locals (not an array) so V8 keeps them in registers.
 */
function compress(
  chainingValue: Uint32Array,
  block: Uint8Array,
  counter: number,
  blockLength: number,
  flags: number,
  out: Uint32Array,
): void {
  assert(block.length === 64, "a BLAKE3 block is 64 bytes");
  assert(Number.isSafeInteger(counter) && counter >= 0, "counter is a safe unsigned integer");
  for (let i = 0; i < 16; i += 1) {
    const at = i * 4;
    w[i] = block[at]! | (block[at + 1]! << 8) | (block[at + 2]! << 16) | (block[at + 3]! << 24);
  }
  let s0 = chainingValue[0]! | 0;
  let s1 = chainingValue[1]! | 0;
  let s2 = chainingValue[2]! | 0;
  let s3 = chainingValue[3]! | 0;
  let s4 = chainingValue[4]! | 0;
  let s5 = chainingValue[5]! | 0;
  let s6 = chainingValue[6]! | 0;
  let s7 = chainingValue[7]! | 0;
  let s8 = iv[0]! | 0;
  let s9 = iv[1]! | 0;
  let s10 = iv[2]! | 0;
  let s11 = iv[3]! | 0;
  let s12 = counter | 0;
  let s13 = Math.floor(counter / 2 ** 32) | 0;
  let s14 = blockLength | 0;
  let s15 = flags | 0;
  for (let round = 0; round < 7; round += 1) {
    const o = round * 16;
    s0 = (s0 + s4 + w[m[o + 0]!]!) | 0;
    s12 ^= s0;
    s12 = (s12 >>> 16) | (s12 << 16);
    s8 = (s8 + s12) | 0;
    s4 ^= s8;
    s4 = (s4 >>> 12) | (s4 << 20);
    s0 = (s0 + s4 + w[m[o + 1]!]!) | 0;
    s12 ^= s0;
    s12 = (s12 >>> 8) | (s12 << 24);
    s8 = (s8 + s12) | 0;
    s4 ^= s8;
    s4 = (s4 >>> 7) | (s4 << 25);
    s1 = (s1 + s5 + w[m[o + 2]!]!) | 0;
    s13 ^= s1;
    s13 = (s13 >>> 16) | (s13 << 16);
    s9 = (s9 + s13) | 0;
    s5 ^= s9;
    s5 = (s5 >>> 12) | (s5 << 20);
    s1 = (s1 + s5 + w[m[o + 3]!]!) | 0;
    s13 ^= s1;
    s13 = (s13 >>> 8) | (s13 << 24);
    s9 = (s9 + s13) | 0;
    s5 ^= s9;
    s5 = (s5 >>> 7) | (s5 << 25);
    s2 = (s2 + s6 + w[m[o + 4]!]!) | 0;
    s14 ^= s2;
    s14 = (s14 >>> 16) | (s14 << 16);
    s10 = (s10 + s14) | 0;
    s6 ^= s10;
    s6 = (s6 >>> 12) | (s6 << 20);
    s2 = (s2 + s6 + w[m[o + 5]!]!) | 0;
    s14 ^= s2;
    s14 = (s14 >>> 8) | (s14 << 24);
    s10 = (s10 + s14) | 0;
    s6 ^= s10;
    s6 = (s6 >>> 7) | (s6 << 25);
    s3 = (s3 + s7 + w[m[o + 6]!]!) | 0;
    s15 ^= s3;
    s15 = (s15 >>> 16) | (s15 << 16);
    s11 = (s11 + s15) | 0;
    s7 ^= s11;
    s7 = (s7 >>> 12) | (s7 << 20);
    s3 = (s3 + s7 + w[m[o + 7]!]!) | 0;
    s15 ^= s3;
    s15 = (s15 >>> 8) | (s15 << 24);
    s11 = (s11 + s15) | 0;
    s7 ^= s11;
    s7 = (s7 >>> 7) | (s7 << 25);
    s0 = (s0 + s5 + w[m[o + 8]!]!) | 0;
    s15 ^= s0;
    s15 = (s15 >>> 16) | (s15 << 16);
    s10 = (s10 + s15) | 0;
    s5 ^= s10;
    s5 = (s5 >>> 12) | (s5 << 20);
    s0 = (s0 + s5 + w[m[o + 9]!]!) | 0;
    s15 ^= s0;
    s15 = (s15 >>> 8) | (s15 << 24);
    s10 = (s10 + s15) | 0;
    s5 ^= s10;
    s5 = (s5 >>> 7) | (s5 << 25);
    s1 = (s1 + s6 + w[m[o + 10]!]!) | 0;
    s12 ^= s1;
    s12 = (s12 >>> 16) | (s12 << 16);
    s11 = (s11 + s12) | 0;
    s6 ^= s11;
    s6 = (s6 >>> 12) | (s6 << 20);
    s1 = (s1 + s6 + w[m[o + 11]!]!) | 0;
    s12 ^= s1;
    s12 = (s12 >>> 8) | (s12 << 24);
    s11 = (s11 + s12) | 0;
    s6 ^= s11;
    s6 = (s6 >>> 7) | (s6 << 25);
    s2 = (s2 + s7 + w[m[o + 12]!]!) | 0;
    s13 ^= s2;
    s13 = (s13 >>> 16) | (s13 << 16);
    s8 = (s8 + s13) | 0;
    s7 ^= s8;
    s7 = (s7 >>> 12) | (s7 << 20);
    s2 = (s2 + s7 + w[m[o + 13]!]!) | 0;
    s13 ^= s2;
    s13 = (s13 >>> 8) | (s13 << 24);
    s8 = (s8 + s13) | 0;
    s7 ^= s8;
    s7 = (s7 >>> 7) | (s7 << 25);
    s3 = (s3 + s4 + w[m[o + 14]!]!) | 0;
    s14 ^= s3;
    s14 = (s14 >>> 16) | (s14 << 16);
    s9 = (s9 + s14) | 0;
    s4 ^= s9;
    s4 = (s4 >>> 12) | (s4 << 20);
    s3 = (s3 + s4 + w[m[o + 15]!]!) | 0;
    s14 ^= s3;
    s14 = (s14 >>> 8) | (s14 << 24);
    s9 = (s9 + s14) | 0;
    s4 ^= s9;
    s4 = (s4 >>> 7) | (s4 << 25);
  }
  out[0] = s0 ^ s8;
  out[1] = s1 ^ s9;
  out[2] = s2 ^ s10;
  out[3] = s3 ^ s11;
  out[4] = s4 ^ s12;
  out[5] = s5 ^ s13;
  out[6] = s6 ^ s14;
  out[7] = s7 ^ s15;
}

function wordsToBytes(words: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i]!;
    bytes[i * 4] = word & 0xff;
    bytes[i * 4 + 1] = (word >>> 8) & 0xff;
    bytes[i * 4 + 2] = (word >>> 16) & 0xff;
    bytes[i * 4 + 3] = (word >>> 24) & 0xff;
  }
  return bytes;
}

const parentBlock = new Uint8Array(64);
const parentOut = new Uint32Array(8);

/** The chaining value (or, with `root`, the hash) of a parent node over two children. */
export function parentChainingValue(left: Uint8Array, right: Uint8Array, root: boolean): Uint8Array {
  assert(left.length === chainingValueBytes, "left child is a 32-byte chaining value");
  assert(right.length === chainingValueBytes, "right child is a 32-byte chaining value");
  parentBlock.set(left, 0);
  parentBlock.set(right, 32);
  compress(iv, parentBlock, 0, 64, flagParent | (root ? flagRoot : 0), parentOut);
  return wordsToBytes(parentOut);
}

const chunkBlock = new Uint8Array(64);
const chunkState = new Uint32Array(8);

/** Chaining value of one chunk (1..1024 bytes) at `chunkIndex`; never the root here. */
function chunkChainingValue(data: Uint8Array, chunkIndex: number): Uint8Array {
  assert(data.length > 0 && data.length <= chunkBytes, "a chunk holds 1..1024 bytes");
  chunkState.set(iv);
  const blockCount = Math.ceil(data.length / 64);
  for (let block = 0; block < blockCount; block += 1) {
    const part = data.subarray(block * 64, Math.min(data.length, block * 64 + 64));
    chunkBlock.fill(0);
    chunkBlock.set(part);
    const flags = (block === 0 ? flagChunkStart : 0) | (block === blockCount - 1 ? flagChunkEnd : 0);
    compress(chunkState, chunkBlock, chunkIndex, part.length, flags, chunkState);
  }
  return wordsToBytes(chunkState);
}

/**
 * Merges the chaining values of consecutive, equally sized subtrees (all but the last full)
 * into BLAKE3's left-balanced tree, as the reference implementation's stack does: a pair is
 * merged as soon as the count of finished subtrees says it is complete, the right edge at the
 * end. With `root`, the top node is finalized as the root and its 32 bytes returned.
 */
export function mergeChainingValues(values: readonly Uint8Array[], root: boolean): Uint8Array {
  assert(values.length >= 2, "merging needs at least two subtrees");
  const stack: Uint8Array[] = [];
  for (let index = 0; index < values.length - 1; index += 1) {
    let value = values[index]!;
    for (let total = index + 1; total % 2 === 0; total /= 2)
      value = parentChainingValue(stack.pop()!, value, false);
    stack.push(value);
  }
  let value = values[values.length - 1]!;
  while (stack.length > 0) {
    const left = stack.pop()!;
    value = parentChainingValue(left, value, root && stack.length === 0);
  }
  return value;
}

/** Offsets inside hash-wasm's saved BLAKE3 state: a 4-byte version prefix, then the C struct. */
const savedPrefixBytes = 4;
const counterOffset = savedPrefixBytes + 64;
const stackLengthOffset = savedPrefixBytes + 144;
const stackOffset = savedPrefixBytes + 145;

/**
 * Hashes chunk groups at their positions in a blob. Create one with `loadBlobHasher()` (WASM
 * instantiation is async); after that every call is synchronous. Not shared across threads.
 */
export class BlobHasher {
  private readonly template: Uint8Array;
  private readonly templateView: DataView;

  constructor(private readonly wasm: IHasher) {
    this.template = wasm.init().save();
    this.templateView = new DataView(this.template.buffer, this.template.byteOffset, this.template.length);
    assert(this.template.length >= stackOffset + 2 * chainingValueBytes, "unexpected BLAKE3 state size");
    assert(this.templateView.getBigUint64(counterOffset, true) === 0n, "fresh state counts from chunk 0");
    assert(this.template[stackLengthOffset] === 0, "fresh state has an empty chaining-value stack");
  }

  /** Plain BLAKE3-256 of `data` (the root hash; for a blob of at most one group, its id). */
  hash(data: Uint8Array): Uint8Array {
    return this.wasm.init().update(data).digest("binary");
  }

  /**
   * The chaining value of group `groupIndex` of a blob with more than one group. `data` is
   * 16 KiB, or 1..16 KiB for the blob's last group.
   */
  groupChainingValue(groupIndex: number, data: Uint8Array): Uint8Array {
    assert(Number.isSafeInteger(groupIndex) && groupIndex >= 0, "group index is a safe unsigned integer");
    assert(data.length > 0 && data.length <= chunkGroupBytes, "a group holds 1..16384 bytes");
    const firstChunk = groupIndex * chunksPerGroup;
    if (data.length < chunkGroupBytes) return this.partialGroupChainingValue(firstChunk, data);
    this.templateView.setBigUint64(counterOffset, BigInt(firstChunk), true);
    this.wasm.load(this.template);
    this.wasm.update(data);
    const saved = this.wasm.save();
    assert(saved[stackLengthOffset] === 2, "a full group leaves its two halves on the stack");
    const left = saved.subarray(stackOffset, stackOffset + chainingValueBytes);
    const right = saved.subarray(stackOffset + chainingValueBytes, stackOffset + 2 * chainingValueBytes);
    return parentChainingValue(left, right, false);
  }

  private partialGroupChainingValue(firstChunk: number, data: Uint8Array): Uint8Array {
    const chunkCount = Math.ceil(data.length / chunkBytes);
    const values: Uint8Array[] = [];
    for (let chunk = 0; chunk < chunkCount; chunk += 1) {
      const part = data.subarray(chunk * chunkBytes, Math.min(data.length, (chunk + 1) * chunkBytes));
      values.push(chunkChainingValue(part, firstChunk + chunk));
    }
    return values.length === 1 ? values[0]! : mergeChainingValues(values, false);
  }
}

/**
 * What checking a received group needs of a hasher (`isGroupOf`, `BlobFetch`): a driver may
 * answer with chaining values it had computed over the same bytes elsewhere (a worker
 * thread), the comparison with the outboard staying in the core.
 */
export type GroupHasher = Pick<BlobHasher, "hash" | "groupChainingValue">;

export async function loadBlobHasher(): Promise<BlobHasher> {
  return new BlobHasher(await createBlake3Hasher());
}
