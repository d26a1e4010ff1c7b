// `pnpm bench raft`: 3 real raft-process.ts nodes on loopback with real fdatasync (group
// commit per Ready). Prints commits/s and client-observed p50/p99 latency with 1 and 64
// concurrent proposers, then failover: kill -9 of the leader until a new leader
// acknowledges a proposal, over --trials kills (default 50). Homelab timings: election
// timeout 150 ms, heartbeat 25 ms, pre-vote and check-quorum on.
//
// Flags: --seconds N (per throughput phase, default 8), --trials N (default 50).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ProcessCluster, type RaftProcess } from "../packages/node/src/raft/process-cluster.js";
import { type Figure, figure, percentile, publishBenchReport } from "./report.js";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "8" }, trials: { type: "string", default: "50" } },
});
const phaseMs = Number(values.seconds) * 1000;
const trials = Number(values.trials);

const baseDirectory = mkdtempSync(join(tmpdir(), "revoada-bench-raft-"));
const clusterArgs = ["--election-ms", "150"];
let cluster = new ProcessCluster(join(baseDirectory, "throughput"), 3, clusterArgs);
/** Failovers whose new leader's term is more than one above the killed leader's (split votes). */
let failoversWithExtraElections = 0;
let sequence = 0;
let leaderChanges = 0;

interface Throughput {
  readonly commits: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly failures: number;
  /** CPU time (user + system) of the 3 node processes and this client, in ms. */
  readonly cpuMs: number;
  /** Entries per fdatasync at the leader (its group-commit batch). */
  readonly entriesPerSync: number;
}

/** User + system CPU time of a child process, in ms (Linux /proc, clock ticks of 10 ms). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function clusterCpuMs(): number {
  const own = process.cpuUsage();
  let total = (own.user + own.system) / 1000;
  for (const node of cluster.nodes) total += processCpuMs(node.child?.pid);
  return total;
}

async function leaderCounters(leader: RaftProcess): Promise<{ syncs: number; entriesPersisted: number }> {
  const response = await leader.request("status");
  return response.counters as { syncs: number; entriesPersisted: number };
}

async function throughput(first: RaftProcess, proposers: number, durationMs: number): Promise<Throughput> {
  const latenciesMs: number[] = [];
  let failures = 0;
  let leader = first;
  let finding: Promise<RaftProcess> | null = null;
  const countersBefore = await leaderCounters(leader);
  const cpuBefore = clusterCpuMs();
  const start = performance.now();
  const deadline = start + durationMs;
  const proposer = async () => {
    while (performance.now() < deadline) {
      sequence += 1;
      const sent = performance.now();
      const response = await leader.request("propose", { data: `bench-${sequence}` }, 30_000);
      if (response.ok) {
        latenciesMs.push(performance.now() - sent);
        continue;
      }
      // Leadership moved (a spurious election on the loaded machine): follow it.
      failures += 1;
      finding ??= cluster.waitForLeader(60_000).finally(() => {
        finding = null;
      });
      leader = await finding;
    }
  };
  await Promise.all(Array.from({ length: proposers }, proposer));
  const seconds = (performance.now() - start) / 1000;
  const cpuMs = clusterCpuMs() - cpuBefore;
  if (leader !== first) leaderChanges += 1;
  const countersAfter = await leaderCounters(leader);
  const syncs = countersAfter.syncs - countersBefore.syncs;
  // Counters are per process: only meaningful when one leader served the whole phase.
  const entriesPerSync =
    leader === first
      ? (countersAfter.entriesPersisted - countersBefore.entriesPersisted) / Math.max(1, syncs)
      : Number.NaN;
  return { commits: latenciesMs.length, seconds, latenciesMs, failures, cpuMs, entriesPerSync };
}

/** kill -9 the leader; time until any surviving node acknowledges a proposal. */
async function failoverTrial(): Promise<number> {
  const leader = await cluster.waitForLeader(60_000);
  const survivors = cluster.nodes.filter((node) => node !== leader);
  const termBefore = (await leader.status())?.term ?? 0;
  const killedAt = performance.now();
  leader.child?.kill("SIGKILL");
  let elapsedMs = Number.NaN;
  while (Number.isNaN(elapsedMs)) {
    const attempts = survivors.map(async (node) => {
      sequence += 1;
      const response = await node
        .request("propose", { data: `failover-${sequence}` }, 5000)
        .catch(() => null);
      if (response?.ok === true && Number.isNaN(elapsedMs)) elapsedMs = performance.now() - killedAt;
    });
    await Promise.all(attempts);
    if (Number.isNaN(elapsedMs)) await new Promise((resolve) => setTimeout(resolve, 1));
    if (performance.now() - killedAt > 60_000) throw new Error("no new leader within 60 s");
  }
  const successor = await cluster.waitForLeader(60_000, leader);
  if (((await successor.status())?.term ?? 0) > termBefore + 1) failoversWithExtraElections += 1;
  await leader.kill();
  await cluster.restart(leader);
  await waitCaughtUp(leader);
  return elapsedMs;
}

