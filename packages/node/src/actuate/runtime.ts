import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { componentOfRole, controlPlaneComponent } from "@revoada/fabric-core/face";
import {
  assertNever,
  type FabricIssue,
  type FabricState,
  failed,
  isControlPlaneRole,
  type NodeId,
  type NodeState,
  ok,
  type Result,
} from "@revoada/fabric-core/vocabulary";
import type { renderNodePatch } from "@revoada/face-kubernetes";
import {
  type ComponentSpec,
  type ComponentStatus,
  ProcessRuntime,
  type ProcessRuntimeOptions,
} from "./process-runtime.js";

/**
 * Runtimes make the host match what the face rendered for this node, after each committed
 * shift. Like faces they are picked by name (`createRuntime`):
 *
 * - `process`: runs the control-plane components as child processes of the daemon
 *   (ProcessRuntime); a component whose program is absent is `unavailable`.
 * - `kubelet`: the kubernetes face already renders the static pods into the output
 *   directory (point it at the kubelet's manifest directory); with a kubeconfig it applies
 *   the Node's role labels and taints to the API server (server-side apply, field manager
 *   `revoada`), without one it says "no API server configured".
 * - `systemd`: `systemctl daemon-reload`, then enable/start the rendered units and stop and
 *   disable the `revoada` units no longer rendered, only when PID 1 is systemd; otherwise it
 *   refuses and names what PID 1 is.
 */

export const runtimeNames = ["process", "kubelet", "systemd"] as const;
export type RuntimeName = (typeof runtimeNames)[number];

export interface RuntimeTarget {
  /** The committed state the face rendered. */
  readonly state: FabricState;
  readonly nodeId: NodeId;
  /** Where the face rendered this node's files (static pods, units). */
  readonly outputDirectory: string;
  /** What the `process` runtime runs (see `controlPlaneProcessSpecs`); the others ignore it. */
  readonly components: readonly ComponentSpec[];
}

export type RuntimeOutcome =
  | {
      readonly applied: true;
      /** What was done, one line each. */
      readonly actions: readonly string[];
      /** What was not done and why (an unavailable program, no API server configured). */
      readonly skipped: readonly string[];
    }
  | { readonly applied: false; readonly reason: string };

export interface RuntimeStatus {
  readonly runtime: RuntimeName;
  /** One line for `revoada status`. */
  readonly summary: string;
  readonly components: readonly ComponentStatus[];
  readonly lastOutcome: RuntimeOutcome | null;
}

export interface Runtime {
  readonly name: RuntimeName;
  apply(target: RuntimeTarget): Promise<RuntimeOutcome>;
  status(): RuntimeStatus;
  /** Stops what the runtime started (the daemon calls it on SIGTERM). */
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  /** `process`: where `<component>.log` files go. */
  readonly logDirectory: string;
  /** `process`: backoff, grace period, timers, events. */
  readonly process?: Omit<ProcessRuntimeOptions, "logDirectory">;
  /** `kubelet`: the kubeconfig of the API server the Node patch goes to; none: no patch. */
  readonly kubeconfigPath?: string;
  /** `systemd`: the systemctl program (default `systemctl`). */
  readonly systemctl?: string;
  /** `systemd`: the file naming PID 1 (default `/proc/1/comm`). */
  readonly initCommPath?: string;
}

export function createRuntime(name: string, options: RuntimeOptions): Result<Runtime> {
  if (!isRuntimeName(name)) {
    const issue: FabricIssue = {
      code: "unknown_runtime",
      message: `unknown runtime ${JSON.stringify(name)}: one of ${runtimeNames.join(", ")}`,
      path: ["runtime"],
    };
    return failed([issue]);
  }
  switch (name) {
    case "process":
      return ok(processRuntime(options));
    case "kubelet":
      return ok(kubeletRuntime(options));
    case "systemd":
      return ok(systemdRuntime(options));
    default:
      return assertNever(name);
  }
}

export function isRuntimeName(name: string): name is RuntimeName {
  return (runtimeNames as readonly string[]).includes(name);
}

