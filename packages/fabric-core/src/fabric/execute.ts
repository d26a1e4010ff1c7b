import { isControlPlaneMember } from "../attest/index.js";
import type { MemberView as GossipMember, MembershipView as GossipView } from "../gossip/index.js";
import {
  type Decision,
  decide,
  decideIncremental,
  type FlapRecord,
  type MembershipView,
  nextGateChangeMs,
  type OperatorRequest,
  type PlacementMemo,
  type PolicyConfigOverrides,
  type PolicyInputs,
  type ProposedCommand,
} from "../policy/index.js";
import {
  type ConfChange,
  type ConfState,
  isJoint,
  type RaftStatus,
  raftTimingFromStrategy,
} from "../raft/index.js";
import {
  type FabricState,
  type FabricStrategy,
  type Formation,
  isAttestedCommand,
  isNodeId,
  isRoleCommand,
  type NodeId,
  type NodeState,
  nextRoles,
  type RoleCommand,
  shortNodeId,
} from "../vocabulary/index.js";
import type { FabricMachine } from "./machine.js";
import { joinsVoters, leavesVoters, type Procedure } from "./procedure.js";

/**
 * The leader's executor, sans IO: given the committed machine, this leader's Raft status and
 * its gossip view, it names the ONE next step to propose (or why to wait). The driver proposes
 * the step, and calls `execute` again when the step's entries have applied (or on a gossip
 * event, an operator request or a timer): no polling, no waiting for the log to settle.
 *
 * Steps, in order of precedence:
 * 1. membership mechanics: the founder records itself; flaps this leader saw are committed
 *    (the damper's history is replicated); alive members become fabric nodes, then learners;
 * 2. the oldest open procedure's next step (`procedure.ts`): add-learner / add-voter /
 *    etcd member add and promote / the role command / leave the voters / etcd member remove,
 *    or abort when it cannot finish;
 * 3. otherwise the policy decides: its first role shift opens a procedure (`begin`), and
 *    non-role commands (placements) are proposed when no shift is wanted.
 *
 * Why this is safe to resume: every step is computed from committed state only, and a leader
 * executes nothing until an entry of its own term has applied (so nothing a previous leader
 * left in the log is still pending). A role command is then signed against the committed
 * chain head, which is exact because the executor has at most one step in flight.
 *
 * With `manageEtcd`, the etcd steps are `actuate` steps: the driver makes the etcd call (the
 * only IO here) and then proposes an `etcd-member` record of what etcd answered; the record,
 * not the call, moves the procedure. A call that fails or is refused (a learner not yet in
 * sync) commits nothing and the step is asked again later. Etcd members of nodes that no
 * longer hold `etcd` (an aborted promotion, a founder not yet recorded) are reconciled too.
 */
export interface ExecutorConfig {
  /**
   * An etcd learner not in sync this long after its add is given up: the procedure aborts, the
   * learner's member is removed, and the node is damped so the policy tries another.
   */
  readonly learnerCatchUpMs: number;
  /** A procedure that has not reached its role command within this long is aborted. */
  readonly procedureTimeoutMs: number;
  /** Members admitted as learners per step. */
  readonly admitBatchMax: number;
  /** A learner is caught up when its match is within this many entries of the commit index. */
  readonly caughtUpLagMax: number;
  /** The fabric runs a real etcd whose membership follows the etcd role. */
  readonly manageEtcd: boolean;
  /**
   * At most this many Raft learners (besides the voters) hold the log; the other nodes
   * follow committed state through the relay (`relay.ts`). The policy's warm standbys come
   * first, dead learners leave. `null`: every alive member is a learner (docs/scale.md).
   * The committed strategy's `consensus.kind.learners_max`, when it has one, wins over this.
   */
  readonly learnersMax: number | null;
}

export const defaultExecutorConfig: ExecutorConfig = {
  procedureTimeoutMs: 30_000,
  learnerCatchUpMs: 60_000,
  admitBatchMax: 64,
  caughtUpLagMax: 64,
  manageEtcd: false,
  learnersMax: null,
};

