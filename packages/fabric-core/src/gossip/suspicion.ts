import { assert } from "../vocabulary/index.js";

/**
 * Lifeguard's dynamic suspicion (LHA-Suspicion): a suspicion starts with a long timeout and
 * shrinks toward the minimum as independent members confirm it, logarithmically:
 *
 *   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
 *
 * where c is the number of confirmations and k the number expected. A healthy member has
 * time to refute a lone (possibly mistaken) accuser; a member everyone agrees on dies fast.
 */
export interface SuspicionBounds {
  readonly minMs: number;
  readonly maxMs: number;
  readonly expectedConfirmations: number;
}

/** The bounds for a cluster of `memberCount` members (memberlist's `suspicionTimeout`, scaled). */
export function suspicionBounds(
  memberCount: number,
  probeIntervalMs: number,
  suspicionMult: number,
  suspicionMaxMult: number,
  expectedConfirmations: number,
): SuspicionBounds {
  assert(memberCount >= 1, "a cluster has at least this node");
  assert(suspicionMaxMult >= 1, "the maximum suspicion is at least the minimum");
  const scale = Math.max(1, Math.log10(Math.max(1, memberCount)));
  const minMs = Math.ceil(suspicionMult * scale * probeIntervalMs);
  const maxMs = Math.ceil(minMs * suspicionMaxMult);
  assert(maxMs >= minMs, "suspicion maximum below minimum");
  return { minMs, maxMs, expectedConfirmations: Math.max(0, expectedConfirmations) };
}

export function suspicionTimeoutMs(bounds: SuspicionBounds, confirmations: number): number {
  assert(confirmations >= 0, "negative confirmations");
  if (bounds.expectedConfirmations === 0) return bounds.minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(bounds.expectedConfirmations + 1);
  const timeout = Math.floor(bounds.maxMs - (bounds.maxMs - bounds.minMs) * fraction);
  const result = Math.max(bounds.minMs, timeout);
  assert(result <= bounds.maxMs, "suspicion timeout above maximum");
  return result;
}

/**
 * One suspicion this node holds about a member, for one (generation, incarnation).
 * Invariant: `accusers` holds distinct ids, at most `confirmationsMax + 1` of them.
 */
export class Suspicion {
  private readonly accusers = new Set<string>();

  constructor(
    readonly generation: number,
    readonly incarnation: number,
    private startedMs: number,
    private readonly bounds: SuspicionBounds,
    firstAccuser: string,
  ) {
    this.accusers.add(firstAccuser);
  }

  /** Adds an independent accuser; true when it was new (and so worth re-gossiping). */
  confirm(accuser: string): boolean {
    if (this.accusers.has(accuser)) return false;
    if (this.accusers.size > this.bounds.expectedConfirmations) return false;
    this.accusers.add(accuser);
    return true;
  }

  confirmations(): number {
    return this.accusers.size - 1;
  }

  deadlineMs(): number {
    return this.startedMs + suspicionTimeoutMs(this.bounds, this.confirmations());
  }

  /** This node was stalled: the suspicion did not age while it could not hear refutations. */
  shift(gapMs: number): void {
    assert(gapMs >= 0, "negative pause");
    this.startedMs += gapMs;
  }
}
