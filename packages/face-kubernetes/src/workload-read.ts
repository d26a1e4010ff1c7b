import type { ConfigBlobRef, NodeId, Workload, WorkloadPort } from "@revoada/fabric-core/vocabulary";
import { unescapeKubernetesExpansion } from "./expansion.js";
import { annotationKeys, labelKeys, taintKeys } from "./names.js";
import { isProblem, type ObjectProblem, problem } from "./problem.js";
import { parseCpu, parseMemory } from "./quantity.js";
import type { ConfigMap, Deployment } from "./schemas.js";

/**
 * Reads a workload back from its Deployment (and ConfigMap). The Service is derived from the
 * ports and is only checked (by re-rendering), never read. Results are not schema-checked
 * here: the reader validates the whole state and maps issues back to the file.
 */

const containerPath = ["spec", "template", "spec", "containers", 0] as const;

function readPorts(deployment: Deployment): WorkloadPort[] | ObjectProblem {
  const ports = deployment.spec.template.spec.containers[0]!.ports ?? [];
  const read: WorkloadPort[] = [];
  for (const [index, port] of ports.entries()) {
    if (port.name === undefined) return problem([...containerPath, "ports", index], "a port needs a name");
    if (port.protocol === "SCTP") return problem([...containerPath, "ports", index, "protocol"], "SCTP");
    read.push({
      name: port.name,
      container_port: port.containerPort,
      protocol: port.protocol === "UDP" ? "udp" : "tcp",
    });
  }
  return read;
}

function readResources(deployment: Deployment): Workload["resources"] | ObjectProblem {
  const requests = deployment.spec.template.spec.containers[0]!.resources?.requests ?? {};
  const cpu = requests.cpu === undefined ? 0 : parseCpu(requests.cpu);
  if (cpu === undefined)
    return problem([...containerPath, "resources", "requests", "cpu"], "not whole millicores");
  const memory = requests.memory === undefined ? 0 : parseMemory(requests.memory);
  if (memory === undefined)
    return problem([...containerPath, "resources", "requests", "memory"], "not whole bytes");
  return { cpu_millis: cpu, memory_bytes: memory };
}

function readZones(deployment: Deployment): string[] {
  const terms =
    deployment.spec.template.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  const expression = terms[0]?.matchExpressions?.find(
    (candidate) => candidate.key === labelKeys.zone && candidate.operator === "In",
  );
  return expression?.values ?? [];
}

function readConfigBlobs(configMap: ConfigMap | undefined): ConfigBlobRef[] | ObjectProblem {
  if (configMap === undefined) return [];
  const order = configMap.metadata.annotations?.[annotationKeys.configBlobs] ?? "";
  const data = configMap.data ?? {};
  const blobs: ConfigBlobRef[] = [];
  for (const name of order === "" ? [] : order.split(",")) {
    const hash = data[`${name}.blake3`];
    const mountPath = data[`${name}.mount-path`];
    if (hash === undefined || mountPath === undefined) {
      return problem(
        ["data"],
        `config blob ${JSON.stringify(name)} needs ${name}.blake3 and ${name}.mount-path`,
      );
    }
    blobs.push({ name, hash: hash as ConfigBlobRef["hash"], mount_path: mountPath });
  }
  return blobs;
}

export function readWorkload(
  deployment: Deployment,
  configMap: ConfigMap | undefined,
): Workload | ObjectProblem {
  const spec = deployment.spec.template.spec;
  const container = spec.containers[0]!;
  if (spec.containers.length !== 1)
    return problem(["spec", "template", "spec", "containers"], "one container");
  const ports = readPorts(deployment);
  if (isProblem(ports)) return ports;
  const resources = readResources(deployment);
  if (isProblem(resources)) return resources;
  const configBlobs = readConfigBlobs(configMap);
  if (isProblem(configBlobs)) return configBlobs;
  return {
    name: deployment.metadata.name,
    namespace: deployment.metadata.namespace ?? "default",
    image: container.image,
    command: (container.command ?? []).map(unescapeKubernetesExpansion),
    args: (container.args ?? []).map(unescapeKubernetesExpansion),
    env: Object.fromEntries(
      (container.env ?? []).map((variable) => [variable.name, unescapeKubernetesExpansion(variable.value)]),
    ),
    ports,
    replicas: deployment.spec.replicas,
    resources,
    config_blobs: configBlobs,
    placement: {
      zones: readZones(deployment),
      labels: spec.nodeSelector ?? {},
      tolerate_control_plane: (spec.tolerations ?? []).some(
        (toleration) => toleration.key === taintKeys.controlPlane && toleration.operator === "Exists",
      ),
    },
  };
}

/** The placement annotation: replica index -> node id, or undefined when there is none. */
export function readPlacement(deployment: Deployment): NodeId[] | undefined {
  const text = deployment.metadata.annotations?.[annotationKeys.placement];
  if (text === undefined) return undefined;
  return (text === "" ? [] : text.split(",")) as NodeId[];
}
