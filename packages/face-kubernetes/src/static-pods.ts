import {
  type ControlPlaneRole,
  controlPlaneRoles,
  type FabricState,
  type NodeState,
} from "@revoada/fabric-core/vocabulary";
import { annotationKeys, compareText, kubernetesNodeName, labelKeys } from "./names.js";
import type { Container, Probe, StaticPod, Volume } from "./schemas.js";

/**
 * kubeadm-shaped static pods (`cmd/kubeadm/app/phases/controlplane` and `.../etcd`): one per
 * control-plane role a node holds, written for the kubelet's `/etc/kubernetes/manifests`.
 * They are derived entirely from the state (the roles, and the addresses of the etcd peers),
 * so the reader re-renders them to check them rather than reading anything out of them.
 */

export const kubernetesVersion = "v1.34.1";
export const etcdVersion = "3.6.4-0";
const registry = "registry.k8s.io";
const pki = "/etc/kubernetes/pki";

export const componentOfRole: Readonly<Record<ControlPlaneRole, string>> = {
  "api-server": "kube-apiserver",
  etcd: "etcd",
  scheduler: "kube-scheduler",
  "controller-manager": "kube-controller-manager",
};

/** The host revoada advertises for a node: its API address's host, else any address's. */
export function advertiseHost(node: NodeState): string {
  const address =
    node.addresses.api ?? node.addresses.raft ?? node.addresses.gossip ?? node.addresses.content;
  if (address === undefined) return "127.0.0.1";
  return address.slice(0, address.lastIndexOf(":"));
}

