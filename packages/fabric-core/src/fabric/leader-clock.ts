import { assert } from "../vocabulary/index.js";

/**
 * The clock a leader decides and proposes by: the policy's hysteresis and flap damping, the
 * dead grace, procedure and etcd learner timeouts (`ExecuteInputs.nowMs`), and the
 * `issued_at_ms` of its proposals, which become the committed times those are measured from.
 *
 * A hybrid clock: `max(wall, committed + monotonic elapsed since it was applied)`. It never
 * runs behind the committed clock (the greatest `issued_at_ms` applied), so a leader whose wall
 * clock is behind (its own jump back, or a previous leader that was ahead) still measures the
 * time since a committed shift or procedure start at the monotonic rate, instead of waiting
 * out the difference first. A leader whose wall clock is ahead reads its wall clock, as before
 * (and what it proposes moves the committed clock ahead for good, as before). The carried
 * committed time never goes back, also across a committed time that was proposed a while
 * before it applied (the commit latency); a reading can go back only with the wall clock, to
 * no less than the carried committed time.
 *
 * Pure: the three sources are injected (the daemon: `Date.now`, `performance.now` and the
 * machine's `committedClockMs`; tests: numbers they move by hand).
 */
export interface LeaderClockSources {
  /** Wall time, ms since the epoch (may jump either way). */
  readonly wallMs: () => number;
  /** Monotonic time, ms from any origin (never goes back). */
  readonly monotonicMs: () => number;
  /** The committed clock of the applied state, ms since the epoch (never goes back). */
  readonly committedMs: () => number;
}

export class LeaderClock {
  /** The committed clock as last seen, and the monotonic time it was seen at. */
  private anchor: { readonly atMs: number; readonly monotonicMs: number } | null = null;
  private lastCommittedMs = -1;
  private lastMonotonicMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly sources: LeaderClockSources) {}

  /**
   * The committed clock may have moved: call it after every applied entry (and a restored
   * snapshot), so the elapsed time is counted from when the committed time arrived. `now()`
   * calls it too, so a call missed only starts that count late.
   */
  observe(): void {
    const committedMs = this.sources.committedMs();
    if (committedMs === this.lastCommittedMs) return;
    this.lastCommittedMs = committedMs;
    const monotonicMs = this.monotonic();
    // The anchor only moves forward: a committed time below the anchor's extrapolation (a
    // proposal issued before it applied) would pull the clock back.
    if (this.anchor === null || committedMs > this.extrapolate(monotonicMs))
      this.anchor = { atMs: committedMs, monotonicMs };
  }

  /** Whole ms since the epoch: the wall clock, or the committed clock carried forward if that is later. */
  now(): number {
    this.observe();
    const wallMs = Math.floor(this.sources.wallMs());
    if (this.anchor === null) return wallMs;
    return Math.max(wallMs, Math.floor(this.extrapolate(this.monotonic())));
  }

  private extrapolate(monotonicMs: number): number {
    const anchor = this.anchor;
    return anchor === null ? Number.NEGATIVE_INFINITY : anchor.atMs + (monotonicMs - anchor.monotonicMs);
  }

  private monotonic(): number {
    const monotonicMs = this.sources.monotonicMs();
    assert(monotonicMs >= this.lastMonotonicMs, "the monotonic clock never goes back");
    this.lastMonotonicMs = monotonicMs;
    return monotonicMs;
  }
}
