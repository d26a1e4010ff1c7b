import { signRoleProposal } from "@revoada/fabric-core/attest";
import {
  type EtcdAction,
  type ExecuteInputs,
  type Execution,
  type ExecutorCommand,
  execute,
  LeaderClock,
  type MachineOutcome,
  type OperatorSignature,
  policyInputsFrom,
  type Step,
} from "@revoada/fabric-core/fabric";
import type { MembershipView as GossipView } from "@revoada/fabric-core/gossip";
import type {
  DecisionRecord,
  FlapRecord,
  OperatorRequest,
  PlacementMemo,
  PolicyConfigOverrides,
  PolicyInputs,
} from "@revoada/fabric-core/policy";
import type { RaftStatus } from "@revoada/fabric-core/raft";
import {
  type Command,
  canonicalJson,
  encodeProposal,
  type FabricStrategy,
  type Formation,
  isAttestedCommand,
  isRoleCommand,
  type NodeId,
  type NodeState,
  type Proposal,
  type RoleCommand,
  type Signer,
} from "@revoada/fabric-core/vocabulary";
import { RaftUnavailableError } from "../errors.js";
import { isEtcdStepHeld } from "../faults.js";
import type { RaftDriver } from "../raft/index.js";
import { EtcdRetryGate } from "./etcd-retry.js";
import type { FabricApplier } from "./fabric-applier.js";
import type { Logger } from "./log.js";

/**
 * The leader's reconciler: the driver of the sans-IO executor (fabric-core/fabric/execute.ts).
 * `run()` asks the executor for the one next step and proposes it; it runs again when that
 * step's entries have applied, when Raft or gossip report a change, when an operator asks, at
 * the instant the execution names (`wakeAtMs`: a rule that holds on time or on a learner's
 * Raft progress, neither of which raises an event, lets go), and at the strategy's
 * reconciliation cadence, now only a safety net (the daemon's event queue calls it). At most
 * one step is in flight, so a role command is signed against the committed chain head, which
 * is then exactly the head its block follows: nothing polls, nothing waits for the log to
 * settle.
 *
 * Operator requests are judged by the policy in the next round: refused at once, or accepted
 * and answered when their role command commits (on whichever node this is by then, since
 * every node applies the same entries), or refused when their procedure is aborted.
 */
const etcdEventsMax = 256;

export interface ReconcilerContext {
  readonly self: Signer;
  readonly raft: RaftDriver<MachineOutcome>;
  readonly applier: FabricApplier;
  readonly strategy: FabricStrategy;
  readonly formation: Formation;
  readonly logger: Logger;
  readonly view: () => GossipView;
  /** This node's own advertisement (recorded when it founds the cluster). */
  readonly ownState: () => NodeState;
  readonly policy: PolicyConfigOverrides | undefined;
  /** The etcd calls of the executor's etcd steps, when the fabric runs etcd (null: it does not). */
  readonly etcd: {
    perform(action: EtcdAction): Promise<Extract<Command, { type: "etcd-member" }> | null>;
  } | null;
  /**
   * The node config's `learners_max` (docs/scale.md): the fallback when the committed strategy
   * has no `consensus.kind.learners_max`; undefined in both: every alive member a learner.
   */
  readonly learnersMax?: number;
  /**
   * The clock this node decides and proposes by as leader (tests inject one); by default the
   * wall clock, never behind the committed clock, at the monotonic rate (`LeaderClock`).
   */
  readonly clock?: LeaderClock;
}

interface PendingOperatorRequest {
  readonly request: OperatorRequest;
  readonly resolve: (outcome: OperatorOutcome) => void;
  /** The operator's signature of the shift (require_operator_signature). */
  readonly signature?: OperatorSignature;
}

interface PendingStrategy {
  readonly strategy: FabricStrategy;
  readonly signature: OperatorSignature | undefined;
  readonly resolve: (outcome: OperatorOutcome) => void;
  /** Where the swap's entry went, once proposed. */
  proposed: { readonly term: number; readonly index: number } | null;
}

export type OperatorOutcome =
  | { readonly type: "committed"; readonly index: number; readonly term: number; readonly command: Command }
  | { readonly type: "refused"; readonly rule: string; readonly message: string };

const decisionsKept = 1000;

