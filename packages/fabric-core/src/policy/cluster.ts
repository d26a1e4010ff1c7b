import {
  assert,
  type ControlPlaneRole,
  controlPlaneRoles,
  isControlPlaneRole,
  type NodeId,
  type NodeState,
  type PlacementPolicy,
} from "../vocabulary/index.js";
import type { PolicyConfig } from "./config.js";
import type { MemberStatus, MemberView, PolicyInputs } from "./inputs.js";

/**
 * The per-node facts a round reasons about, joined once from the committed state, the
 * membership view, the Raft view and the history. Everything after this is lookups.
 */
export interface NodeFacts {
  readonly id: NodeId;
  readonly state: NodeState;
  /** "unknown": in the committed state but absent from the membership view (treated as dead). */
  readonly status: MemberStatus | "unknown";
  readonly phi: number;
  /** How long the node has been alive without interruption (0 unless alive). */
  readonly stableForMs: number;
  readonly latencyP99Ms: number | null;
  readonly controlPlaneRoles: ReadonlySet<ControlPlaneRole>;
  readonly isWorker: boolean;
  readonly isQuarantined: boolean;
  readonly isVoter: boolean;
  readonly isCaughtUpLearner: boolean;
  readonly isLearner: boolean;
  /** The last committed role shift, or null when none is in the history. */
  readonly lastShiftMs: number | null;
  readonly flapCount: number;
  /** Repeated flaps within the flap window and not yet stable for the restore window. */
  readonly isFlapping: boolean;
  /**
   * Counts toward the target shape: not left, not quarantined, not flapping, and not dead for
   * longer than the dead grace period (a dead member keeps its seat until replaced).
   */
  readonly isCounted: boolean;
  /** Alive or suspect, and not flapping: it still counts as a member of the shape. */
  readonly isHealthy: boolean;
  /** Alive for at least the stabilization period: it may be promoted. */
  readonly isStable: boolean;
  /** The damper allows a shift now. */
  readonly isShiftAllowed: boolean;
}

export interface Usage {
  cpuMillis: number;
  memoryBytes: number;
  pods: number;
}

export interface Cluster {
  readonly inputs: PolicyInputs;
  readonly config: PolicyConfig;
  readonly placementPolicy: PlacementPolicy;
  readonly nowMs: number;
  readonly self: NodeId;
  /** Sorted by id, so every loop over nodes is deterministic. */
  readonly nodes: readonly NodeFacts[];
  readonly byId: ReadonlyMap<string, NodeFacts>;
  /**
   * Resources used by committed placements, per node id; computed on first use, since a
   * steady round (nothing to place, no candidate to score) never needs it. See `usageOf`.
   */
  usage: ReadonlyMap<string, Usage> | null;
}

export function gatherCluster(inputs: PolicyInputs, config: PolicyConfig): Cluster {
  const members = new Map(inputs.membership.members.map((member) => [member.id as string, member]));
  const voters = new Set<string>(inputs.raft.voters);
  const learners = new Map(inputs.raft.learners.map((learner) => [learner.id as string, learner.caught_up]));
  const lastShift = lastShiftByNode(inputs);
  const flaps = flapCountByNode(inputs, config);
  const nodes: NodeFacts[] = [];
  const states: Record<string, NodeState> = inputs.state.nodes;
  for (const id of Object.keys(states).sort()) {
    const state = states[id]!;
    assert(state.id === id, `fabric state node ${id} carries id ${state.id}`);
    // The node running the round is alive by definition, even if its own view omits it.
    const member = members.get(id) ?? (id === inputs.self ? selfMember(state.id) : undefined);
    const status = member?.status ?? "unknown";
    const stableForMs = status === "alive" ? Math.max(0, inputs.now_ms - (member?.stable_since_ms ?? 0)) : 0;
    const flapCount = flaps.get(id) ?? 0;
    const isFlapping = flapCount >= config.flap_threshold && stableForMs < config.restore_window_ms;
    const last = lastShift.get(id) ?? null;
    const isQuarantined = state.roles.includes("quarantined");
    nodes.push({
      id: state.id,
      state,
      status,
      phi: member?.phi ?? 0,
      stableForMs,
      latencyP99Ms: member?.latency_p99_ms ?? null,
      controlPlaneRoles: new Set(state.roles.filter(isControlPlaneRole)),
      isWorker: state.roles.includes("worker"),
      isQuarantined,
      isVoter: voters.has(id),
      isLearner: learners.has(id),
      isCaughtUpLearner: learners.get(id) === true,
      lastShiftMs: last,
      flapCount,
      isFlapping,
      isCounted: isCountedMember(inputs.now_ms, member, config) && !isQuarantined && !isFlapping,
      isHealthy: (status === "alive" || status === "suspect") && !isFlapping,
      isStable: status === "alive" && stableForMs >= config.stabilization_ms && !isFlapping,
      isShiftAllowed: last === null || inputs.now_ms - last >= config.hysteresis_ms,
    });
  }
  const byId = new Map(nodes.map((node) => [node.id as string, node]));
  assert(byId.size === nodes.length, "node ids are unique");
  return {
    inputs,
    config,
    placementPolicy: inputs.strategy.placement,
    nowMs: inputs.now_ms,
    self: inputs.self,
    nodes,
    byId,
    usage: null,
  };
}

