import {
  controlPlaneComponent,
  controlPlaneOptionsOf,
  type Face,
  type FaceFile,
  kubernetesPkiDirectory,
  type RenderContext,
} from "@revoada/fabric-core/face";
import {
  type ControlPlaneRole,
  type FabricIssue,
  type FabricState,
  failed,
  type NodeState,
  ok,
  type Result,
  type Workload,
} from "@revoada/fabric-core/vocabulary";
import {
  blobDirectory,
  type ContainerFields,
  checkUnitFiles,
  classifyReplicaUnit,
  componentUnitEntries,
  entryIssue,
  environmentEntries,
  escapeSpecifiers,
  formatArguments,
  isWordError,
  joinWords,
  lastValue,
  modelPlacedWorkloads,
  nodeTargetName,
  type PlacedReplica,
  parseExecLine,
  parseUnitFile,
  readEnvironment,
  readUnitTree,
  renderedHeader,
  renderNodeUnits,
  replicaUnitBase,
  replicaUnitEntries,
  replicaUnitMarks,
  resourceEntries,
  sectionEntries,
  stringifyUnitFile,
  type UnitEntries,
  type UnitFile,
  writeUnitTree,
} from "@revoada/face-systemd";
import { quadletProvides, quadletUnitKeys } from "./quadlet-keys.js";

/**
 * face-baremetal: systemd-orchestrated containers without Kubernetes. Per node, a podman
 * Quadlet `.container` unit for every workload replica placed there and for every
 * control-plane component the node holds (run from the upstream images on the host network),
 * plus the same `revoada-node.target` face-systemd writes, wanting the `.service` units
 * Quadlet generates. Syntax, fabric facts (`X-Revoada-*` in `[Unit]`, which Quadlet passes
 * through) and the reader's tree walk are face-systemd's.
 */

/** etcd's health check: the client endpoint with kubeadm's health-check client certificate. */
const etcdHealthCmd = [
  "etcdctl",
  "--endpoints=https://127.0.0.1:2379",
  `--cacert=${kubernetesPkiDirectory}/etcd/ca.crt`,
  `--cert=${kubernetesPkiDirectory}/etcd/healthcheck-client.crt`,
  `--key=${kubernetesPkiDirectory}/etcd/healthcheck-client.key`,
  "endpoint",
  "health",
].join(" ");

/**
 * A control-plane component as a Quadlet container: the shared image and command line
 * (`controlPlaneComponent`, the same the Kubernetes static pods carry) with the program as
 * `Entrypoint=` and its flags as `Exec=`, like a pod's `command`, on the host network with
 * the same host paths mounted.
 */
function componentContainer(
  state: FabricState,
  node: NodeState,
  role: ControlPlaneRole,
  context: RenderContext = {},
): string {
  const component = controlPlaneComponent(state, node, role, controlPlaneOptionsOf(context));
  const [program, ...flags] = component.command;
  const container: UnitEntries = [
    ["Image", component.image],
    ["ContainerName", `revoada-${role}`],
    ["Network", "host"],
    ["Entrypoint", formatEntrypoint([program!])],
    ["Exec", formatArguments(flags)],
    ...component.mounts.map((mount): [string, string] => [
      "Volume",
      escapeSpecifiers(`${mount.path}:${mount.path}${mount.readOnly ? ":ro" : ""}`),
    ]),
    ["Label", joinWords([`io.revoada.component=${role}`])],
  ];
  if (role === "etcd") container.push(["HealthCmd", escapeSpecifiers(etcdHealthCmd)]);
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      { name: "Unit", entries: componentUnitEntries(node, role) },
      { name: "Container", entries: container },
      {
        name: "Service",
        entries: [
          ["Restart", "always"],
          ["RestartSec", "5s"],
        ],
      },
      { name: "Install", entries: [["WantedBy", nodeTargetName]] },
    ],
  });
}

/** `Entrypoint=`: one program as-is, several words (or one starting with `[`) as podman's JSON form. */
export function formatEntrypoint(command: readonly string[]): string {
  const single = command.length === 1 && /^[A-Za-z0-9_@./:,+=-]+$/.test(command[0]!);
  return escapeSpecifiers(single ? command[0]! : JSON.stringify(command)).replaceAll("$", () => "$$");
}

export function parseEntrypoint(text: string): string[] | string {
  const raw = text.replaceAll("$$", "$").replaceAll("%%", "%");
  if (!raw.startsWith("[")) return [raw];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed) && parsed.every((part) => typeof part === "string")) return parsed;
  } catch {
    // Reported below.
  }
  return "Entrypoint= is neither a program nor a JSON array of strings";
}

