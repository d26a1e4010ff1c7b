// Goal: `revoada up --netns` end to end, as an operator runs it: every node a host of its own
// (its own namespace and address), a leader elected across them, `revoada status --dir` working
// unchanged; Ctrl-C tears everything down (namespaces, veths, the bridge, the run's marker);
// and when the CLI is killed with SIGKILL, which leaves its nodes running in their namespaces,
// the next `up --netns` sweeps that stale run before it starts its own.
// Method: the built CLI in child processes (`up --netns --nodes 3 --no-view`), the namespaces
// and links read with `ip`, the mesh read with the built CLI's `status --dir DIR -o json`.
// Needs root, iproute2 and nftables (scripts/setup-system.sh); without them it fails, never skips.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { z } from "zod";
import { NodeStatusReply } from "../src/api/schemas.js";
import { waitFor } from "../src/mesh/observe.js";
import { revoadaBin } from "../src/mesh/supervisor.js";
import { markerDirectory, sweepStaleRuns } from "../src/netns/hosts.js";
import { runBuiltCli } from "./cli-harness.js";

const patienceMs = 120_000;
const root = await mkdtemp(join(tmpdir(), "revoada-up-netns-"));
const started: ChildProcess[] = [];

after(async () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await sweepStaleRuns();
  await rm(root, { recursive: true, force: true });
});

/** `revoada up --netns` in the background; resolves with the child once it says it started. */
async function up(directory: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [revoadaBin, "up", "--netns", "--nodes", "3", "--face", "systemd", "--dir", directory, "--no-view"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  started.push(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const ready = await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`up exited ${child.exitCode}: ${stderr}`);
      return stderr.includes("Ctrl-C stops them") ? true : undefined;
    },
    patienceMs,
    100,
  );
  assert.ok(ready, `up --netns started: ${stderr}`);
  return { child, stderr: () => stderr };
}

/** The namespaces of the runs a process owns (run ids begin with the owner's pid). */
function namespacesOwnedBy(pid: number): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(`rvd-${pid}x`))
    .sort();
}

function hostVeths(): string[] {
  return execFileSync("ip", ["-o", "link", "show", "type", "veth"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.length > 0)
    .sort();
}

function markersOwnedBy(pid: number): string[] {
  const names = existsSync(markerDirectory)
    ? execFileSync("ls", [markerDirectory], { encoding: "utf8" })
    : "";
  return names.split("\n").filter((name) => name.startsWith(`${pid}x`));
}

/** Every node answers `revoada status --dir`, one of them leads, each knows all three. */
async function leaderOf(directory: string): Promise<string | undefined> {
  const status = await runBuiltCli(["status", "--dir", directory, "-o", "json"]);
  if (status.code !== 0) return undefined;
  const rows = z
    .array(z.object({ name: z.string(), status: NodeStatusReply.nullable() }))
    .parse(JSON.parse(status.stdout));
  if (rows.some((row) => row.status === null || row.status.members.alive !== 3)) return undefined;
  return rows.find((row) => row.status?.raft.state === "leader")?.name;
}

test("up --netns: own addresses, a leader, Ctrl-C leaves nothing; after kill -9 the next run sweeps the stale one", async () => {
  const vethsBefore = hostVeths();

  // A run killed with SIGKILL: its nodes keep running inside its namespaces.
  const crashed = await up(join(root, "crashed"));
  const crashedPid = crashed.child.pid!;
  assert.equal(namespacesOwnedBy(crashedPid).length, 4, "a bridge namespace and three hosts");
  crashed.child.kill("SIGKILL");
  await new Promise((done) => crashed.child.once("exit", done));
  const leftBehind = namespacesOwnedBy(crashedPid);
  assert.equal(leftBehind.length, 4, "a run killed -9 cannot clean up after itself");
  const orphanPids = execFileSync(
    "ip",
    ["netns", "pids", leftBehind.find((name) => name.endsWith("node-1"))!],
    {
      encoding: "utf8",
    },
  ).trim();
  assert.notEqual(orphanPids, "", "its node still runs in its namespace");

  // The next run sweeps it before it starts.
  const directory = join(root, "mesh");
  const live = await up(directory);
  assert.deepEqual(namespacesOwnedBy(crashedPid), [], "the stale run's namespaces are gone");
  assert.deepEqual(markersOwnedBy(crashedPid), [], "and its marker");
  const reaped = await waitFor(
    async () => (orphanPids.split("\n").every((pid) => !existsSync(`/proc/${pid}`)) ? true : undefined),
    10_000,
  );
  assert.ok(reaped, "the stale run's processes are gone");

  const livePid = live.child.pid!;
  const namespaces = namespacesOwnedBy(livePid);
  assert.equal(namespaces.length, 4);
  for (const [index, name] of ["node-1", "node-2", "node-3"].entries()) {
    const namespace = namespaces.find((candidate) => candidate.endsWith(`-${name}`));
    assert.ok(namespace, `${name} has a namespace`);
    const address = `10.77.0.${index + 2}`;
    assert.match(
      execFileSync("ip", ["-n", namespace, "-o", "addr"], { encoding: "utf8" }),
      new RegExp(`eth0\\s+inet ${address.replace(/\./g, "\\.")}/24`),
    );
    assert.match(live.stderr(), new RegExp(`${name} ${address.replace(/\./g, "\\.")}`));
  }
  assert.ok(
    !execFileSync("ip", ["-o", "addr"], { encoding: "utf8" }).includes("10.77.0."),
    "no host address in the machine's own namespace",
  );
  const leader = await waitFor(() => leaderOf(directory), patienceMs, 500);
  assert.ok(leader, "the three hosts elect a leader; status --dir reaches every node");

  // Ctrl-C: the CLI stops the nodes and removes the run.
  const exited = new Promise<number | null>((done) => live.child.once("exit", (code) => done(code)));
  live.child.kill("SIGINT");
  assert.equal(await exited, 0, live.stderr());
  assert.deepEqual(namespacesOwnedBy(livePid), [], "no namespace (bridge, veths) is left");
  assert.deepEqual(markersOwnedBy(livePid), [], "no marker is left");
  assert.deepEqual(hostVeths(), vethsBefore, "no veth in the machine's own namespace");
  const mounts = execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" });
  assert.ok(
    !mounts.includes(`rvd-${livePid}x`) && !mounts.includes(`rvd-${crashedPid}x`),
    "no mount is left",
  );
});
