import {
  assert,
  assertNever,
  type Command,
  canonicalJson,
  decodeProposal,
  emptyFabricState,
  FabricState,
  failed,
  type NodeId,
  type NodeRole,
  type NodeState,
  nextRoles,
  ok,
  type Proposal,
  type Result,
  type RoleCommand,
  sortedRoles,
  workloadKey,
} from "../vocabulary/index.js";
import { decodeJsonBytes } from "./codec.js";
import type { Entry } from "./types.js";

/**
 * The fabric's replicated state machine: applies committed `Proposal`s (canonical JSON in
 * `normal` entries) to a `FabricState`, deterministically, so every node that applies the
 * same log holds the same bytes. A command that does not fit the current state (an unknown
 * node, a role that would break a rule) is REJECTED as a deterministic no-op: every node
 * rejects it the same way, and the applied position still moves.
 *
 * Semantics (roles are kept sorted, so snapshots are byte-stable). Role commands use the
 * vocabulary's `nextRoles`, the one definition shared with the policy engine and the
 * attestation role table (the attested chain must replay to this very table):
 * - promote adds the roles; demote removes them and a node left with none is a `worker`;
 *   quarantine leaves only `quarantined`; restore makes the node a `worker`.
 * - A role command for an unknown node is rejected.
 * - node-join: a new node enters with its advertised roles (`worker` when none); a known
 *   node updates its advertisement (addresses, capacity, labels, version) if the generation
 *   is not older, but keeps its committed roles: roles change only through role commands.
 * - node-remove: the node leaves and is dropped from every placement.
 * - workload-upsert / workload-delete: by `namespace/name`; delete also drops its placement.
 * - placement: sets the nodes of a known workload (all nodes must be known); an empty list
 *   removes the placement.
 */

export type ApplyOutcome =
  | { readonly type: "applied"; readonly command: Command["type"] }
  | { readonly type: "rejected"; readonly reason: string }
  | { readonly type: "skipped" };

export class FabricStateMachine {
  private current: FabricState;

  constructor(state: FabricState = emptyFabricState()) {
    this.current = structuredClone(state);
  }

  /** Restores from `snapshot()` bytes (validated). */
  static restore(bytes: Uint8Array): Result<FabricStateMachine> {
    const state = decodeJsonBytes(FabricState, bytes);
    if (!state.ok) return failed(state.issues);
    return ok(new FabricStateMachine(state.value));
  }

  /** The current state (a copy: callers cannot change the replicated state). */
  state(): FabricState {
    return structuredClone(this.current);
  }

  /** One node's committed state (a copy), without copying the whole state. */
  node(id: NodeId): NodeState | undefined {
    const node = this.current.nodes[id];
    return node === undefined ? undefined : structuredClone(node);
  }

  hasWorkload(key: string): boolean {
    return this.current.workloads[key] !== undefined;
  }

  /** Canonical JSON bytes: the same state always gives the same bytes. */
  snapshot(): Uint8Array {
    return new TextEncoder().encode(canonicalJson(this.current, 0));
  }

  /** Applies one committed entry, in log order, exactly once. */
  apply(entry: Entry): ApplyOutcome {
    if (entry.kind !== "normal") return this.applyDecoded(entry, null);
    const decoded = decodeProposal(entry.data);
    return this.applyDecoded(entry, decoded.ok ? decoded.value : null);
  }

  /**
   * Applies one committed entry whose proposal the caller decoded (null for a normal entry:
   * malformed), so the fabric machine decodes each entry once.
   */
  applyDecoded(entry: Pick<Entry, "term" | "index" | "kind">, proposal: Proposal | null): ApplyOutcome {
    assert(entry.index === this.current.applied.index + 1, "entries apply in order, each once");
    assert(entry.term >= this.current.applied.term, "terms never go back along the log");
    this.current.applied = { term: entry.term, index: entry.index };
    if (entry.kind !== "normal") return { type: "skipped" };
    if (proposal === null) return { type: "rejected", reason: "malformed proposal" };
    const reason = this.applyCommand(proposal.command);
    if (reason !== null) return { type: "rejected", reason };
    return { type: "applied", command: proposal.command.type };
  }

  /** The last applied entry's position. */
  appliedPosition(): { readonly term: number; readonly index: number } {
    return { ...this.current.applied };
  }

  /** Moves the applied position over entries covered by a Raft snapshot of another kind. */
  skipTo(term: number, index: number): void {
    assert(index >= this.current.applied.index, "skipping forward only");
    this.current.applied = { term, index };
  }

  /** Returns null when applied, or the reason the command was refused. */
  private applyCommand(command: Command): string | null {
    const state = this.current;
    switch (command.type) {
      case "promote":
      case "demote":
      case "quarantine":
      case "restore":
        return this.setRoles(command);
      case "node-join":
        return this.join(command.state);
      case "node-remove": {
        if (state.nodes[command.node] === undefined) return "unknown node";
        delete state.nodes[command.node];
        for (const [key, nodes] of Object.entries(state.placements)) {
          state.placements[key] = nodes.filter((node) => node !== command.node);
        }
        return null;
      }
      case "workload-upsert":
        state.workloads[workloadKey(command.workload)] = structuredClone(command.workload);
        return null;
      case "attest-checkpoint":
      case "shift-procedure":
      case "member-flap":
      case "etcd-member":
      case "join-token":
      case "strategy":
        // Attestation and procedure records: the fabric machine keeps them; the fabric
        // state (what faces render) does not change.
        return null;
      case "workload-delete": {
        const key = workloadKey(command);
        if (state.workloads[key] === undefined) return "unknown workload";
        delete state.workloads[key];
        delete state.placements[key];
        return null;
      }
      case "placement":
        return this.place(command.workload, command.nodes);
      default:
        return assertNever(command);
    }
  }

  private setRoles(command: RoleCommand): string | null {
    const nodes = this.current.nodes as Record<string, NodeState>;
    const existing = nodes[command.node];
    if (existing === undefined) return "unknown node";
    const roles = nextRoles(existing.roles, command);
    assert(roles.length > 0, "a known node always has a role");
    existing.roles = roles;
    return null;
  }

  private join(advertised: NodeState): string | null {
    const nodes = this.current.nodes as Record<string, NodeState>;
    const existing = nodes[advertised.id];
    if (existing === undefined) {
      const roles =
        advertised.roles.length === 0 ? (["worker"] as NodeRole[]) : sortedRoles(advertised.roles);
      nodes[advertised.id] = { ...structuredClone(advertised), roles };
      return null;
    }
    if (advertised.generation < existing.generation) return "an older advertisement";
    nodes[advertised.id] = { ...structuredClone(advertised), roles: existing.roles };
    return null;
  }

  private place(workload: string, placed: readonly string[]): string | null {
    const state = this.current;
    if (placed.length === 0) {
      delete state.placements[workload];
      return null;
    }
    if (state.workloads[workload] === undefined) return "unknown workload";
    const nodes = state.nodes as Record<string, unknown>;
    if (placed.some((node) => nodes[node] === undefined)) return "placement on an unknown node";
    state.placements[workload] = [...placed] as FabricState["placements"][string];
    return null;
  }
}
