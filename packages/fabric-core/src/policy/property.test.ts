// Goal: the policy's safety and liveness claims hold over random histories, not just the
// golden ones. Method: fast-check draws a formation, a placement policy and a sequence of
// joins, failures, recoveries, flaps and partitions; a small world (simulation.ts) runs one
// round after each event, applying the engine's own output. Every round is checked: voter
// removals never cost a majority, no node shifts twice within the hysteresis window, nothing
// quarantined, unstable or flapping is promoted, and the minority side of a partition proposes
// nothing. When the faults stop, the control plane must converge to the target shape and every
// workload's placement must satisfy the policy wherever the cluster can.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Command,
  type Formation,
  homelabStrategy,
  isControlPlaneRole,
  type NodeId,
  type NodeState,
  type PlacementPolicy,
} from "../vocabulary/index.js";
import {
  type Decision,
  decide,
  decideIncremental,
  joinNode,
  type MembershipEvent,
  nextRoundInputs,
  type OperatorRequest,
  type PlacementMemo,
  type PolicyConfigOverrides,
  type PolicyInputs,
  resolvePolicyConfig,
  syntheticInputs,
  syntheticNodeId,
} from "./index.js";

const nodesMax = 9;

type Fault =
  | { readonly kind: "join" }
  | { readonly kind: "fail"; readonly position: number }
  | { readonly kind: "recover"; readonly position: number }
  | { readonly kind: "leave"; readonly position: number }
  | { readonly kind: "hold"; readonly position: number }
  | { readonly kind: "release"; readonly position: number }
  | { readonly kind: "flap"; readonly position: number }
  | { readonly kind: "partition"; readonly positions: readonly number[] }
  | { readonly kind: "heal" }
  | { readonly kind: "wait" };

const position = fc.integer({ min: 1, max: nodesMax });
const fault: fc.Arbitrary<Fault> = fc.oneof(
  { arbitrary: fc.constant({ kind: "join" as const }), weight: 3 },
  { arbitrary: position.map((p) => ({ kind: "fail" as const, position: p })), weight: 2 },
  { arbitrary: position.map((p) => ({ kind: "recover" as const, position: p })), weight: 2 },
  { arbitrary: position.map((p) => ({ kind: "flap" as const, position: p })), weight: 2 },
  { arbitrary: position.map((p) => ({ kind: "leave" as const, position: p })), weight: 1 },
  { arbitrary: position.map((p) => ({ kind: "hold" as const, position: p })), weight: 1 },
  { arbitrary: position.map((p) => ({ kind: "release" as const, position: p })), weight: 1 },
  {
    arbitrary: fc.uniqueArray(position, { minLength: 1, maxLength: 4 }).map((positions) => ({
      kind: "partition" as const,
      positions,
    })),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: "heal" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "wait" as const }), weight: 1 },
);

const formation = fc.constantFrom<Formation>(
  "quorum-3m",
  "cluster-3m-nw",
  "mesh-all-peers",
  "phalanx",
  "solo",
);
const placementPolicy = fc.constantFrom<PlacementPolicy>(
  { kind: "zone-aware", min_zones: 2 },
  { kind: "rack-aware", min_racks: 2 },
  { kind: "spread" },
  { kind: "none" },
);

interface History {
  readonly formation: Formation;
  readonly config: PolicyConfigOverrides;
  readonly placement: PlacementPolicy;
  readonly initial: number;
  readonly faults: readonly { readonly fault: Fault; readonly gapMs: number }[];
}

const config: fc.Arbitrary<PolicyConfigOverrides> = fc.record({
  dead_grace_ms: fc.constantFrom(1500, 5000, 30_000),
  hysteresis_ms: fc.constantFrom(1000, 2000, 4000),
  flap_threshold: fc.integer({ min: 2, max: 3 }),
  min_workers: fc.integer({ min: 0, max: 2 }),
});

const history: fc.Arbitrary<History> = fc.record({
  formation,
  config,
  placement: placementPolicy,
  initial: fc.integer({ min: 1, max: 5 }),
  faults: fc.array(fc.record({ fault, gapMs: fc.integer({ min: 100, max: 4000 }) }), { maxLength: 30 }),
});

/** The world beyond the engine: which nodes have joined, which are down, which are cut off. */
interface World {
  inputs: PolicyInputs;
  template: PolicyInputs;
  joined: number;
  down: Set<number>;
  left: Set<number>;
  cut: Set<number>;
  /** False once the faults stop: the operator lets go of every node it quarantined. */
  holding: boolean;
  /** Operator requests for the next round (an operator quarantine holds the node). */
  requests: OperatorRequest[];
  lastShiftMs: Map<string, number>;
  /** What `decideIncremental` handed on from the last round. */
  memo: PlacementMemo | null;
}

