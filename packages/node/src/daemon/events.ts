import type { MachineOutcome } from "@revoada/fabric-core/fabric";
import type { GossipEvent } from "@revoada/fabric-core/gossip";
import type { RaftEvent } from "@revoada/fabric-core/raft";

/**
 * Everything that happens to a node, as one typed stream: the drivers (Raft, gossip, timers,
 * the API) push, and one handler takes them in order. Pushing never calls the handler
 * re-entrantly: events that arrive while one is handled wait their turn, and events pushed
 * before the node is assembled wait for `start` (a driver may deliver one while starting).
 */
export type NodeEvent =
  | { readonly type: "applied"; readonly outcome: MachineOutcome }
  | { readonly type: "raft"; readonly event: RaftEvent }
  | { readonly type: "gossip"; readonly event: GossipEvent }
  /** The reconciliation cadence: a safety net; rules that hold on time run on the reconciler's own timer (`wakeAtMs`). */
  | { readonly type: "tick" };

export class EventQueue {
  private readonly pending: NodeEvent[] = [];
  private handler: ((event: NodeEvent) => void) | null = null;
  private draining = false;
  private stopped = false;

  push(event: NodeEvent): void {
    if (this.stopped) return;
    this.pending.push(event);
    this.drain();
  }

  /** Hands every event, past and future, to `handler`, in order. */
  start(handler: (event: NodeEvent) => void): void {
    this.handler = handler;
    this.drain();
  }

  stop(): void {
    this.stopped = true;
    this.pending.length = 0;
  }

  private drain(): void {
    const handler = this.handler;
    if (handler === null || this.draining) return;
    this.draining = true;
    try {
      for (let event = this.pending.shift(); event !== undefined; event = this.pending.shift()) {
        if (this.stopped) return;
        handler(event);
      }
    } finally {
      this.draining = false;
    }
  }
}