export class Reconciler {
  /** Requests not judged yet (the next round judges them). */
  private operatorQueue: PendingOperatorRequest[] = [];
  /** Strategy swaps waiting for a step of their own (at most one proposed at a time). */
  private strategyQueue: PendingStrategy[] = [];
  /** Accepted requests whose procedure began: answered when the role command commits. */
  private readonly accepted = new Map<string, PendingOperatorRequest>();
  private flaps: FlapRecord[] = [];
  private inFlight: { readonly term: number; readonly index: number } | null = null;
  /** An etcd call of this leader is in progress (its record is proposed when it answers). */
  private actuating = false;
  /**
   * Something asked for a run while an etcd call was in progress: it runs when the call
   * answers, not at the call's retry (which backs off to seconds) or the next tick.
   */
  private runWhenActuated = false;
  /** The one timer of `Execution.wakeAtMs`: the next run when only time passes. */
  private wakeTimer: { readonly timer: NodeJS.Timeout; readonly atMs: number } | null = null;
  private lastRecorded = "";
  private closed = false;
  readonly decisions: { readonly at_ms: number; readonly record: DecisionRecord }[] = [];
  lastDecision: string | null = null;
  lastStep: Step | null = null;
  shiftsExecuted = 0;
  /**
   * The policy's placement memo from this leader's last round: the next round walks only the
   * workloads that may have changed (`decideIncremental`; the machine's view keeps its records'
   * identity while nothing changes them). Dropped when this node stops leading.
   */
  private placementMemo: PlacementMemo | null = null;
  /** Policy rounds this node ran as leader, by how they walked the workloads (full, incremental). */
  readonly policyWalks = { full: 0, incremental: 0 };
  /** etcd calls this node made as leader, by "action outcome" (committed, not-ready, failed). */
  readonly etcdCalls = new Map<string, number>();
  /** How long this node's etcd calls took as leader, by action: count and sum of seconds. */
  readonly etcdCallSeconds = new Map<string, { count: number; sum: number }>();
  /** The last etcd call that failed (status and logs say why); null once a call succeeds. */
  lastEtcdError: { readonly action: string; readonly error: string; readonly at_ms: number } | null = null;
  /** The etcd membership records this node applied since it started (bounded), oldest first. */
  readonly etcdEvents: { index: number; node: NodeId; event: string; member_id: string }[] = [];
  /**
   * Backoff of the etcd calls (monotonic time): a failing step is not called again on every
   * applied entry; 250 ms doubled per failure, at most 8 s.
   */
  private readonly etcdRetry = new EtcdRetryGate();
  private etcdRetryTimer: { readonly timer: NodeJS.Timeout; readonly dueMs: number } | null = null;

  /**
   * The time of every decision and proposal of this leader: the policy's hysteresis and flap
   * damping, the dead grace and procedure timeouts are measured against committed times on it,
   * and the `issued_at_ms` it proposes becomes the next committed time. A wall clock behind
   * the committed clock would put committed shifts and flaps in its future, where the damper
   * ignores them, and hold procedure timeouts back by the difference.
   */
  private readonly clock: LeaderClock;

  constructor(private readonly context: ReconcilerContext) {
    this.clock =
      context.clock ??
      new LeaderClock({
        wallMs: () => Date.now(),
        monotonicMs: () => performance.now(),
        committedMs: () => context.applier.machine.committedClockMs(),
      });
  }

  enqueueOperator(request: OperatorRequest, signature?: OperatorSignature): Promise<OperatorOutcome> {
    if (this.closed) return Promise.resolve(refusal("not-leader", "this node is stopping"));
    // Every node checks the operator's signature before it applies the shift; the leader
    // checks it first, so a forged, replayed or missing one is refused with nothing proposed.
    const check = this.context.applier.machine.refusalOf({
      command: { type: "shift-procedure", step: "begin", shift: request.command },
      proposer: this.context.self.nodeId,
      issued_at_ms: this.clock.now(),
      origin: "operator",
      force: request.force,
      ...(signature === undefined
        ? {}
        : { operator_after: signature.after, operator_signature: signature.signature }),
    });
    if (check !== null) return Promise.resolve(refusal(ruleOf(check), check));
    return new Promise((resolve) => {
      this.operatorQueue.push({ request, resolve, ...(signature === undefined ? {} : { signature }) });
      this.run();
    });
  }

