import {
  advertiseHost,
  bareHost,
  componentOfRole,
  controlPlaneComponent,
  controlPlaneOptionsOf,
  defaultKubernetesRelease,
  etcdClientAddress,
  type HostPathMount,
  type KubernetesRelease,
  type RenderContext,
} from "@revoada/fabric-core/face";
import {
  type ControlPlaneRole,
  controlPlaneRoles,
  type FabricState,
  type NodeState,
} from "@revoada/fabric-core/vocabulary";
import { annotationKeys, labelKeys } from "./names.js";
import type { Container, Probe, StaticPod, Volume } from "./schemas.js";

/**
 * kubeadm-shaped static pods (`cmd/kubeadm/app/phases/controlplane` and `.../etcd`): one per
 * control-plane role a node holds, written for the kubelet's `/etc/kubernetes/manifests`.
 * The image, the command line and the host paths come from `controlPlaneComponent` in
 * `@revoada/fabric-core/face`, which face-systemd and face-baremetal use too; this file adds
 * what only a pod has (probes, requests, volumes). Everything is derived from the state, so
 * the reader re-renders them to check them rather than reading anything out of them.
 */

export { componentOfRole };

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

function volumesOf(mounts: readonly HostPathMount[]): Volume[] {
  return mounts.map((mount) => ({ name: mount.name, hostPath: { path: mount.path, type: mount.type } }));
}

interface ComponentShape {
  readonly cpu: string;
  readonly memory?: string;
  readonly probes: Pick<Container, "livenessProbe" | "readinessProbe" | "startupProbe">;
  readonly annotations: Record<string, string>;
}

function apiServer(node: NodeState): ComponentShape {
  const host = advertiseHost(node);
  return {
    cpu: "250m",
    probes: {
      livenessProbe: httpProbe(bareHost(host), "/livez", 6443, "HTTPS"),
      readinessProbe: httpProbe(bareHost(host), "/readyz", 6443, "HTTPS", {
        periodSeconds: 1,
        failureThreshold: 3,
      }),
      startupProbe: httpProbe(bareHost(host), "/livez", 6443, "HTTPS", { failureThreshold: 24 }),
    },
    annotations: { [annotationKeys.apiServerEndpoint]: `${host}:6443` },
  };
}

/**
 * etcd's probes as kubeadm of `release` writes them: `/livez` and `/readyz` from 1.31 (etcd
 * 3.5.11+), before it `/health` with and without serializable reads and no readiness probe.
 */
function etcdProbes(release: KubernetesRelease): ComponentShape["probes"] {
  if (release.etcdProbes === "health") {
    return {
      livenessProbe: httpProbe("127.0.0.1", "/health?exclude=NOSPACE&serializable=true", 2381, "HTTP"),
      startupProbe: httpProbe("127.0.0.1", "/health?serializable=false", 2381, "HTTP", {
        failureThreshold: 24,
      }),
    };
  }
  return {
    livenessProbe: httpProbe("127.0.0.1", "/livez", 2381, "HTTP"),
    readinessProbe: httpProbe("127.0.0.1", "/readyz", 2381, "HTTP", { periodSeconds: 1 }),
    startupProbe: httpProbe("127.0.0.1", "/readyz", 2381, "HTTP", { failureThreshold: 24 }),
  };
}

function etcd(node: NodeState, release: KubernetesRelease): ComponentShape {
  return {
    cpu: "100m",
    memory: "100Mi",
    probes: etcdProbes(release),
    annotations: { [annotationKeys.etcdClientUrls]: `https://${etcdClientAddress(node)}` },
  };
}

function controllerManager(): ComponentShape {
  return {
    cpu: "200m",
    probes: {
      livenessProbe: httpProbe("127.0.0.1", "/healthz", 10257, "HTTPS"),
      startupProbe: httpProbe("127.0.0.1", "/healthz", 10257, "HTTPS", { failureThreshold: 24 }),
    },
    annotations: {},
  };
}

function scheduler(): ComponentShape {
  return {
    cpu: "100m",
    probes: {
      livenessProbe: httpProbe("127.0.0.1", "/healthz", 10259, "HTTPS"),
      startupProbe: httpProbe("127.0.0.1", "/healthz", 10259, "HTTPS", { failureThreshold: 24 }),
    },
    annotations: {},
  };
}

function componentShape(node: NodeState, role: ControlPlaneRole, release: KubernetesRelease): ComponentShape {
  switch (role) {
    case "api-server":
      return apiServer(node);
    case "etcd":
      return etcd(node, release);
    case "scheduler":
      return scheduler();
    case "controller-manager":
      return controllerManager();
  }
}

export function renderStaticPod(
  state: FabricState,
  node: NodeState,
  role: ControlPlaneRole,
  release: KubernetesRelease = defaultKubernetesRelease,
  context: RenderContext = {},
): StaticPod {
  const component = controlPlaneComponent(state, node, role, controlPlaneOptionsOf(context, release));
  const shape = componentShape(node, role, release);
  const requests: Record<string, string> = { cpu: shape.cpu };
  if (shape.memory !== undefined) requests.memory = shape.memory;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: component.name,
      namespace: "kube-system",
      labels: { [labelKeys.component]: component.name, [labelKeys.tier]: "control-plane" },
      annotations: { ...shape.annotations, [annotationKeys.nodeId]: node.id },
    },
    spec: {
      containers: [
        {
          name: component.name,
          image: component.image,
          command: [...component.command],
          resources: { requests },
          volumeMounts: component.mounts.map((mount) => ({
            name: mount.name,
            mountPath: mount.path,
            readOnly: mount.readOnly ? true : undefined,
          })),
          ...shape.probes,
        },
      ],
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      volumes: volumesOf(component.mounts),
    },
  };
}

/** The control-plane roles a node holds, in the order their manifests are written. */
export function staticPodRoles(node: NodeState): ControlPlaneRole[] {
  return controlPlaneRoles.filter((role) => node.roles.includes(role));
}