/** An etcd membership call the driver makes; it commits an `etcd-member` record of the answer. */
export type EtcdAction =
  /** `member add --learner` for the node's advertised peer URL (idempotent). */
  | { readonly kind: "etcd-add-learner"; readonly node: NodeId }
  /** `member promote` (etcd refuses until the learner is in sync: then nothing is committed). */
  | { readonly kind: "etcd-promote"; readonly node: NodeId; readonly member_id: string }
  /** `member remove`; a null id (never added) only commits the record. */
  | { readonly kind: "etcd-remove"; readonly node: NodeId; readonly member_id: string | null }
  /**
   * Record the member of an etcd holder that has none recorded: found by name or peer URL
   * (the founder's), or added as a learner (a holder that came back after its member was
   * removed; the reconciliation promotes it once in sync).
   */
  | { readonly kind: "etcd-adopt"; readonly node: NodeId };

export interface ExecuteInputs {
  readonly self: NodeId;
  /** The leader's clock (wall time in the daemon, virtual time in the simulator). */
  readonly nowMs: number;
  readonly machine: FabricMachine;
  readonly raft: RaftStatus;
  readonly gossip: GossipView;
  /** This node's own advertisement (what it records when it founds the cluster). */
  readonly ownState: NodeState;
  readonly strategy: FabricStrategy;
  readonly formation: Formation;
  readonly policy?: PolicyConfigOverrides;
  readonly operatorRequests: readonly OperatorRequest[];
  /** Flaps this leader's gossip saw and has not committed yet. */
  readonly flaps: readonly FlapRecord[];
  /**
   * Operator signatures of the queued operator requests, by `"<type> <node>"`: carried into
   * the `begin` record (and by the procedure into the role command and its block).
   */
  readonly operatorSignatures?: ReadonlyMap<string, OperatorSignature>;
  readonly config?: Partial<ExecutorConfig>;
  /**
   * The placement memo the last execution handed on (`Execution.placementMemo`; null at the
   * first): the policy then runs its incremental round (`decideIncremental`), which decides
   * exactly what `decide` does but walks only the workloads that may have changed while the
   * machine's records keep their identity (`FabricMachine.view()`). Absent: the full walk.
   */
  readonly placementMemo?: PlacementMemo | null;
}

/** An operator's signature of a shift, bound to the chain position `after` (docs/attestation.md). */
export interface OperatorSignature {
  readonly after: number;
  readonly signature: string;
}

/** A command to propose, with the operator signature it carries (if any). */
export type ExecutorCommand = ProposedCommand & { readonly operator?: OperatorSignature };

export type Step =
  | { readonly type: "wait"; readonly reason: string }
  /** Normal entries; at most one role command, which the driver signs for its block. */
  | { readonly type: "propose"; readonly commands: readonly ExecutorCommand[]; readonly why: string }
  | { readonly type: "conf-change"; readonly change: ConfChange; readonly why: string }
  /** An etcd call, then its record (see `EtcdAction`). */
  | { readonly type: "actuate"; readonly action: EtcdAction; readonly why: string }
  /**
   * Hand leadership to `to`: a role command is next, and this leader is not a control-plane
   * member of the chain (a voter whose own promotion has not committed yet), so its
   * signature would not count; a member leads the shift instead.
   */
  | { readonly type: "transfer"; readonly to: NodeId; readonly why: string };

export interface Execution {
  readonly step: Step;
  /** The policy's round, when this execution ran one (records name every rule and reason). */
  readonly decision: Decision | null;
  /** Shifts the policy accepted that the executor will not begin (a rule even force does not break). */
  readonly refused: readonly ExecutorRefusal[];
  /**
   * For the next execution's `placementMemo`: this round's memo, or the one it was given when
   * no policy round ran (null when none was given).
   */
  readonly placementMemo: PlacementMemo | null;
  /** How the policy's round walked the workloads: null when no round ran (or it did not act). */
  readonly placementWalk: "full" | "incremental" | null;
  /**
   * When to execute again if nothing else happens first (the leader's clock; null: only on an
   * event). Every input but time arrives as an event the driver runs on; this is when a rule
   * that holds on time lets go: a policy gate expires (`nextGateChangeMs`), a procedure times
   * out; and, while a learner catches up (Raft progress, which raises no event), the next
   * heartbeat round. The driver arms one timer here instead of waiting for its cadence.
   */
  readonly wakeAtMs: number | null;
}

