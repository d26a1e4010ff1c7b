import { createHash } from "node:crypto";
import { foundingRoles, signRoleProposal } from "../attest/index.js";
import {
  defaultRelayConfig,
  type EtcdAction,
  type Execution,
  execute,
  FabricMachine,
  type FabricMachineOptions,
  type MachineOutcome,
  type RelayConfig,
  type RelayMessage,
  type RelayOutput,
  relayViewOf,
  StateRelay,
  type Step,
} from "../fabric/index.js";
import type { GossipEvent } from "../gossip/index.js";
import type { FlapRecord, OperatorRequest, PolicyConfigOverrides } from "../policy/index.js";
import { type ConfState, type Entry, type RaftStatus, raftConfigFromStrategy } from "../raft/index.js";
import {
  assert,
  canonicalJson,
  encodeProposal,
  type FabricStrategy,
  type Formation,
  homelabStrategy,
  isAttestedCommand,
  isNodeId,
  type NodeId,
  type NodeRole,
  type Proposal,
  type RoleCommand,
} from "../vocabulary/index.js";
import { SimEtcd } from "./etcd-model.js";
import { GossipCluster, simNodeState } from "./gossip-cluster.js";
import { type NetworkFaults, reliableNetwork, SimNetwork } from "./network.js";
import { RaftCluster, SimViolation } from "./raft-cluster.js";
import { SeededRandom } from "./random.js";

/**
 * The whole fabric in the deterministic simulator: on every node a gossip core, a Raft core,
 * the `FabricMachine` fed by the committed log, and on the leader the executor running the
 * policy. One seeded random source and one virtual clock drive it all, so a failing seed
 * replays exactly (`pnpm sim:fabric --seed N --profile P`).
 *
 * The driver here is the daemon's, minus sockets: it runs `execute` when the leader's last
 * step applied, when gossip reports a member change, when an operator asks, at the instant the
 * execution names (`wakeAtMs`: a rule that holds on time lets go), and at the strategy's
 * reconciliation cadence; it keeps at most one step in flight and signs a role command against
 * the committed chain head.
 *
 * Invariants, checked as entries apply and after every step (besides the Raft cluster's own):
 * - one-procedure-per-node: no `begin` ever finds a procedure for its node in flight;
 * - attested-once: every committed role command appends exactly one block, with a valid
 *   leader signature from a control-plane member, and nothing else appends one;
 * - voter-floor: a procedure taking a node out of the voters never leaves fewer voters than
 *   the target of the decision that began it (promotions come before demotions);
 * - holds: the policy never restores a node an operator quarantined (a hold survives
 *   restarts and leader changes because it is replicated state);
 * - machine agreement: nodes at the same applied index hold byte-identical machines (state,
 *   chain, history, holds, procedures), checked every `agreementCheckEvery` steps;
 * - applied-committed: every node's machine, log holder or relay follower, is a committed
 *   state: an entry the relay applies is the committed entry at its index, a snapshot it
 *   restores is at a committed index and reads back byte for byte, and no node's applied
 *   index is ever ahead of the highest committed one (checked after every step).
 *
 * With `learnersMax` (default 4) only the voters and that many learners hold the log; every
 * other node follows committed state through its `StateRelay` (docs/scale.md), over a
 * simulated network of its own that shares the faults and partitions.
 */
export interface FabricClusterOptions {
  readonly seed: number;
  readonly size: number;
  readonly strategy?: FabricStrategy;
  readonly formation?: Formation;
  readonly policy?: PolicyConfigOverrides;
  readonly faults?: NetworkFaults;
  /** Virtual time per step (default 5 ms). */
  readonly tickMs?: number;
  readonly agreementCheckEvery?: number;
  /**
   * A deliberately broken driver, to show the invariants catch it (tests, and
   * `pnpm sim:fabric --sabotage`): `double-begin` proposes every `begin` twice;
   * `stale-chain-head` signs role commands against the genesis instead of the chain head;
   * `etcd-remove-live-first` removes a live etcd voting member where a promotion adds one.
   */
  readonly sabotage?: "double-begin" | "stale-chain-head" | "etcd-remove-live-first";
  /** The fabric manages a (modelled) etcd: shifts add, promote and remove etcd members. */
  readonly manageEtcd?: boolean;
  /** Probability an etcd call fails (with `manageEtcd`). */
  readonly etcdFailRate?: number;
  /** Learners besides the voters (default 4); null: every alive member is a learner. */
  readonly learnersMax?: number | null;
  /**
   * A broken relay, to show applied-committed catches it: `relay-forged-term` relays every
   * entry with its term bumped; `relay-skip` makes followers skip an index.
   */
  readonly relaySabotage?: "relay-forged-term" | "relay-skip";
  /** Children per node in the relay tree (default: the core's). */
  readonly relayFanout?: number;
  /**
   * `voters`: the tree as the daemon roots it (`relayViewOf(..., "voters")`), and a learner
   * answers a follow with `busy`, as a daemon learner does (it has no commit stamp to vouch
   * with): fresh followers that take a learner for a parent must move on. Default `holders`.
   */
  readonly relayRoots?: "holders" | "voters";
}

