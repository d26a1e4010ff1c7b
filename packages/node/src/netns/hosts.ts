import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * Network-namespace hosts: N namespaces, each with loopback up and one interface (`eth0`)
 * holding its own address in a private /24, joined by a bridge that lives in a namespace of
 * its own. Nothing is created in the host's network namespace, so no packet between hosts
 * ever reaches it. Every name carries the run id; a marker file in `/run/revoada-netns` names
 * the process that owns the run, and a run whose owner is gone is swept (namespaces, the
 * processes inside them, tmpfs mounts whose source names the run) by the next run to start.
 * Needs root and iproute2.
 */

const runPrefix = "rvd";
export const markerDirectory = "/run/revoada-netns";
const execFileAsync = promisify(execFile);

export interface NetnsHost {
  /** The node name this host runs (`node-1`...). */
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  /** The bridge port (in the bridge namespace) this host's `eth0` is paired with. */
  readonly bridgePort: string;
}

export interface NetnsRun {
  readonly runId: string;
  readonly bridgeNamespace: string;
  readonly hosts: readonly NetnsHost[];
  /** A directory for this run's sockets (short paths: a Unix socket path has 108 bytes at most). */
  readonly socketDirectory: string;
}

export class NetnsCommandError extends Error {
  override readonly name = "NetnsCommandError";
  constructor(
    readonly command: readonly string[],
    readonly stderr: string,
  ) {
    super(`${command.join(" ")} failed: ${stderr.trim()}`);
  }
}

/** Runs a command (ip, nft, kill, mount); rejects with its stderr. */
export async function runCommand(command: readonly string[], input?: string): Promise<string> {
  assert(command.length > 0, "a command has a program");
  const child = execFileAsync(command[0]!, command.slice(1), { timeout: 15_000 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    const { stdout } = await child;
    return stdout;
  } catch (error) {
    const stderr =
      error !== null && typeof error === "object" && "stderr" in error ? String(error.stderr) : String(error);
    throw new NetnsCommandError(command, stderr);
  }
}

/** `ip -n NAMESPACE ...` */
export async function ipIn(namespace: string, ...args: string[]): Promise<string> {
  return runCommand(["ip", "-n", namespace, ...args]);
}

/** The namespace name of a run's host or bridge. */
function namespaceName(runId: string, part: string): string {
  return `${runPrefix}-${runId}-${part}`;
}

/** A fresh run id: the owner's pid and random bytes, so two runs of one process differ. */
function newRunId(): string {
  return `${process.pid}x${randomBytes(3).toString("hex")}`;
}

/** The start time of a process (field 22 of /proc/PID/stat), or null when it is gone. */
async function processStartTime(pid: number): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return null;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? null;
}

interface RunMarker {
  readonly pid: number;
  readonly start: string;
}

async function writeMarker(runId: string): Promise<void> {
  const start = await processStartTime(process.pid);
  assert(start !== null, "this process has a start time");
  await mkdir(markerDirectory, { recursive: true, mode: 0o700 });
  const marker: RunMarker = { pid: process.pid, start };
  await writeFile(join(markerDirectory, `${runId}.json`), `${JSON.stringify(marker)}\n`);
}

/** A run is live while its marker names a process that still runs (same pid, same start time). */
async function isLiveRun(runId: string): Promise<boolean> {
  const text = await readFile(join(markerDirectory, `${runId}.json`), "utf8").catch(() => null);
  if (text === null) return false;
  let marker: RunMarker;
  try {
    marker = JSON.parse(text) as RunMarker;
  } catch {
    return false;
  }
  if (!Number.isSafeInteger(marker.pid) || marker.pid <= 0) return false;
  return (await processStartTime(marker.pid)) === marker.start;
}

/** The run ids that have namespaces, markers or mounts on this machine. */
async function knownRuns(): Promise<Set<string>> {
  const runs = new Set<string>();
  const pattern = new RegExp(`^${runPrefix}-([0-9]+x[0-9a-f]{6})(?:-|$)`);
  for (const namespace of await listNamespaces()) {
    const match = pattern.exec(namespace);
    if (match !== null) runs.add(match[1]!);
  }
  for (const mount of await runMounts()) runs.add(mount.runId);
  const markers = await readdir(markerDirectory).catch(() => [] as string[]);
  for (const name of markers) {
    const match = /^([0-9]+x[0-9a-f]{6})\.json$/.exec(name);
    if (match !== null) runs.add(match[1]!);
  }
  return runs;
}

async function listNamespaces(): Promise<string[]> {
  const text = await runCommand(["ip", "netns", "list"]);
  return text
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.length > 0);
}