export interface ExecutorRefusal {
  readonly shift: RoleCommand;
  readonly rule: "last-control-plane-member";
  readonly message: string;
}

export function execute(inputs: ExecuteInputs): Execution {
  const { raft, machine } = inputs;
  const memo = inputs.placementMemo ?? null;
  const noRound = (step: Step, wakeAtMs: number | null = null): Execution => ({
    step,
    decision: null,
    refused: [],
    placementMemo: memo,
    placementWalk: null,
    wakeAtMs,
  });
  // Leadership and the term's first entry arrive as events (role change, applied entry).
  if (raft.role !== "leader")
    return noRound(waitStep(`not the leader (leader: ${raft.leader ?? "unknown"})`));
  if (machine.applied().term < raft.term)
    return noRound(waitStep("no entry of this leader's term has applied yet"));
  const config = configOf(inputs);
  const admission = admissionStep(inputs, config);
  if (admission !== null) return noRound(admission);
  const open = machine.procedures()[0];
  if (open !== undefined) {
    const step = signable(inputs, procedureStep(inputs, open, config));
    return noRound(step, procedureWakeMs(inputs, open, config, step));
  }
  if (config.manageEtcd) {
    const etcd = etcdReconcileStep(inputs);
    if (etcd !== null) return noRound(signable(inputs, etcd));
  }
  const policyInputs = policyInputsFrom(inputs, config);
  const round =
    inputs.placementMemo === undefined
      ? { decision: decide(policyInputs), memo: null, incremental: false }
      : decideIncremental(policyInputs, memo);
  const decision = round.decision;
  const refused = decision.commands
    .map((proposed) => proposed.command)
    .filter((command): command is RoleCommand => isRoleCommand(command))
    .flatMap((shift) => lastMemberRefusal(inputs, shift));
  return {
    step: stepFromDecision(decision, config, inputs, refused),
    decision,
    refused,
    placementMemo: round.memo,
    placementWalk: !decision.acting ? null : round.incremental ? "incremental" : "full",
    // A leader whose check-quorum view (Raft progress, which raises no event) shows no quorum
    // looks again at the next heartbeat: right after an election it undercounts, and a leader
    // really cut off steps down within an election timeout. Gossip's view arrives as events.
    wakeAtMs: policyInputs.raft.quorum_visible
      ? nextGateChangeMs(policyInputs)
      : inputs.nowMs + heartbeatMs(inputs),
  };
}

/**
 * When an open procedure's step can change with time alone: its timeout (the step after it is
 * the abort), or, while its node catches up as a learner, the next heartbeat round (the
 * learner's progress reaches the leader with its answer to a heartbeat, and raises no event).
 */
function procedureWakeMs(
  inputs: ExecuteInputs,
  procedure: Procedure,
  config: ExecutorConfig,
  step: Step,
): number | null {
  if (step.type !== "wait") return null;
  if (step.reason === catchingUpReason(procedure.shift.node)) return inputs.nowMs + heartbeatMs(inputs);
  switch (procedure.phase) {
    case "join-voters":
    case "etcd-add":
      return procedure.begun_at_ms + config.procedureTimeoutMs + 1;
    case "etcd-promote":
      return (procedure.phase_at_ms ?? procedure.begun_at_ms) + config.learnerCatchUpMs + 1;
    default:
      return null;
  }
}

function catchingUpReason(node: NodeId): string {
  return `${node} is catching up as a learner`;
}

/**
 * Blocks are signed by a control-plane member of the chain. A shift that takes the role away
 * from the last alive member among the Raft voters would leave no leader able to sign the
 * next block, so it is refused, forced or not.
 */
function lastMemberRefusal(inputs: ExecuteInputs, shift: RoleCommand): ExecutorRefusal[] {
  const chain = inputs.machine.chain;
  if (chain === null || !chain.roles.isMember(shift.node)) return [];
  const roles = inputs.machine.node(shift.node)?.roles ?? [];
  if (isControlPlaneMember(nextRoles(roles, shift))) return [];
  if (aliveMemberVoter(inputs, shift.node) !== undefined) return [];
  return [
    {
      shift,
      rule: "last-control-plane-member",
      message: `${shift.type} of ${shortNodeId(shift.node)} would leave no alive control-plane member among the voters to sign the chain's next block`,
    },
  ];
}

