import {
  assert,
  type FabricState,
  type FabricStrategy,
  type Formation,
  homelabStrategy,
  type NodeId,
  type NodeRole,
  type NodeState,
  type Workload,
} from "../vocabulary/index.js";
import type { PolicyConfigOverrides } from "./config.js";
import type { MemberStatus, OperatorRequest, PolicyInputs, ShiftRecord } from "./inputs.js";

/**
 * Builds `PolicyInputs` from a compact description: nodes by name, roles and status. Golden
 * scenarios, property tests, the benchmark and the CLI example are all written with it, so
 * every one reads like the situation it describes. Node ids are the node's 1-based position
 * as two hex digits repeated (node 1 is `0101...01`), so short ids stay readable.
 */
export interface SyntheticNode {
  readonly name: string;
  readonly zone?: string;
  readonly rack?: string;
  readonly roles: readonly NodeRole[];
  readonly status?: MemberStatus;
  readonly phi?: number;
  /** When the node entered its status; default 0 (long ago). */
  readonly sinceMs?: number;
  readonly latencyP99Ms?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly cpuMillis?: number;
  readonly pods?: number;
  /** Not in the membership view at all. */
  readonly absent?: boolean;
}

export interface SyntheticWorkload {
  readonly name: string;
  readonly replicas: number;
  readonly zones?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly tolerateControlPlane?: boolean;
  readonly cpuMillis?: number;
  /** Node names of the current placement. */
  readonly placedOn?: readonly string[];
}

export interface SyntheticScenario {
  readonly nowMs: number;
  readonly self: string;
  readonly formation: Formation;
  readonly strategy?: FabricStrategy;
  readonly config?: PolicyConfigOverrides;
  readonly nodes: readonly SyntheticNode[];
  /** Default: the etcd holders. */
  readonly voters?: readonly string[];
  readonly learners?: readonly { readonly name: string; readonly caughtUp: boolean }[];
  /** Default: `self`. */
  readonly leader?: string | null;
  readonly quorumVisible?: boolean;
  readonly shifts?: readonly {
    readonly name: string;
    readonly atMs: number;
    readonly type: ShiftRecord["type"];
  }[];
  readonly flaps?: readonly { readonly name: string; readonly atMs: number }[];
  readonly operatorHolds?: readonly string[];
  readonly workloads?: readonly SyntheticWorkload[];
  readonly requests?: readonly OperatorRequest[];
}

export function syntheticNodeId(position: number): NodeId {
  assert(Number.isSafeInteger(position) && position >= 1, "positions are 1-based");
  assert(position <= 255, "two hex digits name at most 255 nodes; use syntheticWideNodeId");
  return position.toString(16).padStart(2, "0").repeat(32) as NodeId;
}

/** Ids for large synthetic clusters: the position as 64 hex digits. */
export function syntheticWideNodeId(position: number): NodeId {
  assert(Number.isSafeInteger(position) && position >= 1, "positions are 1-based");
  return position.toString(16).padStart(64, "0") as NodeId;
}

export function syntheticInputs(scenario: SyntheticScenario): PolicyInputs {
  const wide = scenario.nodes.length > 255;
  const ids = new Map(
    scenario.nodes.map((node, index) => [
      node.name,
      wide ? syntheticWideNodeId(index + 1) : syntheticNodeId(index + 1),
    ]),
  );
  assert(ids.size === scenario.nodes.length, "node names are unique");
  const idOf = (name: string): NodeId => {
    const id = ids.get(name);
    assert(id !== undefined, `unknown node name ${name}`);
    return id;
  };
  const etcd = scenario.nodes.filter((node) => node.roles.includes("etcd")).map((node) => node.name);
  const leader = scenario.leader === undefined ? scenario.self : scenario.leader;
  return {
    now_ms: scenario.nowMs,
    self: idOf(scenario.self),
    strategy: scenario.strategy ?? homelabStrategy,
    formation: scenario.formation,
    ...(scenario.config === undefined ? {} : { config: scenario.config }),
    state: syntheticState(scenario, idOf),
    membership: {
      members: scenario.nodes
        .filter((node) => node.absent !== true)
        .map((node) => ({
          id: idOf(node.name),
          status: node.status ?? "alive",
          phi: node.phi ?? 0.5,
          stable_since_ms: node.sinceMs ?? 0,
          ...(node.latencyP99Ms === undefined ? {} : { latency_p99_ms: node.latencyP99Ms }),
        })),
    },
    raft: {
      leader: leader === null ? null : idOf(leader),
      quorum_visible: scenario.quorumVisible ?? true,
      voters: (scenario.voters ?? etcd).map(idOf),
      learners: (scenario.learners ?? []).map((learner) => ({
        id: idOf(learner.name),
        caught_up: learner.caughtUp,
      })),
    },
    history: {
      recent_shifts: (scenario.shifts ?? []).map((shift) => ({
        node: idOf(shift.name),
        at_ms: shift.atMs,
        type: shift.type,
      })),
      recent_flaps: (scenario.flaps ?? []).map((flap) => ({ node: idOf(flap.name), at_ms: flap.atMs })),
      operator_holds: (scenario.operatorHolds ?? []).map(idOf),
    },
    operator_requests: [...(scenario.requests ?? [])],
  };
}

function syntheticState(scenario: SyntheticScenario, idOf: (name: string) => NodeId): FabricState {
  const nodes: Record<string, NodeState> = {};
  scenario.nodes.forEach((node, index) => {
    const id = idOf(node.name);
    nodes[id] = syntheticNodeState(id, node, index + 1);
  });
  const workloads: Record<string, Workload> = {};
  const placements: Record<string, NodeId[]> = {};
  for (const spec of scenario.workloads ?? []) {
    const workload = syntheticWorkload(spec);
    workloads[`${workload.namespace}/${workload.name}`] = workload;
    if (spec.placedOn !== undefined)
      placements[`${workload.namespace}/${workload.name}`] = spec.placedOn.map(idOf);
  }
  return { nodes: nodes as FabricState["nodes"], workloads, placements, applied: { term: 1, index: 1 } };
}

function syntheticNodeState(id: NodeId, node: SyntheticNode, position: number): NodeState {
  const octet = (position % 250) + 1;
  return {
    id,
    name: node.name,
    addresses: { gossip: `10.0.${Math.floor(position / 250)}.${octet}:7946` },
    roles: [...node.roles],
    capacity: {
      cpu_millis: node.cpuMillis ?? 8000,
      memory_bytes: 16 * 2 ** 30,
      storage_bytes: 100 * 2 ** 30,
      pods: node.pods ?? 110,
    },
    zone: node.zone ?? "zone-a",
    rack: node.rack ?? "rack-1",
    labels: { ...(node.labels ?? {}) },
    version: "0.1.0",
    generation: 1,
  };
}

export function syntheticWorkload(spec: SyntheticWorkload): Workload {
  return {
    name: spec.name,
    namespace: "default",
    image: `registry.example/${spec.name}:1`,
    command: [],
    args: [],
    env: {},
    ports: [],
    replicas: spec.replicas,
    resources: { cpu_millis: spec.cpuMillis ?? 100, memory_bytes: 128 * 2 ** 20 },
    config_blobs: [],
    placement: {
      zones: [...(spec.zones ?? [])],
      labels: { ...(spec.labels ?? {}) },
      tolerate_control_plane: spec.tolerateControlPlane ?? false,
    },
  };
}
