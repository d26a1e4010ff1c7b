import { type ControlPlaneRole, type FabricState, type NodeState, shortNodeId } from "../vocabulary/index.js";
import type { CommittedEtcdMember, RenderContext } from "./contract.js";
import { defaultKubernetesRelease, type KubernetesRelease } from "./kubernetes-releases.js";
import { compareText } from "./layout.js";

/**
 * The control-plane components every face runs, in one place: versions, images, and the
 * complete command line of each component (kubeadm's static pod flags, from
 * `cmd/kubeadm/app/phases/controlplane/manifests.go` and `.../phases/etcd/local.go`), derived
 * from the state alone. face-kubernetes puts them in static pods, face-systemd in `ExecStart=`,
 * face-baremetal in Quadlet `Exec=`, so the three start the same control plane.
 *
 * etcd addresses: a node's `etcd_peer`/`etcd_client` addresses when it has them, else its
 * advertised host on 2380/2379.
 *
 * etcd membership: every etcd member lists every etcd member in `--initial-cluster`. The
 * founding member (the first etcd member by name, then id, as `kubeadm init` founds with one
 * member) starts with `--initial-cluster-state=new`; every other member joins an existing
 * cluster (`existing`, after `etcdctl member add`, as `kubeadm join --control-plane` does).
 * etcd reads these flags only on a member's first start (an existing data dir wins).
 */

/** The default release's image tags (`kubernetes-releases.ts` has every supported minor). */
export const controlPlaneVersions = {
  kubernetes: defaultKubernetesRelease.kubernetes,
  etcd: defaultKubernetesRelease.etcd,
} as const;

/** What a face renders the control plane for, beyond the state. */
export interface ControlPlaneOptions {
  /** The Kubernetes release (images, etcd flags): default `defaultKubernetesRelease`. */
  readonly release?: KubernetesRelease;
  /**
   * The etcd members the fabric machine committed (`etcd-member` records), when it manages
   * etcd: then they, not the founding rule, decide each member's `--initial-cluster` and
   * `--initial-cluster-state` (`etcdMembership`).
   */
  readonly etcdMembers?: readonly CommittedEtcdMember[];
  /**
   * The node keeps the cluster CA's etcd revocation list at `etcdRevocationListFile`: etcd
   * then runs with `--client-crl-file` and `--peer-crl-file` on it (`RenderContext`).
   */
  readonly etcdRevocationList?: boolean;
}

/** A face's render context as control-plane options, in `release` when one is given. */
export function controlPlaneOptionsOf(
  context: RenderContext,
  release?: KubernetesRelease,
): ControlPlaneOptions {
  return {
    ...(release === undefined ? {} : { release }),
    ...(context.etcdMembers === undefined ? {} : { etcdMembers: context.etcdMembers }),
    ...(context.etcdRevocationList === true ? { etcdRevocationList: true } : {}),
  };
}

export const controlPlaneImageRegistry = "registry.k8s.io";
export const kubernetesPkiDirectory = "/etc/kubernetes/pki";
export const etcdDataDirectory = "/var/lib/etcd";
/** Where kubeadm keeps etcd's certificates (mounted into etcd's static pod and container). */
export const etcdCertificateDirectory = `${kubernetesPkiDirectory}/etcd`;

/**
 * The cluster CA's list of revoked etcd certificates in a directory of etcd's TLS files:
 * the one name every writer and every rendered etcd uses (the node's `process` runtime keeps
 * it in `<data>/pki/`, the static pod, unit and Quadlet read it in `etcdCertificateDirectory`).
 */
export function etcdRevocationListPath(directory: string): string {
  return `${directory.replace(/\/+$/, "")}/etcd-revoked.crl`;
}

/** The revocation list the rendered etcd reads, beside kubeadm's etcd certificates. */
export const etcdRevocationListFile = etcdRevocationListPath(etcdCertificateDirectory);
export const etcdClientPort = 2379;
export const etcdPeerPort = 2380;
export const apiServerPort = 6443;

/** The component (program and image) that plays each control-plane role. */
export const componentOfRole: Readonly<Record<ControlPlaneRole, string>> = {
  "api-server": "kube-apiserver",
  etcd: "etcd",
  scheduler: "kube-scheduler",
  "controller-manager": "kube-controller-manager",
};