/** The host without IPv6 brackets, for flags that take a bare IP. */
function bareHost(host: string): string {
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

function httpProbe(host: string, path: string, port: number, scheme: "HTTP" | "HTTPS", extra = {}): Probe {
  return {
    httpGet: { host, path, port, scheme },
    initialDelaySeconds: 10,
    periodSeconds: 10,
    timeoutSeconds: 15,
    failureThreshold: 8,
    ...extra,
  };
}

function hostPath(name: string, path: string, type: "DirectoryOrCreate" | "FileOrCreate"): Volume {
  return { name, hostPath: { path, type } };
}

interface ComponentShape {
  readonly command: string[];
  readonly cpu: string;
  readonly memory?: string;
  readonly probes: Pick<Container, "livenessProbe" | "readinessProbe" | "startupProbe">;
  readonly volumes: Volume[];
  readonly mounts: Record<string, string>;
  readonly annotations: Record<string, string>;
}

function etcdPeers(state: FabricState): NodeState[] {
  return Object.values(state.nodes)
    .filter((node) => node.roles.includes("etcd"))
    .sort((a, b) => compareText(kubernetesNodeName(a), kubernetesNodeName(b)) || compareText(a.id, b.id));
}

function apiServer(state: FabricState, node: NodeState): ComponentShape {
  const host = advertiseHost(node);
  const etcdServers = etcdPeers(state).map((peer) => `https://${advertiseHost(peer)}:2379`);
  return {
    command: [
      "kube-apiserver",
      `--advertise-address=${bareHost(host)}`,
      "--allow-privileged=true",
      "--authorization-mode=Node,RBAC",
      `--client-ca-file=${pki}/ca.crt`,
      "--enable-admission-plugins=NodeRestriction",
      "--enable-bootstrap-token-auth=true",
      `--etcd-cafile=${pki}/etcd/ca.crt`,
      `--etcd-certfile=${pki}/apiserver-etcd-client.crt`,
      `--etcd-keyfile=${pki}/apiserver-etcd-client.key`,
      `--etcd-servers=${etcdServers.length > 0 ? etcdServers.join(",") : "https://127.0.0.1:2379"}`,
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
      "--secure-port=6443",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      "--service-cluster-ip-range=10.96.0.0/12",
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
    ],
    cpu: "250m",
    probes: {
      livenessProbe: httpProbe(bareHost(host), "/livez", 6443, "HTTPS"),
      readinessProbe: httpProbe(bareHost(host), "/readyz", 6443, "HTTPS", {
        periodSeconds: 1,
        failureThreshold: 3,
      }),
      startupProbe: httpProbe(bareHost(host), "/livez", 6443, "HTTPS", { failureThreshold: 24 }),
    },
    volumes: [
      hostPath("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
      hostPath("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate"),
      hostPath("k8s-certs", pki, "DirectoryOrCreate"),
    ],
    mounts: { "ca-certs": "/etc/ssl/certs", "etc-ca-certificates": "/etc/ca-certificates", "k8s-certs": pki },
    annotations: { [annotationKeys.apiServerEndpoint]: `${host}:6443` },
  };
}

function etcd(state: FabricState, node: NodeState): ComponentShape {
  const host = advertiseHost(node);
  const name = kubernetesNodeName(node);
  const cluster = etcdPeers(state).map(
    (peer) => `${kubernetesNodeName(peer)}=https://${advertiseHost(peer)}:2380`,
  );
  return {
    command: [
      "etcd",
      `--advertise-client-urls=https://${host}:2379`,
      `--cert-file=${pki}/etcd/server.crt`,
      "--client-cert-auth=true",
      "--data-dir=/var/lib/etcd",
      "--feature-gates=InitialCorruptCheck=true",
      `--initial-advertise-peer-urls=https://${host}:2380`,
      `--initial-cluster=${cluster.join(",")}`,
      `--key-file=${pki}/etcd/server.key`,
      `--listen-client-urls=https://127.0.0.1:2379,https://${host}:2379`,
      "--listen-metrics-urls=http://127.0.0.1:2381",
      `--listen-peer-urls=https://${host}:2380`,
      `--name=${name}`,
      `--peer-cert-file=${pki}/etcd/peer.crt`,
      "--peer-client-cert-auth=true",
      `--peer-key-file=${pki}/etcd/peer.key`,
      `--peer-trusted-ca-file=${pki}/etcd/ca.crt`,
      "--snapshot-count=10000",
      `--trusted-ca-file=${pki}/etcd/ca.crt`,
    ],
    cpu: "100m",
    memory: "100Mi",
    probes: {
      livenessProbe: httpProbe("127.0.0.1", "/livez", 2381, "HTTP"),
      readinessProbe: httpProbe("127.0.0.1", "/readyz", 2381, "HTTP", { periodSeconds: 1 }),
      startupProbe: httpProbe("127.0.0.1", "/readyz", 2381, "HTTP", { failureThreshold: 24 }),
    },
    volumes: [
      hostPath("etcd-certs", `${pki}/etcd`, "DirectoryOrCreate"),
      hostPath("etcd-data", "/var/lib/etcd", "DirectoryOrCreate"),
    ],
    mounts: { "etcd-certs": `${pki}/etcd`, "etcd-data": "/var/lib/etcd" },
    annotations: { [annotationKeys.etcdClientUrls]: `https://${host}:2379` },
  };
}

function controllerManager(): ComponentShape {
  const kubeconfig = "/etc/kubernetes/controller-manager.conf";
  return {
    command: [
      "kube-controller-manager",
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--client-ca-file=${pki}/ca.crt`,
      "--cluster-name=kubernetes",
      `--cluster-signing-cert-file=${pki}/ca.crt`,
      `--cluster-signing-key-file=${pki}/ca.key`,
      "--controllers=*,bootstrapsigner,tokencleaner",
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=true",
      `--requestheader-client-ca-file=${pki}/front-proxy-ca.crt`,
      `--root-ca-file=${pki}/ca.crt`,
      `--service-account-private-key-file=${pki}/sa.key`,
      "--use-service-account-credentials=true",
    ],
    cpu: "200m",
    probes: {
      livenessProbe: httpProbe("127.0.0.1", "/healthz", 10257, "HTTPS"),
      startupProbe: httpProbe("127.0.0.1", "/healthz", 10257, "HTTPS", { failureThreshold: 24 }),
    },
    volumes: [
      hostPath("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
      hostPath("k8s-certs", pki, "DirectoryOrCreate"),
      hostPath("kubeconfig", kubeconfig, "FileOrCreate"),
    ],
    mounts: { "ca-certs": "/etc/ssl/certs", "k8s-certs": pki, kubeconfig },
    annotations: {},
  };
}

function scheduler(): ComponentShape {
  const kubeconfig = "/etc/kubernetes/scheduler.conf";
  return {
    command: [
      "kube-scheduler",
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=true",
    ],
    cpu: "100m",
    probes: {
      livenessProbe: httpProbe("127.0.0.1", "/healthz", 10259, "HTTPS"),
      startupProbe: httpProbe("127.0.0.1", "/healthz", 10259, "HTTPS", { failureThreshold: 24 }),
    },
    volumes: [hostPath("kubeconfig", kubeconfig, "FileOrCreate")],
    mounts: { kubeconfig },
    annotations: {},
  };
}

function componentShape(state: FabricState, node: NodeState, role: ControlPlaneRole): ComponentShape {
  switch (role) {
    case "api-server":
      return apiServer(state, node);
    case "etcd":
      return etcd(state, node);
    case "scheduler":
      return scheduler();
    case "controller-manager":
      return controllerManager();
  }
}

export function renderStaticPod(state: FabricState, node: NodeState, role: ControlPlaneRole): StaticPod {
  const component = componentOfRole[role];
  const shape = componentShape(state, node, role);
  const image =
    role === "etcd" ? `${registry}/etcd:${etcdVersion}` : `${registry}/${component}:${kubernetesVersion}`;
  const requests: Record<string, string> = { cpu: shape.cpu };
  if (shape.memory !== undefined) requests.memory = shape.memory;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: component,
      namespace: "kube-system",
      labels: { [labelKeys.component]: component, [labelKeys.tier]: "control-plane" },
      annotations: { ...shape.annotations, [annotationKeys.nodeId]: node.id },
    },
    spec: {
      containers: [
        {
          name: component,
          image,
          command: shape.command,
          resources: { requests },
          volumeMounts: Object.entries(shape.mounts).map(([name, mountPath]) => ({
            name,
            mountPath,
            readOnly: name !== "etcd-data" && name !== "etcd-certs" ? true : undefined,
          })),
          ...shape.probes,
        },
      ],
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      volumes: shape.volumes,
    },
  };
}

/** The control-plane roles a node holds, in the order their manifests are written. */
export function staticPodRoles(node: NodeState): ControlPlaneRole[] {
  return controlPlaneRoles.filter((role) => node.roles.includes(role));
}