  /**
   * An operator's strategy swap (`revoada strategy apply --yes`, or a node's SIGHUP): refused
   * at once when every node would refuse it (not live, unsigned while signatures are
   * required, forged, replayed); otherwise proposed as a step of its own and answered when it
   * commits.
   */
  proposeStrategy(strategy: FabricStrategy, signature?: OperatorSignature): Promise<OperatorOutcome> {
    if (this.closed) return Promise.resolve(refusal("not-leader", "this node is stopping"));
    const check = this.context.applier.machine.refusalOf(this.strategyProposal(strategy, signature));
    if (check !== null) return Promise.resolve(refusal(ruleOf(check), check));
    return new Promise((resolve) => {
      this.strategyQueue.push({ strategy, signature, resolve, proposed: null });
      this.run();
    });
  }

  private strategyProposal(strategy: FabricStrategy, signature: OperatorSignature | undefined): Proposal {
    return {
      command: { type: "strategy", strategy },
      proposer: this.context.self.nodeId,
      issued_at_ms: this.clock.now(),
      origin: "operator",
      force: false,
      ...(signature === undefined
        ? {}
        : { operator_after: signature.after, operator_signature: signature.signature }),
    };
  }

  /** A member this leader saw go from alive to suspect or dead: committed as the damper's history. */
  noteFlap(node: NodeId, atMs: number = this.clock.now()): void {
    if (this.context.raft.status().role === "leader") this.flaps.push({ node, at_ms: atMs });
  }

  /** Every applied entry: answers operators whose shift committed or was aborted; runs on. */
  onApplied(outcome: MachineOutcome): void {
    this.clock.observe();
    this.answerStrategy(outcome);
    const command = outcome.proposal?.command;
    if (command?.type === "etcd-member" && outcome.state.type === "applied") {
      this.etcdEvents.push({
        index: outcome.index,
        node: command.node,
        event: command.event,
        member_id: command.member_id,
      });
      if (this.etcdEvents.length > etcdEventsMax) this.etcdEvents.shift();
    }
    if (command !== undefined && isRoleCommand(command) && outcome.proposal?.origin === "operator") {
      const shift = command as RoleCommand;
      const pending = this.accepted.get(keyOf(shift));
      if (pending !== undefined && outcome.state.type === "applied") {
        this.accepted.delete(keyOf(shift));
        pending.resolve({ type: "committed", index: outcome.index, term: outcome.term, command });
      }
    }
    const event = outcome.procedure;
    if (event?.type === "closed" && event.outcome === "aborted") {
      const pending = this.accepted.get(keyOf(event.procedure.shift));
      this.accepted.delete(keyOf(event.procedure.shift));
      pending?.resolve(refusal("procedure-aborted", event.reason));
    }
    if (this.inFlight !== null && outcome.index >= this.inFlight.index) this.run();
    else if (this.inFlight === null && wakesTheExecutor(outcome)) this.run();
  }

  /**
   * A proposal that failed frees the executor only if it is still the step in flight: a late
   * rejection of an older proposal must not let a second step start while a newer one is
   * pending (which signed two role blocks for one node, 3 ms apart, in a chaos run).
   */
  private release(inFlight: { readonly term: number; readonly index: number } | null): void {
    if (inFlight !== null && this.inFlight === inFlight) this.inFlight = null;
  }

