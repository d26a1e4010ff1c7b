import { assert } from "../vocabulary/index.js";

/**
 * Which chunk groups of a blob are present (verified, or durable on disk), one bit per group,
 * least significant bit first in each byte (group 0 is bit 0 of byte 0), as BitTorrent's
 * bitfield but LSB-first. Persisted beside a partial download so a restart resumes.
 */
export class GroupBitfield {
  readonly bytes: Uint8Array;
  private setCount = 0;

  constructor(
    readonly groupCount: number,
    bytes?: Uint8Array,
  ) {
    assert(Number.isSafeInteger(groupCount) && groupCount >= 1, "a blob has at least one group");
    const length = Math.ceil(groupCount / 8);
    this.bytes = new Uint8Array(length);
    if (bytes !== undefined) {
      assert(bytes.length === length, "bitfield length matches the group count");
      this.bytes.set(bytes);
      const spare = groupCount % 8;
      if (spare !== 0) this.bytes[length - 1]! &= (1 << spare) - 1;
      for (const byte of this.bytes) this.setCount += popcount(byte);
    }
  }

  has(index: number): boolean {
    assert(index >= 0 && index < this.groupCount, "group index inside the bitfield");
    return (this.bytes[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  /** Sets a bit; returns whether it was newly set. */
  maybeSet(index: number): boolean {
    if (this.has(index)) return false;
    this.bytes[index >> 3]! |= 1 << (index & 7);
    this.setCount += 1;
    assert(this.setCount <= this.groupCount, "no more bits than groups");
    return true;
  }

  count(): number {
    return this.setCount;
  }

  isComplete(): boolean {
    return this.setCount === this.groupCount;
  }

  /** Whether every group in `[first, end)` is present. */
  hasRange(first: number, end: number): boolean {
    for (let index = first; index < end; index += 1) if (!this.has(index)) return false;
    return true;
  }

  static full(groupCount: number): GroupBitfield {
    const bitfield = new GroupBitfield(groupCount);
    for (let index = 0; index < groupCount; index += 1) bitfield.maybeSet(index);
    return bitfield;
  }
}

function popcount(byte: number): number {
  let count = 0;
  for (let value = byte; value !== 0; value &= value - 1) count += 1;
  return count;
}