/**
 * A role command, and the record of an etcd call, is signed by the leader for its block, and
 * the chain counts only a control-plane member's signature: a leader that is not one (a new
 * voter whose promotion is still under way) hands over to an alive member voter instead
 * (when there is none, it signs, and the chain records the problem).
 */
function signable(inputs: ExecuteInputs, step: Step): Step {
  const attested =
    step.type === "actuate" ||
    (step.type === "propose" && step.commands.some((proposed) => isAttestedCommand(proposed.command)));
  if (!attested) return step;
  const chain = inputs.machine.chain;
  if (chain === null || chain.roles.isMember(inputs.self)) return step;
  const to = aliveMemberVoter(inputs, inputs.self);
  if (to === undefined) return step;
  return { type: "transfer", to, why: `${step.why}: signed by a control-plane member, not this leader` };
}

/** A Raft voter other than `except` that gossip sees alive and the chain counts as a control-plane member. */
function aliveMemberVoter(inputs: ExecuteInputs, except: NodeId): NodeId | undefined {
  const chain = inputs.machine.chain;
  return inputs.machine
    .configuration()
    .voters.filter(isNodeId)
    .find((voter) => voter !== except && chain?.roles.isMember(voter) === true && isAlive(inputs, voter));
}

/**
 * The executor's configuration: the defaults, the caller's, and the committed strategy's
 * `learners_max` over the caller's `learnersMax` (the node setting is only the fallback for a
 * strategy without one), so every leader keeps the bound the cluster committed.
 */
function configOf(inputs: ExecuteInputs): ExecutorConfig {
  const config = { ...defaultExecutorConfig, ...inputs.config };
  const strategy = strategyOf(inputs);
  const learnersMax = strategy.consensus.kind.learners_max;
  return learnersMax === undefined ? config : { ...config, learnersMax };
}

/** The Raft heartbeat interval of the committed strategy: how often a leader hears its followers' progress. */
function heartbeatMs(inputs: ExecuteInputs): number {
  return raftTimingFromStrategy(strategyOf(inputs)).heartbeatIntervalMs;
}

/** The committed strategy; the node's own only before one is committed. */
function strategyOf(inputs: ExecuteInputs): FabricStrategy {
  return inputs.machine.strategy()?.strategy ?? inputs.strategy;
}

/**
 * With no procedure open, etcd's members follow the etcd role: a holder without a recorded
 * member (the founder) is adopted, a recorded member whose node no longer holds the role
 * (an aborted promotion left a learner) is removed.
 */
function etcdReconcileStep(inputs: ExecuteInputs): Step | null {
  const { machine } = inputs;
  const recorded = new Map(machine.etcdMembers().map((member) => [member.node, member]));
  // A learner first: etcd takes one learner at a time, so an adoption would be refused
  // ("too many learner members") while one waits; and a learner stuck without its
  // credential gets a new one only through its promote step.
  for (const member of recorded.values()) {
    if (!member.learner || !isAlive(inputs, member.node)) continue;
    if (machine.node(member.node)?.roles.includes("etcd") !== true) continue;
    return {
      type: "actuate",
      action: { kind: "etcd-promote", node: member.node, member_id: member.member_id },
      why: "an etcd holder's learner member becomes a voting member",
    };
  }
  for (const voter of machine.configuration().voters.filter(isNodeId)) {
    if (recorded.has(voter) || machine.node(voter)?.roles.includes("etcd") !== true) continue;
    if (!isAlive(inputs, voter)) continue;
    return {
      type: "actuate",
      action: { kind: "etcd-adopt", node: voter },
      why: "an etcd holder without a recorded member: find it, or add it",
    };
  }
  const voting = [...recorded.values()].filter((member) => !member.learner).length;
  for (const member of recorded.values()) {
    if (machine.node(member.node)?.roles.includes("etcd") === true) continue;
    if (!member.learner && voting < 2) continue;
    if (isAlive(inputs, member.node) && keepsLiveVoter(inputs, member)) continue;
    return {
      type: "actuate",
      action: { kind: "etcd-remove", node: member.node, member_id: member.member_id },
      why: "remove the etcd member of a node that does not hold etcd",
    };
  }
  return null;
}

/** The smallest etcd that tolerates a failure: a live voter is not removed below it. */
const etcdVotersFloor = 3;

