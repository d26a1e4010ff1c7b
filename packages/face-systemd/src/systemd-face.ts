import {
  defaultKubernetesRelease,
  type Face,
  type FaceFile,
  type FaceParameters,
  type KubernetesRelease,
  kubernetesRelease,
  type RenderContext,
} from "@revoada/fabric-core/face";
import {
  type ControlPlaneRole,
  type FabricState,
  failed,
  type NodeState,
  ok,
  type Result,
  type Workload,
} from "@revoada/fabric-core/vocabulary";
import { componentArgv, components, componentUnitEntries } from "./components.js";
import { entryIssue } from "./fabric-keys.js";
import {
  compareText,
  modelPlacedWorkloads,
  nodeTargetName,
  type PlacedReplica,
  replicaUnitBase,
  userUnitDirectory,
} from "./layout.js";
import { renderedHeader } from "./targets.js";
import { checkUnitFiles } from "./unit-check.js";
import { lastValue, sectionEntries, stringifyUnitFile, type UnitFile } from "./unit-syntax.js";
import { readUnitTree } from "./unit-tree-reader.js";
import { renderNodeUnits, writeUnitTree } from "./unit-tree-writer.js";
import { formatExecLine, isWordError, parseExecLine } from "./unit-values.js";
import {
  type ContainerFields,
  classifyReplicaUnit,
  environmentEntries,
  readEnvironment,
  replicaUnitEntries,
  replicaUnitMarks,
  resourceEntries,
} from "./workload-units.js";

/**
 * face-systemd: per node, a `.service` for every workload replica placed there (run with
 * `podman run` in the foreground) and for every control-plane component the node holds,
 * and `revoada-node.target` wanting them all. Fabric facts without a systemd key ride in
 * `X-Revoada-*` keys (see fabric-keys.ts); the applied log position is in
 * `revoada-fabric.target` at the top of a cluster render.
 */

export const podmanPath = "/usr/bin/podman";
export const blobDirectory = "/var/lib/revoada/blobs";