function selfMember(id: NodeId): MemberView {
  return { id, status: "alive", phi: 0, stable_since_ms: 0 };
}

function isCountedMember(nowMs: number, member: MemberView | undefined, config: PolicyConfig): boolean {
  if (member === undefined) return false;
  if (member.status === "left") return false;
  if (member.status !== "dead") return true;
  return nowMs - member.stable_since_ms <= config.dead_grace_ms;
}

function lastShiftByNode(inputs: PolicyInputs): Map<string, number> {
  const last = new Map<string, number>();
  for (const shift of inputs.history.recent_shifts) {
    if (shift.at_ms > inputs.now_ms) continue;
    last.set(shift.node, Math.max(last.get(shift.node) ?? 0, shift.at_ms));
  }
  return last;
}

function flapCountByNode(inputs: PolicyInputs, config: PolicyConfig): Map<string, number> {
  const counts = new Map<string, number>();
  const windowStartMs = inputs.now_ms - config.flap_window_ms;
  for (const flap of inputs.history.recent_flaps) {
    if (flap.at_ms <= windowStartMs || flap.at_ms > inputs.now_ms) continue;
    counts.set(flap.node, (counts.get(flap.node) ?? 0) + 1);
  }
  return counts;
}

/** Adds (`sign` 1) or removes (`sign` -1) one replica's resources from a node's usage. */
export function addUsage(
  usage: Map<string, Usage>,
  id: string,
  resources: { readonly cpu_millis: number; readonly memory_bytes: number },
  sign: 1 | -1,
): void {
  let used = usage.get(id);
  if (used === undefined) {
    used = { cpuMillis: 0, memoryBytes: 0, pods: 0 };
    usage.set(id, used);
  }
  used.cpuMillis += sign * resources.cpu_millis;
  used.memoryBytes += sign * resources.memory_bytes;
  used.pods += sign;
  assert(used.pods >= 0, "released more replicas than were placed");
}

/** Resources used by committed placements, per node id (computed once per round). */
export function usageOf(cluster: Cluster): ReadonlyMap<string, Usage> {
  if (cluster.usage === null) cluster.usage = usageByNode(cluster.inputs);
  return cluster.usage;
}

function usageByNode(inputs: PolicyInputs): Map<string, Usage> {
  const usage = new Map<string, Usage>();
  const placements: Record<string, readonly string[]> = inputs.state.placements;
  for (const key in placements) {
    const nodes = placements[key]!;
    const workload = inputs.state.workloads[key];
    if (workload === undefined) continue;
    for (const node of nodes) addUsage(usage, node, workload.resources, 1);
  }
  return usage;
}

/** Free share of cpu and memory after committed placements, in [0, 1]. */
export function freeShareOf(cluster: Cluster, node: NodeFacts): number {
  const state = node.state;
  const used = usageOf(cluster).get(node.id);
  const cpu = shareLeft(state.capacity.cpu_millis, used?.cpuMillis ?? 0);
  const memory = shareLeft(state.capacity.memory_bytes, used?.memoryBytes ?? 0);
  const share = (cpu + memory) / 2;
  assert(share >= 0 && share <= 1, "free share is a fraction");
  return share;
}

function shareLeft(capacity: number, used: number): number {
  if (capacity <= 0) return 0;
  return Math.min(1, Math.max(0, (capacity - used) / capacity));
}

/** Holders of a control-plane role, in id order. */
export function holdersOf(cluster: Cluster, role: ControlPlaneRole): NodeFacts[] {
  return cluster.nodes.filter((node) => node.controlPlaneRoles.has(role));
}

/** Nodes holding at least one control-plane role. */
export function isControlPlaneNode(node: NodeFacts): boolean {
  return node.controlPlaneRoles.size > 0;
}

/** The roles in their canonical order (the order commands list them in). */
export function orderedRoles(roles: Iterable<ControlPlaneRole>): ControlPlaneRole[] {
  const set = new Set(roles);
  return controlPlaneRoles.filter((role) => set.has(role));
}