function createWorld(spec: History): World {
  const template = syntheticInputs({
    nowMs: 1000,
    self: "n1",
    formation: spec.formation,
    config: spec.config,
    strategy: { ...homelabStrategy, placement: spec.placement },
    nodes: Array.from({ length: nodesMax }, (_, index) => ({
      name: `n${index + 1}`,
      zone: `zone-${"abc"[index % 3]}`,
      rack: `rack-${index % 2}`,
      roles: index === 0 ? ["api-server", "controller-manager", "etcd", "scheduler", "worker"] : ["worker"],
    })),
    workloads: [
      { name: "web", replicas: 3 },
      { name: "db", replicas: 2, zones: ["zone-a", "zone-b"] },
      { name: "ops", replicas: 1, tolerateControlPlane: true },
    ],
  });
  let inputs: PolicyInputs = {
    ...template,
    state: {
      ...template.state,
      nodes: {
        [syntheticNodeId(1)]: template.state.nodes[syntheticNodeId(1)]!,
      } as PolicyInputs["state"]["nodes"],
    },
    membership: { members: template.membership.members.filter((member) => member.id === syntheticNodeId(1)) },
  };
  for (let joined = 2; joined <= spec.initial; joined += 1)
    inputs = joinNode(inputs, stateOf(template, joined));
  return {
    inputs,
    template,
    joined: spec.initial,
    down: new Set(),
    left: new Set(),
    requests: [],
    holding: true,
    cut: new Set(),
    lastShiftMs: new Map(),
    memo: null,
  };
}

function stateOf(template: PolicyInputs, at: number): NodeState {
  return template.state.nodes[syntheticNodeId(at)]!;
}

/** What gossip at the majority side reports for a node. */
function viewedStatus(world: World, at: number): "alive" | "dead" | "left" {
  if (world.left.has(at)) return "left";
  return world.down.has(at) || world.cut.has(at) ? "dead" : "alive";
}

function applyFault(world: World, fault: Fault): { events: MembershipEvent[]; after: MembershipEvent[] } {
  const before = new Map(Array.from({ length: world.joined }, (_, i) => [i + 1, viewedStatus(world, i + 1)]));
  const after: MembershipEvent[] = [];
  switch (fault.kind) {
    case "join":
      if (world.joined < nodesMax) world.joined += 1;
      break;
    case "fail":
      world.down.add(fault.position);
      break;
    case "recover":
      world.down.delete(fault.position);
      world.left.delete(fault.position);
      break;
    case "leave":
      world.left.add(fault.position);
      break;
    case "flap":
      if (!world.down.has(fault.position) && fault.position <= world.joined) {
        after.push({ node: syntheticNodeId(fault.position), status: "alive" });
        return { events: [{ node: syntheticNodeId(fault.position), status: "dead" }], after };
      }
      break;
    case "partition":
      world.cut = new Set(fault.positions);
      break;
    case "hold":
      world.requests = [
        {
          command: { type: "quarantine", node: syntheticNodeId(fault.position), reason: "operator" },
          force: false,
        },
      ];
      break;
    case "release":
      world.requests = [
        { command: { type: "restore", node: syntheticNodeId(fault.position) }, force: false },
      ];
      break;
    case "heal":
      world.cut = new Set();
      break;
    case "wait":
      break;
  }
  const events: MembershipEvent[] = [];
  for (const [at, status] of before) {
    if (viewedStatus(world, at) !== status)
      events.push({ node: syntheticNodeId(at), status: viewedStatus(world, at) });
  }
  return { events, after };
}

/** One round at `nowMs` after `events`; checks every invariant on the decision it makes. */
function runRound(
  world: World,
  previous: Decision,
  nowMs: number,
  events: readonly MembershipEvent[],
): Decision {
  let inputs = nextRoundInputs(world.inputs, previous, nowMs, events);
  for (const { command } of previous.commands) {
    if (isShift(command)) world.lastShiftMs.set(command.node, world.inputs.now_ms);
  }
  while (Object.keys(inputs.state.nodes).length < world.joined) {
    const next = Object.keys(inputs.state.nodes).length + 1;
    inputs = joinNode(inputs, stateOf(world.template, next));
    const status = viewedStatus(world, next);
    if (status !== "alive") inputs = withStatus(inputs, syntheticNodeId(next), status);
  }
  const requests = world.requests.filter((request) => request.command.node in inputs.state.nodes);
  inputs = withOperator(inputs, previous, requests, world.holding);
  world.requests = [];
  world.inputs = inputs;
  const decision = decide(inputs);
  // The incremental round, fed the memo of the round before, decides exactly the same.
  const incremental = decideIncremental(inputs, world.memo);
  assert.deepEqual(incremental.decision, decision, "decideIncremental decides what decide does");
  world.memo = incremental.memo;
  checkRound(world, inputs, decision);
  checkMinoritySide(world, inputs);
  return decision;
}

