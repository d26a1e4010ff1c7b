import { z } from "zod";
import {
  AttestChain,
  type ApplyOutcome as ChainOutcome,
  checkpointNoteSize,
  formatChainLog,
  type GenesisRecord,
  makeGenesis,
  parseChainExport,
} from "../attest/index.js";
import type { FlapRecord, PolicyHistory, ShiftRecord } from "../policy/index.js";
import {
  applyConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  emptyConfState,
  FabricStateMachine,
  type ApplyOutcome as StateOutcome,
} from "../raft/index.js";
import {
  type Command,
  canonicalJson,
  decodeProposal,
  EtcdCredential,
  FabricState,
  failed,
  isRoleCommand,
  Millis,
  NodeId,
  type NodeState,
  ok,
  operatorKeyHex,
  type Proposal,
  parseWith,
  type Result,
  type RoleCommand,
} from "../vocabulary/index.js";
import { applyJoinToken, JoinTokenRecord, pruneJoinTokens } from "./join-tokens.js";
import {
  isSettledVoter,
  isVoterIn,
  leavesVoters,
  openingPhase,
  Procedure,
  type ProcedureEvent,
  type ProcedurePhase,
  phaseAfterCommand,
  phaseAfterJoiningVoters,
  phaseAfterLeavingVoters,
} from "./procedure.js";
import { CommittedStrategy, refusalOf } from "./strategy-gate.js";

/**
 * The fabric's one replicated state machine. Every committed Raft entry is decoded once and
 * drives, in log order and deterministically:
 * - the fabric state (nodes, roles, workloads, placements: what faces render);
 * - the Raft configuration as committed (conf-change entries), which procedures read;
 * - the attestation chain (one block per role command, strategy and etcd step, founded by entry 1) and its sealed
 *   checkpoints, in the order they committed;
 * - the policy's history: role shifts with the leader's clock, flaps the leader committed,
 *   operator holds (an operator's quarantine, lifted only by a restore);
 * - the open role-shift procedures (`procedure.ts`) and, when the fabric manages a real
 *   etcd, its members as the leader committed them (`etcd-member` records).
 * All of it is in the snapshot, so a node restored from one (or any new leader) holds exactly
 * what every other node holds at that index. Nothing here reads a clock: time is the
 * `issued_at_ms` the leader put in each proposal.
 */
export interface FabricMachineOptions {
  /** The chain's log origin (C2SP checkpoint origin line). */
  readonly origin: string;
  /** The founding strategy's operator rules, written into genesis (log entry 1). */
  readonly requireOperatorSignature: boolean;
  readonly operators?: readonly string[];
  /** History older than this (against the newest committed clock) changes no decision. */
  readonly historyHorizonMs?: number;
}

export const defaultHistoryHorizonMs = 10 * 60_000;
const historyRecordsMax = 4096;

export interface MachineOutcome {
  readonly index: number;
  readonly term: number;
  readonly kind: Entry["kind"];
  /** The decoded proposal of a normal entry (null: not one, or malformed). */
  readonly proposal: Proposal | null;
  readonly state: StateOutcome;
  readonly chain: ChainOutcome | null;
  /** The chain founded by this entry (log entry 1). */
  readonly founded: GenesisRecord | null;
  /** A sealed checkpoint recorded by this entry. */
  readonly checkpoint: { readonly size: number; readonly note: string } | null;
  readonly procedure: ProcedureEvent | null;
  /** Why a procedure or join-token record was refused (a deterministic no-op on every node). */
  readonly procedureRejected: string | null;
}

export interface CheckpointEntry {
  readonly size: number;
  readonly note: string;
  /** Blocks in the chain when it was recorded: where it sits in the chain file. */
  readonly afterBlocks: number;
}

const HistorySnapshot = z.strictObject({
  clock_ms: Millis,
  shifts: z.array(
    z.strictObject({
      node: NodeId,
      at_ms: Millis,
      type: z.enum(["promote", "demote", "quarantine", "restore"]),
    }),
  ),
  flaps: z.array(z.strictObject({ node: NodeId, at_ms: Millis })),
  holds: z.array(NodeId),
});

