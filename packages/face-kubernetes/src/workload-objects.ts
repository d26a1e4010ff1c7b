import type { NodeId, Workload, WorkloadPort } from "@revoada/fabric-core/vocabulary";
import { escapeKubernetesExpansion } from "./expansion.js";
import { annotationKeys, labelKeys, managerName, taintKeys } from "./names.js";
import { formatCpu, formatMemory } from "./quantity.js";
import type { ConfigMap, Container, Deployment, PodSpec, Service, Toleration } from "./schemas.js";

/**
 * A workload as Deployment + Service (when it has ports) + ConfigMap (when it references
 * config blobs), shaped like `kubectl create deployment|service|configmap` output.
 *
 * Strings (command, args, env values) are written with every `$` doubled (`expansion.ts`), so
 * the kubelet's `$(VAR)` expansion gives the container exactly the state's strings, the same
 * environment and command line every other face gives it.
 */

export const configBlobsMountPath = "/etc/revoada/config-blobs";
const configBlobsVolume = "revoada-config-blobs";

export function configMapName(workload: { readonly name: string }): string {
  return `${workload.name}-config-blobs`;
}

export const controlPlaneToleration: Toleration = {
  key: taintKeys.controlPlane,
  operator: "Exists",
  effect: "NoSchedule",
};

function container(workload: Workload): Container {
  const requests: Record<string, string> = {};
  if (workload.resources.cpu_millis > 0) requests.cpu = formatCpu(workload.resources.cpu_millis);
  if (workload.resources.memory_bytes > 0) requests.memory = formatMemory(workload.resources.memory_bytes);
  const env = Object.keys(workload.env)
    .sort()
    .map((name) => ({ name, value: escapeKubernetesExpansion(workload.env[name]!) }));
  return {
    name: workload.name,
    image: workload.image,
    command: workload.command.length > 0 ? workload.command.map(escapeKubernetesExpansion) : undefined,
    args: workload.args.length > 0 ? workload.args.map(escapeKubernetesExpansion) : undefined,
    env: env.length > 0 ? env : undefined,
    ports:
      workload.ports.length > 0
        ? workload.ports.map((port) => ({
            containerPort: port.container_port,
            name: port.name,
            protocol: protocolOf(port),
          }))
        : undefined,
    resources: Object.keys(requests).length > 0 ? { requests } : undefined,
    volumeMounts:
      workload.config_blobs.length > 0
        ? [{ name: configBlobsVolume, mountPath: configBlobsMountPath, readOnly: true }]
        : undefined,
  };
}

function protocolOf(port: WorkloadPort): "TCP" | "UDP" {
  return port.protocol === "udp" ? "UDP" : "TCP";
}

function podSpec(workload: Workload, selector: Record<string, string>): PodSpec {
  const placement = workload.placement;
  const spread: NonNullable<PodSpec["topologySpreadConstraints"]> = [];
  if (workload.replicas > 1) {
    spread.push({
      maxSkew: 1,
      topologyKey: labelKeys.hostname,
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: selector },
    });
    if (placement.zones.length > 1) {
      spread.push({
        maxSkew: 1,
        topologyKey: labelKeys.zone,
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: selector },
      });
    }
  }
  return {
    containers: [container(workload)],
    nodeSelector: Object.keys(placement.labels).length > 0 ? placement.labels : undefined,
    affinity:
      placement.zones.length > 0
        ? {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: labelKeys.zone, operator: "In", values: placement.zones }] },
                ],
              },
            },
          }
        : undefined,
    tolerations: placement.tolerate_control_plane ? [controlPlaneToleration] : undefined,
    topologySpreadConstraints: spread.length > 0 ? spread : undefined,
    volumes:
      workload.config_blobs.length > 0
        ? [{ name: configBlobsVolume, configMap: { name: configMapName(workload) } }]
        : undefined,
  };
}

export function renderDeployment(workload: Workload, placement: readonly NodeId[] | undefined): Deployment {
  const selector = { [labelKeys.app]: workload.name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: workload.name,
      namespace: workload.namespace,
      labels: { ...selector, [labelKeys.managedBy]: managerName },
      annotations: placement === undefined ? undefined : { [annotationKeys.placement]: placement.join(",") },
    },
    spec: {
      replicas: workload.replicas,
      selector: { matchLabels: selector },
      template: { metadata: { labels: selector }, spec: podSpec(workload, selector) },
    },
  };
}

export function renderService(workload: Workload): Service | undefined {
  if (workload.ports.length === 0) return undefined;
  const selector = { [labelKeys.app]: workload.name };
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: workload.name,
      namespace: workload.namespace,
      labels: { ...selector, [labelKeys.managedBy]: managerName },
    },
    spec: {
      ports: workload.ports.map((port) => ({
        name: port.name,
        port: port.container_port,
        protocol: protocolOf(port),
        targetPort: port.name,
      })),
      selector,
      type: "ClusterIP",
    },
  };
}

/**
 * The config blob references (not their content, which the content layer serves by hash):
 * `<blob>.blake3` and `<blob>.mount-path` per blob, their order in an annotation.
 */
export function renderConfigMap(workload: Workload): ConfigMap | undefined {
  if (workload.config_blobs.length === 0) return undefined;
  const data: Record<string, string> = {};
  for (const blob of workload.config_blobs) {
    data[`${blob.name}.blake3`] = blob.hash;
    data[`${blob.name}.mount-path`] = blob.mount_path;
  }
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: configMapName(workload),
      namespace: workload.namespace,
      labels: { [labelKeys.app]: workload.name, [labelKeys.managedBy]: managerName },
      annotations: { [annotationKeys.configBlobs]: workload.config_blobs.map((blob) => blob.name).join(",") },
    },
    data,
  };
}
