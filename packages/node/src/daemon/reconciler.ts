import { signRoleProposal } from "@revoada/fabric-core/attest";
import type { MembershipView as GossipView } from "@revoada/fabric-core/gossip";
import {
  type Decision,
  type DecisionRecord,
  decide,
  type MembershipView,
  type OperatorRequest,
  type PolicyConfigOverrides,
  type PolicyInputs,
  type ProposedCommand,
} from "@revoada/fabric-core/policy";
import type { ConfChange, RaftStatus } from "@revoada/fabric-core/raft";
import {
  type Command,
  encodeProposal,
  type FabricState,
  type FabricStrategy,
  type Formation,
  isRoleCommand,
  type NodeId,
  type NodeState,
  type Proposal,
  type Signer,
} from "@revoada/fabric-core/vocabulary";
import { RaftUnavailableError } from "../errors.js";
import type { RaftDriver } from "../raft/index.js";
import type { AppliedEntry, FabricApplier } from "./fabric-applier.js";
import type { PolicyMemory } from "./history.js";
import type { Logger } from "./log.js";

/**
 * The leader's reconciliation round (autopilot style): gather inputs, let the pure policy
 * decide, then execute its commands one at a time through the log. Executing a shift:
 * - promote (with `etcd`): the node, already a learner, becomes a voter by joint
 *   consensus, then the Promote command commits (attested);
 * - demote / quarantine of a voter: the command commits first, then the voter becomes a
 *   learner (alive) or is removed (dead);
 * - every other command is proposed as is.
 * Role commands are signed by the leader for the block they become; they are proposed
 * only when nothing else is in flight, so the chain head the signature covers is exact.
 */
export interface ReconcilerContext {
  readonly self: Signer;
  readonly raft: RaftDriver<AppliedEntry>;
  readonly applier: FabricApplier;
  readonly memory: PolicyMemory;
  readonly strategy: FabricStrategy;
  readonly formation: Formation;
  readonly logger: Logger;
  readonly view: () => GossipView;
  /** This node's own advertisement (used when it founds the cluster). */
  readonly ownState: () => NodeState;
  readonly founder: boolean;
  readonly policy: PolicyConfigOverrides | undefined;
}

export interface PendingOperatorRequest {
  readonly request: OperatorRequest;
  readonly resolve: (outcome: OperatorOutcome) => void;
}

export type OperatorOutcome =
  | { readonly type: "committed"; readonly index: number; readonly term: number; readonly command: Command }
  | { readonly type: "refused"; readonly rule: string; readonly message: string };

export class Reconciler {
  private running = false;
  private operatorQueue: PendingOperatorRequest[] = [];
  readonly decisions: { readonly at_ms: number; readonly record: DecisionRecord }[] = [];
  lastDecision: string | null = null;
  shiftsExecuted = 0;

  constructor(private readonly context: ReconcilerContext) {}

  enqueueOperator(request: OperatorRequest): Promise<OperatorOutcome> {
    return new Promise((resolve) => {
      this.operatorQueue.push({ request, resolve });
      void this.round();
    });
  }

