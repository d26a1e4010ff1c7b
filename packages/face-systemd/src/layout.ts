import { compareText, type DroppedField, nodeDirectories, sortedNodes } from "@revoada/fabric-core/face";

export { compareText, nodeDirectories, sortedNodes };

import type { FabricState, NodeId, Workload } from "@revoada/fabric-core/vocabulary";

/**
 * Where units go, shared by face-systemd and face-baremetal: the cluster render puts each
 * node's units under `nodes/<dir>/` (dir = the node name when it is a safe path segment and
 * unique, otherwise `<name>-<short id>` or `node-<short id>`); a node render puts that
 * node's units at the top. Units are named from fabric keys, which are DNS labels, so no
 * systemd name escaping is needed.
 */

export const nodeTargetName = "revoada-node.target";
export const fabricTargetName = "revoada-fabric.target";
export const nodesDirectory = "nodes";
/**
 * Where user units go under a node's folder (and at the top of a node view): the path
 * `systemctl --user` reads in the home directory, so `revoada render --node N --out ~` installs
 * them; the same files serve every user from `/etc/systemd/user`.
 */
export const userUnitDirectory = ".config/systemd/user/";

/** A replica placed on a node. */
export interface PlacedReplica {
  readonly key: string;
  readonly workload: Workload;
  readonly replica: number;
}

/** Every node's replicas, sorted by workload key then replica index; one pass over placements. */
export function replicasByNode(state: FabricState): Map<NodeId, PlacedReplica[]> {
  const byNode = new Map<NodeId, PlacedReplica[]>();
  const keys = Object.keys(state.placements).sort(compareText);
  for (const key of keys) {
    const workload = state.workloads[key];
    if (workload === undefined) continue;
    state.placements[key]!.forEach((node, replica) => {
      if (state.nodes[node] === undefined) return;
      let list = byNode.get(node);
      if (list === undefined) {
        list = [];
        byNode.set(node, list);
      }
      list.push({ key, workload, replica });
    });
  }
  return byNode;
}

/** `revoada.<namespace>.<name>.<replica>`: the unit (and container) name of a replica. */
export function replicaUnitBase(workload: Workload, replica: number): string {
  return `revoada.${workload.namespace}.${workload.name}.${replica}`;
}

/**
 * The modelled subset of units-on-nodes faces: a workload exists in the files only through
 * the replicas placed on nodes, so workloads without any placed replica, and placements on
 * nodes or of workloads the state does not know, are left out. Nodes and the applied
 * position are kept whole.
 */
export function modelPlacedWorkloads(state: FabricState): FabricState {
  const workloads: Record<string, Workload> = {};
  const placements: Record<string, NodeId[]> = {};
  for (const [key, nodes] of Object.entries(state.placements)) {
    const workload = state.workloads[key];
    if (workload === undefined || nodes.length === 0) continue;
    if (!nodes.every((node) => state.nodes[node] !== undefined)) continue;
    workloads[key] = workload;
    placements[key] = nodes;
  }
  return { nodes: state.nodes, workloads, placements, applied: state.applied };
}

/** What `modelPlacedWorkloads` leaves out, as dropped fields. */
export function droppedUnplaced(state: FabricState): DroppedField[] {
  const dropped: DroppedField[] = [];
  for (const key of Object.keys(state.workloads).sort(compareText)) {
    const nodes = state.placements[key] ?? [];
    if (nodes.length === 0) {
      dropped.push({
        path: ["workloads", key],
        reason: "no replica is placed on a node, so no unit carries it",
      });
      continue;
    }
    if (!nodes.every((node) => state.nodes[node] !== undefined)) {
      dropped.push({ path: ["workloads", key], reason: "placed on a node the state does not know" });
    }
  }
  const kept = modelPlacedWorkloads(state).placements;
  for (const key of Object.keys(state.placements).sort(compareText)) {
    if (state.workloads[key] === undefined) {
      dropped.push({ path: ["placements", key], reason: "placement of a workload the state does not know" });
    } else if (kept[key] === undefined) {
      dropped.push({ path: ["placements", key], reason: "the placement of a workload no unit carries" });
    }
  }
  return dropped;
}