/**
 * The components `node` runs under the `process` runtime: one per control-plane role it
 * holds, with the command line every face uses (`controlPlaneComponent`). etcd is the
 * exception: its member is whatever the membership procedure decided (`etcdComponentSpec`,
 * joining with the cluster `member add` returned), or nothing yet (`null`).
 */
export function controlPlaneProcessSpecs(
  state: FabricState,
  node: NodeState,
  etcd: ComponentSpec | null,
): ComponentSpec[] {
  const specs: ComponentSpec[] = [];
  for (const role of node.roles.filter(isControlPlaneRole)) {
    if (role === "etcd") {
      if (etcd !== null) specs.push(etcd);
      continue;
    }
    const [program, ...args] = controlPlaneComponent(state, node, role).command;
    specs.push({ name: componentOfRole[role], command: program ?? componentOfRole[role], args });
  }
  return specs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function processRuntime(options: RuntimeOptions): Runtime {
  const supervisor = new ProcessRuntime({ ...options.process, logDirectory: options.logDirectory });
  let lastOutcome: RuntimeOutcome | null = null;
  return {
    name: "process",
    async apply(target) {
      await supervisor.apply(target.components);
      const statuses = supervisor
        .status()
        .filter((status) => target.components.some((c) => c.name === status.name));
      lastOutcome = {
        applied: true,
        actions: statuses.filter((status) => status.state !== "unavailable").map(describeComponent),
        skipped: statuses.filter((status) => status.state === "unavailable").map(describeComponent),
      };
      return lastOutcome;
    },
    status() {
      const components = supervisor.status();
      const running = components.filter((status) => status.state === "running").length;
      const unavailable = components.filter((status) => status.state === "unavailable").length;
      const summary = `${running} running, ${unavailable} unavailable, ${components.length} known`;
      return { runtime: "process", summary, components, lastOutcome };
    },
    stop: () => supervisor.stop(),
  };
}

function describeComponent(status: ComponentStatus): string {
  switch (status.state) {
    case "running":
    case "stopping":
      return `${status.name}: ${status.state} (pid ${status.pid}, ${status.restarts} restarts)`;
    case "restarting":
      return `${status.name}: restarting (${status.restarts} restarts, next attempt at ${status.nextAttemptAtMs})`;
    case "stopped":
      return `${status.name}: stopped`;
    case "unavailable":
      return `${status.name}: unavailable (${status.reason})`;
    default:
      return assertNever(status);
  }
}

export const noApiServerConfigured = "no API server configured";
export const revoadaFieldManager = "revoada";

/**
 * The body of the Node patch the kubelet runtime applies: the kubernetes face's Node role
 * patch (role labels, control-plane and quarantine taints, `revoada.io/*` annotations), so
 * the API server gets what the face's files say. Server-side apply with field manager
 * `revoada`: labels and taints a demoted node's patch omits are removed by the server.
 */
export async function nodeRolePatch(node: NodeState): Promise<ReturnType<typeof renderNodePatch>> {
  // Loaded on first use: a node with another face or runtime never holds the kubernetes face.
  const kubernetesFace = await import("@revoada/face-kubernetes");
  return kubernetesFace.renderNodePatch(node);
}

function kubeletRuntime(options: RuntimeOptions): Runtime {
  let lastOutcome: RuntimeOutcome | null = null;
  const kubeconfigPath = options.kubeconfigPath;
  return {
    name: "kubelet",
    async apply(target) {
      const node = target.state.nodes[target.nodeId];
      if (node === undefined) {
        lastOutcome = { applied: false, reason: `node ${target.nodeId} is not in the committed state` };
        return lastOutcome;
      }
      const staticPods = `static pods: rendered by the kubernetes face into ${target.outputDirectory}`;
      if (kubeconfigPath === undefined) {
        lastOutcome = {
          applied: true,
          actions: [staticPods],
          skipped: [`Node patch: ${noApiServerConfigured}`],
        };
        return lastOutcome;
      }
      const patch = await nodeRolePatch(node);
      try {
        await applyNodePatch(kubeconfigPath, patch);
        lastOutcome = {
          applied: true,
          actions: [staticPods, `Node ${patch.metadata.name}: role patch applied`],
          skipped: [],
        };
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0]!.slice(0, 500) : String(error);
        lastOutcome = {
          applied: false,
          reason: `Node ${patch.metadata.name}: the API server refused the patch: ${message}`,
        };
      }
      return lastOutcome;
    },
    status() {
      const summary =
        kubeconfigPath === undefined ? noApiServerConfigured : `API server from ${kubeconfigPath}`;
      return { runtime: "kubelet", summary, components: [], lastOutcome };
    },
    stop: async () => {},
  };
}

