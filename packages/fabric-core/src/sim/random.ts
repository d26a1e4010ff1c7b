import type { Random } from "../vocabulary/index.js";
import { assert } from "../vocabulary/index.js";

/**
 * xoshiro128** seeded through splitmix32: fast, good enough for scheduling faults, and
 * identical on every platform, so a seed replays exactly.
 */
export class SeededRandom implements Random {
  private state: Uint32Array;

  constructor(readonly seed: number) {
    assert(Number.isSafeInteger(seed), "seed must be a safe integer");
    this.state = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i += 1) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    assert(
      this.state.some((word) => word !== 0),
      "xoshiro state must not be all zero",
    );
  }

  nextUint32(): number {
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  int(bound: number): number {
    assert(Number.isSafeInteger(bound) && bound > 0, "int bound must be a positive integer");
    return Math.floor(this.next() * bound);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A new independent stream, so adding draws in one place does not shift another. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick from an empty list");
    return items[this.int(items.length)]!;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
