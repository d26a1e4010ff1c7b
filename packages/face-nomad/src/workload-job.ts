import type { ConfigBlobRef, NodeId, Workload, WorkloadPort } from "@revoada/fabric-core/vocabulary";
import type { Constraint, Job, Service, TaskGroup } from "./ir.js";
import { defaultNomadProfile, type NomadProfile } from "./nomad-versions.js";

/**
 * A workload as one Nomad job: one group (count = replicas) with one docker task. Placement
 * becomes scheduling rules: zones are the job's `datacenters`, labels are `${meta.<key>}`
 * constraints, control-plane nodes are avoided by a constraint (or, when the workload
 * tolerates them, merely disfavoured by an affinity), quarantined nodes are always avoided.
 * What Nomad has no field for (UDP ports, config blob references, the placement chosen by
 * revoada) is kept in `revoada.*` job meta.
 */

export const mebibyte = 1024 * 1024;
export const nodeMeta = {
  controlPlane: "revoada.control_plane",
  quarantined: "revoada.quarantined",
} as const;
const reservedMetaPrefix = "revoada.";
const labelMetaPrefix = "revoada.label.";

/** The client meta key of a node label: as-is, unless it would collide with `revoada.*`. */
export function labelMetaKey(label: string): string {
  return label.startsWith(reservedMetaPrefix) ? `${labelMetaPrefix}${label}` : label;
}

/** The node label a client meta key holds, or undefined for revoada's own keys. */
export function labelOfMetaKey(key: string): string | undefined {
  if (key.startsWith(labelMetaPrefix)) return key.slice(labelMetaPrefix.length);
  return key.startsWith(reservedMetaPrefix) ? undefined : key;
}

const jobMeta = {
  placement: "revoada.placement",
  anyDatacenter: "revoada.any_datacenter",
  udpPorts: "revoada.udp_ports",
  configBlobs: "revoada.config_blobs",
  blobPrefix: "revoada.config_blob.",
} as const;

const second = 1_000_000_000;
const restart = { attempts: 2, interval: 1800 * second, delay: 15 * second, mode: "fail" as const };
const controlPlaneRule = { attribute: `\${meta.${nodeMeta.controlPlane}}`, operator: "!=", value: "true" };
const quarantineRule = { attribute: `\${meta.${nodeMeta.quarantined}}`, operator: "!=", value: "true" };
/** Nomad resolves this at scheduling time; it is a plain string here, not a JS template. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Nomad runtime interpolation, kept verbatim
const nodeDatacenter = "${node.datacenter}";
const labelAttribute = /^\$\{meta\.(.+)\}$/;

function serviceName(workload: Workload, port: WorkloadPort): string {
  return `${workload.name}-${port.name}`.slice(0, 63).replace(/-+$/, "");
}

function services(workload: Workload, profile: NomadProfile): Service[] {
  return workload.ports.map((port) => ({
    name: serviceName(workload, port),
    port: port.name,
    provider: "nomad",
    tags: [],
    checks:
      port.protocol === "tcp" && profile.serviceChecks
        ? [{ type: "tcp", interval: 10 * second, timeout: 2 * second }]
        : [],
  }));
}

/**
 * A literal string as the docker driver's `config` must hold it: Nomad evaluates the task's
 * driver config as HCL templates at run time (`${NOMAD_ALLOC_ID}`, `${attr.*}`, ... are
 * resolved, `%{` starts a directive), where `$${` is a literal `${` and `%%{` a literal `%{`.
 * The fabric's command and args are literal, so every `${` and `%{` is escaped; the HCL
 * printer then escapes the result once more for the jobspec (`$$${`).
 */
export function escapeNomadRuntime(text: string): string {
  if (!text.includes("${") && !text.includes("%{")) return text;
  // A function replacement: in a replacement string `$$` would mean one `$`.
  return text.replaceAll("${", () => "$${").replaceAll("%{", () => "%%{");
}

/** Inverse of `escapeNomadRuntime`: what the container gets for a driver config string. */
export function unescapeNomadRuntime(text: string): string {
  if (!text.includes("$${") && !text.includes("%%{")) return text;
  let out = "";
  let index = 0;
  while (index < text.length) {
    if (text.startsWith("$${", index) || text.startsWith("%%{", index)) {
      out += `${text[index]}{`;
      index += 3;
    } else {
      out += text[index]!;
      index += 1;
    }
  }
  return out;
}

function jobMetaOf(workload: Workload, placement: readonly NodeId[] | undefined): Record<string, string> {
  const meta: Record<string, string> = {};
  if (placement !== undefined) meta[jobMeta.placement] = placement.join(",");
  const udp = workload.ports.filter((port) => port.protocol === "udp").map((port) => port.name);
  if (udp.length > 0) meta[jobMeta.udpPorts] = udp.join(",");
  if (workload.config_blobs.length > 0) {
    meta[jobMeta.configBlobs] = workload.config_blobs.map((blob) => blob.name).join(",");
    for (const blob of workload.config_blobs) {
      meta[`${jobMeta.blobPrefix}${blob.name}.hash`] = blob.hash;
      meta[`${jobMeta.blobPrefix}${blob.name}.mount_path`] = blob.mount_path;
    }
  }
  return meta;
}