function componentUnit(
  state: FabricState,
  node: NodeState,
  role: ControlPlaneRole,
  user: boolean,
  context: RenderContext,
  release: KubernetesRelease,
): string {
  const spec = components[role];
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      { name: "Unit", entries: componentUnitEntries(node, role, user) },
      {
        name: "Service",
        entries: [
          ["Type", spec.type],
          ["ExecStart", formatExecLine(componentArgv(state, node, role, context, release))],
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

function replicaUnit(workload: Workload, replica: number, user: boolean): string {
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      {
        name: "Unit",
        entries: replicaUnitEntries(workload, replica, user),
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

/** One node's units: system units, or (`user`) user units installed into the user manager's `default.target`. */
function nodeFileRenderer(user: boolean, release: KubernetesRelease) {
  return (
    state: FabricState,
    node: NodeState,
    replicas: readonly PlacedReplica[],
    prefix: string,
    context: RenderContext,
  ): FaceFile[] =>
    renderNodeUnits(state, node, replicas, prefix, {
      suffix: ".service",
      component: (componentState, componentNode, role) =>
        componentUnit(componentState, componentNode, role, user, context, release),
      replica: (workload, replica) => replicaUnit(workload, replica, user),
      wantedBy: user ? "default.target" : "multi-user.target",
    });
}

/** A replica `.service`'s marks: the common ones and the start of `ExecStart=` (its `--name=`). */
export function serviceReplicaMarks(namespace: string, name: string, replica: number) {
  const base = `revoada.${namespace}.${name}.${replica}`;
  return [
    ...replicaUnitMarks(namespace, name, replica),
    { text: `ExecStart=${podmanPath} run --rm --replace --name=${base} `, whole: false },
  ];
}

/** The container fields of a replica `.service`: image, command and args from `ExecStart=`, env. */
export function readServiceContainer(unit: UnitFile, path: string): Result<ContainerFields> {
  const service = sectionEntries(unit, "Service");
  const exec = lastValue(service, "ExecStart");
  if (exec === undefined)
    return failed([{ code: "missing_key", message: "missing ExecStart=", path: [], file: path }]);
  const argv = parseExecLine(exec.value);
  if (isWordError(argv)) return failed([entryIssue(exec, path, argv.message, argv.offset)]);
  const container = readPodmanArgv(argv);
  if (typeof container === "string") return failed([entryIssue(exec, path, container)]);
  const env = readEnvironment(service, path);
  if (!env.ok) return env;
  return ok({ ...container, env: env.value });
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

export interface SystemdFaceOptions {
  /**
   * User units for `systemctl --user` (the face kind's `user_units`): each node's units under
   * `.config/systemd/user/` (or copied to `/etc/systemd/user`), the node target
   * `WantedBy=default.target`, no `network-online.target` (a user manager has none), no `User=`.
   */
  readonly userUnits: boolean;
  /**
   * The Kubernetes release whose flags the control-plane units carry (the face kind's
   * `kubernetes_version`, default 1.34): the units run the host's binaries, so it follows the
   * host's etcd (3.4/3.5, e.g. Debian 12's 3.4.23: 1.33 or older; etcd 3.6: 1.34).
   */
  readonly release?: KubernetesRelease;
}

const userUnitsParameter = {
  name: "user_units",
  description:
    "user units for systemctl --user: under .config/systemd/user/, the node target WantedBy=default.target, no network-online.target",
  default: false,
  values: [false, true],
} as const;

const kubernetesVersionParameter = {
  name: "kubernetes_version",
  description:
    "the Kubernetes release of the control-plane units' flags: etcd's in the 3.5 spelling up to 1.33 (what etcd 3.4 and 3.5 on the host take), the 3.6 spelling for 1.34",
  default: defaultKubernetesRelease.minor,
  // One value per distinct rendering: the units carry no images, and 1.28-1.33 share their flags.
  values: ["1.33", defaultKubernetesRelease.minor],
} as const;

/** face-systemd with `options` applied. */
export function systemdFaceFor(options: SystemdFaceOptions): Face {
  const unitDirectory = options.userUnits ? userUnitDirectory : "";
  const release = options.release ?? defaultKubernetesRelease;
  const renderNodeFiles = nodeFileRenderer(options.userUnits, release);
  return {
    id: "systemd",
    protocol: "systemd",
    description:
      "systemd .service units per workload replica and control-plane component, a .target per node",
    writer: {
      write: (state, scope, context) => writeUnitTree(state, scope, renderNodeFiles, unitDirectory, context),
    },
    reader: {
      read: (files) =>
        readUnitTree(
          files,
          [".service", ".target"],
          (unit, path) => classifyReplicaUnit(unit, path, readServiceContainer),
          unitDirectory,
          serviceReplicaMarks,
        ),
    },
    model: modelPlacedWorkloads,
    validate: async (files) => checkUnitFiles(files),
    parameters: [userUnitsParameter, kubernetesVersionParameter],
    configure: (parameters) => configureSystemd(parameters, options),
  };
}

function configureSystemd(parameters: FaceParameters, current: SystemdFaceOptions): Result<Face> {
  for (const name of Object.keys(parameters)) {
    if (name !== "user_units" && name !== "kubernetes_version")
      return failed([
        {
          code: "unknown_parameter",
          message: `face-systemd has no parameter ${name} (it takes: user_units, kubernetes_version)`,
          path: [name],
        },
      ]);
  }
  const userUnits = parameters.user_units ?? current.userUnits;
  if (typeof userUnits !== "boolean")
    return failed([{ code: "invalid_type", message: "user_units is true or false", path: ["user_units"] }]);
  const version = parameters.kubernetes_version;
  if (version === undefined) return ok(systemdFaceFor({ ...current, userUnits }));
  if (typeof version !== "string")
    return failed([
      {
        code: "invalid_type",
        message: "kubernetes_version is a string like 1.33",
        path: ["kubernetes_version"],
      },
    ]);
  const release = kubernetesRelease(version, ["kubernetes_version"]);
  return release.ok ? ok(systemdFaceFor({ userUnits, release: release.value })) : release;
}

export const systemdFace: Face = systemdFaceFor({ userUnits: false });
