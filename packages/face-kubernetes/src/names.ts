import type { FabricState, NodeState } from "@revoada/fabric-core/vocabulary";

/**
 * Label, annotation and taint keys the Kubernetes face writes, and the name rules it checks.
 * Well-known keys are kubeadm's (`cmd/kubeadm/app/constants`); everything Kubernetes has no
 * native field for lives under `revoada.io/`.
 */

export const labelKeys = {
  controlPlane: "node-role.kubernetes.io/control-plane",
  worker: "node-role.kubernetes.io/worker",
  excludeFromLoadBalancers: "node.kubernetes.io/exclude-from-external-load-balancers",
  zone: "topology.kubernetes.io/zone",
  hostname: "kubernetes.io/hostname",
  app: "app",
  managedBy: "app.kubernetes.io/managed-by",
  component: "component",
  tier: "tier",
} as const;

export const annotationKeys = {
  nodeId: "revoada.io/node-id",
  nodeName: "revoada.io/node-name",
  roles: "revoada.io/roles",
  rack: "revoada.io/rack",
  zone: "revoada.io/zone",
  addressPrefix: "revoada.io/address.",
  placement: "revoada.io/placement",
  configBlobs: "revoada.io/config-blobs",
  apiServerEndpoint: "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint",
  etcdClientUrls: "kubeadm.kubernetes.io/etcd.advertise-client-urls",
} as const;

export const taintKeys = {
  controlPlane: "node-role.kubernetes.io/control-plane",
  quarantined: "revoada.io/quarantined",
} as const;

export const managerName = "revoada";

/** Label key prefixes the face owns on a Node; state labels with these keys would be ambiguous. */
const reservedLabelPrefixes = ["node-role.kubernetes.io/", "node.kubernetes.io/", "topology.kubernetes.io/"];

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedName = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function isDnsSubdomain(text: string): boolean {
  return text.length > 0 && text.length <= 253 && dnsSubdomain.test(text);
}

/** A label value: empty, or at most 63 alphanumerics with `-_.` inside. */
export function isLabelValue(text: string): boolean {
  return text === "" || (text.length <= 63 && qualifiedName.test(text));
}

/** A label key: `[prefix/]name`, prefix a DNS subdomain, name a 63-character qualified name. */
export function isLabelKey(text: string): boolean {
  const slash = text.indexOf("/");
  const name = slash < 0 ? text : text.slice(slash + 1);
  if (slash >= 0 && !isDnsSubdomain(text.slice(0, slash))) return false;
  return name.length <= 63 && qualifiedName.test(name);
}

/** A state label the Node patch can carry as a real label (valid and not one the face owns). */
export function isNativeNodeLabel(key: string, value: string): boolean {
  if (!isLabelKey(key) || !isLabelValue(value)) return false;
  if (key === "revoada.io" || key.startsWith("revoada.io/")) return false;
  return !reservedLabelPrefixes.some((prefix) => key.startsWith(prefix));
}

/**
 * The Kubernetes Node name for a fabric node: its name when that is a DNS subdomain (the
 * kubelet registers under its hostname), else a sanitized form.
 */
export function kubernetesNodeName(node: NodeState): string {
  if (isDnsSubdomain(node.name)) return node.name;
  const sanitized = node.name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  return sanitized === "" ? `node-${node.id.slice(0, 8)}` : sanitized;
}

/**
 * The folder (and patch file stem) of each node: its Kubernetes name, suffixed with the
 * node id where two nodes would share one. Keyed by NodeId.
 */
export function nodeFolderNames(state: FabricState): Map<string, string> {
  const counts = new Map<string, number>();
  for (const node of Object.values(state.nodes)) {
    const name = kubernetesNodeName(node);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const folders = new Map<string, string>();
  for (const [id, node] of Object.entries(state.nodes)) {
    const name = kubernetesNodeName(node);
    folders.set(id, counts.get(name) === 1 ? name : `${name}-${id}`);
  }
  return folders;
}

/** Code-unit order, so output never depends on the locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
