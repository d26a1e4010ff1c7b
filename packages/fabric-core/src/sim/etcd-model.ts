import type { EtcdAction } from "../fabric/index.js";
import { assert, type Command, type NodeId } from "../vocabulary/index.js";
import type { SeededRandom } from "./random.js";

/**
 * A model of a live etcd cluster's membership, as the leader's etcd calls see it, for the
 * whole-fabric simulator. It keeps etcd 3.4's rules that matter to the procedure: one
 * learner at a time, `member promote` refused until the learner is in sync (here: its node
 * is up and has been a learner for `syncMs`), a membership change needs a quorum of the
 * voting members up, `member add` is refused while any voting member is down (the strict
 * reconfiguration check: "unhealthy cluster"), and `member add` of a peer already present
 * returns that member. Calls also fail at random (`failRate`), like a timeout.
 */
export type EtcdCallResult =
  | { readonly ok: true; readonly record: Extract<Command, { type: "etcd-member" }> }
  | {
      readonly ok: false;
      readonly reason: "not-ready" | "unavailable" | "unhealthy" | "too-many-learners";
    };

interface ModelMember {
  readonly id: string;
  readonly node: NodeId;
  learner: boolean;
  readonly addedAtMs: number;
}

export class SimEtcd {
  private readonly members = new Map<string, ModelMember>();
  calls = 0;
  failures = 0;

  constructor(
    private readonly random: SeededRandom,
    founder: NodeId,
    private readonly options: { readonly syncMs: number; readonly failRate: number },
  ) {
    const id = this.newId();
    this.members.set(id, { id, node: founder, learner: false, addedAtMs: 0 });
  }

  /** Voting members whose node is up. */
  liveVoting(isUp: (node: NodeId) => boolean): number {
    return [...this.members.values()].filter((member) => !member.learner && isUp(member.node)).length;
  }

  /** Voting members' nodes (sorted). */
  votingNodes(): NodeId[] {
    return [...this.members.values()]
      .filter((member) => !member.learner)
      .map((member) => member.node)
      .sort();
  }

  learnerNodes(): NodeId[] {
    return [...this.members.values()]
      .filter((member) => member.learner)
      .map((member) => member.node)
      .sort();
  }

  call(action: EtcdAction, nowMs: number, isUp: (node: NodeId) => boolean): EtcdCallResult {
    this.calls += 1;
    const voting = [...this.members.values()].filter((member) => !member.learner);
    const up = voting.filter((member) => isUp(member.node)).length;
    if (up * 2 <= voting.length || this.random.chance(this.options.failRate)) {
      this.failures += 1;
      return { ok: false, reason: "unavailable" };
    }
    const existing = [...this.members.values()].find((member) => member.node === action.node);
    switch (action.kind) {
      case "etcd-add-learner": {
        if (existing !== undefined)
          return record(action.node, existing.learner ? "added" : "promoted", existing.id);
        // etcd's strict reconfiguration check: every voting member connected, or no add.
        if (up < voting.length) return { ok: false, reason: "unhealthy" };
        if ([...this.members.values()].some((member) => member.learner))
          return { ok: false, reason: "too-many-learners" };
        const id = this.newId();
        this.members.set(id, { id, node: action.node, learner: true, addedAtMs: nowMs });
        return record(action.node, "added", id);
      }
      case "etcd-promote": {
        const member = this.members.get(action.member_id);
        if (member === undefined) return { ok: false, reason: "not-ready" };
        if (!member.learner) return record(action.node, "promoted", member.id);
        if (!isUp(member.node) || nowMs - member.addedAtMs < this.options.syncMs)
          return { ok: false, reason: "not-ready" };
        member.learner = false;
        return record(action.node, "promoted", member.id);
      }
      case "etcd-remove": {
        if (action.member_id !== null) this.members.delete(action.member_id);
        return record(action.node, "removed", action.member_id ?? "0");
      }
      case "etcd-adopt":
        if (existing !== undefined)
          return record(action.node, existing.learner ? "added" : "promoted", existing.id);
        return this.call({ kind: "etcd-add-learner", node: action.node }, nowMs, isUp);
      default:
        return { ok: false, reason: "unavailable" };
    }
  }

  private newId(): string {
    for (;;) {
      const id = (this.random.nextUint32() + 1).toString(16);
      if (!this.members.has(id)) return id;
    }
  }
}

function record(node: NodeId, event: "added" | "promoted" | "removed", memberId: string): EtcdCallResult {
  assert(/^[0-9a-f]{1,16}$/.test(memberId), "an etcd member id is hex");
  return { ok: true, record: { type: "etcd-member", node, event, member_id: memberId } };
}
