import { assert } from "../vocabulary/index.js";

/**
 * The phi-accrual failure detector (Hayashibara et al.; the Akka/Cassandra shape): it keeps
 * a window of heartbeat inter-arrival times and turns the silence since the last heartbeat
 * into a suspicion level phi = -log10(P(an interval at least this long)), under a normal
 * distribution of mean (observed mean + acceptable pause) and standard deviation
 * max(observed, minimum). phi 8 means "1 chance in 10^8 that it is only late".
 *
 * Heartbeats here are acks to our probes, so the window is the probe rhythm as this member
 * answers it. Pure arithmetic on injected times; no clock of its own.
 */
export interface PhiSettings {
  readonly window: number;
  readonly minStdDevMs: number;
  readonly acceptablePauseMs: number;
  /** The expected interval before any sample exists (the probe interval). */
  readonly firstIntervalMs: number;
}

export class PhiAccrualDetector {
  /** Ring buffer of the last `settings.window` intervals. Invariant: count <= window. */
  private readonly intervals: Float64Array;
  private next = 0;
  private count = 0;
  private sum = 0;
  private squares = 0;
  /** Time of the last heartbeat; -1 before the first. */
  private lastMs = -1;

  constructor(private readonly settings: PhiSettings) {
    assert(settings.window >= 2, "phi window below 2");
    assert(settings.minStdDevMs > 0, "phi minimum standard deviation must be positive");
    this.intervals = new Float64Array(settings.window);
  }

  /** Records a heartbeat at `nowMs`. The first one seeds the window like Akka (mean ± mean/4). */
  heartbeat(nowMs: number): void {
    if (this.lastMs < 0) {
      const first = this.settings.firstIntervalMs;
      this.add(first - first / 4);
      this.add(first + first / 4);
    } else if (nowMs > this.lastMs) {
      this.add(nowMs - this.lastMs);
    }
    this.lastMs = Math.max(this.lastMs, nowMs);
    assert(this.count >= 2, "heartbeat leaves the window without samples");
  }

  hasHeartbeat(): boolean {
    return this.lastMs >= 0;
  }

  lastHeartbeatMs(): number {
    return this.lastMs;
  }

  /** Milliseconds since the last heartbeat (0 before the first). */
  silenceMs(nowMs: number): number {
    return this.lastMs < 0 ? 0 : Math.max(0, nowMs - this.lastMs);
  }

  /** This node was itself stalled for `gapMs`: silence during the stall says nothing about the member. */
  shift(gapMs: number): void {
    assert(gapMs >= 0, "negative pause");
    if (this.lastMs >= 0) this.lastMs += gapMs;
  }

  phi(nowMs: number): number {
    if (this.lastMs < 0) return 0;
    const mean = this.sum / this.count + this.settings.acceptablePauseMs;
    const variance = Math.max(0, this.squares / this.count - (this.sum / this.count) ** 2);
    const stdDev = Math.max(Math.sqrt(variance), this.settings.minStdDevMs);
    const value = phiOf(nowMs - this.lastMs, mean, stdDev);
    assert(value >= 0, "phi is never negative");
    return value;
  }

  private add(intervalMs: number): void {
    if (this.count === this.intervals.length) {
      const old = this.intervals[this.next]!;
      this.sum -= old;
      this.squares -= old * old;
    } else {
      this.count += 1;
    }
    this.intervals[this.next] = intervalMs;
    this.sum += intervalMs;
    this.squares += intervalMs * intervalMs;
    this.next = (this.next + 1) % this.intervals.length;
  }
}

/**
 * phi of an elapsed time under N(mean, stdDev), with the logistic approximation of the
 * normal CDF that Akka uses (error < 1e-4, no erf needed). Capped at 1e3 rather than Infinity.
 */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  assert(stdDevMs > 0, "standard deviation must be positive");
  const y = (elapsedMs - meanMs) / stdDevMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  const tail = elapsedMs > meanMs ? e / (1 + e) : 1 - 1 / (1 + e);
  if (tail <= 0) return 1000;
  return Math.min(1000, Math.max(0, -Math.log10(tail)));
}
