import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Starts and stops the node processes of a local mesh. Each node's JSON log goes to
 * `<dir>/<node>/node.log`. Stopping sends SIGTERM (graceful: leadership transfer, gossip
 * leave) and escalates to SIGKILL only after a grace period.
 */
export const revoadaBin = fileURLToPath(new URL("../../bin/revoada.js", import.meta.url));

export interface NodeProcess {
  readonly name: string;
  readonly config: string;
  child: ChildProcess | undefined;
  exited: Promise<number | null>;
}

/**
 * `launcher` is a command the node runs under, which must exec it in place so the pid stays
 * the node's (`ip netns exec NAME` runs it in a network namespace: src/netns/).
 */
export function startNodeProcess(
  name: string,
  config: string,
  meshDir: string,
  env: Readonly<Record<string, string>> = {},
  launcher: readonly string[] = [],
): NodeProcess {
  const log = createWriteStream(join(meshDir, name, "node.log"), { flags: "a" });
  const command = [
    ...launcher,
    process.execPath,
    ...daemonNodeFlags(env),
    revoadaBin,
    "node",
    "--config",
    config,
  ];
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    detached: false,
    env: { ...process.env, ...env },
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      log.end();
      resolve(signal === null ? code : null);
    });
  });
  return { name, config, child, exited };
}

/**
 * V8's heap sizing for a daemon. Its live heap is ~20 MB, but V8 sizes for throughput: the young
 * generation grows to 2 x 16 MB and the old one to several times its live data, ~40 MB of a
 * daemon's ~125 MB resident at rest (docs/scale.md, "Memory and CPU per daemon at rest"). A 1 MB
 * semi-space and a 10% growing factor cost more, smaller collections (GC 3% -> ~6% of a
 * daemon's busy time at rest). Not a cap: the heap still grows to whatever the node holds.
 * An operator running `revoada node` directly passes the same flags to node (docs/daemon.md).
 */
export const daemonV8Flags: readonly string[] = ["--max-semi-space-size=1", "--heap-growing-percent=10"];

/**
 * The daemon's V8 flags, then REVOADA_NODE_FLAGS (the mesh's env, else the process's): Node flags
 * for every daemon, e.g. "--cpu-prof --cpu-prof-dir=DIR" when profiling (NODE_OPTIONS refuses
 * it); a V8 flag given there overrides the default.
 */
function daemonNodeFlags(env: Readonly<Record<string, string>>): string[] {
  return [...daemonV8Flags, ...nodeFlagsOf(env.REVOADA_NODE_FLAGS ?? process.env.REVOADA_NODE_FLAGS)];
}

/** Node flags given as one space-separated variable (REVOADA_NODE_FLAGS, REVOADA_RAFT_NODE_FLAGS). */
export function nodeFlagsOf(text: string | undefined): string[] {
  return (text ?? "").split(" ").filter((flag) => flag !== "");
}

export async function stopNodeProcess(node: NodeProcess, graceMs = 10_000): Promise<void> {
  const child = node.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await node.exited;
  clearTimeout(timer);
}
