import { assert, isControlPlaneRole, type NodeRole, nextRoles } from "../vocabulary/index.js";
import type { BlockCommand } from "./block.js";

/**
 * Who holds which role, as the chain's own history says: founding control-plane members
 * from genesis, then every block's command applied in order with the vocabulary's
 * `nextRoles`, the one definition the Raft state machine and the policy engine also use
 * (docs/attestation.md, "Role table"). A node no block has touched yet is a `worker`, as the
 * state machine makes a node that joins without roles.
 *
 * A control-plane member holds a control-plane role and is not quarantined. Membership
 * history is kept as change points so a checkpoint of any size can ask who was a member.
 */
export const foundingRoles: readonly NodeRole[] = ["api-server", "controller-manager", "etcd", "scheduler"];

const untouchedRoles: readonly NodeRole[] = ["worker"];

interface MembershipChange {
  /** Number of blocks applied when this member set took effect. */
  readonly size: number;
  readonly members: ReadonlySet<string>;
}

export class RoleTable {
  private readonly roles = new Map<string, readonly NodeRole[]>();
  private readonly history: MembershipChange[] = [];
  private applied = 0;

  constructor(foundingMembers: readonly string[]) {
    assert(foundingMembers.length > 0, "a chain starts with at least one control-plane member");
    for (const member of foundingMembers) this.roles.set(member, foundingRoles);
    this.history.push({ size: 0, members: new Set(foundingMembers) });
    assert(this.members().size === foundingMembers.length, "founding members are distinct");
  }

  /** Blocks applied so far. */
  get size(): number {
    return this.applied;
  }

  /** The node's roles; `worker` for a node no block has touched. */
  rolesOf(node: string): readonly NodeRole[] {
    return this.roles.get(node) ?? untouchedRoles;
  }

  /** The current control-plane members. */
  members(): ReadonlySet<string> {
    return this.history[this.history.length - 1]!.members;
  }

  isMember(node: string): boolean {
    return this.members().has(node);
  }

  /** The control-plane members after the first `size` blocks were applied. */
  membersAt(size: number): ReadonlySet<string> {
    assert(size <= this.applied, "membership asked beyond the applied blocks");
    let low = 0;
    let high = this.history.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (this.history[middle]!.size <= size) low = middle;
      else high = middle - 1;
    }
    return this.history[low]!.members;
  }

  apply(command: BlockCommand): void {
    if (command.type === "strategy" || command.type === "etcd-member") {
      // Strategy and etcd blocks change no roles; they still count toward the blocks applied.
      this.applied += 1;
      return;
    }
    const before = this.rolesOf(command.node);
    const after = nextRoles(before, command);
    this.roles.set(command.node, after);
    this.applied += 1;
    const wasMember = this.isMember(command.node);
    const isMember = isControlPlaneMember(after);
    if (wasMember !== isMember) {
      const members = new Set(this.members());
      if (isMember) members.add(command.node);
      else members.delete(command.node);
      this.history.push({ size: this.applied, members });
    }
    assert(this.isMember(command.node) === isMember, "membership follows the roles");
  }

  /** Every node a block touched (and the founders), keys sorted: what `chain show` prints. */
  snapshot(): Record<string, NodeRole[]> {
    const table: Record<string, NodeRole[]> = {};
    for (const node of [...this.roles.keys()].sort()) table[node] = [...this.rolesOf(node)];
    return table;
  }
}

export function isControlPlaneMember(roles: readonly NodeRole[]): boolean {
  return !roles.includes("quarantined") && roles.some(isControlPlaneRole);
}