export interface FabricSimNode {
  readonly index: number;
  readonly id: NodeId;
  machine: FabricMachine;
  /** The Raft incarnation the machine was built for (a restart replays into a new one). */
  incarnation: number;
  /** The executor's step in flight: its term and the highest index it proposed. */
  inFlight: { readonly term: number; readonly index: number } | null;
  /** Flaps this node's gossip saw while leading, not yet committed. */
  flaps: FlapRecord[];
  /** Set when something happened that the executor should look at. */
  wake: boolean;
  lastRoundMs: number;
  advertised: string;
  /** The last execution while leading (settling checks read its decision). */
  lastExecution: Execution | null;
  /** When the executor runs next without a wake-up (cadence, an etcd call to retry, `wakeAtMs`). */
  nextRunAtMs: number;
  /** How this node follows committed state when it does not hold the log. */
  relay: StateRelay;
  /** The relay's sources, refreshed every `relayRefreshMs`. */
  relayCandidates: string[];
  relayRefreshAtMs: number;
  /**
   * The machine's last advance came through the relay: a daemon holds the commit stamp it
   * verified for exactly this state and can forward it (`cannotVouch`).
   */
  advancedByRelay: boolean;
}

export interface OperatorOutcome {
  readonly request: OperatorRequest;
  readonly outcome: "begun" | "refused";
  readonly rule: string;
  readonly atMs: number;
}

/** What happened in a run, for tests and reports. */
export interface FabricRunStats {
  executions: number;
  steps: Record<Step["type"], number>;
  proceduresOpened: number;
  proceduresCompleted: number;
  proceduresAborted: number;
  blocks: number;
  /** Entries and snapshots followers took from the relay. */
  relayedEntries: number;
  relayedSnapshots: number;
}

export class FabricCluster {
  readonly raft: RaftCluster;
  readonly gossip: GossipCluster;
  readonly nodes: FabricSimNode[] = [];
  readonly strategy: FabricStrategy;
  readonly formation: Formation;
  readonly operatorOutcomes: OperatorOutcome[] = [];
  readonly stats: FabricRunStats = {
    executions: 0,
    steps: { wait: 0, propose: 0, "conf-change": 0, actuate: 0, transfer: 0 },
    proceduresOpened: 0,
    proceduresCompleted: 0,
    proceduresAborted: 0,
    blocks: 0,
    relayedEntries: 0,
    relayedSnapshots: 0,
  };
  /** The relay's network (followers and their sources); bytes counted per node. */
  readonly relayNetwork: SimNetwork<RelayMessage>;
  /** Told when a node's machine reaches a new applied index (benchmarks time the spread). */
  onAdvance: ((node: FabricSimNode, index: number) => void) | null = null;
  /** Told of every gossip event on every node (benchmarks time detection). */
  onGossip: ((observer: number, event: GossipEvent, nowMs: number) => void) | null = null;
  readonly learnersMax: number | null;
  private readonly relayConfig: RelayConfig;
  /** The committed log as the first node to apply each entry through Raft saw it. */
  private readonly committedLog: Entry[] = [];
  /** Nodes whose machine advanced this step (their relay pushes at the end of it). */
  private readonly advanced = new Set<number>();
  /** Told of every execution (replays print them). */
  trace: ((node: FabricSimNode, execution: Execution) => void) | null = null;
  /** The modelled etcd cluster (with `manageEtcd`). */
  readonly etcd: SimEtcd | null;
  private readonly operatorQueue: OperatorRequest[] = [];
  /** A strategy an operator asked for, proposed by the next leader with nothing in flight. */
  private pendingStrategy: FabricStrategy | null = null;
  private readonly machineOptions: FabricMachineOptions;
  /** Index -> checked already (invariants on committed entries run once per index). */
  private checkedThrough = 0;
  /** The voter target of the decision that began each procedure ("type node" -> voters). */
  private readonly procedureTargets = new Map<string, number>();
  private readonly byId = new Map<string, number>();
  private readonly agreementCheckEvery: number;

