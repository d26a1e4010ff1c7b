import { assert, type NodeId, type NodeState } from "../vocabulary/index.js";
import { applyCommands } from "./apply.js";
import { resolvePolicyConfig } from "./config.js";
import type { Decision } from "./decision.js";
import type { MemberStatus, MemberView, PolicyInputs, ShiftRecord } from "./inputs.js";

/**
 * A small world for running the engine on its own output: every proposed command commits at
 * the round's clock, Raft follows the committed etcd holders at once (standbys become caught-up
 * learners), the leader stays while it is an alive voter and otherwise the lowest alive voter
 * takes over, and membership events change what gossip reports. Golden sequences, property
 * tests and `policy explain --rounds` use it; it is a model for testing, not the daemon.
 */
export interface MembershipEvent {
  readonly node: NodeId;
  readonly status: MemberStatus;
}

export function nextRoundInputs(
  previous: PolicyInputs,
  decision: Decision,
  nowMs: number,
  events: readonly MembershipEvent[],
): PolicyInputs {
  assert(nowMs >= previous.now_ms, "the clock never runs backwards");
  const state = applyCommands(previous.state, decision.commands);
  const members = nextMembers(previous, nowMs, events);
  const flaps = events
    .filter((event) => isDown(event.status) && statusOf(previous, event.node) === "alive")
    .map((event) => ({ node: event.node, at_ms: nowMs }));
  const shifts: ShiftRecord[] = decision.commands.flatMap(({ command }) =>
    command.type === "promote" ||
    command.type === "demote" ||
    command.type === "quarantine" ||
    command.type === "restore"
      ? [{ node: command.node, at_ms: previous.now_ms, type: command.type }]
      : [],
  );
  const config = resolvePolicyConfig(previous.strategy, previous.config);
  const horizonMs = nowMs - Math.max(config.hysteresis_ms, config.flap_window_ms);
  const states: Record<string, NodeState> = state.nodes;
  const voters = Object.keys(states)
    .filter((id) => states[id]!.roles.includes("etcd"))
    .sort() as NodeId[];
  const raft = nextRaft(previous, voters, members, decision);
  const next: PolicyInputs = {
    ...previous,
    now_ms: nowMs,
    self: raft.leader ?? previous.self,
    state,
    membership: { members },
    raft,
    history: {
      recent_shifts: [...previous.history.recent_shifts, ...shifts].filter(
        (shift) => shift.at_ms > horizonMs,
      ),
      recent_flaps: [...previous.history.recent_flaps, ...flaps].filter((flap) => flap.at_ms > horizonMs),
      operator_holds: previous.history.operator_holds,
    },
    operator_requests: [],
  };
  assert(next.raft.voters.length === voters.length, "Raft follows the committed voters");
  return next;
}

function isDown(status: MemberStatus): boolean {
  return status === "dead" || status === "suspect";
}

function statusOf(inputs: PolicyInputs, node: NodeId): MemberStatus | undefined {
  return inputs.membership.members.find((member) => member.id === node)?.status;
}

function nextMembers(
  previous: PolicyInputs,
  nowMs: number,
  events: readonly MembershipEvent[],
): MemberView[] {
  const changes = new Map(events.map((event) => [event.node as string, event.status]));
  const members = previous.membership.members.map((member) => {
    const status = changes.get(member.id);
    if (status === undefined || status === member.status) return member;
    const sinceMs = status === "suspect" && member.status === "alive" ? member.stable_since_ms : nowMs;
    return { ...member, status, stable_since_ms: status === "alive" ? nowMs : sinceMs };
  });
  for (const event of events) {
    if (!members.some((member) => member.id === event.node)) {
      members.push({ id: event.node, status: event.status, phi: 0.5, stable_since_ms: nowMs });
    }
  }
  return members;
}

function nextRaft(
  previous: PolicyInputs,
  voters: readonly NodeId[],
  members: readonly MemberView[],
  decision: Decision,
): PolicyInputs["raft"] {
  const alive = new Set(
    members.filter((member) => member.status === "alive").map((member) => member.id as string),
  );
  const aliveVoters = voters.filter((id) => alive.has(id));
  const majority = 2 * aliveVoters.length > voters.length;
  const current = previous.raft.leader;
  const leader = !majority
    ? null
    : current !== null && aliveVoters.includes(current)
      ? current
      : aliveVoters[0]!;
  return {
    leader,
    quorum_visible: majority,
    voters: [...voters],
    learners: decision.standbys
      .filter((id) => !voters.includes(id))
      .map((id) => ({ id, caught_up: previous.raft.learners.some((learner) => learner.id === id) })),
  };
}

/** A node joins: it enters the committed state as given and gossip reports it alive from now. */
export function joinNode(inputs: PolicyInputs, node: NodeState): PolicyInputs {
  const nodes: Record<string, NodeState> = { ...inputs.state.nodes, [node.id]: node };
  const members = inputs.membership.members.filter((member) => member.id !== node.id);
  members.push({ id: node.id, status: "alive", phi: 0.5, stable_since_ms: inputs.now_ms });
  const next: PolicyInputs = {
    ...inputs,
    state: { ...inputs.state, nodes: nodes as PolicyInputs["state"]["nodes"] },
    membership: { members },
  };
  assert(next.state.nodes[node.id] !== undefined, "the joiner is in the state");
  return next;
}
