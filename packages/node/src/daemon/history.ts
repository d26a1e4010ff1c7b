import type { FlapRecord, PolicyHistory, ShiftRecord } from "@revoada/fabric-core/policy";
import type { NodeId, Proposal } from "@revoada/fabric-core/vocabulary";

/**
 * The damper's memory. Shifts and operator holds come from the committed log, so every
 * node (and so every future leader) has them; flaps come from this node's own gossip view
 * (a new leader starts counting afresh, which only delays a quarantine).
 * Entries older than `horizonMs` are pruned: they change no decision.
 */
export class PolicyMemory {
  private shifts: ShiftRecord[] = [];
  private flaps: FlapRecord[] = [];
  private readonly holds = new Set<NodeId>();

  constructor(private readonly horizonMs: number) {}

  noteCommitted(proposal: Proposal): void {
    const command = proposal.command;
    switch (command.type) {
      case "promote":
      case "demote":
      case "quarantine":
      case "restore":
        this.shifts.push({ node: command.node, at_ms: proposal.issued_at_ms, type: command.type });
        if (command.type === "quarantine" && proposal.origin === "operator") this.holds.add(command.node);
        if (command.type === "restore") this.holds.delete(command.node);
        break;
      default:
        break;
    }
  }

  noteFlap(node: NodeId, atMs: number): void {
    this.flaps.push({ node, at_ms: atMs });
  }

  snapshot(nowMs: number): PolicyHistory {
    const horizon = nowMs - this.horizonMs;
    this.shifts = this.shifts.filter((shift) => shift.at_ms > horizon).slice(-4096);
    this.flaps = this.flaps.filter((flap) => flap.at_ms > horizon).slice(-4096);
    return {
      recent_shifts: [...this.shifts],
      recent_flaps: [...this.flaps],
      operator_holds: [...this.holds].sort(),
    };
  }
}