  constructor(readonly options: FabricClusterOptions) {
    assert(options.size >= 1, "a fabric has at least one node");
    this.strategy = options.strategy ?? homelabStrategy;
    this.formation = options.formation ?? "quorum-3m";
    this.agreementCheckEvery = options.agreementCheckEvery ?? 50;
    this.learnersMax = options.learnersMax === undefined ? 4 : options.learnersMax;
    this.relayConfig = { ...defaultRelayConfig, fanout: options.relayFanout ?? defaultRelayConfig.fanout };
    this.relayNetwork = new SimNetwork<RelayMessage>(
      new SeededRandom(options.seed * 31 + 17),
      options.faults ?? reliableNetwork,
    );
    this.machineOptions = { origin: `revoada.sim/${this.strategy.name}`, requireOperatorSignature: false };
    this.gossip = new GossipCluster({
      size: options.size,
      seed: options.seed,
      faults: options.faults ?? reliableNetwork,
      membership: this.strategy.membership,
      seedCount: Math.min(3, options.size),
      onEvent: (observer, event, nowMs) => this.onGossipEvent(observer, event, nowMs),
    });
    const ids = this.gossip.members.map((member) => member.signer.nodeId);
    const raftConfig = raftConfigFromStrategy(ids[0]!, this.strategy);
    assert(raftConfig.ok, "the strategy gives a valid Raft config");
    const { id: _template, ...config } = raftConfig.value;
    this.raft = new RaftCluster({
      seed: options.seed + 1,
      voters: [ids[0]!],
      spares: ids.slice(1),
      config: { ...config, snapshotIntervalEntries: 1_000_000 },
      faults: options.faults ?? reliableNetwork,
      tickMs: options.tickMs ?? 5,
    });
    this.raft.onApply = (simNode, entry) => this.onApply(simNode.id, simNode.incarnation, entry);
    for (const [index, id] of ids.entries()) {
      this.byId.set(id, index);
      this.nodes.push({
        index,
        id,
        machine: new FabricMachine(this.machineOptions),
        incarnation: index === 0 ? 1 : 0,
        inFlight: null,
        flaps: [],
        wake: true,
        lastRoundMs: 0,
        advertised: "",
        lastExecution: null,
        nextRunAtMs: 0,
        relay: new StateRelay(id, this.relayConfig),
        relayCandidates: [],
        relayRefreshAtMs: 0,
        advancedByRelay: false,
      });
    }
    this.etcd =
      options.manageEtcd === true
        ? new SimEtcd(this.raft.random.fork(), ids[0]!, { syncMs: 150, failRate: options.etcdFailRate ?? 0 })
        : null;
    this.gossip.start();
    for (const id of ids.slice(1)) this.raft.restart(id);
  }

  get nowMs(): number {
    return this.raft.nowMs;
  }

  node(index: number): FabricSimNode {
    const node = this.nodes[index];
    assert(node !== undefined, `no node ${index}`);
    return node;
  }

  isUp(index: number): boolean {
    return this.raft.isUp(this.node(index).id);
  }

  /** The index of the node that leads in the highest term, if any. */
  leaderIndex(): number | null {
    const leader = this.raft.leader();
    return leader === null ? null : (this.byId.get(leader) ?? null);
  }

  // -------------------------------------------------------------------------------------
  // Faults and operators.

  crash(index: number): void {
    const node = this.node(index);
    this.raft.crash(node.id);
    this.gossip.crash(index);
    node.inFlight = null;
    node.flaps = [];
  }

  restart(index: number): void {
    const node = this.node(index);
    if (this.raft.isUp(node.id)) this.crash(index);
    this.raft.restart(node.id);
    this.gossip.restart(index);
    node.machine = new FabricMachine(this.machineOptions);
    node.relay = new StateRelay(node.id, this.relayConfig);
    node.relayCandidates = [];
    node.relayRefreshAtMs = 0;
    node.advancedByRelay = false;
    node.incarnation = this.raft.node(node.id).incarnation;
    node.advertised = "";
    node.wake = true;
  }

  /** Cuts the network (Raft and gossip alike) into the given groups of node indexes. */
  partition(groups: readonly (readonly number[])[]): void {
    this.raft.network.partition(groups.map((group) => group.map((index) => this.node(index).id)));
    this.relayNetwork.partition(groups.map((group) => group.map((index) => this.node(index).id)));
    this.gossip.network.partition(
      groups.map((group) => group.map((index) => this.gossip.members[index]!.address)),
    );
  }

  heal(): void {
    this.raft.network.heal();
    this.gossip.network.heal();
    this.relayNetwork.heal();
  }

  /** An operator's strategy swap (`revoada strategy apply --yes`), proposed by the leader. */
  swapStrategy(strategy: FabricStrategy): void {
    this.pendingStrategy = strategy;
    for (const node of this.nodes) node.wake = true;
  }

  /**
   * A command proposed straight to the leader's log (a client's write: a workload, say),
   * outside the policy. Returns the index it was given, or null with no leader.
   */
  propose(command: Proposal["command"]): number | null {
    const leader = this.leaderIndex();
    if (leader === null) return null;
    const node = this.node(leader);
    const proposal: Proposal = {
      command,
      proposer: node.id,
      issued_at_ms: this.nowMs,
      origin: "operator",
      force: false,
    };
    const outcome = this.raft.raft(node.id).propose(encodeProposal(proposal));
    return outcome.type === "accepted" ? outcome.index : null;
  }

