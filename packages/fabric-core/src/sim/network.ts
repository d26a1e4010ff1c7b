import { assert } from "../vocabulary/index.js";
import type { SeededRandom } from "./random.js";

/**
 * A simulated network shared by every simulated layer (Raft, gossip, content). It delays,
 * drops, duplicates and (through random delay) reorders messages, and partitions nodes,
 * including one-way cuts, all driven by a seeded random source.
 */
export interface NetworkFaults {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  /** Delivery delay is uniform in [delayMsMin, delayMsMax]; spread causes reordering. */
  delayMsMin: number;
  delayMsMax: number;
}

export const reliableNetwork: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 1 };

export interface Envelope<M> {
  readonly from: string;
  readonly to: string;
  readonly message: M;
  readonly deliverAt: number;
  /** Send order, to break ties deterministically. */
  readonly sequence: number;
}

export class SimNetwork<M> {
  private readonly queue: Envelope<M>[] = [];
  private sequence = 0;
  /** `from->to` links that drop everything (partitions are sets of cut links). */
  private readonly cutLinks = new Set<string>();
  readonly bytesSent = new Map<string, number>();
  readonly messagesSent = new Map<string, number>();
  dropped = 0;

  constructor(
    private readonly random: SeededRandom,
    public faults: NetworkFaults = reliableNetwork,
  ) {
    assert(faults.delayMsMin <= faults.delayMsMax, "delay range is inverted");
  }

  send(from: string, to: string, message: M, now: number, bytes = 0): void {
    this.bytesSent.set(from, (this.bytesSent.get(from) ?? 0) + bytes);
    this.messagesSent.set(from, (this.messagesSent.get(from) ?? 0) + 1);
    if (this.cutLinks.has(linkKey(from, to)) || this.random.chance(this.faults.dropRate)) {
      this.dropped += 1;
      return;
    }
    const copies = this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy += 1) {
      const spread = this.faults.delayMsMax - this.faults.delayMsMin;
      const delay = this.faults.delayMsMin + (spread === 0 ? 0 : this.random.int(spread + 1));
      this.push({ from, to, message, deliverAt: now + delay, sequence: this.sequence++ });
    }
  }

  /** Cuts every link between different groups (both directions). */
  partition(groups: readonly (readonly string[])[]): void {
    for (const [i, a] of groups.entries()) {
      for (const [j, b] of groups.entries()) {
        if (i === j) continue;
        for (const from of a) for (const to of b) this.cutLinks.add(linkKey(from, to));
      }
    }
  }

  /** Cuts one direction only (asymmetric partition). */
  cut(from: string, to: string): void {
    this.cutLinks.add(linkKey(from, to));
  }

  isCut(from: string, to: string): boolean {
    return this.cutLinks.has(linkKey(from, to));
  }

  heal(): void {
    this.cutLinks.clear();
  }

  /** Drops queued messages to or from a node (it crashed; its sockets are gone). */
  discardFor(node: string): void {
    const kept = this.queue.filter((envelope) => envelope.to !== node && envelope.from !== node);
    this.queue.length = 0;
    for (const envelope of kept) this.push(envelope);
  }

  nextDeliveryAt(): number | undefined {
    return this.queue[0]?.deliverAt;
  }

  pending(): number {
    return this.queue.length;
  }

  /** Removes and returns every message due at or before `now`, in delivery order. */
  takeDue(now: number): Envelope<M>[] {
    const due: Envelope<M>[] = [];
    while (this.queue.length > 0 && this.queue[0]!.deliverAt <= now) due.push(this.pop());
    return due;
  }

  private push(envelope: Envelope<M>): void {
    const heap = this.queue;
    heap.push(envelope);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Envelope<M> {
    const heap = this.queue;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before<M>(a: Envelope<M>, b: Envelope<M>): boolean {
  return a.deliverAt < b.deliverAt || (a.deliverAt === b.deliverAt && a.sequence < b.sequence);
}

function linkKey(from: string, to: string): string {
  return `${from}->${to}`;
}