  /** One round; a round already running makes this a no-op (the next tick retries). */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.roundUnlocked();
    } catch (error) {
      this.context.logger.warn("reconciliation round failed", {
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      this.running = false;
    }
  }

  private async roundUnlocked(): Promise<void> {
    const { raft } = this.context;
    const status = raft.status();
    if (status.role !== "leader") {
      this.refuseQueued("not-leader", `this node is not the leader (leader: ${status.leader ?? "unknown"})`);
      return;
    }
    if (!(await this.quiesce())) return;
    const view = this.context.view();
    if (await this.admitMembers(view)) return;
    const operators = this.operatorQueue;
    this.operatorQueue = [];
    const decision = decide(
      this.inputs(
        view,
        operators.map((pending) => pending.request),
      ),
    );
    this.remember(decision);
    for (const pending of operators) {
      const accepted = decision.commands.find(
        (proposed) => proposed.origin === "operator" && sameTarget(proposed.command, pending.request.command),
      );
      if (accepted === undefined) {
        const refusal = decision.records.find(
          (record) => record.outcome === "refused" && record.subject === targetOf(pending.request.command),
        );
        pending.resolve({
          type: "refused",
          rule: refusal?.rule ?? "operator-request",
          message: refusal?.message ?? "the policy did not accept the request",
        });
      }
    }
    // Every queued request is answered exactly once, whatever happens below.
    const unanswered = new Set(operators.filter((pending) => isAccepted(decision, pending)));
    try {
      for (const proposed of decision.commands) {
        const committed = await this.execute(proposed);
        for (const pending of [...unanswered]) {
          if (proposed.origin !== "operator" || !sameTarget(proposed.command, pending.request.command))
            continue;
          pending.resolve({ type: "committed", ...committed, command: proposed.command });
          unanswered.delete(pending);
        }
      }
    } finally {
      for (const pending of unanswered) {
        pending.resolve({
          type: "refused",
          rule: "not-leader",
          message: "leadership or the log moved on before it committed",
        });
      }
    }
  }

  /** Refuses every queued operator request (the node is stopping). */
  close(): void {
    this.refuseQueued("not-leader", "this node is stopping");
  }

  /** Waits (briefly) until everything in the leader's log is applied. */
  private async quiesce(): Promise<boolean> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const status = this.context.raft.status();
      if (status.role !== "leader") return false;
      if (status.applied >= status.lastIndex && status.conf.votersOutgoing.length === 0) return true;
      await sleep(10);
    }
    return false;
  }

  /**
   * Membership mechanics, not policy: the founder records itself; every alive member gossip
   * knows becomes a Raft learner and a fabric node. Returns true when it proposed anything.
   */
  private async admitMembers(view: GossipView): Promise<boolean> {
    const { raft, applier } = this.context;
    const self = this.context.self.nodeId;
    const state = applier.state();
    if (state.nodes[self] === undefined) {
      const own = this.context.ownState();
      await this.proposeCommand({ type: "node-join", state: own }, "policy", false);
      return true;
    }
    const conf = raft.status().conf;
    const inConf = new Set([...conf.voters, ...conf.learners, ...conf.votersOutgoing]);
    const alive = view.members.filter(
      (member) => member.status === "alive" && member.state !== null && member.id !== self,
    );
    const learners = alive.filter((member) => !inConf.has(member.id as NodeId)).slice(0, 64);
    if (learners.length > 0) {
      await raft.proposeConfChange({
        changes: learners.map((member) => ({ type: "add-learner" as const, node: member.id as NodeId })),
      });
    }
    const joins = alive.filter((member) => state.nodes[member.id as NodeId] === undefined);
    await Promise.all(
      joins.map((member) =>
        this.proposeCommand(
          { type: "node-join", state: { ...member.state!, roles: ["worker"] } },
          "policy",
          false,
        ),
      ),
    );
    if (learners.length > 0 || joins.length > 0) return true;
    return false;
  }

  private inputs(view: GossipView, operatorRequests: readonly OperatorRequest[]): PolicyInputs {
    const { raft, applier, strategy, formation, memory } = this.context;
    const status = raft.status();
    const nowMs = Date.now();
    const state = applier.state();
    return {
      now_ms: nowMs,
      self: this.context.self.nodeId,
      strategy,
      formation,
      state,
      membership: membershipFrom(view, state, this.context.self.nodeId, nowMs),
      raft: {
        leader: this.context.self.nodeId,
        quorum_visible: quorumVisible(status, this.context.self.nodeId),
        voters: status.conf.voters as NodeId[],
        learners: status.conf.learners.map((id) => ({ id: id as NodeId, caught_up: caughtUp(status, id) })),
      },
      history: memory.snapshot(nowMs),
      operator_requests: [...operatorRequests],
      ...(this.context.policy === undefined ? {} : { config: this.context.policy }),
    };
  }

  private remember(decision: Decision): void {
    for (const record of decision.records) {
      this.decisions.push({ at_ms: decision.now_ms, record });
      if (record.outcome !== "noted")
        this.lastDecision = `${record.action} ${record.rule}: ${record.message}`;
    }
    if (this.decisions.length > 1000) this.decisions.splice(0, this.decisions.length - 1000);
  }

  /** Executes one policy command; resolves with where it committed. */
  async execute(proposed: ProposedCommand): Promise<{ index: number; term: number }> {
    const { raft } = this.context;
    const command = proposed.command;
    const conf = raft.status().conf;
    if (command.type === "promote" && command.roles.includes("etcd") && !conf.voters.includes(command.node)) {
      if (!conf.learners.includes(command.node)) {
        await this.changeMembership({ changes: [{ type: "add-learner", node: command.node }] });
      }
      await this.changeMembership({ changes: [{ type: "add-voter", node: command.node }] });
    }
    const committed = await this.proposeCommand(command, proposed.origin, proposed.force);
    const leavesVoters =
      (command.type === "demote" && command.roles.includes("etcd")) || command.type === "quarantine";
    if (leavesVoters && raft.status().conf.voters.includes(command.node)) {
      const alive = this.context.view().members.some((m) => m.id === command.node && m.status === "alive");
      await this.changeMembership({
        changes: [{ type: alive ? "add-learner" : "remove", node: command.node }],
      });
    }
    this.shiftsExecuted += isRoleCommand(command) ? 1 : 0;
    return committed;
  }

  private async changeMembership(change: ConfChange): Promise<void> {
    await this.context.raft.proposeConfChange(change);
    await this.quiesce();
  }

  /** Proposes a command in this leader's name; role commands carry the block signature. */
  async proposeCommand(
    command: Command,
    origin: Proposal["origin"],
    force: boolean,
  ): Promise<{ index: number; term: number }> {
    const { raft, applier, self } = this.context;
    let proposal: Proposal = { command, proposer: self.nodeId, issued_at_ms: Date.now(), origin, force };
    const chain = applier.chain;
    if (isRoleCommand(command) && chain !== null) {
      // The signature covers the block this entry becomes after the chain head: exact only
      // when nothing is in flight, so refuse rather than sign a guess.
      if (!(await this.quiesce())) {
        throw new RaftUnavailableError("dropped", raft.status().leader, "the log did not settle");
      }
      const status = raft.status();
      proposal = signRoleProposal(
        chain.chain.head,
        status.term,
        status.lastIndex + 1,
        proposal,
        self,
      ).proposal;
    }
    const term = raft.status().term;
    const { index } = await raft.propose(encodeProposal(proposal));
    return { index, term };
  }

  private refuseQueued(rule: string, message: string): void {
    const queued = this.operatorQueue;
    this.operatorQueue = [];
    for (const pending of queued) pending.resolve({ type: "refused", rule, message });
  }
}