  /** An operator's role command, judged by the policy on the leader's next round. */
  operator(command: RoleCommand, force = false): void {
    this.operatorQueue.push({ command, force });
    for (const node of this.nodes) node.wake = true;
  }

  // -------------------------------------------------------------------------------------
  // Running.

  step(): void {
    this.raft.step();
    this.gossip.runUntil(this.raft.nowMs);
    for (const node of this.nodes) {
      if (!this.raft.isUp(node.id)) continue;
      this.advertise(node);
      this.drive(node);
    }
    this.raft.processReadies();
    this.stepRelays();
    this.check();
  }

  runFor(durationMs: number): void {
    const end = this.nowMs + durationMs;
    while (this.nowMs < end) this.step();
  }

  /** Runs until `predicate` holds or `limitMs` passes; returns whether it held. */
  runUntil(predicate: () => boolean, limitMs: number): boolean {
    const end = this.nowMs + limitMs;
    while (this.nowMs < end) {
      if (predicate()) return true;
      this.step();
    }
    return predicate();
  }

  /** The committed state as the highest applied node holds it. */
  mostAdvanced(): FabricSimNode {
    let best = this.nodes[0]!;
    for (const node of this.nodes) {
      if (node.machine.applied().index > best.machine.applied().index) best = node;
    }
    return best;
  }

  /** Voters of the committed configuration, as the most advanced machine holds it. */
  committedVoters(): readonly string[] {
    return this.mostAdvanced().machine.configuration().voters;
  }

  // -------------------------------------------------------------------------------------
  // The driver (what the daemon does with sockets and timers).

  private drive(node: FabricSimNode): void {
    const raft = this.raft.raft(node.id);
    const status = raft.status();
    if (status.role !== "leader") {
      node.inFlight = null;
      node.flaps = [];
      return;
    }
    const applied = node.machine.applied().index;
    if (node.inFlight !== null) {
      if (node.inFlight.term !== status.term) node.inFlight = null;
      else if (applied >= node.inFlight.index) {
        node.inFlight = null;
        node.wake = true;
      } else return;
    }
    if (!node.wake && this.nowMs < node.nextRunAtMs) return;
    node.wake = false;
    node.nextRunAtMs = this.nowMs + this.strategy.reconciliation.millis;
    const swap = this.pendingStrategy;
    if (swap !== null && node.machine.strategy() !== null && node.machine.applied().term === status.term) {
      // Like the daemon's reconciler: the swap is a step of its own (nothing else in flight).
      this.pendingStrategy = null;
      const command = { type: "strategy" as const, strategy: swap };
      this.carryOut(
        node,
        { type: "propose", commands: [{ command, origin: "operator", force: false }], why: "swap" },
        status.term,
      );
      return;
    }
    const execution = this.executeOn(node, status);
    this.stats.executions += 1;
    this.stats.steps[execution.step.type] += 1;
    if (execution.decision !== null) node.lastRoundMs = this.nowMs;
    this.answerOperators(execution);
    this.trace?.(node, execution);
    node.lastExecution = execution;
    this.carryOut(node, execution.step, status.term);
    // Like the daemon's reconciler: a rule that holds on time (a policy gate, a learner's
    // catch-up, a procedure timeout) runs the executor again when it lets go, not at the cadence.
    if (execution.wakeAtMs !== null) node.nextRunAtMs = Math.min(node.nextRunAtMs, execution.wakeAtMs);
  }

  private executeOn(node: FabricSimNode, status: RaftStatus): Execution {
    const member = this.gossip.members[node.index]!;
    const core = member.core;
    assert(core !== null, "a running node has a gossip core");
    return execute({
      self: node.id,
      nowMs: this.nowMs,
      machine: node.machine,
      raft: status,
      gossip: core.membershipView(this.nowMs),
      ownState: simNodeState(member, node.index === 0 ? [...foundingRoles] : ["worker"]),
      strategy: this.strategy,
      formation: this.formation,
      ...(this.options.policy === undefined ? {} : { policy: this.options.policy }),
      operatorRequests: [...this.operatorQueue],
      flaps: node.flaps,
      config: { manageEtcd: this.etcd !== null, learnersMax: this.learnersMax },
    });
  }