const EtcdMemberState = z.strictObject({
  node: NodeId,
  member_id: z.string().regex(/^[0-9a-f]{1,16}$/),
  learner: z.boolean(),
  /** The member's TLS credential, when the leader issued one with the add. */
  credential: EtcdCredential.optional(),
});
export type EtcdMemberState = z.infer<typeof EtcdMemberState>;

const MachineSnapshot = z.strictObject({
  v: z.literal(1),
  state: FabricState,
  chain: z.string().nullable(),
  history: HistorySnapshot,
  procedures: z.array(Procedure),
  etcd_members: z.array(EtcdMemberState),
  /** Join tokens (hashed secrets only); absent in snapshots taken before tokens existed. */
  join_tokens: z.array(JoinTokenRecord).optional(),
  /** The committed strategy; absent in snapshots taken before it was committed state. */
  strategy: CommittedStrategy.optional(),
});

/** The daemon's snapshot before the fabric machine: state and chain only. */
const LegacySnapshot = z.strictObject({ state: z.string(), chain: z.string().nullable() });

export class FabricMachine {
  private fabric: FabricStateMachine;
  private conf: ConfState;
  private attest: AttestChain | null = null;
  private sealed: CheckpointEntry[] = [];
  private shifts: ShiftRecord[] = [];
  private flaps: FlapRecord[] = [];
  private readonly holds = new Set<NodeId>();
  private clockMs = 0;
  private readonly open = new Map<NodeId, Procedure>();
  private readonly etcd = new Map<NodeId, EtcdMemberState>();
  private readonly tokens = new Map<string, JoinTokenRecord>();
  private committedStrategy: CommittedStrategy | null = null;
  private readonly horizonMs: number;

  constructor(
    private readonly options: FabricMachineOptions,
    conf: ConfState = emptyConfState(),
    state?: FabricState,
  ) {
    this.fabric = new FabricStateMachine(state);
    this.conf = conf;
    this.horizonMs = options.historyHorizonMs ?? defaultHistoryHorizonMs;
  }

  /**
   * Rebuilds a machine from `snapshot()` bytes and the Raft configuration of the same
   * snapshot. Reads the pre-machine snapshot format too (history and procedures empty).
   */
  static restore(options: FabricMachineOptions, bytes: Uint8Array, conf: ConfState): Result<FabricMachine> {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (error) {
      return failed([
        { code: "invalid_json", message: error instanceof Error ? error.message : "bad JSON", path: [] },
      ]);
    }
    const legacy = LegacySnapshot.safeParse(json);
    if (legacy.success) {
      // The old applier's state field is `FabricStateMachine.snapshot()` text.
      const state = FabricStateMachine.restore(new TextEncoder().encode(legacy.data.state));
      if (!state.ok)
        return failed(state.issues.map((issue) => ({ ...issue, path: ["state", ...issue.path] })));
      return FabricMachine.assemble(options, conf, {
        v: 1,
        state: state.value.state(),
        chain: legacy.data.chain,
        history: { clock_ms: 0, shifts: [], flaps: [], holds: [] },
        procedures: [],
        etcd_members: [],
      });
    }
    const parsed = parseWith(MachineSnapshot, json);
    if (!parsed.ok) return parsed;
    return FabricMachine.assemble(options, conf, parsed.value);
  }

