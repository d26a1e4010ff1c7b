import { assert } from "../vocabulary/index.js";
import { utf8Length } from "./codec.js";
import type { GossipUpdate } from "./types.js";

/**
 * Updates waiting to be piggybacked (memberlist's TransmitLimitedQueue). Each is sent a
 * limited number of times, the least-sent first and, among equals, the newest first; a
 * newer update about the same subject (a member's liveness, a member's state) replaces the
 * older one, so the queue never carries two opinions about one thing.
 */
interface QueuedUpdate {
  readonly update: GossipUpdate;
  /** The update's JSON, computed once. */
  readonly json: string;
  readonly bytes: number;
  readonly order: number;
  transmits: number;
}

export const broadcastQueueMax = 1024;

export interface TakenUpdate {
  readonly update: GossipUpdate;
  readonly json: string;
}

export class BroadcastQueue {
  /** Invariant: size <= broadcastQueueMax. */
  private readonly items = new Map<string, QueuedUpdate>();
  private order = 0;

  size(): number {
    return this.items.size;
  }

  has(subject: string): boolean {
    return this.items.has(subject);
  }

  get(subject: string): GossipUpdate | undefined {
    return this.items.get(subject)?.update;
  }

  enqueue(subject: string, update: GossipUpdate): void {
    this.items.delete(subject);
    if (this.items.size >= broadcastQueueMax) this.evictMostSent();
    const json = JSON.stringify(update);
    this.items.set(subject, { update, json, bytes: utf8Length(json) + 1, order: this.order++, transmits: 0 });
    assert(this.items.size <= broadcastQueueMax, "broadcast queue over its bound");
  }

  /**
   * A peer sent us, as gossip, an update we are spreading ourselves (`matches` says whether it
   * is the same claim): it already circulates around us, so it counts as one of our
   * transmissions (Demers et al.'s "counter" rumor mongering; the epidemic's redundancy, not
   * its reach, is what it cuts: the update still goes out at least once from this node, and
   * anti-entropy repairs any node it missed).
   */
  heard(subject: string, matches: (update: GossipUpdate) => boolean, transmitsMax: number): void {
    const item = this.items.get(subject);
    if (item === undefined || item.transmits === 0 || !matches(item.update)) return;
    item.transmits += 1;
    if (item.transmits >= transmitsMax) this.items.delete(subject);
  }

  /** Takes updates that fit in `bytesMax`, counting a transmission for each. */
  take(bytesMax: number, countMax: number, transmitsMax: number): TakenUpdate[] {
    assert(transmitsMax >= 1, "every update is sent at least once");
    if (this.items.size === 0 || countMax === 0) return [];
    const candidates = [...this.items.entries()].sort(
      ([, a], [, b]) => a.transmits - b.transmits || b.order - a.order,
    );
    const taken: TakenUpdate[] = [];
    let bytes = 0;
    for (const [subject, item] of candidates) {
      if (taken.length >= countMax) break;
      if (bytes + item.bytes > bytesMax) continue;
      bytes += item.bytes;
      taken.push({ update: item.update, json: item.json });
      item.transmits += 1;
      if (item.transmits >= transmitsMax) this.items.delete(subject);
    }
    assert(bytes <= bytesMax, "took more than the budget");
    return taken;
  }

  private evictMostSent(): void {
    let victim: string | undefined;
    let worst = -1;
    for (const [subject, item] of this.items) {
      if (item.transmits > worst) {
        worst = item.transmits;
        victim = subject;
      }
    }
    if (victim !== undefined) this.items.delete(victim);
  }
}