  /** Refused operator requests are answered now; an accepted one when its procedure begins. */
  private answerOperators(execution: Execution): void {
    const decision = execution.decision;
    if (decision === null) return;
    for (const request of [...this.operatorQueue]) {
      const subject = request.command.node;
      const refusal = decision.records.find(
        (record) =>
          record.outcome === "refused" &&
          record.subject === subject &&
          record.action === request.command.type,
      );
      const accepted = decision.commands.some(
        (proposed) =>
          proposed.origin === "operator" &&
          proposed.command.type === request.command.type &&
          "node" in proposed.command &&
          proposed.command.node === subject,
      );
      const executorRefusal = execution.refused.find(
        (refused) => refused.shift.type === request.command.type && refused.shift.node === subject,
      );
      if (accepted && executorRefusal === undefined) continue;
      this.operatorQueue.splice(this.operatorQueue.indexOf(request), 1);
      this.operatorOutcomes.push({
        request,
        outcome: "refused",
        rule: executorRefusal?.rule ?? refusal?.rule ?? "operator-request",
        atMs: this.nowMs,
      });
    }
    if (execution.step.type !== "propose") return;
    for (const proposed of execution.step.commands) {
      const command = proposed.command;
      if (command.type !== "shift-procedure" || command.step !== "begin") continue;
      this.procedureTargets.set(`${command.shift.type} ${command.shift.node}`, decision.target.voters);
      if (proposed.origin !== "operator") continue;
      const position = this.operatorQueue.findIndex(
        (request) =>
          request.command.type === command.shift.type && request.command.node === command.shift.node,
      );
      if (position < 0) continue;
      const [request] = this.operatorQueue.splice(position, 1);
      this.operatorOutcomes.push({ request: request!, outcome: "begun", rule: "accepted", atMs: this.nowMs });
    }
  }

  private carryOut(node: FabricSimNode, step: Step, term: number): void {
    const raft = this.raft.raft(node.id);
    if (step.type === "wait") return;
    if (step.type === "conf-change") {
      const outcome = raft.proposeConfChange(step.change);
      if (outcome.type === "accepted") node.inFlight = { term: outcome.term, index: outcome.index };
      return;
    }
    if (step.type === "transfer") {
      raft.transferLeadership(step.to);
      node.nextRunAtMs = this.nowMs + 50;
      return;
    }
    if (step.type === "actuate") {
      // The etcd call, then its record; a refused or failed call is asked again shortly.
      const etcd = this.etcd;
      assert(etcd !== null, "etcd steps only when the fabric manages etcd");
      const isUp = (id: NodeId) => this.raft.isUp(id);
      const votingBefore = etcd.liveVoting(isUp);
      const result = etcd.call(this.sabotagedEtcdAction(step.action, node), this.nowMs, isUp);
      this.checkEtcdFloor(node, step.action.node, votingBefore, etcd.liveVoting(isUp));
      if (!result.ok) {
        node.nextRunAtMs = this.nowMs + 50;
        return;
      }
      const proposal = this.attested(node, {
        command: result.record,
        proposer: node.id,
        issued_at_ms: this.nowMs,
        origin: "policy",
        force: false,
      });
      const outcome = raft.propose(encodeProposal(proposal));
      if (outcome.type === "accepted") node.inFlight = { term, index: outcome.index };
      return;
    }
    let last = 0;
    for (const proposed of step.commands) {
      const proposal = this.attested(node, {
        command: proposed.command,
        proposer: node.id,
        issued_at_ms: this.nowMs,
        origin: proposed.origin,
        force: proposed.force,
      });
      const outcome = raft.propose(encodeProposal(proposal));
      if (outcome.type !== "accepted") return;
      last = outcome.index;
      const command = proposed.command;
      if (
        this.options.sabotage === "double-begin" &&
        command.type === "shift-procedure" &&
        command.step === "begin"
      ) {
        const again = raft.propose(encodeProposal(proposal));
        if (again.type === "accepted") last = again.index;
      }
    }
    if (step.commands.some((proposed) => proposed.command.type === "member-flap")) node.flaps = [];
    if (last > 0) node.inFlight = { term, index: last };
  }

  /** `etcd-remove-live-first`: a promotion's member add is replaced by removing a live voting member. */
  /**
   * The proposal as the leader sends it: an attested command (role, strategy, etcd step) is
   * signed as the block it becomes. One step in flight and every earlier term's entry
   * applied: the committed chain head is the head this block follows.
   */
  private attested(node: FabricSimNode, proposal: Proposal): Proposal {
    const chain = node.machine.chain;
    if (!isAttestedCommand(proposal.command) || chain === null) return proposal;
    const status = this.raft.raft(node.id).status();
    const head =
      this.options.sabotage === "stale-chain-head"
        ? { sequence: 0, hash: chain.genesis.hash, term: 0, index: 0 }
        : chain.head;
    const signer = this.gossip.members[node.index]!.signer;
    return signRoleProposal(head, status.term, status.lastIndex + 1, proposal, signer).proposal;
  }

