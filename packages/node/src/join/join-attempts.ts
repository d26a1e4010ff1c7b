/**
 * Failed join proofs per client address (docs/join.md, threat model): after `failuresMax`
 * wrong tokens or signatures within `windowMs`, that address is answered 429 until the window
 * has passed, so guessing a token's secret costs the guesser time, not the cluster a Raft
 * entry. The table is bounded: past `addressesMax` addresses the oldest is forgotten.
 */
export interface JoinAttemptLimits {
  readonly failuresMax: number;
  readonly windowMs: number;
  readonly addressesMax: number;
}

export const defaultJoinAttemptLimits: JoinAttemptLimits = {
  failuresMax: 10,
  windowMs: 60_000,
  addressesMax: 1024,
};

export class JoinAttempts {
  /** Per address: the times of its failures inside the window, oldest first. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: JoinAttemptLimits = defaultJoinAttemptLimits) {}

  /** Milliseconds until `address` may try again; 0 when it may now. */
  waitMs(address: string, nowMs: number): number {
    const recent = this.recent(address, nowMs);
    if (recent.length < this.limits.failuresMax) return 0;
    return recent[0]! + this.limits.windowMs - nowMs;
  }

  recordFailure(address: string, nowMs: number): void {
    const recent = [...this.recent(address, nowMs), nowMs].slice(-this.limits.failuresMax);
    this.failures.delete(address);
    this.failures.set(address, recent);
    if (this.failures.size > this.limits.addressesMax) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  private recent(address: string, nowMs: number): number[] {
    const times = (this.failures.get(address) ?? []).filter((at) => at > nowMs - this.limits.windowMs);
    if (times.length === 0) this.failures.delete(address);
    return times;
  }
}