/** tmpfs mounts a run made (their source is `rvd-<run id>`), from /proc/self/mountinfo. */
export async function runMounts(): Promise<{ runId: string; path: string }[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const mounts: { runId: string; path: string }[] = [];
  for (const line of text.split("\n")) {
    const [before, after] = line.split(" - ");
    if (before === undefined || after === undefined) continue;
    const source = after.split(" ")[1] ?? "";
    const match = new RegExp(`^${runPrefix}-([0-9]+x[0-9a-f]{6})$`).exec(source);
    const path = before.split(" ")[4];
    if (match !== null && path !== undefined) {
      mounts.push({ runId: match[1]!, path: path.replace(/\\040/g, " ") });
    }
  }
  return mounts;
}

/** The tmpfs source name that ties a mount to its run (so a sweep finds it). */
export function mountSource(runId: string): string {
  return `${runPrefix}-${runId}`;
}

/**
 * Removes every trace of a run: kills the processes inside its namespaces (kill -9), deletes
 * the namespaces (their veth pairs and the bridge go with them), unmounts its tmpfs mounts,
 * removes its marker and socket directory. Idempotent; never touches another run.
 */
export async function removeRun(runId: string): Promise<void> {
  const prefix = namespaceName(runId, "");
  const namespaces = (await listNamespaces()).filter((name) => name.startsWith(prefix));
  for (const namespace of namespaces) {
    const pids = await runCommand(["ip", "netns", "pids", namespace]).catch(() => "");
    for (const pid of pids.split("\n").filter((line) => /^[0-9]+$/.test(line))) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  for (const mount of await runMounts()) {
    if (mount.runId === runId) await runCommand(["umount", "-l", mount.path]).catch(() => "");
  }
  for (const namespace of namespaces) {
    await runCommand(["ip", "netns", "delete", namespace]).catch(() => "");
  }
  await rm(join(markerDirectory, runId), { recursive: true, force: true });
  await rm(join(markerDirectory, `${runId}.json`), { force: true });
}

/** Removes every run whose owner is gone; returns their ids. */
export async function sweepStaleRuns(): Promise<string[]> {
  const swept: string[] = [];
  for (const runId of [...(await knownRuns())].sort()) {
    if (await isLiveRun(runId)) continue;
    await removeRun(runId);
    swept.push(runId);
  }
  return swept;
}

/** The namespaces of a run that still exist (tests check that cleanup left none). */
export async function namespacesOf(runId: string): Promise<string[]> {
  const prefix = namespaceName(runId, "");
  return (await listNamespaces()).filter((name) => name.startsWith(prefix));
}

/**
 * Creates a run of `count` hosts named `node-1`..`node-N` at `10.77.0.2`.. in 10.77.0.0/24
 * (`subnet` changes the first three octets). Sweeps stale runs first. On any failure it
 * removes what it made and rethrows.
 */
export async function createHosts(count: number, subnet = "10.77.0"): Promise<NetnsRun> {
  assert(Number.isSafeInteger(count) && count >= 1, "at least one host");
  assert(count <= 200, "at most 200 hosts in a /24");
  assert(/^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(subnet), "subnet is three octets");
  await sweepStaleRuns();
  const runId = newRunId();
  await writeMarker(runId);
  const socketDirectory = join(markerDirectory, runId);
  try {
    await mkdir(socketDirectory, { mode: 0o700 });
    const bridgeNamespace = namespaceName(runId, "bridge");
    await runCommand(["ip", "netns", "add", bridgeNamespace]);
    await ipIn(bridgeNamespace, "link", "set", "lo", "up");
    await ipIn(bridgeNamespace, "link", "add", "br0", "type", "bridge");
    await ipIn(bridgeNamespace, "link", "set", "br0", "up");
    const hosts: NetnsHost[] = [];
    for (let index = 0; index < count; index += 1) {
      hosts.push(await createHost(runId, bridgeNamespace, index, subnet));
    }
    return { runId, bridgeNamespace, hosts, socketDirectory };
  } catch (error) {
    await removeRun(runId);
    throw error;
  }
}

async function createHost(
  runId: string,
  bridgeNamespace: string,
  index: number,
  subnet: string,
): Promise<NetnsHost> {
  const name = `node-${index + 1}`;
  const namespace = namespaceName(runId, name);
  const bridgePort = `p${index + 1}`;
  const address = `${subnet}.${index + 2}`;
  await runCommand(["ip", "netns", "add", namespace]);
  await ipIn(namespace, "link", "set", "lo", "up");
  // Both ends are made inside namespaces of this run: the host namespace never holds either.
  await ipIn(
    bridgeNamespace,
    "link",
    "add",
    bridgePort,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    namespace,
  );
  await ipIn(bridgeNamespace, "link", "set", bridgePort, "master", "br0");
  await ipIn(bridgeNamespace, "link", "set", bridgePort, "up");
  await ipIn(namespace, "addr", "add", `${address}/24`, "dev", "eth0");
  await ipIn(namespace, "link", "set", "eth0", "up");
  return { name, namespace, address, bridgePort };
}

/** Removes a run this process made, and its marker. */
export async function removeHosts(run: NetnsRun): Promise<void> {
  await removeRun(run.runId);
}
