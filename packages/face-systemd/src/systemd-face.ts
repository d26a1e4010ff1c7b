import type { Face, FaceFile, RenderScope, WriteResult } from "@revoada/fabric-core/face";
import {
  assert,
  type ControlPlaneRole,
  type FabricState,
  failed,
  type NodeState,
  ok,
  type Result,
  type Workload,
} from "@revoada/fabric-core/vocabulary";
import {
  appliedEntries,
  entryIssue,
  keys,
  nodeFactEntries,
  readWorkloadFacts,
  type UnitEntries,
  workloadFactEntries,
} from "./fabric-keys.js";
import {
  compareText,
  droppedUnplaced,
  fabricTargetName,
  modelPlacedWorkloads,
  nodeDirectories,
  nodesDirectory,
  nodeTargetName,
  replicasByNode,
  replicaUnitBase,
  sortedNodes,
} from "./layout.js";
import { checkUnitFiles } from "./unit-check.js";
import { lastValue, listValues, sectionEntries, stringifyUnitFile, type UnitFile } from "./unit-syntax.js";
import { readUnitTree, type UnitReading } from "./unit-tree-reader.js";
import {
  escapeSpecifiers,
  formatEnvironment,
  formatExecLine,
  isWordError,
  parseEnvironment,
  parseExecLine,
} from "./unit-values.js";

/**
 * face-systemd: per node, a `.service` for every workload replica placed there (run with
 * `podman run` in the foreground) and for every control-plane component the node holds,
 * and `revoada-node.target` wanting them all. Fabric facts without a systemd key ride in
 * `X-Revoada-*` keys (see fabric-keys.ts); the applied log position is in
 * `revoada-fabric.target` at the top of a cluster render.
 */

export const renderedHeader = ["Rendered by revoada from the fabric state; a re-render overwrites edits."];

export const podmanPath = "/usr/bin/podman";
export const blobDirectory = "/var/lib/revoada/blobs";

interface ComponentSpec {
  readonly unit: string;
  readonly argv: (node: NodeState) => string[];
  readonly type: "simple" | "notify";
  /** The component it runs after, when the node also holds that role. */
  readonly after?: ControlPlaneRole;
}

export const components: Readonly<Record<ControlPlaneRole, ComponentSpec>> = {
  etcd: {
    unit: "revoada-etcd.service",
    type: "notify",
    argv: (node) => ["/usr/bin/etcd", `--name=${node.name}`, "--data-dir=/var/lib/etcd"],
  },
  "api-server": {
    unit: "revoada-kube-apiserver.service",
    type: "simple",
    after: "etcd",
    argv: () => ["/usr/bin/kube-apiserver", "--etcd-servers=http://127.0.0.1:2379"],
  },
  scheduler: {
    unit: "revoada-kube-scheduler.service",
    type: "simple",
    after: "api-server",
    argv: () => ["/usr/bin/kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"],
  },
  "controller-manager": {
    unit: "revoada-kube-controller-manager.service",
    type: "simple",
    after: "api-server",
    argv: () => ["/usr/bin/kube-controller-manager", "--kubeconfig=/etc/kubernetes/controller-manager.conf"],
  },
};

/** Start order: etcd first, then the API server, then what talks to it. */
export const componentOrder: readonly ControlPlaneRole[] = [
  "etcd",
  "api-server",
  "scheduler",
  "controller-manager",
];

const network = "network-online.target";

export function componentUnitEntries(node: NodeState, role: ControlPlaneRole): UnitEntries {
  const spec = components[role];
  const dependency = spec.after !== undefined && node.roles.includes(spec.after) ? spec.after : undefined;
  const after = dependency === undefined ? network : components[dependency].unit;
  return [
    ["Description", escapeSpecifiers(`revoada control plane: ${role}`)],
    ["Wants", after],
    ["After", after],
    ["PartOf", nodeTargetName],
    [keys.component, role],
  ];
}

function componentUnit(node: NodeState, role: ControlPlaneRole): string {
  const spec = components[role];
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      { name: "Unit", entries: componentUnitEntries(node, role) },
      {
        name: "Service",
        entries: [
          ["Type", spec.type],
          ["ExecStart", formatExecLine(spec.argv(node))],
          ["Restart", "always"],
          ["RestartSec", "5s"],
        ],
      },
      { name: "Install", entries: [["WantedBy", nodeTargetName]] },
    ],
  });
}

