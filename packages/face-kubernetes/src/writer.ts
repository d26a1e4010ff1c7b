import {
  defaultKubernetesRelease,
  type FaceFile,
  type KubernetesRelease,
  type RenderContext,
  type RenderScope,
  type WriteResult,
} from "@revoada/fabric-core/face";
import { assert, type FabricState, type NodeId, workloadKey } from "@revoada/fabric-core/vocabulary";
import { droppedFields, modelState } from "./model.js";
import { compareText, nodeFolderNames } from "./names.js";
import { renderNodePatch } from "./node-patch.js";
import { componentOfRole, renderStaticPod, staticPodRoles } from "./static-pods.js";
import { renderConfigMap, renderDeployment, renderService } from "./workload-objects.js";
import { encodeDocuments } from "./yaml-documents.js";

/**
 * The Kubernetes writer. Layout (the same paths in both scopes; a node's view is a subset):
 * - `cluster/nodes/<node>.patch.yaml`: the Node role patch, applied API-side;
 * - `nodes/<node>/manifests/<component>.yaml`: static pods for the kubelet's manifest dir;
 * - `workloads/<namespace>/<name>.yaml`: Deployment, then Service, then ConfigMap.
 * A node's view holds its own patch and static pods and the workloads placed on it.
 */

export function nodePatchPath(folder: string): string {
  return `cluster/nodes/${folder}.patch.yaml`;
}

export function staticPodPath(folder: string, component: string): string {
  return `nodes/${folder}/manifests/${component}.yaml`;
}

export function workloadPath(namespace: string, name: string): string {
  return `workloads/${namespace}/${name}.yaml`;
}

function nodeFiles(
  state: FabricState,
  id: NodeId,
  folder: string,
  release: KubernetesRelease,
  context: RenderContext,
): FaceFile[] {
  const node = state.nodes[id]!;
  const files = [{ path: nodePatchPath(folder), content: encodeDocuments([renderNodePatch(node)]) }];
  for (const role of staticPodRoles(node)) {
    files.push({
      path: staticPodPath(folder, componentOfRole[role]),
      content: encodeDocuments([renderStaticPod(state, node, role, release, context)]),
    });
  }
  return files;
}

function workloadFile(state: FabricState, key: string): FaceFile {
  const workload = state.workloads[key]!;
  const objects = [
    renderDeployment(workload, state.placements[key]),
    renderService(workload),
    renderConfigMap(workload),
  ].filter((object) => object !== undefined);
  return { path: workloadPath(workload.namespace, workload.name), content: encodeDocuments(objects) };
}

/**
 * The files of a state already modelled (`modelState`), unsorted: what the writer writes and
 * what the reader compares its input with (it does not need the loss list or the order).
 */
export function renderKubernetesFiles(
  state: FabricState,
  scope: RenderScope,
  release: KubernetesRelease = defaultKubernetesRelease,
  context: RenderContext = {},
): FaceFile[] {
  const folders = nodeFolderNames(state);
  const files: FaceFile[] = [];
  for (const [id, folder] of folders) {
    if (scope.kind === "cluster" || scope.node === id)
      files.push(...nodeFiles(state, id as NodeId, folder, release, context));
  }
  for (const key of Object.keys(state.workloads)) {
    assert(key === workloadKey(state.workloads[key]!), "the model keys workloads by namespace/name");
    const placed = scope.kind === "cluster" || (state.placements[key] ?? []).includes(scope.node);
    if (placed) files.push(workloadFile(state, key));
  }
  return files;
}

/** The files of `input` for Kubernetes `release` (images, etcd flags and probes; default 1.34). */
export function writeKubernetes(
  input: FabricState,
  scope: RenderScope,
  release: KubernetesRelease = defaultKubernetesRelease,
  context: RenderContext = {},
): WriteResult {
  const files = renderKubernetesFiles(modelState(input), scope, release, context);
  files.sort((a, b) => compareText(a.path, b.path));
  return { files, dropped: droppedFields(input) };
}