  private sabotagedEtcdAction(action: EtcdAction, leader: FabricSimNode): EtcdAction {
    if (this.options.sabotage !== "etcd-remove-live-first" || action.kind !== "etcd-add-learner")
      return action;
    const live = leader.machine
      .etcdMembers()
      .find((member) => !member.learner && member.node !== leader.id && this.raft.isUp(member.node));
    return live === undefined
      ? action
      : { kind: "etcd-remove", node: action.node, member_id: live.member_id };
  }

  private advertise(node: FabricSimNode): void {
    const roles: NodeRole[] = node.machine.node(node.id)?.roles ?? ["worker"];
    const text = roles.join(",");
    if (text === node.advertised || this.gossip.members[node.index]!.core === null) return;
    node.advertised = text;
    this.gossip.setRoles(node.index, roles);
  }

  private onGossipEvent(observer: number, event: GossipEvent, nowMs: number): void {
    this.onGossip?.(observer, event, nowMs);
    if (event.type !== "member-status") return;
    const node = this.nodes[observer];
    if (node === undefined) return;
    node.wake = true;
    const flapped = event.previous === "alive" && (event.status === "suspect" || event.status === "dead");
    if (!flapped || !isNodeId(event.id) || !this.raft.isUp(node.id)) return;
    if (this.raft.raft(node.id).status().role === "leader") node.flaps.push({ node: event.id, at_ms: nowMs });
  }

  // -------------------------------------------------------------------------------------
  // Applying and checking.

  private onApply(id: string, incarnation: number, entry: Entry): void {
    const index = this.byId.get(id);
    assert(index !== undefined, "a Raft node is a fabric node");
    const node = this.nodes[index]!;
    if (node.incarnation !== incarnation) {
      node.machine = new FabricMachine(this.machineOptions);
      node.relay.recordRestored(0);
      node.incarnation = incarnation;
    }
    if (this.committedLog[entry.index] === undefined) this.committedLog[entry.index] = entry;
    // A node that followed through the relay before it held the log has these already.
    if (entry.index <= node.machine.applied().index) return;
    const holdsBefore = node.machine.operatorHolds();
    const confBefore = node.machine.configuration();
    const outcome = this.applyTo(node, entry, "raft");
    if (entry.index <= this.checkedThrough) return;
    this.checkedThrough = entry.index;
    this.checkCommitted(node, outcome, holdsBefore, confBefore.voters.length);
  }

  private applyTo(node: FabricSimNode, entry: Entry, via: "raft" | "relay"): MachineOutcome {
    const outcome = node.machine.apply(entry);
    if (outcome.procedure !== null) node.wake = true;
    node.relay.recordApplied(entry, via);
    node.advancedByRelay = via === "relay";
    this.advanced.add(node.index);
    this.onAdvance?.(node, entry.index);
    return outcome;
  }

  // -------------------------------------------------------------------------------------
  // The relay (followers of committed state; docs/scale.md).

  /** Delivers relay messages, ticks each node's relay, and pushes what machines applied. */
  private stepRelays(): void {
    for (const envelope of this.relayNetwork.takeDue(this.nowMs)) {
      const index = this.byId.get(envelope.to);
      if (index === undefined || !this.isUp(index)) continue;
      this.receiveRelay(this.nodes[index]!, envelope.from, envelope.message);
    }
    for (const node of this.nodes) {
      if (!this.raft.isUp(node.id)) continue;
      // Relay timers run every 100 ms per node, staggered across nodes.
      if ((this.raft.stepCount + node.index) % relayTickSteps === 0) {
        this.sendRelay(node, node.relay.tick(this.nowMs, this.relayView(node)));
      } else if (this.advanced.has(node.index)) {
        this.sendRelay(node, node.relay.flush(this.nowMs));
      }
    }
    this.advanced.clear();
  }

  private relayView(node: FabricSimNode): { holding: boolean; candidates: readonly string[] } {
    const conf = node.machine.configuration();
    const holding = conf.voters.includes(node.id) || conf.learners.includes(node.id);
    if (this.nowMs >= node.relayRefreshAtMs || node.relayCandidates.length === 0) {
      node.relayRefreshAtMs = this.nowMs + relayRefreshMs;
      node.relayCandidates = this.candidatesOf(node);
    }
    return { holding, candidates: node.relayCandidates };
  }

  /** A follower's sources from what it knows: its committed configuration and its gossip view. */
  private candidatesOf(node: FabricSimNode): string[] {
    const core = this.gossip.members[node.index]!.core;
    if (core === null) return [];
    const members = core.membershipView(this.nowMs).members;
    return [
      ...relayViewOf(
        node.id,
        node.machine.configuration(),
        members,
        node.relay.config.fanout,
        this.options.relayRoots ?? "holders",
      ).candidates,
    ];
  }