  private static assemble(
    options: FabricMachineOptions,
    conf: ConfState,
    snapshot: z.infer<typeof MachineSnapshot>,
  ): Result<FabricMachine> {
    const machine = new FabricMachine(options, conf, snapshot.state);
    if (snapshot.chain !== null) {
      const parsed = parseChainExport(snapshot.chain);
      if (!parsed.ok) return failed(parsed.issues);
      // Blocks from a snapshot were checked when they were derived: re-linked, not re-verified.
      const chain = new AttestChain(parsed.value.genesis);
      for (const block of parsed.value.blocks) {
        // A snapshot may come from a relay source, not this node's disk: a bad link is an
        // answer to refuse, not an invariant to crash on (`append` asserts it).
        const head = chain.head;
        if (
          block.body.sequence !== head.sequence ||
          block.body.prev_hash !== head.hash ||
          block.body.index <= head.index
        )
          return failed([
            { code: "custom", message: `chain block ${block.body.sequence} does not link`, path: ["chain"] },
          ]);
        chain.append(block);
      }
      machine.attest = chain;
      for (const checkpoint of parsed.value.checkpoints) {
        const size = checkpointNoteSize(checkpoint.note);
        if (size === null)
          return failed([
            { code: "custom", message: "a checkpoint note names no tree size", path: ["chain"] },
          ]);
        machine.sealed.push({ size, note: checkpoint.note, afterBlocks: checkpoint.afterBlocks });
      }
    }
    machine.clockMs = snapshot.history.clock_ms;
    machine.shifts = [...snapshot.history.shifts];
    machine.flaps = [...snapshot.history.flaps];
    for (const hold of snapshot.history.holds) machine.holds.add(hold);
    for (const procedure of snapshot.procedures) machine.open.set(procedure.shift.node, procedure);
    for (const member of snapshot.etcd_members) machine.etcd.set(member.node, member);
    for (const token of snapshot.join_tokens ?? []) machine.tokens.set(token.id, token);
    machine.committedStrategy = snapshot.strategy ?? null;
    return ok(machine);
  }

  // ---------------------------------------------------------------------------------------
  // Reads.

  /** The committed fabric state (a copy). */
  state(): FabricState {
    return this.fabric.state();
  }

  /**
   * The committed fabric state as a frozen, shared value: its records keep their identity
   * until an entry changes them (`FabricStateMachine.view()`), so the policy's incremental
   * round hits from one execution to the next. Not to be changed (it throws).
   */
  view(): FabricState {
    return this.fabric.view();
  }

  /** One node's committed state (a copy), without copying the whole state. */
  node(id: NodeId): NodeState | undefined {
    return this.fabric.node(id);
  }

  hasWorkload(key: string): boolean {
    return this.fabric.hasWorkload(key);
  }

  /** Where the machine is: the last applied entry. */
  applied(): { readonly term: number; readonly index: number } {
    return this.fabric.appliedPosition();
  }

  /** The Raft configuration as of the applied index. */
  configuration(): ConfState {
    return this.conf;
  }

  get chain(): AttestChain | null {
    return this.attest;
  }

  get checkpoints(): readonly CheckpointEntry[] {
    return this.sealed;
  }

  /** The chain export in log order: byte for byte what the node's chain file holds. */
  chainExport(): string | null {
    return this.attest === null ? null : formatChainLog(this.attest.genesis, this.attest.blocks, this.sealed);
  }

  procedures(): readonly Procedure[] {
    return [...this.open.values()].sort((a, b) => a.begun_index - b.begun_index);
  }

  procedureFor(node: NodeId): Procedure | undefined {
    return this.open.get(node);
  }