/** What a job is rendered for beyond its workload: the Nomad version and (before 1.5) every datacenter. */
export interface JobOptions {
  readonly profile: NomadProfile;
  /** Every datacenter the agents are in, for a workload without zones before wildcards (1.5). */
  readonly datacenters: readonly string[];
}

const defaultJobOptions: JobOptions = { profile: defaultNomadProfile, datacenters: ["dc1"] };

export function workloadToJob(
  workload: Workload,
  placement: readonly NodeId[] | undefined,
  options: JobOptions = defaultJobOptions,
): Job {
  const { profile } = options;
  const { zones, labels, tolerate_control_plane: tolerate } = workload.placement;
  const constraints: Constraint[] = Object.keys(labels)
    .sort()
    .map((key) => ({ attribute: `\${meta.${labelMetaKey(key)}}`, operator: "=", value: labels[key]! }));
  if (!tolerate) constraints.push(controlPlaneRule);
  constraints.push(quarantineRule);
  const group: TaskGroup = {
    name: workload.name,
    count: workload.replicas,
    ports: workload.ports.map((port) => ({ label: port.name, to: port.container_port })),
    services: services(workload, profile),
    restart,
    tasks: [
      {
        name: workload.name,
        driver: "docker",
        config: {
          image: workload.image,
          entrypoint: workload.command.map(escapeNomadRuntime),
          args: workload.args.map(escapeNomadRuntime),
          ports: workload.ports.map((port) => port.name),
        },
        env: workload.env,
        resources: {
          cpu: workload.resources.cpu_millis,
          memory_mb: Math.ceil(workload.resources.memory_bytes / mebibyte),
        },
      },
    ],
  };
  const anyDatacenter = zones.length === 0 && !profile.datacenterWildcard;
  const meta = jobMetaOf(workload, placement);
  if (anyDatacenter) meta[jobMeta.anyDatacenter] = "true";
  return {
    id: workload.name,
    namespace: workload.namespace,
    type: "service",
    datacenters: zones.length > 0 ? zones : anyDatacenter ? [...options.datacenters] : ["*"],
    constraints,
    affinities: tolerate ? [{ ...controlPlaneRule, weight: 50 }] : [],
    spreads:
      workload.replicas > 1 && zones.length > 1
        ? [{ attribute: nodeDatacenter, weight: 50, targets: [] }]
        : [],
    meta,
    groups: [group],
  };
}

function readConfigBlobs(meta: Readonly<Record<string, string>>): ConfigBlobRef[] {
  const names = meta[jobMeta.configBlobs] ?? "";
  return (names === "" ? [] : names.split(",")).map((name) => ({
    name,
    hash: (meta[`${jobMeta.blobPrefix}${name}.hash`] ?? "") as ConfigBlobRef["hash"],
    mount_path: meta[`${jobMeta.blobPrefix}${name}.mount_path`] ?? "",
  }));
}

function isSameRule(constraint: Constraint, rule: Constraint): boolean {
  return (
    constraint.attribute === rule.attribute &&
    constraint.operator === rule.operator &&
    constraint.value === rule.value
  );
}

/** The workload a job describes (schema-checked later, with the whole state). */
export function jobToWorkload(job: Job): Workload {
  const group = job.groups[0]!;
  const task = group.tasks[0]!;
  const udp = new Set((job.meta[jobMeta.udpPorts] ?? "").split(","));
  const labels: Record<string, string> = {};
  for (const constraint of job.constraints) {
    const match = labelAttribute.exec(constraint.attribute);
    const label = match === null ? undefined : labelOfMetaKey(match[1]!);
    if (label !== undefined && constraint.operator === "=") labels[label] = constraint.value;
  }
  return {
    name: job.id,
    namespace: job.namespace,
    image: task.config.image,
    command: task.config.entrypoint.map(unescapeNomadRuntime),
    args: task.config.args.map(unescapeNomadRuntime),
    env: task.env,
    ports: group.ports.map((port) => ({
      name: port.label,
      container_port: port.to,
      protocol: udp.has(port.label) ? "udp" : "tcp",
    })),
    replicas: group.count,
    resources: { cpu_millis: task.resources.cpu, memory_bytes: task.resources.memory_mb * mebibyte },
    config_blobs: readConfigBlobs(job.meta),
    placement: {
      zones:
        job.meta[jobMeta.anyDatacenter] === "true" ||
        (job.datacenters.length === 1 && job.datacenters[0] === "*")
          ? []
          : job.datacenters,
      labels,
      tolerate_control_plane: !job.constraints.some((constraint) => isSameRule(constraint, controlPlaneRule)),
    },
  };
}

export function jobPlacement(job: Job): NodeId[] | undefined {
  const text = job.meta[jobMeta.placement];
  if (text === undefined) return undefined;
  return (text === "" ? [] : text.split(",")) as NodeId[];
}
