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
 *
 * Reads: `state()` is a deep copy the caller may change. `view()` is the committed state as a
 * frozen value with structural sharing: each record (nodes, workloads, placements) is the very
 * same object from one call to the next until an applied entry changes that record, and the
 * nodes, workloads and placement lists inside are shared with the machine (frozen when they
 * enter it, replaced, never edited, when an entry changes them). Readers that key a cache on
 * identity (the policy's incremental round, `decideIncremental`) get hits from it; nothing is
 * copied while nothing changes.
 */

export type ApplyOutcome =
  | { readonly type: "applied"; readonly command: Command["type"] }
  | { readonly type: "rejected"; readonly reason: string }
  | { readonly type: "skipped" };

type StateRecord = "nodes" | "workloads" | "placements";

export class FabricStateMachine {
  private current: FabricState;
  /** The frozen records `view()` hands out; a record is dropped when an entry changes it. */
  private readonly views: { -readonly [K in StateRecord]?: FabricState[K] } = {};
  private currentView: FabricState | null = null;

  constructor(state: FabricState = emptyFabricState()) {
    this.current = structuredClone(state);
    for (const node of Object.values(this.current.nodes)) deepFreeze(node);
    for (const workload of Object.values(this.current.workloads)) deepFreeze(workload);
    for (const nodes of Object.values(this.current.placements)) Object.freeze(nodes);
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

  /**
   * The current state, frozen, shared with the machine (see the class comment): the same
   * records, by identity, until an entry changes them. Mutating it throws.
   */
  view(): FabricState {
    if (this.currentView === null) {
      this.currentView = Object.freeze({
        nodes: this.recordView("nodes"),
        workloads: this.recordView("workloads"),
        placements: this.recordView("placements"),
        applied: Object.freeze({ ...this.current.applied }),
      });
    }
    return this.currentView;
  }

  private recordView<K extends StateRecord>(name: K): FabricState[K] {
    const cached = this.views[name];
    if (cached !== undefined) return cached;
    // The values inside are frozen already (they are frozen as they enter the machine).
    const record = Object.freeze({ ...this.current[name] }) as FabricState[K];
    this.views[name] = record;
    return record;
  }

  /** An entry changed `names`: their views are rebuilt on the next `view()`. */
  private changed(...names: StateRecord[]): void {
    for (const name of names) delete this.views[name];
    this.currentView = null;
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
    this.currentView = null;
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
    this.currentView = null;
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
          if (nodes.includes(command.node))
            state.placements[key] = Object.freeze(
              nodes.filter((node) => node !== command.node),
            ) as FabricState["placements"][string];
        }
        this.changed("nodes", "placements");
        return null;
      }
      case "workload-upsert":
        state.workloads[workloadKey(command.workload)] = deepFreeze(structuredClone(command.workload));
        this.changed("workloads");
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
        this.changed("workloads", "placements");
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
    // Replaced, not edited: the node object may be shared with a `view()`.
    nodes[command.node] = deepFreeze({ ...existing, roles });
    this.changed("nodes");
    return null;
  }

  private join(advertised: NodeState): string | null {
    const nodes = this.current.nodes as Record<string, NodeState>;
    const existing = nodes[advertised.id];
    if (existing === undefined) {
      const roles =
        advertised.roles.length === 0 ? (["worker"] as NodeRole[]) : sortedRoles(advertised.roles);
      nodes[advertised.id] = deepFreeze({ ...structuredClone(advertised), roles });
      this.changed("nodes");
      return null;
    }
    if (advertised.generation < existing.generation) return "an older advertisement";
    nodes[advertised.id] = deepFreeze({ ...structuredClone(advertised), roles: existing.roles });
    this.changed("nodes");
    return null;
  }

  private place(workload: string, placed: readonly string[]): string | null {
    const state = this.current;
    if (placed.length === 0) {
      delete state.placements[workload];
      this.changed("placements");
      return null;
    }
    if (state.workloads[workload] === undefined) return "unknown workload";
    const nodes = state.nodes as Record<string, unknown>;
    if (placed.some((node) => nodes[node] === undefined)) return "placement on an unknown node";
    state.placements[workload] = Object.freeze([...placed]) as FabricState["placements"][string];
    this.changed("placements");
    return null;
  }
}

/** Freezes `value` and everything inside it (plain JSON data: objects and arrays). */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