/** `podman run` argv for a replica: env names only (values come from `Environment=`). */
export function podmanArgv(workload: Workload, replica: number): string[] {
  const argv = [podmanPath, "run", "--rm", "--replace", `--name=${replicaUnitBase(workload, replica)}`];
  for (const name of Object.keys(workload.env).sort(compareText)) argv.push(`--env=${name}`);
  for (const port of workload.ports) {
    argv.push(`--publish=${port.container_port}:${port.container_port}/${port.protocol}`);
  }
  for (const blob of workload.config_blobs)
    argv.push(`--volume=${blobDirectory}/${blob.hash}:${blob.mount_path}:ro`);
  if (workload.command.length > 0) argv.push(`--entrypoint=${JSON.stringify(workload.command)}`);
  argv.push(workload.image, ...workload.args);
  return argv;
}

/** `CPUQuota=` in percent of one CPU (1000 millis = 100%), one decimal place. */
export function cpuQuota(millis: number): string {
  const tenths = millis % 10;
  return `${Math.trunc(millis / 10)}${tenths === 0 ? "" : `.${tenths}`}%`;
}

export function parseCpuQuota(text: string): number | undefined {
  const match = /^(\d{1,9})(?:\.(\d))?%$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * 10 + Number(match[2] ?? "0");
}

export function resourceEntries(workload: Workload): UnitEntries {
  const entries: UnitEntries = [];
  if (workload.resources.cpu_millis > 0) entries.push(["CPUQuota", cpuQuota(workload.resources.cpu_millis)]);
  if (workload.resources.memory_bytes > 0)
    entries.push(["MemoryMax", String(workload.resources.memory_bytes)]);
  return entries;
}

export function environmentEntries(workload: Workload): UnitEntries {
  return Object.keys(workload.env)
    .sort(compareText)
    .map((name) => ["Environment", formatEnvironment(name, workload.env[name]!)]);
}

function replicaUnit(workload: Workload, replica: number): string {
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      {
        name: "Unit",
        entries: [
          [
            "Description",
            escapeSpecifiers(`revoada workload ${workload.namespace}/${workload.name} replica ${replica}`),
          ],
          ["Wants", network],
          ["After", network],
          ["PartOf", nodeTargetName],
          ...workloadFactEntries(workload, replica),
        ],
      },
      {
        name: "Service",
        entries: [
          ["Type", "simple"],
          ...environmentEntries(workload),
          ["ExecStart", formatExecLine(podmanArgv(workload, replica))],
          ["Restart", "on-failure"],
          ["RestartSec", "5s"],
          ...resourceEntries(workload),
        ],
      },
      { name: "Install", entries: [["WantedBy", nodeTargetName]] },
    ],
  });
}

export function nodeTarget(node: NodeState, units: readonly string[]): string {
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      {
        name: "Unit",
        entries: [
          ["Description", escapeSpecifiers(`revoada node ${node.name.replace(/\s+/g, " ").trim()}`)],
          ...units.map((unit): [string, string] => ["Wants", unit]),
          ...nodeFactEntries(node),
        ],
      },
      { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
    ],
  });
}

export function fabricTarget(state: FabricState): string {
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      { name: "Unit", entries: [["Description", "revoada fabric"], ...appliedEntries(state.applied)] },
    ],
  });
}

function renderNodeFiles(
  state: FabricState,
  node: NodeState,
  replicas: ReturnType<typeof replicasByNode>,
  prefix: string,
) {
  const files: FaceFile[] = [];
  const units: string[] = [];
  for (const role of componentOrder) {
    if (!node.roles.includes(role)) continue;
    units.push(components[role].unit);
    files.push({ path: `${prefix}${components[role].unit}`, content: componentUnit(node, role) });
  }
  for (const placed of replicas.get(node.id) ?? []) {
    const unit = `${replicaUnitBase(placed.workload, placed.replica)}.service`;
    units.push(unit);
    files.push({ path: `${prefix}${unit}`, content: replicaUnit(placed.workload, placed.replica) });
  }
  assert(state.nodes[node.id] === node, "rendering a node of this state");
  return [{ path: `${prefix}${nodeTargetName}`, content: nodeTarget(node, units) }, ...files];
}