/** A live voting member whose removal would leave etcd with fewer than three voters stays. */
function keepsLiveVoter(
  inputs: ExecuteInputs,
  member: { readonly node: NodeId; readonly learner: boolean },
): boolean {
  if (member.learner) return false;
  const others = inputs.machine.etcdMembers().filter((other) => other.node !== member.node && !other.learner);
  return others.length < etcdVotersFloor;
}

function waitStep(reason: string): Step {
  return { type: "wait", reason };
}

/** Membership mechanics, not policy: who is a fabric node and who holds the log. */
function admissionStep(inputs: ExecuteInputs, config: ExecutorConfig): Step | null {
  const { machine, self } = inputs;
  if (machine.strategy() === null) {
    // The strategy is committed state: the founding leader commits its own first (and a
    // leader of a log from before that commits its own), so every node runs the same one.
    return {
      type: "propose",
      commands: [policyCommand({ type: "strategy", strategy: inputs.strategy })],
      why: `the founding strategy (${inputs.strategy.name}) is committed`,
    };
  }
  // Lookups in the shared view: `machine.node()` copies the node, once per alive member here.
  const known = machine.view().nodes;
  if (known[self] === undefined) {
    return {
      type: "propose",
      commands: [policyCommand({ type: "node-join", state: inputs.ownState })],
      why: "the founder records itself",
    };
  }
  const records: ProposedCommand[] = [];
  for (const flap of inputs.flaps) {
    if (known[flap.node] !== undefined) {
      records.push(policyCommand({ type: "member-flap", node: flap.node, at_ms: flap.at_ms }));
    }
  }
  const alive = aliveMembers(inputs.gossip, self);
  for (const member of alive) {
    if (known[member.id] === undefined) {
      records.push(policyCommand({ type: "node-join", state: { ...member.state, roles: ["worker"] } }));
    }
  }
  if (records.length > 0) return { type: "propose", commands: records, why: "membership records" };
  const conf = machine.configuration();
  if (isJoint(conf)) return null;
  const inConf = new Set([...conf.voters, ...conf.learners]);
  const bounded = boundedLearnersStep(inputs, config, alive);
  if (bounded !== undefined) return bounded;
  const learners = alive.filter((member) => !inConf.has(member.id)).slice(0, config.admitBatchMax);
  if (learners.length === 0) return null;
  return {
    type: "conf-change",
    change: { changes: learners.map((member) => ({ type: "add-learner" as const, node: member.id })) },
    why: "alive members hold the log as learners",
  };
}