  private receiveRelay(node: FabricSimNode, from: string, message: RelayMessage): void {
    const receipt = node.relay.receive(from, message, this.nowMs);
    if (receipt.restore !== null) this.restoreFromRelay(node, receipt.restore);
    for (const entry of receipt.apply) {
      if (this.options.relaySabotage === "relay-skip" && entry.index % 7 === 0) continue;
      const committed = this.committedLog[entry.index];
      if (committed === undefined || entry.index > this.checkedThrough) {
        this.fail("applied-committed", `${node.id.slice(0, 8)} applied ${entry.index}, ahead of the commit`);
      }
      if (committed.term !== entry.term || !sameBytes(committed.data, entry.data)) {
        this.fail(
          "applied-committed",
          `${node.id.slice(0, 8)} applied ${entry.index} unlike the committed entry`,
        );
      }
      if (entry.index !== node.machine.applied().index + 1) {
        this.fail(
          "applied-committed",
          `${node.id.slice(0, 8)} applied ${entry.index} after ${node.machine.applied().index}`,
        );
      }
      this.applyTo(node, entry, "relay");
      this.stats.relayedEntries += 1;
    }
    this.sendRelay(node, receipt.outputs);
  }

  private restoreFromRelay(
    node: FabricSimNode,
    restore: { readonly index: number; readonly machine: Uint8Array; readonly conf: ConfState },
  ): void {
    if (restore.index > this.checkedThrough) {
      this.fail("applied-committed", `${node.id.slice(0, 8)} restored ${restore.index}, ahead of the commit`);
    }
    const restored = FabricMachine.restore(this.machineOptions, restore.machine, restore.conf);
    if (!restored.ok)
      this.fail("applied-committed", `a relayed snapshot does not restore: ${restored.issues[0]?.message}`);
    const machine = restored.value;
    if (machine.applied().index !== restore.index || !sameBytes(machine.snapshot(), restore.machine)) {
      this.fail("applied-committed", `a relayed snapshot at ${restore.index} does not read back`);
    }
    node.machine = machine;
    node.relay.recordRestored(restore.index);
    node.advancedByRelay = true;
    node.wake = true;
    this.advanced.add(node.index);
    this.onAdvance?.(node, restore.index);
    this.stats.relayedSnapshots += 1;
  }

  private sendRelay(node: FabricSimNode, outputs: readonly RelayOutput[]): void {
    for (const output of outputs) {
      if (this.cannotVouch(node, output)) {
        this.relayNetwork.send(
          node.id,
          output.to,
          { type: "busy" },
          this.nowMs,
          relayMessageBytes({ type: "busy" }),
        );
        continue;
      }
      if (output.type === "send-snapshot") {
        const machine = node.machine.snapshot();
        const message: RelayMessage = {
          type: "snapshot",
          depth: output.depth,
          index: node.machine.applied().index,
          machine,
          conf: node.machine.configuration(),
        };
        this.relayNetwork.send(node.id, output.to, message, this.nowMs, machine.length + 64);
        continue;
      }
      let message = output.message;
      if (this.options.relaySabotage === "relay-forged-term" && message.type === "entries") {
        message = {
          ...message,
          entries: message.entries.map((entry) => ({ ...entry, term: entry.term + 1 })),
        };
      }
      this.relayNetwork.send(node.id, output.to, message, this.nowMs, relayMessageBytes(message));
    }
  }

  /**
   * Rooted at the voters, a node vouches for the state it sends as a daemon does
   * (daemon/relay.ts, `stampNow`): a voter that holds the log and is not stale signs its own
   * machine; any other node forwards the stamp it verified, which covers its machine only while
   * its last advance came through the relay. A learner, or a stale voter, that Raft fed has
   * nothing to vouch with: it answers `busy` where it would send state; a heartbeat still goes out.
   */
  private cannotVouch(node: FabricSimNode, output: RelayOutput): boolean {
    if (this.options.relayRoots !== "voters") return false;
    const sendsState =
      output.type === "send-snapshot" ||
      (output.message.type === "entries" && output.message.entries.length > 0);
    if (!sendsState || node.advancedByRelay) return false;
    const conf = node.machine.configuration();
    const voter = conf.voters.includes(node.id) || conf.votersOutgoing.includes(node.id);
    return !voter || node.relay.isStale();
  }