/**
 * Hands this round's operator requests to the engine, and keeps the holds the way the daemon
 * would: a committed operator quarantine holds the node, a committed operator restore frees it.
 */
function withOperator(
  inputs: PolicyInputs,
  previous: Decision,
  requests: readonly OperatorRequest[],
  holding: boolean,
): PolicyInputs {
  const holds = new Set<string>(holding ? inputs.history.operator_holds : []);
  for (const { command, origin } of previous.commands) {
    if (origin === "operator" && command.type === "quarantine") holds.add(command.node);
    if (origin === "operator" && command.type === "restore") holds.delete(command.node);
  }
  return {
    ...inputs,
    history: { ...inputs.history, operator_holds: [...holds].sort() as NodeId[] },
    operator_requests: [...requests],
  };
}

type Shift = Extract<Command, { type: "promote" | "demote" | "quarantine" | "restore" }>;

function isShift(command: Command): command is Shift {
  const { type } = command;
  return type === "promote" || type === "demote" || type === "quarantine" || type === "restore";
}

function withStatus(inputs: PolicyInputs, node: NodeId, status: "alive" | "dead" | "left"): PolicyInputs {
  const members = inputs.membership.members.map((member) =>
    member.id === node ? { ...member, status, stable_since_ms: inputs.now_ms } : member,
  );
  return { ...inputs, membership: { members } };
}

function checkRound(world: World, inputs: PolicyInputs, decision: Decision): void {
  const config = resolvePolicyConfig(inputs.strategy, inputs.config);
  const voters = new Set<string>(inputs.raft.voters);
  const members = new Map(inputs.membership.members.map((member) => [member.id as string, member]));
  const aliveVoters = inputs.raft.voters.filter((id) => members.get(id)?.status === "alive").length;
  if (decision.commands.length > 0)
    assert.ok(2 * aliveVoters > voters.size, "only a leader with a majority proposes");
  let removed = 0;
  const shifted = new Set<string>();
  for (const { command, origin, force } of decision.commands) {
    assert.equal(force, false, "nothing in this world forces");
    assert.ok(
      origin === "policy" || inputs.operator_requests.length > 0,
      "operator commands come from requests",
    );
    if (!isShift(command)) continue;
    assert.ok(!shifted.has(command.node), "one shift per node per round");
    shifted.add(command.node);
    const last = world.lastShiftMs.get(command.node);
    assert.ok(
      last === undefined || inputs.now_ms - last >= config.hysteresis_ms,
      "a node shifts at most once per hysteresis window",
    );
    const node = inputs.state.nodes[command.node as NodeId]!;
    const member = members.get(command.node);
    if (command.type === "promote" && command.roles.some(isControlPlaneRole)) {
      assert.ok(!node.roles.includes("quarantined"), "a quarantined node is never promoted");
      assert.equal(member?.status, "alive", "only alive nodes are promoted");
      assert.ok(
        inputs.now_ms - member!.stable_since_ms >= config.stabilization_ms,
        "only stable nodes are promoted",
      );
    }
    const removesVoter =
      (command.type === "demote" && command.roles.includes("etcd")) || command.type === "quarantine";
    if (removesVoter && voters.has(command.node)) removed += 1;
  }
  assert.ok(removed <= Math.floor((voters.size - 1) / 2), "at most (voters - 1) / 2 voters go per round");
  assert.ok(voters.size - removed > voters.size / 2, "the voters left are a majority of the voters before");
}

/** A stale leader on the cut-off side sees the rest as dead and must propose nothing. */
function checkMinoritySide(world: World, inputs: PolicyInputs): void {
  const cutVoters = inputs.raft.voters.filter((id) => world.cut.has(Number.parseInt(id.slice(0, 2), 16)));
  if (cutVoters.length === 0 || 2 * cutVoters.length > inputs.raft.voters.length) return;
  const self = cutVoters[0]!;
  const isolated: PolicyInputs = {
    ...inputs,
    self,
    raft: { ...inputs.raft, leader: self, quorum_visible: false },
    membership: {
      members: inputs.membership.members.map((member) => ({
        ...member,
        status: world.cut.has(Number.parseInt(member.id.slice(0, 2), 16)) ? "alive" : "dead",
      })),
    },
  };
  const decision = decide(isolated);
  assert.deepEqual(decision.commands, [], "the minority side proposes nothing");
  assert.equal(decision.records[0]?.rule, "minority-partition");
}