/** The next step of an open procedure, computed from committed state only. */
function procedureStep(inputs: ExecuteInputs, procedure: Procedure, config: ExecutorConfig): Step {
  const conf = inputs.machine.configuration();
  const node = procedure.shift.node;
  if (isJoint(conf)) return { type: "wait", reason: "the joint configuration is being left" };
  const alive = isAlive(inputs, node);
  switch (procedure.phase) {
    case "join-voters": {
      if (!alive) return abort(procedure, "the node is not alive");
      if (inputs.nowMs - procedure.begun_at_ms > config.procedureTimeoutMs) {
        return abort(procedure, `it did not join the voters within ${config.procedureTimeoutMs} ms`);
      }
      if (!conf.learners.includes(node) && !conf.voters.includes(node)) {
        return membership(procedure, { type: "add-learner", node }, "the node holds the log first");
      }
      if (!caughtUp(inputs.raft, node, config.caughtUpLagMax)) {
        return { type: "wait", reason: catchingUpReason(node) };
      }
      return membership(procedure, { type: "add-voter", node }, "the node becomes a voter");
    }
    case "etcd-add": {
      if (!alive) return abort(procedure, "the node is not alive");
      if (inputs.nowMs - procedure.begun_at_ms > config.procedureTimeoutMs) {
        return abort(procedure, `it did not join etcd within ${config.procedureTimeoutMs} ms`);
      }
      // etcd refuses `member add` while a voting member is down ("unhealthy cluster"), and
      // removing a dead member costs no fault tolerance: it goes first (etcd's own
      // procedure for replacing a failed member).
      const dead = inputs.machine
        .etcdMembers()
        .find((member) => !member.learner && member.node !== node && !isAlive(inputs, member.node));
      if (dead !== undefined) {
        return {
          type: "actuate",
          action: { kind: "etcd-remove", node: dead.node, member_id: dead.member_id },
          why: "a dead etcd member is removed before a new one is added",
        };
      }
      return {
        type: "actuate",
        action: { kind: "etcd-add-learner", node },
        why: "the node's etcd joins as a learner",
      };
    }
    case "etcd-promote": {
      if (!alive) return abort(procedure, "the node is not alive");
      const member = inputs.machine.etcdMembers().find((candidate) => candidate.node === node);
      if (member === undefined) return abort(procedure, "no etcd member was recorded for the node");
      const addedAtMs = procedure.phase_at_ms ?? procedure.begun_at_ms;
      if (inputs.nowMs - addedAtMs > config.learnerCatchUpMs) {
        return abort(procedure, `its etcd learner did not catch up within ${config.learnerCatchUpMs} ms`);
      }
      return {
        type: "actuate",
        action: { kind: "etcd-promote", node, member_id: member.member_id },
        why: "the etcd learner becomes a voting member",
      };
    }
    case "etcd-remove": {
      const member = inputs.machine.etcdMembers().find((candidate) => candidate.node === node);
      // A live voting member leaves only once etcd keeps three voters without it; until then
      // it stays (the procedure ends here) and the etcd reconciliation removes it after a
      // replacement was promoted. Removing it first shrank etcd to two voters, which lost its
      // quorum for good when the leader's host died next (the end-to-end test did just that).
      if (member !== undefined && alive && keepsLiveVoter(inputs, member)) {
        return abort(procedure, "its live etcd member stays until etcd keeps three voters without it");
      }
      return {
        type: "actuate",
        action: { kind: "etcd-remove", node, member_id: member?.member_id ?? null },
        why: "the node's etcd member leaves",
      };
    }
    case "command":
      if (procedure.shift.type === "promote" && !alive) return abort(procedure, "the node is not alive");
      return {
        type: "propose",
        commands: [
          {
            command: procedure.shift,
            origin: procedure.origin,
            force: procedure.force,
            ...(procedure.operator === undefined ? {} : { operator: procedure.operator }),
          },
        ],
        why: `${procedure.shift.type} ${node}`,
      };
    case "leave-voters":
      // A forced quarantine of the only voter: the command stands, the node stays the voter
      // (there is no other), and the procedure ends so that others can run.
      if (conf.voters.length === 1 && conf.voters[0] === node)
        return abort(procedure, "the last voter cannot leave the voters");
      return membership(
        procedure,
        { type: alive ? "add-learner" : "remove", node },
        alive ? "the node leaves the voters (stays a learner)" : "the dead node leaves the configuration",
      );
    default:
      return { type: "wait", reason: "unknown phase" };
  }
}

function membership(procedure: Procedure, item: ConfChange["changes"][number], why: string): Step {
  return { type: "conf-change", change: { changes: [item] }, why: `${procedure.shift.type}: ${why}` };
}

function abort(procedure: Procedure, reason: string): Step {
  return {
    type: "propose",
    commands: [
      policyCommand({
        type: "shift-procedure",
        step: "abort",
        shift: procedure.shift,
        reason: reason.slice(0, 256),
      }),
    ],
    why: `abort ${procedure.shift.type} ${procedure.shift.node}: ${reason}`,
  };
}

/** The policy's round as one step: its first role shift opens a procedure. */
function stepFromDecision(
  decision: Decision,
  config: ExecutorConfig,
  inputs: ExecuteInputs,
  refused: readonly ExecutorRefusal[],
): Step {
  const shift = decision.commands.find(
    (proposed) =>
      isRoleCommand(proposed.command) && !refused.some((refusal) => refusal.shift === proposed.command),
  );
  if (shift !== undefined) {
    const command = shift.command as RoleCommand;
    const etcd = config.manageEtcd && (joinsVoters(command) || leavesVoters(command));
    const operator =
      shift.origin === "operator"
        ? inputs.operatorSignatures?.get(`${command.type} ${command.node}`)
        : undefined;
    return {
      type: "propose",
      commands: [
        {
          command: { type: "shift-procedure", step: "begin", shift: command, ...(etcd ? { etcd } : {}) },
          origin: shift.origin,
          force: shift.force,
          ...(operator === undefined ? {} : { operator }),
        },
      ],
      why: `begin ${command.type} ${command.node}`,
    };
  }
  const stray = strayVoterStep(inputs);
  if (stray !== null) return stray;
  const standbys = standbyLearnerStep(inputs, config, decision.standbys);
  if (standbys !== null) return standbys;
  const placements = decision.commands.filter((proposed) => !isRoleCommand(proposed.command));
  if (placements.length > 0) return { type: "propose", commands: placements, why: "placements" };
  return {
    type: "wait",
    reason: decision.acting ? "the fabric has the shape the policy wants" : "the policy does not act",
  };
}

