import type { DroppedField, LostField } from "@revoada/fabric-core/face";
import type { FabricState, NodeRole, NodeState } from "@revoada/fabric-core/vocabulary";
import { NodeRole as NodeRoleSchema, workloadKey } from "@revoada/fabric-core/vocabulary";

/**
 * What the Kubernetes face carries. Kept: node identity, name, roles, zone, rack, labels and
 * addresses (labels, taints and `revoada.io/*` annotations on the Node patch); workloads
 * (Deployment, Service, ConfigMap) and their placements (an annotation). Dropped: what the
 * kubelet reports about itself (capacity, version), the gossip generation, and the Raft log
 * position, which no Kubernetes object holds.
 */

/** What no Kubernetes object written here carries: read back as absent (`revoada read`). */
export const kubernetesLost: readonly LostField[] = [
  { path: ["nodes", "*", "capacity"], reason: "node capacity is reported by the kubelet" },
  { path: ["nodes", "*", "version"], reason: "the node version is reported by the kubelet" },
  { path: ["nodes", "*", "generation"], reason: "the gossip generation has no Node field" },
  { path: ["applied"], reason: "no Kubernetes object holds the Raft log position" },
];

const zeroCapacity = { cpu_millis: 0, memory_bytes: 0, storage_bytes: 0, pods: 0 };

/** Roles once each, in the enum's order (the order the `revoada.io/roles` annotation lists them). */
export function normalizeRoles(roles: readonly NodeRole[]): NodeRole[] {
  return NodeRoleSchema.options.filter((role) => roles.includes(role));
}

function modelNode(id: string, node: NodeState): NodeState {
  return {
    ...node,
    id: id as NodeState["id"],
    roles: normalizeRoles(node.roles),
    capacity: zeroCapacity,
    version: "",
    generation: 0,
  };
}

export function modelState(state: FabricState): FabricState {
  const nodes: FabricState["nodes"] = {};
  for (const [id, node] of Object.entries(state.nodes)) nodes[id as NodeState["id"]] = modelNode(id, node);
  const workloads: FabricState["workloads"] = {};
  for (const [key, workload] of Object.entries(state.workloads)) {
    if (key === workloadKey(workload)) workloads[key] = workload;
  }
  const placements: FabricState["placements"] = {};
  for (const [key, placed] of Object.entries(state.placements)) {
    if (workloads[key] !== undefined) placements[key] = placed;
  }
  return { nodes, workloads, placements, applied: { term: 0, index: 0 } };
}

/** The structured loss list for `state`: one entry per field `modelState` changed. */
export function droppedFields(state: FabricState): DroppedField[] {
  const dropped: DroppedField[] = [];
  const ids = Object.keys(state.nodes).sort();
  for (const id of ids) {
    const node = state.nodes[id as NodeState["id"]]!;
    const capacity = node.capacity;
    if (capacity.cpu_millis + capacity.memory_bytes + capacity.storage_bytes + capacity.pods > 0) {
      dropped.push({ path: ["nodes", id, "capacity"], reason: "node capacity is reported by the kubelet" });
    }
    if (node.version !== "") {
      dropped.push({ path: ["nodes", id, "version"], reason: "the node version is reported by the kubelet" });
    }
    if (node.generation !== 0) {
      dropped.push({ path: ["nodes", id, "generation"], reason: "the gossip generation has no Node field" });
    }
    if (node.id !== id)
      dropped.push({ path: ["nodes", id, "id"], reason: "a node is written under its key" });
  }
  for (const key of Object.keys(state.workloads).sort()) {
    if (key !== workloadKey(state.workloads[key]!)) {
      dropped.push({ path: ["workloads", key], reason: "the key is not namespace/name" });
    }
  }
  for (const key of Object.keys(state.placements).sort()) {
    const workload = state.workloads[key];
    if (workload === undefined || key !== workloadKey(workload)) {
      dropped.push({ path: ["placements", key], reason: "a placement of no written workload" });
    }
  }
  if (state.applied.term !== 0 || state.applied.index !== 0) {
    dropped.push({ path: ["applied"], reason: "no Kubernetes object holds the Raft log position" });
  }
  return dropped;
}