export interface HostPathMount {
  readonly name: string;
  readonly path: string;
  readonly type: "DirectoryOrCreate" | "FileOrCreate";
  readonly readOnly: boolean;
}

export interface ControlPlaneComponent {
  readonly role: ControlPlaneRole;
  /** The program and image name: `etcd`, `kube-apiserver`, ... */
  readonly name: string;
  readonly image: string;
  /** The full command line: the program name, then its flags in sorted order. */
  readonly command: readonly string[];
  /** Host paths the component reads or writes (kubeconfigs, certificates, data). */
  readonly mounts: readonly HostPathMount[];
}

export type EtcdClusterState = "new" | "existing";

const memberNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The host a node advertises: its API address's host, else any address's, else loopback. */
export function advertiseHost(node: NodeState): string {
  const address =
    node.addresses.api ?? node.addresses.raft ?? node.addresses.gossip ?? node.addresses.content;
  if (address === undefined) return "127.0.0.1";
  return address.slice(0, address.lastIndexOf(":"));
}

function portOf(address: string): string {
  return address.slice(address.lastIndexOf(":") + 1);
}

/** The host without IPv6 brackets, for flags that take a bare IP. */
export function bareHost(host: string): string {
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

/** A node's etcd member name: its name when that is safe in `--initial-cluster`, else `node-<short id>`. */
export function etcdMemberName(node: NodeState): string {
  return memberNamePattern.test(node.name) ? node.name : `node-${shortNodeId(node.id)}`;
}

/** The nodes holding the etcd role, by name then id: the founding member first. */
export function etcdMembers(state: FabricState): NodeState[] {
  return Object.values(state.nodes)
    .filter((node) => node.roles.includes("etcd"))
    .sort((a, b) => compareText(etcdMemberName(a), etcdMemberName(b)) || compareText(a.id, b.id));
}

/** `new` for the founding member, `existing` for every member that joins it. */
export function etcdClusterState(
  state: FabricState,
  node: NodeState,
  committed?: readonly CommittedEtcdMember[],
): EtcdClusterState {
  return etcdMembership(state, node, committed).clusterState;
}

function byMemberName(a: NodeState, b: NodeState): number {
  return compareText(etcdMemberName(a), etcdMemberName(b)) || compareText(a.id, b.id);
}

/**
 * What `node`'s etcd member starts with: the members of `--initial-cluster` (by name) and
 * `--initial-cluster-state`.
 *
 * - With committed members (the fabric machine's `etcd-member` records, the nodes the state
 *   knows): a recorded member starts with the recorded members, `existing` unless it is the only
 *   one (the founder, `new`); a node not yet recorded is the one being added, so it joins them
 *   (`existing`, the recorded members and itself), as `etcdctl member add` prints its
 *   `ETCD_INITIAL_CLUSTER` and `kubeadm join --control-plane` writes it.
 * - Without (nothing recorded, or a caller that has no records): the founding rule, from the
 *   state alone: every etcd holder, the first by name `new`, every other `existing`.
 */
export function etcdMembership(
  state: FabricState,
  node: NodeState,
  committed?: readonly CommittedEtcdMember[],
): { readonly cluster: readonly NodeState[]; readonly clusterState: EtcdClusterState } {
  const recorded = (committed ?? [])
    .map((member) => state.nodes[member.node])
    .filter((member): member is NodeState => member !== undefined)
    .sort(byMemberName);
  if (recorded.length === 0) {
    const members = etcdMembers(state);
    const cluster = members.some((member) => member.id === node.id) ? members : [...members, node];
    return { cluster, clusterState: members[0]?.id === node.id ? "new" : "existing" };
  }
  if (recorded.some((member) => member.id === node.id))
    return { cluster: recorded, clusterState: recorded.length === 1 ? "new" : "existing" };
  return { cluster: [...recorded, node].sort(byMemberName), clusterState: "existing" };
}

/** Where a node's etcd member talks to its peers: its `etcd_peer` address, else its host on 2380. */
export function etcdPeerAddress(node: NodeState): string {
  return node.addresses.etcd_peer ?? `${advertiseHost(node)}:${etcdPeerPort}`;
}

/** Where a node's etcd member serves clients: its `etcd_client` address, else its host on 2379. */
export function etcdClientAddress(node: NodeState): string {
  return node.addresses.etcd_client ?? `${advertiseHost(node)}:${etcdClientPort}`;
}

function peerUrl(node: NodeState): string {
  return `https://${etcdPeerAddress(node)}`;
}

function mount(name: string, path: string, type: HostPathMount["type"], readOnly = true): HostPathMount {
  return { name, path, type, readOnly };
}

const pki = kubernetesPkiDirectory;

/** Flags in kubeadm's order: by name (`--initial-cluster` before `--initial-cluster-state`). */
function byFlagName(a: string, b: string): number {
  return compareText(a.split("=", 1)[0]!, b.split("=", 1)[0]!);
}

/** The flags whose spelling follows the etcd minor kubeadm runs (see `kubernetes-releases.ts`). */
function etcdVersionedFlags(release: KubernetesRelease): string[] {
  return release.etcdFlags === "3.6"
    ? ["--feature-gates=InitialCorruptCheck=true", "--watch-progress-notify-interval=5s"]
    : ["--experimental-initial-corrupt-check=true", "--experimental-watch-progress-notify-interval=5s"];
}

/**
 * With the node's revocation list, etcd refuses peers and clients whose certificate the list
 * names; without it, no CRL flag: etcd refuses every TLS connection while a named list is
 * missing ("open ...: no such file or directory"), so the flags go only where the file is.
 */
function etcdRevocationFlags(revocationList: boolean): string[] {
  return revocationList
    ? [`--client-crl-file=${etcdRevocationListFile}`, `--peer-crl-file=${etcdRevocationListFile}`]
    : [];
}

function etcdFlags(
  state: FabricState,
  node: NodeState,
  release: KubernetesRelease,
  options: ControlPlaneOptions,
): string[] {
  const client = etcdClientAddress(node);
  const membership = etcdMembership(state, node, options.etcdMembers);
  const cluster = membership.cluster.map((member) => `${etcdMemberName(member)}=${peerUrl(member)}`);
  return [
    `--advertise-client-urls=https://${client}`,
    `--cert-file=${pki}/etcd/server.crt`,
    "--client-cert-auth=true",
    ...etcdRevocationFlags(options.etcdRevocationList === true),
    `--data-dir=${etcdDataDirectory}`,
    ...etcdVersionedFlags(release),
    `--initial-advertise-peer-urls=${peerUrl(node)}`,
    `--initial-cluster=${cluster.join(",")}`,
    `--initial-cluster-state=${membership.clusterState}`,
    `--key-file=${pki}/etcd/server.key`,
    `--listen-client-urls=https://127.0.0.1:${portOf(client)},https://${client}`,
    "--listen-metrics-urls=http://127.0.0.1:2381",
    `--listen-peer-urls=${peerUrl(node)}`,
    `--name=${etcdMemberName(node)}`,
    `--peer-cert-file=${pki}/etcd/peer.crt`,
    "--peer-client-cert-auth=true",
    `--peer-key-file=${pki}/etcd/peer.key`,
    `--peer-trusted-ca-file=${pki}/etcd/ca.crt`,
    "--snapshot-count=10000",
    `--trusted-ca-file=${pki}/etcd/ca.crt`,
  ].sort(byFlagName);
}

function apiServerFlags(state: FabricState, node: NodeState): string[] {
  const etcdServers = etcdMembers(state).map((peer) => `https://${etcdClientAddress(peer)}`);
  return [
    `--advertise-address=${bareHost(advertiseHost(node))}`,
    "--allow-privileged=true",
    "--authorization-mode=Node,RBAC",
    `--client-ca-file=${pki}/ca.crt`,
    "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true",
    `--etcd-cafile=${pki}/etcd/ca.crt`,
    `--etcd-certfile=${pki}/apiserver-etcd-client.crt`,
    `--etcd-keyfile=${pki}/apiserver-etcd-client.key`,
    `--etcd-servers=${etcdServers.length > 0 ? etcdServers.join(",") : `https://127.0.0.1:${etcdClientPort}`}`,
    `--kubelet-client-certificate=${pki}/apiserver-kubelet-client.crt`,
    `--kubelet-client-key=${pki}/apiserver-kubelet-client.key`,
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    `--proxy-client-cert-file=${pki}/front-proxy-client.crt`,
    `--proxy-client-key-file=${pki}/front-proxy-client.key`,
    "--requestheader-allowed-names=front-proxy-client",
    `--requestheader-client-ca-file=${pki}/front-proxy-ca.crt`,
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-username-headers=X-Remote-User",
    `--secure-port=${apiServerPort}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    "--service-cluster-ip-range=10.96.0.0/12",
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
  ];
}

const controllerManagerConfig = "/etc/kubernetes/controller-manager.conf";
const schedulerConfig = "/etc/kubernetes/scheduler.conf";

function controllerManagerFlags(): string[] {
  return [
    `--authentication-kubeconfig=${controllerManagerConfig}`,
    `--authorization-kubeconfig=${controllerManagerConfig}`,
    "--bind-address=127.0.0.1",
    `--client-ca-file=${pki}/ca.crt`,
    "--cluster-name=kubernetes",
    `--cluster-signing-cert-file=${pki}/ca.crt`,
    `--cluster-signing-key-file=${pki}/ca.key`,
    "--controllers=*,bootstrapsigner,tokencleaner",
    `--kubeconfig=${controllerManagerConfig}`,
    "--leader-elect=true",
    `--requestheader-client-ca-file=${pki}/front-proxy-ca.crt`,
    `--root-ca-file=${pki}/ca.crt`,
    `--service-account-private-key-file=${pki}/sa.key`,
    "--use-service-account-credentials=true",
  ];
}

function schedulerFlags(): string[] {
  return [
    `--authentication-kubeconfig=${schedulerConfig}`,
    `--authorization-kubeconfig=${schedulerConfig}`,
    "--bind-address=127.0.0.1",
    `--kubeconfig=${schedulerConfig}`,
    "--leader-elect=true",
  ];
}

const componentMounts: Readonly<Record<ControlPlaneRole, readonly HostPathMount[]>> = {
  etcd: [
    // The directory, not its files: the node replaces the revocation list by rename, which a
    // bind mount of the file itself would not follow.
    mount("etcd-certs", etcdCertificateDirectory, "DirectoryOrCreate", false),
    mount("etcd-data", etcdDataDirectory, "DirectoryOrCreate", false),
  ],
  "api-server": [
    mount("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
    mount("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate"),
    mount("k8s-certs", pki, "DirectoryOrCreate"),
  ],
  "controller-manager": [
    mount("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
    mount("k8s-certs", pki, "DirectoryOrCreate"),
    mount("kubeconfig", controllerManagerConfig, "FileOrCreate"),
  ],
  scheduler: [mount("kubeconfig", schedulerConfig, "FileOrCreate")],
};

function componentFlags(
  state: FabricState,
  node: NodeState,
  role: ControlPlaneRole,
  options: ControlPlaneOptions,
): string[] {
  const release = options.release ?? defaultKubernetesRelease;
  switch (role) {
    case "etcd":
      return etcdFlags(state, node, release, options);
    case "api-server":
      return apiServerFlags(state, node);
    case "controller-manager":
      return controllerManagerFlags();
    case "scheduler":
      return schedulerFlags();
  }
}

/** The image of a role's component in `release` (default: the default release). */
export function componentImage(role: ControlPlaneRole, release = defaultKubernetesRelease): string {
  const name = componentOfRole[role];
  const version = role === "etcd" ? release.etcd : release.kubernetes;
  return `${controlPlaneImageRegistry}/${name}:${version}`;
}

/** Everything a face needs to start `role` on `node`, derived from the state (and the release). */
export function controlPlaneComponent(
  state: FabricState,
  node: NodeState,
  role: ControlPlaneRole,
  options: ControlPlaneOptions = {},
): ControlPlaneComponent {
  const name = componentOfRole[role];
  const release = options.release ?? defaultKubernetesRelease;
  return {
    role,
    name,
    image: componentImage(role, release),
    command: [name, ...componentFlags(state, node, role, options)],
    mounts: componentMounts[role],
  };
}