/**
 * The Raft voters follow the etcd role: with no shift wanted, a voter that does not hold
 * `etcd` (a forced quarantine of the only voter left it there, or a promotion aborted after
 * add-voter) leaves the voters, as long as another voter remains.
 */
function strayVoterStep(inputs: ExecuteInputs): Step | null {
  const conf = inputs.machine.configuration();
  if (conf.voters.length < 2) return null;
  const stray = conf.voters
    .filter(isNodeId)
    .find((voter) => inputs.machine.node(voter)?.roles.includes("etcd") !== true);
  if (stray === undefined) return null;
  const alive = isAlive(inputs, stray);
  return {
    type: "conf-change",
    change: { changes: [{ type: alive ? "add-learner" : "remove", node: stray }] },
    why: "a voter that does not hold etcd leaves the voters",
  };
}

/**
 * With `learnersMax`, admission is bounded: dead learners leave (their slot is refilled),
 * free slots take alive members. Returns undefined when the learners are unbounded (the
 * caller admits everyone), null when nothing is to change.
 */
function boundedLearnersStep(
  inputs: ExecuteInputs,
  config: ExecutorConfig,
  alive: readonly AliveMember[],
): Step | null | undefined {
  const max = config.learnersMax;
  if (max === null) return undefined;
  const conf = inputs.machine.configuration();
  const inProcedure = new Set(inputs.machine.procedures().map((procedure) => procedure.shift.node));
  const dead = conf.learners.filter(
    (learner) => isNodeId(learner) && !inProcedure.has(learner) && !isAlive(inputs, learner),
  );
  if (dead.length > 0) {
    return {
      type: "conf-change",
      change: { changes: dead.map((node) => ({ type: "remove" as const, node })) },
      why: "dead learners leave the bounded learner set",
    };
  }
  const room = Math.min(max - conf.learners.length, config.admitBatchMax);
  if (room <= 0) return null;
  const inConf = new Set([...conf.voters, ...conf.learners]);
  const admitted = alive.filter((member) => !inConf.has(member.id)).slice(0, room);
  if (admitted.length === 0) return null;
  return {
    type: "conf-change",
    change: { changes: admitted.map((member) => ({ type: "add-learner" as const, node: member.id })) },
    why: `alive members fill the bounded learner set (${conf.learners.length + admitted.length} of ${max})`,
  };
}

/**
 * With `learnersMax`, the policy's warm standbys hold the log: a standby that is not a
 * learner takes the slot of a learner that is not a standby, in one learner-only change.
 */
function standbyLearnerStep(
  inputs: ExecuteInputs,
  config: ExecutorConfig,
  standbys: readonly NodeId[],
): Step | null {
  const max = config.learnersMax;
  if (max === null) return null;
  const conf = inputs.machine.configuration();
  const missing = standbys.find(
    (standby) =>
      !conf.learners.includes(standby) && !conf.voters.includes(standby) && isAlive(inputs, standby),
  );
  if (missing === undefined) return excessLearnerStep(inputs, max, standbys);
  const changes: ConfChange["changes"][number][] = [{ type: "add-learner", node: missing }];
  const spare = conf.learners.filter(isNodeId).find((learner) => !standbys.includes(learner));
  if (conf.learners.length >= max && spare !== undefined) changes.push({ type: "remove", node: spare });
  if (conf.learners.length >= max && spare === undefined) return null;
  return { type: "conf-change", change: { changes }, why: "a warm standby holds the log as a learner" };
}

