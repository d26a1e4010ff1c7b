import type { FaceFile, RenderContext, RenderScope, WriteResult } from "@revoada/fabric-core/face";
import type { ControlPlaneRole, FabricState, NodeState, Workload } from "@revoada/fabric-core/vocabulary";
import { componentOrder, components } from "./components.js";
import {
  droppedUnplaced,
  fabricTargetName,
  modelPlacedWorkloads,
  nodeDirectories,
  nodesDirectory,
  nodeTargetName,
  type PlacedReplica,
  replicasByNode,
  replicaUnitBase,
  sortedNodes,
} from "./layout.js";
import { fabricTarget, nodeTarget } from "./targets.js";

export interface NodeUnitRenderers {
  /** `.service` or `.container`: the file suffix; the node target always wants `.service` names. */
  readonly suffix: string;
  readonly component: (state: FabricState, node: NodeState, role: ControlPlaneRole) => string;
  readonly replica: (workload: Workload, replica: number) => string;
  /** What the node target is installed into: default `multi-user.target`. */
  readonly wantedBy?: string;
}

/** One node's files: its target first, then control-plane components in start order, then replicas. */
export function renderNodeUnits(
  state: FabricState,
  node: NodeState,
  replicas: readonly PlacedReplica[],
  prefix: string,
  renderers: NodeUnitRenderers,
): FaceFile[] {
  const files: FaceFile[] = [];
  const services: string[] = [];
  for (const role of componentOrder) {
    if (!node.roles.includes(role)) continue;
    const base = components[role].unit.slice(0, -".service".length);
    services.push(`${base}.service`);
    files.push({
      path: `${prefix}${base}${renderers.suffix}`,
      content: renderers.component(state, node, role),
    });
  }
  for (const placed of replicas) {
    const base = replicaUnitBase(placed.workload, placed.replica);
    services.push(`${base}.service`);
    files.push({
      path: `${prefix}${base}${renderers.suffix}`,
      content: renderers.replica(placed.workload, placed.replica),
    });
  }
  return [
    { path: `${prefix}${nodeTargetName}`, content: nodeTarget(node, services, renderers.wantedBy) },
    ...files,
  ];
}

/** Renders one node's files (target first), each path prefixed with `prefix`. */
export type RenderNodeFiles = (
  state: FabricState,
  node: NodeState,
  replicas: readonly PlacedReplica[],
  prefix: string,
  context: RenderContext,
) => FaceFile[];

/**
 * The write half shared by face-systemd and face-baremetal: the modelled state (placed
 * workloads only), `revoada-fabric.target` plus `nodes/<dir>/<unitDirectory>...` for the
 * cluster, or one node's files under `<unitDirectory>` for a node view (`unitDirectory` is
 * empty, or `userUnitDirectory` for user units).
 */
export function writeUnitTree(
  state: FabricState,
  scope: RenderScope,
  renderNode: RenderNodeFiles,
  unitDirectory = "",
  context: RenderContext = {},
): WriteResult {
  const modelled = modelPlacedWorkloads(state);
  const replicas = replicasByNode(modelled);
  const dropped = droppedUnplaced(state);
  if (scope.kind === "node") {
    const node = modelled.nodes[scope.node];
    return {
      files:
        node === undefined
          ? []
          : renderNode(modelled, node, replicas.get(node.id) ?? [], unitDirectory, context),
      dropped,
    };
  }
  const directories = nodeDirectories(modelled);
  const files: FaceFile[] = [{ path: fabricTargetName, content: fabricTarget(modelled) }];
  for (const node of sortedNodes(modelled)) {
    const prefix = `${nodesDirectory}/${directories.get(node.id)}/${unitDirectory}`;
    files.push(...renderNode(modelled, node, replicas.get(node.id) ?? [], prefix, context));
  }
  return { files, dropped };
}