  /**
   * One executor step, if none is in flight; cheap when there is nothing to do. `cause` names
   * what ran it when that is not an event (the cadence, the execution's own timer), for the
   * debug log: a step the tick had to start is a wake-up that was missed.
   */
  run(cause: "event" | "tick" | "wake" = "event"): void {
    if (this.closed) return;
    if (this.actuating) {
      this.runWhenActuated = true;
      return;
    }
    const { raft, applier } = this.context;
    const status = raft.status();
    if (this.inFlight !== null) {
      const settled = applier.machine.applied().index >= this.inFlight.index;
      // The step's last entry applying runs this again (`onApplied`).
      if (this.inFlight.term === status.term && status.role === "leader" && !settled) return;
      this.inFlight = null;
    }
    if (status.role !== "leader") {
      this.wakeAt(null);
      this.flaps = [];
      this.placementMemo = null;
      this.refuseQueued("not-leader", `this node is not the leader (leader: ${status.leader ?? "unknown"})`);
      this.refuseNotBegun();
      return;
    }
    if (this.proposeQueuedStrategy(status.term)) return;
    let execution: Execution;
    try {
      execution = execute({
        ...this.executeInputs(status),
        operatorRequests: this.operatorQueue.map((pending) => pending.request),
        operatorSignatures: new Map(
          this.operatorQueue.flatMap((pending) =>
            pending.signature === undefined
              ? []
              : [[keyOf(pending.request.command), pending.signature] as const],
          ),
        ),
        flaps: this.flaps,
        config: { manageEtcd: this.context.etcd !== null, learnersMax: this.context.learnersMax ?? null },
        placementMemo: this.placementMemo,
      });
    } catch (error) {
      this.context.logger.error("executor failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    this.logStep(execution.step, cause);
    this.wakeAt(execution.wakeAtMs);
    this.lastStep = execution.step;
    this.placementMemo = execution.placementMemo;
    if (execution.placementWalk !== null) this.policyWalks[execution.placementWalk] += 1;
    this.remember(execution);
    this.answerRefused(execution);
    this.carryOut(execution.step, status.term);
  }

  /**
   * Runs again at `atMs` on the leader clock (null: cancels). One timer: each execution names
   * the next instant anew, so the latest answer replaces the one before.
   */
  private wakeAt(atMs: number | null): void {
    if (this.wakeTimer !== null) {
      if (this.wakeTimer.atMs === atMs) return;
      clearTimeout(this.wakeTimer.timer);
      this.wakeTimer = null;
    }
    if (atMs === null || this.closed) return;
    const timer = setTimeout(
      () => {
        this.wakeTimer = null;
        this.run("wake");
      },
      Math.max(0, atMs - this.clock.now()),
    ).unref();
    this.wakeTimer = { timer, atMs };
  }

  /**
   * Each step at debug level, and a wait only when its reason changed (an idle leader waits
   * every tick): enough to read from a node's log where a slow failover spent its time.
   */
  private logStep(step: Step, cause: "event" | "tick" | "wake"): void {
    const last = this.lastStep;
    if (step.type === "wait") {
      if (last?.type !== "wait" || last.reason !== step.reason)
        this.context.logger.debug("executor waits", { reason: step.reason, cause });
      return;
    }
    this.context.logger.debug("executor step", {
      cause,
      step: step.type,
      why: step.why,
      ...(step.type === "propose"
        ? { commands: step.commands.map((proposed) => proposed.command.type).join(",") }
        : {}),
    });
  }

  /**
   * The next queued strategy swap, as a step of its own once an entry of this term applied
   * (so the committed chain head is the head its block follows). True when one was proposed.
   */
  private proposeQueuedStrategy(term: number): boolean {
    const pending = this.strategyQueue.find((queued) => queued.proposed === null);
    if (pending === undefined || this.strategyQueue.some((queued) => queued.proposed !== null)) return false;
    const { raft, applier } = this.context;
    if (applier.machine.applied().term < term) return false;
    const check = applier.machine.refusalOf(this.strategyProposal(pending.strategy, pending.signature));
    if (check !== null) {
      this.strategyQueue = this.strategyQueue.filter((queued) => queued !== pending);
      pending.resolve(refusal(ruleOf(check), check));
      return false;
    }
    const proposal = this.proposalOf({
      command: { type: "strategy", strategy: pending.strategy },
      origin: "operator",
      force: false,
      ...(pending.signature === undefined ? {} : { operator: pending.signature }),
    });
    const promise = raft.propose(encodeProposal(proposal));
    const index = raft.status().lastIndex;
    pending.proposed = { term, index };
    const inFlight = { term, index };
    this.inFlight = inFlight;
    promise.catch((error: unknown) => {
      this.strategyQueue = this.strategyQueue.filter((queued) => queued !== pending);
      this.release(inFlight);
      pending.resolve(
        refusal("not-leader", error instanceof Error ? error.message : "the swap was not committed"),
      );
    });
    this.context.logger.info("strategy swap proposed", { strategy: pending.strategy.name, index });
    return true;
  }

  /** A swap's entry applied (or was refused by every node): its caller is answered. */
  private answerStrategy(outcome: MachineOutcome): void {
    const pending = this.strategyQueue.find(
      (queued) => queued.proposed !== null && queued.proposed.index <= outcome.index,
    );
    if (pending === undefined || pending.proposed === null) return;
    this.strategyQueue = this.strategyQueue.filter((queued) => queued !== pending);
    const command = outcome.proposal?.command;
    if (pending.proposed.index !== outcome.index || command?.type !== "strategy") {
      pending.resolve(refusal("not-leader", "leadership moved before the swap committed; send it again"));
    } else if (outcome.state.type === "rejected") {
      pending.resolve(refusal(ruleOf(outcome.state.reason), outcome.state.reason));
    } else {
      pending.resolve({ type: "committed", index: outcome.index, term: outcome.term, command });
    }
  }

  /** What a round reads now, without operator requests. */
  private executeInputs(status: RaftStatus): ExecuteInputs {
    return {
      self: this.context.self.nodeId,
      nowMs: this.clock.now(),
      machine: this.context.applier.machine,
      raft: status,
      gossip: this.context.view(),
      ownState: this.context.ownState(),
      strategy: this.context.strategy,
      formation: this.context.formation,
      ...(this.context.policy === undefined ? {} : { policy: this.context.policy }),
      operatorRequests: [],
      flaps: [],
    };
  }

  /** The policy's inputs of a round now: what a strategy swap's plan is computed from. */
  policyInputs(): PolicyInputs {
    return policyInputsFrom(this.executeInputs(this.context.raft.status()));
  }

  /** Refuses every request still waiting (the node is stopping). */
  close(): void {
    this.closed = true;
    if (this.etcdRetryTimer !== null) clearTimeout(this.etcdRetryTimer.timer);
    this.etcdRetryTimer = null;
    this.wakeAt(null);
    for (const pending of this.strategyQueue) pending.resolve(refusal("not-leader", "this node is stopping"));
    this.strategyQueue = [];
    this.refuseQueued("not-leader", "this node is stopping");
    for (const pending of this.accepted.values())
      pending.resolve(refusal("not-leader", "this node is stopping"));
    this.accepted.clear();
  }

  /**
   * Proposes a non-role command in this leader's name (workloads, checkpoints); resolves
   * where it committed. Role shifts go through the executor's procedures only.
   */
  async proposeCommand(
    command: Command,
    origin: Proposal["origin"],
    force: boolean,
  ): Promise<{ index: number; term: number }> {
    if (isRoleCommand(command)) throw new Error("role shifts are proposed by the executor's procedures");
    const { raft, self } = this.context;
    const term = raft.status().term;
    const proposal: Proposal = {
      command,
      proposer: self.nodeId,
      issued_at_ms: this.clock.now(),
      origin,
      force,
    };
    const { index } = await raft.propose(encodeProposal(proposal));
    return { index, term };
  }

  private carryOut(step: Step, term: number): void {
    if (step.type === "wait") return;
    const { raft } = this.context;
    if (step.type === "transfer") {
      // The new leader's role-changed event runs the executor there. Here, a retry once the
      // core would have given the transfer up (an election timeout), in case it did not happen:
      // nothing else would run this node's executor while it stays leader and nothing changes.
      if (!raft.transferLeadership(step.to))
        this.context.logger.warn("leadership transfer refused", { to: step.to });
      this.wakeAt(this.clock.now() + raft.timing().electionTimeoutMs);
      return;
    }
    if (step.type === "actuate") {
      this.actuate(step.action, term);
      return;
    }
    let pending: Promise<unknown>[] = [];
    let inFlight: { readonly term: number; readonly index: number } | null = null;
    try {
      if (step.type === "conf-change") {
        pending = [raft.proposeConfChange(step.change)];
      } else {
        for (const proposed of step.commands)
          pending.push(raft.propose(encodeProposal(this.proposalOf(proposed))));
        this.afterProposed(step);
      }
    } finally {
      // Everything proposed is in the log now (the core appends synchronously).
      if (pending.length > 0) {
        inFlight = { term, index: raft.status().lastIndex };
        this.inFlight = inFlight;
      }
    }
    for (const promise of pending) {
      promise.catch((error: unknown) => {
        if (!(error instanceof RaftUnavailableError)) {
          this.context.logger.warn("executor step failed", {
            step: step.type,
            error: error instanceof Error ? error.message : String(error),
          });
        }
        this.release(inFlight);
        setImmediate(() => this.run());
      });
    }
  }

  /**
   * The etcd call of an executor step, then its record; nothing is committed when etcd is not
   * ready (a learner not in sync) or refuses, and the step is asked again shortly.
   */
  private actuate(action: EtcdAction, term: number): void {
    const etcd = this.context.etcd;
    if (etcd === null) {
      this.context.logger.error("an etcd step without an etcd actuator", { action: action.kind });
      return;
    }
    // Fault injection (tests): a held step is not called, as if etcd kept answering "not yet".
    if (isEtcdStepHeld(action.kind)) {
      setTimeout(() => this.run("wake"), 100).unref();
      return;
    }
    const retryKey = `${action.kind} ${action.node}`;
    const waitMs = this.etcdRetry.waitMs(retryKey, performance.now());
    if (waitMs > 0) {
      this.retryEtcdIn(waitMs);
      return;
    }
    this.actuating = true;
    const retry = (delayMs: number) => this.retryEtcdIn(delayMs);
    const startedMs = performance.now();
    const count = (outcome: string) => {
      const key = `${action.kind} ${outcome}`;
      this.etcdCalls.set(key, (this.etcdCalls.get(key) ?? 0) + 1);
      const took = this.etcdCallSeconds.get(action.kind) ?? { count: 0, sum: 0 };
      this.etcdCallSeconds.set(action.kind, {
        count: took.count + 1,
        sum: took.sum + (performance.now() - startedMs) / 1000,
      });
    };
    etcd
      .perform(action)
      .then((record) => {
        this.actuated();
        this.lastEtcdError = null;
        const status = this.context.raft.status();
        count(record === null ? "not-ready" : "committed");
        if (record === null) return retry(this.etcdRetry.notReady(retryKey, performance.now()));
        this.etcdRetry.succeeded();
        if (status.role !== "leader" || status.term !== term) return this.run();
        const pending = this.context.raft.propose(
          encodeProposal(this.proposalOf({ command: record, origin: "policy", force: false })),
        );
        const inFlight = { term, index: this.context.raft.status().lastIndex };
        this.inFlight = inFlight;
        pending.catch(() => {
          this.release(inFlight);
          retry(100);
        });
      })
      .catch((error: unknown) => {
        this.actuated();
        count("failed");
        const message = error instanceof Error ? error.message : String(error);
        this.lastEtcdError = { action: action.kind, error: message, at_ms: Date.now() };
        const delayMs = this.etcdRetry.failed(retryKey, performance.now());
        this.context.logger.warn("etcd call failed; retrying", {
          action: action.kind,
          error: message,
          retry_ms: delayMs,
        });
        retry(delayMs);
      });
  }

  /** The etcd call answered: a run asked for meanwhile happens now (after this answer is handled). */
  private actuated(): void {
    this.actuating = false;
    if (!this.runWhenActuated) return;
    this.runWhenActuated = false;
    setImmediate(() => this.run());
  }

  /** Runs again once `delayMs` passed; one timer at a time, the earliest kept. */
  private retryEtcdIn(delayMs: number): void {
    const dueMs = performance.now() + delayMs;
    if (this.etcdRetryTimer !== null) {
      if (this.etcdRetryTimer.dueMs <= dueMs) return;
      clearTimeout(this.etcdRetryTimer.timer);
    }
    const timer = setTimeout(() => {
      this.etcdRetryTimer = null;
      this.run("wake");
    }, delayMs).unref();
    this.etcdRetryTimer = { timer, dueMs };
  }

  /**
   * The proposal for one command; an attested one (a role command, a strategy, an etcd step) carries the
   * leader's signature of its block, and the operator's signature when it has one.
   */
  private proposalOf(proposed: ExecutorCommand): Proposal {
    const { raft, applier, self } = this.context;
    const operator = proposed.operator;
    const proposal: Proposal = {
      command: proposed.command,
      proposer: self.nodeId,
      issued_at_ms: this.clock.now(),
      origin: proposed.origin,
      force: proposed.force,
      ...(operator === undefined
        ? {}
        : { operator_after: operator.after, operator_signature: operator.signature }),
    };
    const chain = applier.machine.chain;
    if (!isAttestedCommand(proposed.command) || chain === null) return proposal;
    // Exact: an entry of this term has applied (so nothing older is pending) and this is
    // the only step in flight, so the committed head is the head this block follows; the
    // index is the next one because the core appends synchronously.
    const status = raft.status();
    if (isRoleCommand(proposed.command)) this.shiftsExecuted += 1;
    return signRoleProposal(chain.head, status.term, status.lastIndex + 1, proposal, self).proposal;
  }

  /** Flaps went into the log; an accepted operator shift waits for its role command. */
  private afterProposed(step: Extract<Step, { type: "propose" }>): void {
    if (step.commands.some((proposed) => proposed.command.type === "member-flap")) this.flaps = [];
    for (const proposed of step.commands) {
      const command = proposed.command;
      if (command.type !== "shift-procedure" || command.step !== "begin" || proposed.origin !== "operator")
        continue;
      const position = this.operatorQueue.findIndex(
        (pending) => keyOf(pending.request.command) === keyOf(command.shift),
      );
      if (position < 0) continue;
      const [pending] = this.operatorQueue.splice(position, 1);
      if (pending !== undefined) this.accepted.set(keyOf(command.shift), pending);
    }
  }

  /** Requests the round refused are answered now; accepted ones stay until their procedure begins. */
  private answerRefused(execution: Execution): void {
    const decision = execution.decision;
    if (decision === null) return;
    const waiting: PendingOperatorRequest[] = [];
    for (const pending of this.operatorQueue) {
      const key = keyOf(pending.request.command);
      const accepted = decision.commands.some(
        (proposed) =>
          proposed.origin === "operator" &&
          isRoleCommand(proposed.command) &&
          keyOf(proposed.command as RoleCommand) === key,
      );
      const executorRefusal = execution.refused.find((refused) => keyOf(refused.shift) === key);
      if (executorRefusal !== undefined) {
        pending.resolve(refusal(executorRefusal.rule, executorRefusal.message));
        continue;
      }
      if (accepted) {
        waiting.push(pending);
        continue;
      }
      const refused = decision.records.find(
        (record) => record.outcome === "refused" && record.subject === pending.request.command.node,
      );
      pending.resolve(
        refusal(
          refused?.rule ?? "operator-request",
          refused?.message ?? "the policy did not accept the request",
        ),
      );
    }
    this.operatorQueue = waiting;
  }

  /** Keeps the decision records of rounds that differ from the last one kept. */
  private remember(execution: Execution): void {
    const decision = execution.decision;
    if (decision === null) return;
    const text = canonicalJson({ commands: decision.commands, records: decision.records }, 0);
    if (text === this.lastRecorded) return;
    this.lastRecorded = text;
    for (const record of decision.records) {
      this.decisions.push({ at_ms: decision.now_ms, record });
      if (record.outcome !== "noted")
        this.lastDecision = `${record.action} ${record.rule}: ${record.message}`;
    }
    if (this.decisions.length > decisionsKept)
      this.decisions.splice(0, this.decisions.length - decisionsKept);
  }

  /**
   * Leadership moved: an accepted request whose procedure has not begun (its `begin` not
   * committed) is answered now; one whose procedure runs is answered when its role command
   * commits, whoever leads then.
   */
  private refuseNotBegun(): void {
    const machine = this.context.applier.machine;
    for (const [key, pending] of this.accepted) {
      if (machine.procedureFor(pending.request.command.node) !== undefined) continue;
      this.accepted.delete(key);
      pending.resolve(refusal("not-leader", "leadership moved before the shift began; send it again"));
    }
  }

  private refuseQueued(rule: string, message: string): void {
    const queued = this.operatorQueue;
    this.operatorQueue = [];
    for (const pending of queued) pending.resolve(refusal(rule, message));
  }
}

function refusal(rule: string, message: string): OperatorOutcome {
  return { type: "refused", rule, message };
}

/** The rule of a machine refusal ("operator-signature-missing: ..." names it first). */
function ruleOf(reason: string): string {
  const match = /^(operator-signature-[a-z]+):/.exec(reason);
  if (match !== null) return match[1]!;
  if (reason.includes("is not live")) return "not-live";
  return "strategy-refused";
}

/**
 * Entries that may give the executor something to do: a leader's first entry (its term's
 * no-op: steps wait for it), a procedure moving, and changes of nodes or workloads.
 */
function wakesTheExecutor(outcome: MachineOutcome): boolean {
  if (outcome.kind === "empty" || outcome.kind === "conf-change" || outcome.procedure !== null) return true;
  const type = outcome.proposal?.command.type;
  return (
    type === "node-join" || type === "node-remove" || type === "workload-upsert" || type === "workload-delete"
  );
}

function keyOf(shift: RoleCommand): string {
  return `${shift.type} ${shift.node}`;
}
