import { nodeAddressKinds } from "@revoada/fabric-core/face";
import {
  canonicalJson,
  isControlPlaneRole,
  type NodeAddresses,
  NodeRole,
  type NodeState,
} from "@revoada/fabric-core/vocabulary";
import { normalizeRoles } from "./model.js";
import {
  annotationKeys,
  isLabelValue,
  isNativeNodeLabel,
  kubernetesNodeName,
  labelKeys,
  taintKeys,
} from "./names.js";
import { isProblem, type ObjectProblem, problem } from "./problem.js";
import type { NodePatch, Taint } from "./schemas.js";

/**
 * The Node role patch. NodeRestriction forbids a kubelet from setting `node-role.*` labels
 * on itself, so roles reach the API server as a patch of the Node object that revoada (not
 * the kubelet) applies: `kubectl apply --server-side --field-manager=revoada -f <file>`.
 * Only the fields revoada owns appear; a demoted node's next patch simply omits them.
 */

const addressKinds = nodeAddressKinds;
const labelsAnnotation = "revoada.io/labels";

function nodeLabels(node: NodeState, roles: readonly NodeRole[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(node.labels)) {
    if (isNativeNodeLabel(key, value)) labels[key] = value;
  }
  if (roles.some(isControlPlaneRole)) {
    labels[labelKeys.controlPlane] = "";
    labels[labelKeys.excludeFromLoadBalancers] = "";
  }
  if (roles.includes("worker")) labels[labelKeys.worker] = "";
  if (node.zone !== "" && isLabelValue(node.zone)) labels[labelKeys.zone] = node.zone;
  return labels;
}

function nodeAnnotations(node: NodeState, roles: readonly NodeRole[]): Record<string, string> {
  const annotations: Record<string, string> = {
    [annotationKeys.nodeId]: node.id,
    [annotationKeys.roles]: roles.join(","),
  };
  if (kubernetesNodeName(node) !== node.name) annotations[annotationKeys.nodeName] = node.name;
  if (node.rack !== "") annotations[annotationKeys.rack] = node.rack;
  if (node.zone !== "" && !isLabelValue(node.zone)) annotations[annotationKeys.zone] = node.zone;
  for (const kind of addressKinds) {
    const address = node.addresses[kind];
    if (address !== undefined) annotations[`${annotationKeys.addressPrefix}${kind}`] = address;
  }
  const foreign = Object.entries(node.labels).filter(([key, value]) => !isNativeNodeLabel(key, value));
  if (foreign.length > 0) {
    annotations[labelsAnnotation] = canonicalJson(Object.fromEntries(foreign), 0).trimEnd();
  }
  return annotations;
}

export function renderNodePatch(node: NodeState): NodePatch {
  const roles = normalizeRoles(node.roles);
  const taints: Taint[] = [];
  if (roles.some(isControlPlaneRole)) taints.push({ key: taintKeys.controlPlane, effect: "NoSchedule" });
  if (roles.includes("quarantined")) taints.push({ key: taintKeys.quarantined, effect: "NoSchedule" });
  const spec: NonNullable<NodePatch["spec"]> = {};
  if (taints.length > 0) spec.taints = taints;
  if (roles.includes("quarantined")) spec.unschedulable = true;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: kubernetesNodeName(node),
      labels: nodeLabels(node, roles),
      annotations: nodeAnnotations(node, roles),
    },
    ...(taints.length > 0 || spec.unschedulable === true ? { spec } : {}),
  };
}

function readLabels(patch: NodePatch): Record<string, string> | ObjectProblem {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(patch.metadata.labels ?? {})) {
    if (isNativeNodeLabel(key, value)) labels[key] = value;
  }
  const foreignText = patch.metadata.annotations?.[labelsAnnotation];
  if (foreignText === undefined) return labels;
  const foreign = parseStringMap(foreignText);
  if (foreign === undefined) {
    return problem(["metadata", "annotations", labelsAnnotation], "not a JSON object of string labels");
  }
  return { ...labels, ...foreign };
}

function parseStringMap(text: string): Record<string, string> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  if (!entries.every(([, child]) => typeof child === "string")) return undefined;
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * The fabric node a patch describes (not yet schema-checked: the caller validates the whole
 * state and maps issues back to this file), or the first thing that makes it unreadable.
 */
export function readNodePatch(patch: NodePatch): NodeState | ObjectProblem {
  const annotations = patch.metadata.annotations ?? {};
  const id = annotations[annotationKeys.nodeId];
  if (id === undefined) return problem(["metadata", "annotations"], `no ${annotationKeys.nodeId} annotation`);
  const rolesText = annotations[annotationKeys.roles] ?? "";
  const roles = rolesText === "" ? [] : rolesText.split(",");
  const unknownRole = roles.find((role) => !NodeRole.safeParse(role).success);
  if (unknownRole !== undefined) {
    return problem(
      ["metadata", "annotations", annotationKeys.roles],
      `unknown role ${JSON.stringify(unknownRole)}`,
    );
  }
  const labels = readLabels(patch);
  if (isProblem(labels)) return labels;
  const addresses: NodeAddresses = {};
  for (const kind of addressKinds) {
    const address = annotations[`${annotationKeys.addressPrefix}${kind}`];
    if (address !== undefined) addresses[kind] = address;
  }
  return {
    id: id as NodeState["id"],
    name: annotations[annotationKeys.nodeName] ?? patch.metadata.name,
    addresses,
    roles: roles as NodeRole[],
    capacity: { cpu_millis: 0, memory_bytes: 0, storage_bytes: 0, pods: 0 },
    zone: patch.metadata.labels?.[labelKeys.zone] ?? annotations[annotationKeys.zone] ?? "",
    rack: annotations[annotationKeys.rack] ?? "",
    labels,
    version: "",
    generation: 0,
  };
}