/** Gossip's view on the policy's terms, with times moved onto the wall clock. */
export function membershipFrom(
  view: GossipView,
  state: FabricState,
  self: NodeId,
  nowMs: number,
): MembershipView {
  const members: MembershipView["members"] = [];
  for (const member of view.members) {
    if (state.nodes[member.id as NodeId] === undefined && member.id !== self) continue;
    members.push({
      id: member.id as NodeId,
      status: member.status,
      phi: Math.min(member.phi ?? 0, 1e6),
      stable_since_ms: Math.max(0, nowMs - Math.max(0, view.atMs - member.stableSinceMs)),
    });
  }
  return { members };
}

/** Check-quorum's view: the leader heard recently from a majority of voters (itself included). */
function quorumVisible(status: RaftStatus, self: NodeId): boolean {
  if (status.role !== "leader") return false;
  const heard = status.conf.voters.filter((id) => id === self || status.progress[id]?.recentActive === true);
  return heard.length * 2 > status.conf.voters.length;
}

function caughtUp(status: RaftStatus, id: string): boolean {
  const progress = status.progress[id];
  return progress !== undefined && progress.match + 64 >= status.commit;
}

function isAccepted(decision: Decision, pending: PendingOperatorRequest): boolean {
  return decision.commands.some(
    (proposed) => proposed.origin === "operator" && sameTarget(proposed.command, pending.request.command),
  );
}

function targetOf(command: Command): string {
  return "node" in command ? command.node : "cluster";
}

function sameTarget(a: Command, b: Command): boolean {
  return a.type === b.type && targetOf(a) === targetOf(b);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