async function applyNodePatch(
  kubeconfigPath: string,
  patch: ReturnType<typeof renderNodePatch>,
): Promise<void> {
  const kubernetes = await import("@kubernetes/client-node");
  const config = new kubernetes.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const api = config.makeApiClient(kubernetes.CoreV1Api);
  await api.patchNode(
    { name: patch.metadata.name, body: patch, fieldManager: revoadaFieldManager, force: true },
    kubernetes.setHeaderOptions("Content-Type", kubernetes.PatchStrategy.ServerSideApply),
  );
}

const run = promisify(execFile);
const systemdUnitSearchPaths = ["/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"];
const unitFilePattern = /^[A-Za-z0-9:_.@-]+\.(service|target)$/;
const revoadaUnitPattern = /^revoada[-.][A-Za-z0-9:_.@-]*\.(service|target)$/;

/** What PID 1 is, from `/proc/1/comm` (`systemd`, `tini`, `bash`, ...). */
export async function initProgram(commPath = "/proc/1/comm"): Promise<string> {
  try {
    return (await readFile(commPath, "utf8")).trim() || "(empty name)";
  } catch (error) {
    return `unknown (${commPath}: ${error instanceof Error ? error.message : String(error)})`;
  }
}

function systemdRuntime(options: RuntimeOptions): Runtime {
  let lastOutcome: RuntimeOutcome | null = null;
  const systemctl = options.systemctl ?? "systemctl";
  const commPath = options.initCommPath ?? "/proc/1/comm";
  return {
    name: "systemd",
    async apply(target) {
      const init = await initProgram(commPath);
      if (init !== "systemd") {
        lastOutcome = {
          applied: false,
          reason: `PID 1 is ${init}, not systemd: the systemd runtime cannot load or start units here`,
        };
        return lastOutcome;
      }
      try {
        lastOutcome = await applyUnits(systemctl, target.outputDirectory);
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0]!.slice(0, 500) : String(error);
        lastOutcome = { applied: false, reason: `systemctl failed: ${message}` };
      }
      return lastOutcome;
    },
    status() {
      const summary =
        lastOutcome === null
          ? "nothing applied yet"
          : lastOutcome.applied
            ? "units applied"
            : lastOutcome.reason;
      return { runtime: "systemd", summary, components: [], lastOutcome };
    },
    stop: async () => {},
  };
}

/** Stop what is no longer rendered, link what is outside systemd's paths, reload, enable and start. */
async function applyUnits(systemctl: string, outputDirectory: string): Promise<RuntimeOutcome> {
  const directory = resolve(outputDirectory);
  const rendered = (await readdir(directory)).filter((name) => unitFilePattern.test(name)).sort();
  const listing = await run(systemctl, [
    "list-units",
    "--all",
    "--plain",
    "--no-legend",
    "revoada-*",
    "revoada.*",
  ]);
  const loaded = listing.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => revoadaUnitPattern.test(name));
  const actions: string[] = [];
  for (const unit of loaded.filter((name) => !rendered.includes(name))) {
    await run(systemctl, ["disable", "--now", unit]);
    actions.push(`${unit}: stopped and disabled (no longer rendered)`);
  }
  if (!systemdUnitSearchPaths.includes(directory)) {
    // Units outside systemd's search paths are linked in (a link that exists is kept).
    for (const unit of rendered) await run(systemctl, ["link", join(directory, unit)]);
  }
  await run(systemctl, ["daemon-reload"]);
  actions.push("daemon-reload");
  for (const unit of rendered) {
    await run(systemctl, ["enable", "--now", unit]);
    actions.push(`${unit}: enabled and started`);
  }
  return { applied: true, actions, skipped: [] };
}