async function waitCaughtUp(node: RaftProcess): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const leader = await cluster.waitForLeader(60_000);
    const [mine, theirs] = await Promise.all([node.status(), leader.status()]);
    if (mine !== null && theirs !== null && mine.applied >= theirs.commit) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("restarted node did not catch up");
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  try {
    await cluster.start();
    let leader = await cluster.waitForLeader(60_000);
    await throughput(leader, 16, 1000); // warm up JIT, connections, the WAL segment
    for (const proposers of [1, 64]) {
      leader = await cluster.waitForLeader(60_000);
      const result = await throughput(leader, proposers, phaseMs);
      const target = proposers === 64 ? ">= 20000" : undefined;
      figures.push(
        figure(
          `commits/s, ${proposers} proposer(s)`,
          Math.round(result.commits / result.seconds),
          "1/s",
          target,
        ),
      );
      figures.push(figure(`latency p50, ${proposers} proposer(s)`, percentile(result.latenciesMs, 50), "ms"));
      figures.push(
        figure(
          `latency p99, ${proposers} proposer(s)`,
          percentile(result.latenciesMs, 99),
          "ms",
          proposers === 64 ? "<= 10" : undefined,
        ),
      );
      const cpuPerCommitUs = (result.cpuMs * 1000) / Math.max(1, result.commits);
      const ceiling = Math.round((cpus().length * 1e6) / cpuPerCommitUs);
      figures.push(figure(`CPU per commit, ${proposers} proposer(s)`, cpuPerCommitUs, "us"));
      figures.push(figure(`CPU-bound ceiling, ${proposers} proposer(s)`, ceiling, "1/s"));
      figures.push(
        figure(`entries per fsync, leader, ${proposers} proposer(s)`, result.entriesPerSync, "entries"),
      );
      if (result.failures > 0) {
        notes.push(`${result.failures} proposals refused (not the leader) with ${proposers} proposer(s)`);
      }
    }
    if (leaderChanges > 0) notes.push(`leadership moved during ${leaderChanges} throughput phase(s)`);
    // Failover runs on a fresh cluster: the throughput phases leave ~10^5 register values in
    // every process (big heaps, big snapshots), which a fabric state never has.
    await cluster.stop();
    cluster = new ProcessCluster(join(baseDirectory, "failover"), 3, clusterArgs);
    await cluster.start();
    const failovers: number[] = [];
    for (let trial = 0; trial < trials; trial += 1) {
      failovers.push(await failoverTrial());
      process.stderr.write(`failover ${trial + 1}/${trials}: ${failovers.at(-1)!.toFixed(1)} ms\n`);
    }
    figures.push(figure("failover trials", failovers.length, "kills"));
    figures.push(figure("failover p50", percentile(failovers, 50), "ms", "<= 150"));
    figures.push(figure("failover p99", percentile(failovers, 99), "ms", "<= 400"));
    figures.push(figure("failover max", Math.max(...failovers), "ms"));
    figures.push(figure("failovers needing a second election", failoversWithExtraElections, "kills"));
    notes.push(
      "latency is client-observed: JSON line over the leader's stdin to the acknowledgement on stdout",
    );
    notes.push(
      "election timeout 150 ms (randomised in [150, 300)), heartbeat 25 ms, pre-vote + check-quorum",
    );
    notes.push(
      "failover: kill -9 of the leader until a surviving node acknowledges a proposal (committed + applied)",
    );
  } finally {
    await cluster.stop();
    rmSync(baseDirectory, { recursive: true, force: true });
  }
  publishBenchReport({ name: "raft", fsyncMode: "real fsync", figures, notes });
}

await main();
