/**
 * When the leader may call etcd again for a step: after a failed call, the same step (action
 * and node) waits out an exponential backoff (250 ms doubling to 8 s), however often the
 * reconciler runs meanwhile (every applied entry wakes it); a "not ready yet" answer (a learner
 * still catching up) waits a fixed pause. A different step is not held back by another's
 * failures, and a call that succeeds clears the backoff.
 */
export const etcdRetryMinMs = 250;
export const etcdRetryMaxMs = 8_000;
export const etcdNotReadyMs = 500;

export class EtcdRetryGate {
  private key: string | null = null;
  private failures = 0;
  private notBeforeMs = 0;

  /** How long `key`'s call must still wait at `nowMs` (0: call now). */
  waitMs(key: string, nowMs: number): number {
    if (key !== this.key) return 0;
    return Math.max(0, this.notBeforeMs - nowMs);
  }

  /** The call for `key` failed at `nowMs`: the delay before it may be made again. */
  failed(key: string, nowMs: number): number {
    if (key !== this.key) this.failures = 0;
    const delayMs = Math.min(etcdRetryMaxMs, etcdRetryMinMs * 2 ** Math.min(this.failures, 5));
    this.failures += 1;
    this.hold(key, nowMs + delayMs);
    return delayMs;
  }

  /** etcd answered "not yet" for `key` at `nowMs` (not a failure: the backoff does not grow). */
  notReady(key: string, nowMs: number): number {
    if (key !== this.key) this.failures = 0;
    this.hold(key, nowMs + etcdNotReadyMs);
    return etcdNotReadyMs;
  }

  /** A call succeeded: nothing waits any more. */
  succeeded(): void {
    this.key = null;
    this.failures = 0;
    this.notBeforeMs = 0;
  }

  private hold(key: string, untilMs: number): void {
    this.key = key;
    this.notBeforeMs = untilMs;
  }
}