  /** The etcd members the leader committed (sorted by node). */
  etcdMembers(): readonly EtcdMemberState[] {
    return [...this.etcd.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** The committed strategy (null until the founding leader's first strategy entry applies). */
  strategy(): CommittedStrategy | null {
    return this.committedStrategy;
  }

  /** Why every node would refuse this proposal if it committed now (null: it would apply). */
  refusalOf(proposal: Proposal): string | null {
    return refusalOf(proposal, {
      chain: this.attest,
      committed: this.committedStrategy,
      procedures: this.procedures(),
    });
  }

  /** The committed join tokens (sorted by id; secrets only as SHA-256). */
  joinTokens(): readonly JoinTokenRecord[] {
    return [...this.tokens.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  joinToken(id: string): JoinTokenRecord | undefined {
    return this.tokens.get(id);
  }

  operatorHolds(): readonly NodeId[] {
    return [...this.holds].sort();
  }

  /**
   * The committed clock: the greatest `issued_at_ms` of any applied proposal (0 before the
   * first). The leader's clock (`LeaderClock`) never runs behind it.
   */
  committedClockMs(): number {
    return this.clockMs;
  }

  /** The damper's memory as the policy reads it, at the caller's clock. */
  history(nowMs: number): PolicyHistory {
    const horizon = nowMs - this.horizonMs;
    return {
      recent_shifts: this.shifts.filter((shift) => shift.at_ms > horizon),
      recent_flaps: this.flaps.filter((flap) => flap.at_ms > horizon),
      operator_holds: [...this.holds].sort(),
    };
  }

  /** Canonical JSON: the same machine always gives the same bytes. */
  snapshot(): Uint8Array {
    const snapshot: z.infer<typeof MachineSnapshot> = {
      v: 1,
      state: this.fabric.state(),
      chain: this.chainExport(),
      history: {
        clock_ms: this.clockMs,
        shifts: this.shifts,
        flaps: this.flaps,
        holds: [...this.holds].sort(),
      },
      procedures: this.procedures() as Procedure[],
      etcd_members: this.etcdMembers() as EtcdMemberState[],
      ...(this.tokens.size === 0 ? {} : { join_tokens: this.joinTokens() as JoinTokenRecord[] }),
      ...(this.committedStrategy === null ? {} : { strategy: this.committedStrategy }),
    };
    return new TextEncoder().encode(canonicalJson(snapshot, 0));
  }

  // ---------------------------------------------------------------------------------------
  // Applying.

  /** Applies one committed entry, in log order, exactly once. */
  apply(entry: Entry): MachineOutcome {
    if (entry.kind === "conf-change") return this.applyConfEntry(entry);
    const decoded = entry.kind === "normal" ? decodeProposal(entry.data) : null;
    const proposal = decoded?.ok === true ? decoded.value : null;
    const refused = proposal === null ? null : this.refusalOf(proposal);
    if (proposal !== null && refused !== null) return this.refuse(entry, proposal, refused);
    const state = this.fabric.applyDecoded(entry, decoded === null ? null : proposal);
    const chain = this.attest?.applyDecoded(entry, proposal) ?? null;
    let checkpoint: MachineOutcome["checkpoint"] = null;
    let procedure: ProcedureEvent | null = null;
    let procedureRejected: string | null = null;
    if (proposal !== null) {
      this.clockMs = Math.max(this.clockMs, proposal.issued_at_ms);
      const command = proposal.command;
      if (command.type === "attest-checkpoint") checkpoint = this.recordCheckpoint(command);
      else if (command.type === "member-flap") this.recordFlap(command.node, command.at_ms);
      else if (command.type === "etcd-member") procedure = this.recordEtcdMember(command);
      else if (command.type === "strategy")
        this.committedStrategy = { strategy: command.strategy, index: entry.index, term: entry.term };
      else if (command.type === "join-token")
        procedureRejected = applyJoinToken(this.tokens, command, proposal.issued_at_ms, this.fabric.view());
      else if (command.type === "shift-procedure") {
        const result = this.stepProcedure(command, proposal, entry);
        procedure = result.event;
        procedureRejected = result.rejected;
      } else if (command.type === "node-remove") {
        procedure = this.close(command.node, "aborted", "the node was removed");
      } else if (isRoleCommand(command) && state.type === "applied") {
        const shift = command as RoleCommand;
        this.recordShift(shift, proposal);
        procedure = this.afterRoleCommand(shift);
      }
      this.prune();
    }
    return {
      index: entry.index,
      term: entry.term,
      kind: entry.kind,
      proposal,
      state,
      chain,
      founded: null,
      checkpoint,
      procedure,
      procedureRejected,
    };
  }

  /**
   * An entry every node refuses (refusalOf): its position is applied and nothing else; a
   * refused role command ends the procedure that was waiting for it.
   */
  private refuse(entry: Entry, proposal: Proposal, reason: string): MachineOutcome {
    this.fabric.skipTo(entry.term, entry.index);
    const command = proposal.command;
    let procedure: ProcedureEvent | null = null;
    if (isRoleCommand(command)) {
      const shift = command as RoleCommand;
      const open = this.open.get(shift.node);
      if (open !== undefined && open.phase === "command" && open.shift.type === shift.type)
        procedure = this.close(shift.node, "aborted", `the role command was refused: ${reason}`);
    }
    return {
      index: entry.index,
      term: entry.term,
      kind: entry.kind,
      proposal,
      state: { type: "rejected", reason },
      chain: null,
      founded: null,
      checkpoint: null,
      procedure,
      procedureRejected: null,
    };
  }

  private applyConfEntry(entry: Entry): MachineOutcome {
    const state = this.fabric.applyDecoded(entry, null);
    const change = decodeConfChange(entry.data);
    let founded: GenesisRecord | null = null;
    if (change.ok) {
      if (this.attest === null && entry.index === 1) founded = this.found(change.value.changes);
      // The same rule as the Raft core: a change that does not apply leaves the configuration.
      const next = applyConfChange(this.conf, change.value);
      if (next.ok) this.conf = next.conf;
    }
    const chain = this.attest?.applyDecoded(entry, null) ?? null;
    return {
      index: entry.index,
      term: entry.term,
      kind: entry.kind,
      proposal: null,
      state,
      chain,
      founded,
      checkpoint: null,
      procedure: this.afterConfChange(),
      procedureRejected: null,
    };
  }

  /** Log entry 1 founds the cluster: its voters are the genesis control plane. */
  private found(changes: readonly { readonly type: string; readonly node: string }[]): GenesisRecord | null {
    const founders = changes
      .filter((item) => item.type === "add-voter")
      .map((item) => item.node)
      .sort();
    const parsed = z.array(NodeId).min(1).safeParse(founders);
    if (!parsed.success) return null;
    const genesis = makeGenesis({
      v: 1,
      origin: this.options.origin,
      control_plane: parsed.data,
      operators: [...new Set((this.options.operators ?? []).map(operatorKeyHex))].sort() as NodeId[],
      require_operator_signature: this.options.requireOperatorSignature,
    });
    this.attest = new AttestChain(genesis);
    return genesis;
  }

  private recordCheckpoint(command: {
    readonly size: number;
    readonly note: string;
  }): MachineOutcome["checkpoint"] {
    const chain = this.attest;
    if (chain === null) return null;
    const latest = this.sealed.at(-1)?.size ?? 0;
    if (command.size <= latest || command.size > chain.blocks.length) return null;
    this.sealed.push({ size: command.size, note: command.note, afterBlocks: chain.blocks.length });
    return { size: command.size, note: command.note };
  }

  private recordFlap(node: NodeId, atMs: number): void {
    if (this.fabric.node(node) === undefined) return;
    this.flaps.push({ node, at_ms: atMs });
  }

  private recordShift(shift: RoleCommand, proposal: Proposal): void {
    this.shifts.push({ node: shift.node, at_ms: proposal.issued_at_ms, type: shift.type });
    if (shift.type === "quarantine" && proposal.origin === "operator") this.holds.add(shift.node);
    if (shift.type === "restore") this.holds.delete(shift.node);
  }

  /** History older than the horizon (against the newest committed clock) is dropped. */
  private prune(): void {
    pruneJoinTokens(this.tokens, this.clockMs);
    const horizon = this.clockMs - this.horizonMs;
    if (
      this.shifts.length > 0 &&
      (this.shifts[0]!.at_ms <= horizon || this.shifts.length > historyRecordsMax)
    ) {
      this.shifts = this.shifts.filter((shift) => shift.at_ms > horizon).slice(-historyRecordsMax);
    }
    if (this.flaps.length > 0 && (this.flaps[0]!.at_ms <= horizon || this.flaps.length > historyRecordsMax)) {
      this.flaps = this.flaps.filter((flap) => flap.at_ms > horizon).slice(-historyRecordsMax);
    }
  }

  private stepProcedure(
    command: Extract<Command, { type: "shift-procedure" }>,
    proposal: Proposal,
    entry: Entry,
  ): { event: ProcedureEvent | null; rejected: string | null } {
    const node = command.shift.node;
    const existing = this.open.get(node);
    if (command.step === "abort") {
      if (existing === undefined || existing.shift.type !== command.shift.type) {
        return { event: null, rejected: "no such procedure in flight" };
      }
      // A node whose etcd member could not join (added but never in sync, or never added)
      // counts as just shifted: the damper's hysteresis makes the policy try another node.
      if (existing.etcd && (existing.phase === "etcd-add" || existing.phase === "etcd-promote")) {
        this.recordShift(existing.shift, proposal);
      }
      return { event: this.close(node, "aborted", command.reason ?? "aborted"), rejected: null };
    }
    if (existing !== undefined) return { event: null, rejected: "a procedure for this node is in flight" };
    if (this.fabric.node(node) === undefined) return { event: null, rejected: "unknown node" };
    const procedure: Procedure = {
      shift: command.shift,
      origin: proposal.origin,
      force: proposal.force,
      begun_term: entry.term,
      begun_index: entry.index,
      begun_at_ms: proposal.issued_at_ms,
      phase: openingPhase(command.shift, this.conf, command.etcd === true),
      etcd: command.etcd === true,
      ...(proposal.operator_signature === undefined || proposal.operator_after === undefined
        ? {}
        : { operator: { after: proposal.operator_after, signature: proposal.operator_signature } }),
    };
    this.open.set(node, procedure);
    return { event: { type: "opened", procedure }, rejected: null };
  }

  /** A role command committed: the procedure waiting for it moves on (or completes). */
  private afterRoleCommand(shift: RoleCommand): ProcedureEvent | null {
    const procedure = this.open.get(shift.node);
    if (procedure === undefined || procedure.phase !== "command" || procedure.shift.type !== shift.type) {
      return null;
    }
    let next = phaseAfterCommand(procedure.shift, this.conf);
    // Not (or no longer) a Raft voter, but still an etcd member: only the etcd step is left.
    if (next === null && procedure.etcd && leavesVoters(shift) && this.etcd.has(shift.node))
      next = "etcd-remove";
    if (next === null) return this.close(shift.node, "completed", "the role command committed");
    return this.advance(procedure, next);
  }

  private advance(procedure: Procedure, phase: ProcedurePhase): ProcedureEvent {
    const advanced: Procedure = { ...procedure, phase, phase_at_ms: this.clockMs };
    this.open.set(procedure.shift.node, advanced);
    return { type: "advanced", procedure: advanced };
  }

  /** What the leader did to etcd's membership: the member table, and the procedure waiting on it. */
  private recordEtcdMember(command: Extract<Command, { type: "etcd-member" }>): ProcedureEvent | null {
    if (command.event === "removed") this.etcd.delete(command.node);
    else {
      // A promotion keeps the credential the add carried.
      const credential = command.credential ?? this.etcd.get(command.node)?.credential;
      this.etcd.set(command.node, {
        node: command.node,
        member_id: command.member_id,
        learner: command.event === "added",
        ...(credential === undefined ? {} : { credential }),
      });
    }
    const procedure = this.open.get(command.node);
    if (procedure === undefined) return null;
    if (procedure.phase === "etcd-add" && command.event === "added")
      return this.advance(procedure, "etcd-promote");
    if (procedure.phase === "etcd-promote" && command.event === "promoted")
      return this.advance(procedure, "command");
    if (procedure.phase === "etcd-remove" && command.event === "removed") {
      return this.close(command.node, "completed", "the etcd member was removed");
    }
    return null;
  }

  /** A configuration committed: procedures waiting on the voters move on. */
  private afterConfChange(): ProcedureEvent | null {
    let event: ProcedureEvent | null = null;
    for (const procedure of this.procedures()) {
      const node = procedure.shift.node;
      if (procedure.phase === "join-voters" && isSettledVoter(this.conf, node)) {
        event = this.advance(procedure, phaseAfterJoiningVoters(procedure));
      } else if (procedure.phase === "leave-voters" && !isVoterIn(this.conf, node)) {
        const next = phaseAfterLeavingVoters(procedure);
        event =
          next === null
            ? this.close(node, "completed", "the node left the voters")
            : this.advance(procedure, next);
      }
    }
    return event;
  }

  private close(node: NodeId, outcome: "completed" | "aborted", reason: string): ProcedureEvent | null {
    const procedure = this.open.get(node);
    if (procedure === undefined) return null;
    this.open.delete(node);
    return { type: "closed", procedure, outcome, reason };
  }
}