/** `Volume=` as written in the man page; quoted only when a path holds whitespace or escapes. */
function volumeValue(volume: string): string {
  const escaped = escapeSpecifiers(volume);
  return /[\s\\"']/.test(escaped) ? joinWords([escaped]) : escaped;
}

function replicaContainer(workload: Workload, replica: number): string {
  const name = replicaUnitBase(workload, replica);
  const container: UnitEntries = [
    ["Image", workload.image],
    ["ContainerName", name],
  ];
  if (workload.command.length > 0) container.push(["Entrypoint", formatEntrypoint(workload.command)]);
  if (workload.args.length > 0) container.push(["Exec", formatArguments(workload.args)]);
  container.push(...environmentEntries(workload));
  for (const port of workload.ports) {
    container.push(["PublishPort", `${port.container_port}:${port.container_port}/${port.protocol}`]);
  }
  for (const blob of workload.config_blobs) {
    container.push(["Volume", volumeValue(`${blobDirectory}/${blob.hash}:${blob.mount_path}:ro`)]);
  }
  container.push([
    "Label",
    joinWords([
      `io.revoada.workload=${workload.namespace}/${workload.name}`,
      `io.revoada.replica=${replica}`,
    ]),
  ]);
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      {
        name: "Unit",
        entries: replicaUnitEntries(workload, replica),
      },
      { name: "Container", entries: container },
      {
        name: "Service",
        entries: [["Restart", "on-failure"], ["RestartSec", "5s"], ...resourceEntries(workload)],
      },
      { name: "Install", entries: [["WantedBy", nodeTargetName]] },
    ],
  });
}

function renderNodeFiles(
  state: FabricState,
  node: NodeState,
  replicas: readonly PlacedReplica[],
  prefix: string,
  context: RenderContext,
): FaceFile[] {
  return renderNodeUnits(state, node, replicas, prefix, {
    suffix: ".container",
    component: (componentState, componentNode, role) =>
      componentContainer(componentState, componentNode, role, context),
    replica: replicaContainer,
  });
}

/** A replica `.container`'s marks: the common ones, `ContainerName=` and the `Label=` line. */
function containerReplicaMarks(namespace: string, name: string, replica: number) {
  return [
    ...replicaUnitMarks(namespace, name, replica),
    { text: `ContainerName=revoada.${namespace}.${name}.${replica}`, whole: true },
    {
      text: `Label=${joinWords([`io.revoada.workload=${namespace}/${name}`, `io.revoada.replica=${replica}`])}`,
      whole: true,
    },
  ];
}

/** The container fields of a replica `.container`: Image=, Entrypoint=, Exec=, Environment=. */
function readQuadletContainer(unit: UnitFile, path: string): Result<ContainerFields> {
  const container = sectionEntries(unit, "Container");
  const image = lastValue(container, "Image");
  if (image === undefined)
    return failed([{ code: "missing_key", message: "missing Image=", path: [], file: path }]);
  let command: string[] = [];
  const entrypoint = lastValue(container, "Entrypoint");
  if (entrypoint !== undefined && entrypoint.value !== "") {
    const parsed = parseEntrypoint(entrypoint.value);
    if (typeof parsed === "string") return failed([entryIssue(entrypoint, path, parsed)]);
    command = parsed;
  }
  let args: string[] = [];
  const exec = lastValue(container, "Exec");
  if (exec !== undefined) {
    const words = parseExecLine(exec.value);
    if (isWordError(words)) return failed([entryIssue(exec, path, words.message, words.offset)]);
    args = words;
  }
  const env = readEnvironment(container, path);
  if (!env.ok) return env;
  return ok({ image: image.value, command, args, env: env.value });
}

/** Quadlet-specific checks beyond the key list: `[Container]` needs `Image=`. */
function checkContainers(files: readonly FaceFile[]): FabricIssue[] {
  const issues: FabricIssue[] = [];
  for (const file of files) {
    if (!file.path.endsWith(".container")) continue;
    const unit = parseUnitFile(file.content, file.path);
    if (!unit.ok) continue;
    if (lastValue(sectionEntries(unit.value, "Container"), "Image") === undefined) {
      issues.push({
        code: "missing_key",
        message: "[Container] needs Image=",
        path: [],
        file: file.path,
        line: 1,
        column: 1,
      });
    }
  }
  return issues;
}

export const baremetalFace: Face = {
  id: "baremetal",
  protocol: "bare-metal-supervisor",
  description:
    "podman Quadlet .container units per workload replica and control-plane component, a .target per node",
  writer: { write: (state, scope, context) => writeUnitTree(state, scope, renderNodeFiles, "", context) },
  reader: {
    read: (files) =>
      readUnitTree(
        files,
        [".container", ".target"],
        (unit, path) => classifyReplicaUnit(unit, path, readQuadletContainer),
        "",
        containerReplicaMarks,
      ),
  },
  model: modelPlacedWorkloads,
  validate: async (files) => [
    ...checkUnitFiles(files, { unitKeys: quadletUnitKeys, provides: quadletProvides }),
    ...checkContainers(files),
  ],
};