function write(state: FabricState, scope: RenderScope): WriteResult {
  const modelled = modelPlacedWorkloads(state);
  const replicas = replicasByNode(modelled);
  const dropped = droppedUnplaced(state);
  if (scope.kind === "node") {
    const node = modelled.nodes[scope.node];
    if (node === undefined) return { files: [], dropped };
    return { files: renderNodeFiles(modelled, node, replicas, ""), dropped };
  }
  const directories = nodeDirectories(modelled);
  const files: FaceFile[] = [{ path: fabricTargetName, content: fabricTarget(modelled) }];
  for (const node of sortedNodes(modelled)) {
    files.push(
      ...renderNodeFiles(modelled, node, replicas, `${nodesDirectory}/${directories.get(node.id)}/`),
    );
  }
  return { files, dropped };
}

/** Reads a replica `.service` back: image, command and args from `ExecStart=`, env, resources. */
function classifyService(unit: UnitFile, path: string): Result<UnitReading> {
  const unitEntries = sectionEntries(unit, "Unit");
  if (lastValue(unitEntries, keys.component) !== undefined) return ok({ kind: "component" });
  if (lastValue(unitEntries, keys.workload) === undefined) {
    return ok({ kind: "unknown", reason: "a unit without X-Revoada-Workload or X-Revoada-Component" });
  }
  const facts = readWorkloadFacts(unitEntries, path);
  if (!facts.ok) return facts;
  const service = sectionEntries(unit, "Service");
  const exec = lastValue(service, "ExecStart");
  if (exec === undefined)
    return failed([{ code: "missing_key", message: "missing ExecStart=", path: [], file: path }]);
  const argv = parseExecLine(exec.value);
  if (isWordError(argv)) return failed([entryIssue(exec, path, argv.message, argv.offset)]);
  const container = readPodmanArgv(argv);
  if (typeof container === "string") return failed([entryIssue(exec, path, container)]);
  const env: Record<string, string> = {};
  for (const entry of listValues(service, "Environment")) {
    const pairs = parseEnvironment(entry.value);
    if (isWordError(pairs)) return failed([entryIssue(entry, path, pairs.message, pairs.offset)]);
    for (const [name, value] of pairs) env[name] = value;
  }
  const resources = readResources(service, path);
  if (!resources.ok) return resources;
  const { replica, ...rest } = facts.value;
  const workload = { ...rest, ...container, env, resources: resources.value };
  return ok({ kind: "replica", key: `${rest.namespace}/${rest.name}`, replica, workload });
}

export function readResources(
  entries: ReturnType<typeof sectionEntries>,
  path: string,
): Result<{ cpu_millis: number; memory_bytes: number }> {
  const quota = lastValue(entries, "CPUQuota");
  const memory = lastValue(entries, "MemoryMax");
  const cpu_millis = quota === undefined || quota.value === "" ? 0 : parseCpuQuota(quota.value);
  if (cpu_millis === undefined && quota !== undefined)
    return failed([entryIssue(quota, path, "CPUQuota is not N[.N]%")]);
  const memoryText = memory?.value ?? "";
  if (memoryText !== "" && !/^\d{1,16}$/.test(memoryText) && memory !== undefined) {
    return failed([entryIssue(memory, path, "MemoryMax is not a byte count")]);
  }
  return ok({ cpu_millis: cpu_millis ?? 0, memory_bytes: memoryText === "" ? 0 : Number(memoryText) });
}

/** image, command, args from our `podman run` argv; a string is an error message. */
export function readPodmanArgv(
  argv: readonly string[],
): { image: string; command: string[]; args: string[] } | string {
  if (argv[0] !== podmanPath || argv[1] !== "run") return `ExecStart is not ${podmanPath} run`;
  let command: string[] = [];
  let index = 2;
  for (; index < argv.length && argv[index]!.startsWith("--"); index += 1) {
    const word = argv[index]!;
    if (!word.startsWith("--entrypoint=")) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(word.slice("--entrypoint=".length));
    } catch {
      return "--entrypoint is not a JSON array";
    }
    if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === "string")) {
      return "--entrypoint is not a JSON array of strings";
    }
    command = parsed;
  }
  const image = argv[index];
  if (image === undefined) return "podman run without an image";
  return { image, command, args: argv.slice(index + 1) };
}

export const systemdFace: Face = {
  id: "systemd",
  protocol: "systemd",
  description: "systemd .service units per workload replica and control-plane component, a .target per node",
  writer: { write },
  reader: { read: (files) => readUnitTree(files, [".service", ".target"], classifyService) },
  model: modelPlacedWorkloads,
  validate: async (files) => checkUnitFiles(files),
};