/** A demoted voter stays a learner: over the bound, a learner that is not a standby leaves. */
function excessLearnerStep(inputs: ExecuteInputs, max: number, standbys: readonly NodeId[]): Step | null {
  const conf = inputs.machine.configuration();
  if (conf.learners.length <= max) return null;
  const excess = conf.learners
    .filter(isNodeId)
    .find((learner) => !standbys.includes(learner) && inputs.machine.procedureFor(learner) === undefined);
  if (excess === undefined) return null;
  return {
    type: "conf-change",
    change: { changes: [{ type: "remove", node: excess }] },
    why: `the learners are over their bound (${conf.learners.length} of ${max})`,
  };
}

function policyCommand(command: ProposedCommand["command"]): ProposedCommand {
  return { command, origin: "policy", force: false };
}

type AliveMember = GossipMember & { readonly id: NodeId; readonly state: NodeState };

/** Alive members (other than self) that advertise a node state. */
function aliveMembers(view: GossipView, self: NodeId): AliveMember[] {
  const members: AliveMember[] = [];
  for (const member of view.members) {
    if (member.status !== "alive" || member.state === null || member.id === self) continue;
    const id = member.id;
    if (isNodeId(id) && member.state.id === id) members.push({ ...member, id, state: member.state });
  }
  return members;
}

function isAlive(inputs: ExecuteInputs, node: NodeId): boolean {
  if (node === inputs.self) return true;
  return inputs.gossip.members.some((member) => member.id === node && member.status === "alive");
}

function caughtUp(status: RaftStatus, node: string, lagMax: number): boolean {
  const progress = status.progress[node];
  return progress !== undefined && progress.match + lagMax >= status.commit;
}

/** Everything one policy round reads, gathered from the machine, Raft and gossip. */
export function policyInputsFrom(
  inputs: ExecuteInputs,
  config: ExecutorConfig = configOf(inputs),
): PolicyInputs {
  const { machine, raft, self, nowMs } = inputs;
  // The shared frozen view, not a copy: the policy only reads it, and its records keep their
  // identity from round to round while nothing changes them (the incremental round's key).
  const state = machine.view();
  const conf = machine.configuration();
  return {
    now_ms: nowMs,
    self,
    // The committed strategy is the one every node runs; the local file only founds it.
    strategy: machine.strategy()?.strategy ?? inputs.strategy,
    formation: inputs.formation,
    state,
    membership: membershipFrom(inputs.gossip, state, self, nowMs),
    raft: {
      leader: raft.role === "leader" ? self : null,
      quorum_visible: quorumVisible(raft, conf, self),
      voters: conf.voters.filter(isNodeId),
      learners: conf.learners
        .filter(isNodeId)
        .map((id) => ({ id, caught_up: caughtUp(raft, id, config.caughtUpLagMax) })),
    },
    history: machine.history(nowMs),
    operator_requests: [...inputs.operatorRequests],
    ...(inputs.policy === undefined ? {} : { config: inputs.policy }),
  };
}

/** Gossip's view on the policy's terms, with times moved onto the caller's clock. */
export function membershipFrom(
  view: GossipView,
  state: FabricState,
  self: NodeId,
  nowMs: number,
): MembershipView {
  const members: MembershipView["members"] = [];
  for (const member of view.members) {
    const id = member.id;
    if (!isNodeId(id)) continue;
    if (state.nodes[id] === undefined && id !== self) continue;
    members.push({
      id,
      status: member.status,
      phi: Math.min(member.phi ?? 0, 1e6),
      stable_since_ms: Math.max(0, nowMs - Math.max(0, view.atMs - member.stableSinceMs)),
    });
  }
  return { members };
}

/** Check-quorum's view: the leader heard recently from a majority of voters (itself included). */
function quorumVisible(status: RaftStatus, conf: ConfState, self: NodeId): boolean {
  if (status.role !== "leader") return false;
  // `recentActive` is cleared at every check-quorum window, so right after a reset (and right
  // after an election) it undercounts: a voter that acknowledged everything committed has
  // answered this leader too. A leader cut off from its quorum commits nothing new, so what it
  // decides there never takes effect, and it steps down at its next check.
  const heard = conf.voters.filter((id) => {
    const progress = status.progress[id];
    return (
      id === self ||
      progress?.recentActive === true ||
      (progress !== undefined && progress.match >= status.commit)
    );
  });
  return heard.length * 2 > conf.voters.length;
}