  private checkCommitted(
    node: FabricSimNode,
    outcome: MachineOutcome,
    holdsBefore: readonly NodeId[],
    votersBefore: number,
  ): void {
    const command = outcome.proposal?.command;
    if (outcome.procedureRejected === "a procedure for this node is in flight") {
      this.fail("one-procedure-per-node", `entry ${outcome.index} began a second procedure for a node`);
    }
    // Role commands, strategy swaps and etcd steps are the attested commands: one block each.
    const roleCommitted =
      command !== undefined && isAttestedCommand(command) && outcome.state.type === "applied";
    const appended = outcome.chain?.type === "appended" ? outcome.chain : null;
    if (roleCommitted && node.machine.chain !== null) {
      if (appended === null || appended.block.body.index !== outcome.index) {
        this.fail("attested-once", `role command at ${outcome.index} appended no block`);
      }
      if (appended.problems.length > 0) {
        this.fail("attested-once", `block for ${outcome.index} has problems: ${appended.problems.join(",")}`);
      }
      this.stats.blocks += 1;
    } else if (appended !== null && !(command !== undefined && isAttestedCommand(command))) {
      this.fail("attested-once", `entry ${outcome.index} appended a block without a role command`);
    }
    const byPolicy = outcome.proposal?.origin === "policy";
    const restored =
      command?.type === "restore"
        ? command.node
        : command?.type === "shift-procedure" && command.step === "begin" && command.shift.type === "restore"
          ? command.shift.node
          : undefined;
    if (byPolicy && restored !== undefined && holdsBefore.includes(restored)) {
      this.fail("holds", `the policy restored ${restored}, which an operator holds`);
    }
    const event = outcome.procedure;
    if (event?.type === "opened") this.stats.proceduresOpened += 1;
    if (event?.type === "closed") {
      if (event.outcome === "completed") this.stats.proceduresCompleted += 1;
      else this.stats.proceduresAborted += 1;
    }
    if (
      outcome.kind === "conf-change" &&
      event?.type === "closed" &&
      event.procedure.phase === "leave-voters"
    ) {
      const conf = node.machine.configuration();
      const target = this.procedureTargets.get(`${event.procedure.shift.type} ${event.procedure.shift.node}`);
      if (target !== undefined && conf.voters.length < Math.min(target, votersBefore)) {
        this.fail(
          "voter-floor",
          `${event.procedure.shift.type} left ${conf.voters.length} voters, below the target ${target}`,
        );
      }
    }
  }

  /**
   * etcd-floor: a procedure's etcd member removal never takes etcd's live voting members below
   * the target of the decision that began it (promotions come first, in etcd as in Raft; a
   * dead member's removal takes no live member away).
   */
  private checkEtcdFloor(node: FabricSimNode, subject: NodeId, before: number, after: number): void {
    if (after >= before) return;
    const procedure = node.machine.procedureFor(subject);
    if (procedure === undefined) return;
    const target = this.procedureTargets.get(`${procedure.shift.type} ${procedure.shift.node}`);
    if (target !== undefined && after < Math.min(target, before)) {
      this.fail(
        "etcd-floor",
        `removing ${subject.slice(0, 8)} left ${after} etcd voting members, below ${target}`,
      );
    }
  }

  /** Machines at the same applied index are byte-identical (the deep check, every N steps). */
  private check(): void {
    for (const node of this.nodes) {
      if (node.machine.applied().index > this.checkedThrough) {
        this.fail(
          "applied-committed",
          `${node.id.slice(0, 8)} is at ${node.machine.applied().index}, ahead of the commit`,
        );
      }
    }
    if (this.raft.stepCount % this.agreementCheckEvery !== 0) return;
    const digests = new Map<number, { id: string; digest: string }>();
    for (const node of this.nodes) {
      if (!this.raft.isUp(node.id)) continue;
      const index = node.machine.applied().index;
      const digest = sha256Hex(node.machine.snapshot());
      const seen = digests.get(index);
      if (seen === undefined) digests.set(index, { id: node.id, digest });
      else if (seen.digest !== digest) {
        this.fail(
          "machine-agreement",
          `${seen.id.slice(0, 8)} and ${node.id.slice(0, 8)} differ at index ${index}`,
        );
      }
    }
  }

  fail(invariant: string, message: string): never {
    throw new SimViolation(
      `${invariant}: ${message} (seed ${this.options.seed}, step ${this.raft.stepCount})`,
      invariant,
    );
  }

  /** A compact digest of the committed outcome, for determinism checks. */
  fingerprint(): string {
    const node = this.mostAdvanced();
    return canonicalJson({ applied: node.machine.applied(), digest: sha256Hex(node.machine.snapshot()) }, 0);
  }
}

/** Relay timers run every this many steps per node (100 ms at the default 5 ms step). */
const relayTickSteps = 20;
/** A follower recomputes its sources (tree parent, holders) this often. */
const relayRefreshMs = 1_000;

function relayMessageBytes(message: RelayMessage): number {
  switch (message.type) {
    case "entries":
      return 32 + message.entries.reduce((sum, entry) => sum + entry.data.length + 24, 0);
    case "snapshot":
      return 64 + message.machine.length;
    default:
      return 24;
  }
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index += 1) if (left[index] !== right[index]) return false;
  return true;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