function checkConverged(inputs: PolicyInputs, decision: Decision): void {
  const roleCommands = decision.commands.filter(({ command }) => command.type !== "placement");
  assert.deepEqual(roleCommands, [], "no role shift once converged");
  const nodes = Object.values(inputs.state.nodes as Record<string, NodeState>);
  assert.ok(
    nodes.every((node) => !node.roles.includes("quarantined")),
    "every quarantined node is restored",
  );
  for (const role of ["etcd", "api-server", "scheduler", "controller-manager"] as const) {
    const holders = nodes.filter((node) => node.roles.includes(role)).length;
    assert.equal(holders, decision.target.roles[role], `${role} holders reach the target`);
  }
  assert.equal(inputs.raft.voters.length % 2, 1, "the converged voter count is odd");
  checkPlacement(inputs, nodes);
}

function checkPlacement(inputs: PolicyInputs, nodes: readonly NodeState[]): void {
  const policy = inputs.strategy.placement;
  for (const [key, workload] of Object.entries(inputs.state.workloads)) {
    const placed = inputs.state.placements[key] ?? [];
    const hosts = nodes.filter((node) => {
      const controlPlane = node.roles.some(isControlPlaneRole);
      if (controlPlane && !workload.placement.tolerate_control_plane) return false;
      return workload.placement.zones.length === 0 || workload.placement.zones.includes(node.zone);
    });
    assert.equal(
      placed.length,
      hosts.length > 0 ? workload.replicas : 0,
      `${key} has every replica that fits`,
    );
    assert.equal(
      new Set(placed).size,
      Math.min(workload.replicas, hosts.length),
      `${key} uses as many distinct nodes as it can`,
    );
    const hostIds = new Set<string>(hosts.map((node) => node.id));
    assert.ok(
      placed.every((id) => hostIds.has(id)),
      `${key} replicas are on fitting nodes`,
    );
    const domain = (node: NodeState) =>
      policy.kind === "rack-aware" ? `${node.zone}/${node.rack}` : node.zone;
    const minimum =
      policy.kind === "zone-aware" ? policy.min_zones : policy.kind === "rack-aware" ? policy.min_racks : 1;
    const available = new Set(hosts.map(domain)).size;
    const spread = new Set(placed.map((id) => domain(inputs.state.nodes[id]!))).size;
    assert.ok(
      spread >= Math.min(minimum, workload.replicas, available),
      `${key} spans the policy's minimum domains`,
    );
  }
}

/** One history: the faults, then a long quiet stretch that must end converged. */
function runHistory(spec: History): void {
  const world = createWorld(spec);
  let decision = decide(world.inputs);
  checkRound(world, world.inputs, decision);
  for (const { fault, gapMs } of spec.faults) {
    const { events, after } = applyFault(world, fault);
    decision = runRound(world, decision, world.inputs.now_ms + gapMs, events);
    if (after.length > 0) decision = runRound(world, decision, world.inputs.now_ms + 200, after);
  }
  const healed = applyFault(world, { kind: "heal" }).events;
  world.down.clear();
  world.left.clear();
  world.holding = false;
  const recovered = Array.from({ length: world.joined }, (_, i) => ({
    node: syntheticNodeId(i + 1),
    status: "alive" as const,
  }));
  decision = runRound(world, decision, world.inputs.now_ms + 500, [...healed, ...recovered]);
  for (let round = 0; round < 120; round += 1) {
    decision = runRound(world, decision, world.inputs.now_ms + 500, []);
  }
  checkConverged(world.inputs, decision);
}

describe("policy properties", () => {
  // POLICY_PROPERTY_CASE='<counterexample JSON>' replays one history; POLICY_PROPERTY_SEED and
  // POLICY_PROPERTY_RUNS replay or widen the search.
  const replay = process.env.POLICY_PROPERTY_CASE;
  it("keeps quorum, damps shifts, promotes only stable nodes, and converges once faults stop", () => {
    if (replay !== undefined) {
      runHistory(JSON.parse(replay) as History);
      return;
    }
    const seed = process.env.POLICY_PROPERTY_SEED;
    fc.assert(fc.property(history, runHistory), {
      numRuns: Number(process.env.POLICY_PROPERTY_RUNS ?? 60),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
    });
  });
});
