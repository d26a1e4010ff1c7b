// `pnpm bench raft`: 3 real raft-process.ts nodes on loopback with real fdatasync (group
// commit per Ready), driven through their client HTTP API (`POST /v1/propose`, keep-alive)
// by bench/lib/http-load.ts: commits/s, client-observed p50/p99 and CPU per commit with 1
// and 64 closed-loop clients and 256 B payloads. With `--vs etcd`, a 3-member etcd 3.4 on
// the same disk (its default fsync policy: fdatasync per WAL batch) is driven by the same
// generator through its JSON gateway (`POST /v3/kv/put`, keep-alive), same payloads, same
// clients, in the same run, and the table shows both and the ratio. Then failover: kill -9
// (connections reset) or SIGSTOP (connections stay open: only the election timeout notices)
// of the leader until a survivor acknowledges a proposal, over --trials faults of each kind.
// Homelab timings: election timeout 150 ms, heartbeat 25 ms, pre-vote and check-quorum on.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessCluster, type RaftProcess } from "../packages/node/src/raft/process-cluster.js";
import { benchArgs } from "./lib/args.js";
import { EtcdCluster } from "./lib/etcd-cluster.js";
import { type LoadResult, runLoad } from "./lib/http-load.js";
import { fdatasyncLatencies, httpRoundTripLatencies } from "./lib/latency-floor.js";
import { type Figure, figure, percentile, processCpuMs, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "raft",
  summary:
    "3 real Raft processes with fdatasync through their HTTP API: commits/s, latency, CPU per commit, failover",
  flags: {
    vs: {
      type: "string",
      value: "SYSTEM",
      choices: ["etcd"],
      defaultText: "none",
      help: "also run a 3-member etcd 3.4 beside revoada, same load generator",
    },
    seconds: { type: "string", value: "N", default: "8", help: "per throughput phase" },
    clients: {
      type: "string",
      value: "LIST",
      default: "1,64",
      help: "concurrent closed-loop clients per phase",
    },
    payload: { type: "string", value: "BYTES", default: "256", help: "value size of each proposal / put" },
    voters: { type: "string", value: "N", default: "3", help: "Raft voters, revoada and etcd" },
    trials: { type: "string", value: "N", default: "100", help: "failover kills; 0 skips failover" },
    faults: {
      type: "string",
      value: "LIST",
      default: "kill,stop",
      help: "failover faults: kill (SIGKILL), stop (SIGSTOP)",
    },
    only: {
      type: "string",
      value: "PART",
      choices: ["throughput", "failover"],
      defaultText: "both",
      help: "one part only",
    },
    unencrypted: {
      type: "boolean",
      help: "node transport frames authenticated only, not encrypted (encryption's cost)",
    },
    "compare-encryption": {
      type: "string",
      value: "N",
      default: "0",
      help: "throughput only: N rounds, each a fresh encrypted cluster and a fresh authenticated-only one in turn (the order alternates), same clients and seconds: every phase, the medians and their ratio",
    },
    "election-ms": {
      type: "string",
      value: "MS",
      default: "150",
      help: "election timeout of the bench clusters, the homelab's by default",
    },
  },
});
const { values } = args;
const phaseMs = args.integer("seconds", 0) * 1000;
const trials = args.integer("trials", 0);
const payloadBytes = args.integer("payload", 0);
const voterCount = args.integer("voters", 0);
const clientCounts = args.integers("clients", 0);
const compareRounds = args.integer("compare-encryption", 0);
const electionMs = args.integer("election-ms", 10);
if (compareRounds > 0 && values.unencrypted)
  args.fail("--compare-encryption and --unencrypted exclude each other");
const faults = values.faults.split(",");
if (faults.some((fault) => fault !== "kill" && fault !== "stop"))
  args.fail(`--faults takes kill and/or stop, not ${JSON.stringify(values.faults)}`);
// Read by every Transport of the node processes (they inherit the environment; docs/transport.md).
if (values.unencrypted) process.env.REVOADA_BENCH_UNENCRYPTED_FRAMES = "1";
const runThroughput = values.only !== "failover";
const runFailover = values.only !== "throughput" && trials > 0 && compareRounds === 0;

const baseDirectory = mkdtempSync(join(tmpdir(), "revoada-bench-raft-"));
// The snapshot interval is etcd's default snapshot count, so neither system compacts during
// a phase more often than the other (the register applier snapshots every value it holds).
const clusterArgs = [
  "--election-ms",
  String(electionMs),
  "--snapshot-interval",
  "100000",
  "--http",
  "127.0.0.1:0",
];
let cluster = new ProcessCluster(join(baseDirectory, "throughput"), voterCount, clusterArgs);
/** Failovers whose new leader's term is more than one above the killed leader's (split votes). */
let failoversWithExtraElections = 0;
let sequence = 0;
let leaderChanges = 0;

/** A value of payloadBytes printable bytes (the same for both systems). */
const payload = Buffer.alloc(payloadBytes, "v");
const payloadBase64 = payload.toString("base64");

interface Throughput extends LoadResult {
  /** CPU time (user + system) of the server processes, in ms. */
  readonly serverCpuMs: number;
  /** Entries per fdatasync at the leader (revoada only; NaN when leadership moved). */
  readonly entriesPerSync: number;
}

function sumCpuMs(pids: readonly (number | undefined)[]): number {
  return pids.reduce((total: number, pid) => total + processCpuMs(pid), 0);
}

async function leaderCounters(leader: RaftProcess): Promise<{ syncs: number; entriesPersisted: number }> {
  const response = await leader.request("status");
  return response.counters as { syncs: number; entriesPersisted: number };
}

/** revoada: `POST /v1/propose` on the leader, the key and the value as the entry. */
async function revoadaThroughput(
  first: RaftProcess,
  clients: number,
  durationMs: number,
): Promise<Throughput> {
  let leader = first;
  let finding: Promise<RaftProcess> | null = null;
  const countersBefore = await leaderCounters(leader);
  const pids = () => cluster.nodes.map((node) => node.child?.pid);
  const cpuBefore = sumCpuMs(pids());
  const result = await runLoad(
    () => ({
      host: "127.0.0.1",
      port: leader.httpPort,
      path: "/v1/propose",
      contentType: "application/octet-stream",
      body: (n) => Buffer.concat([Buffer.from(`bench/${n} `), payload]),
    }),
    clients,
    durationMs,
    async () => {
      // Leadership moved (a spurious election on the loaded machine): follow it.
      finding ??= cluster.waitForLeader(60_000).finally(() => {
        finding = null;
      });
      leader = await finding;
    },
  );
  const serverCpuMs = sumCpuMs(pids()) - cpuBefore;
  if (leader !== first) leaderChanges += 1;
  const countersAfter = await leaderCounters(leader);
  const syncs = countersAfter.syncs - countersBefore.syncs;
  // Counters are per process: only meaningful when one leader served the whole phase.
  const entriesPerSync =
    leader === first
      ? (countersAfter.entriesPersisted - countersBefore.entriesPersisted) / Math.max(1, syncs)
      : Number.NaN;
  return { ...result, serverCpuMs, entriesPerSync };
}

/** etcd: `POST /v3/kv/put` (JSON gateway) on the leader, the same key and value. */
async function etcdThroughput(etcd: EtcdCluster, clients: number, durationMs: number): Promise<Throughput> {
  let leader = await etcd.waitForLeader(60_000);
  const cpuBefore = sumCpuMs(etcd.pids());
  const result = await runLoad(
    () => ({
      host: "127.0.0.1",
      port: leader.clientPort,
      path: "/v3/kv/put",
      contentType: "application/json",
      body: (n) =>
        Buffer.from(`{"key":"${Buffer.from(`bench/${n}`).toString("base64")}","value":"${payloadBase64}"}`),
    }),
    clients,
    durationMs,
    async () => {
      leader = await etcd.waitForLeader(60_000);
    },
  );
  return { ...result, serverCpuMs: sumCpuMs(etcd.pids()) - cpuBefore, entriesPerSync: Number.NaN };
}

interface PhaseFigures {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** Servers + load generator, µs per commit. */
  readonly cpuUs: number;
  readonly serverCpuUs: number;
  readonly clientCpuUs: number;
}

function phaseFigures(result: Throughput): PhaseFigures {
  const commits = Math.max(1, result.commits);
  return {
    rate: Math.round(result.commits / result.seconds),
    p50: percentile(result.latenciesMs, 50),
    p99: percentile(result.latenciesMs, 99),
    cpuUs: ((result.serverCpuMs + result.clientCpuMs) * 1000) / commits,
    serverCpuUs: (result.serverCpuMs * 1000) / commits,
    clientCpuUs: (result.clientCpuMs * 1000) / commits,
  };
}

function pushPhase(figures: Figure[], system: string, clients: number, f: PhaseFigures): void {
  const target = system === "revoada" && clients === 64 ? ">= 10x etcd" : undefined;
  figures.push(figure(`${system} commits/s, ${clients} client(s)`, f.rate, "1/s", target));
  figures.push(
    figure(
      `${system} latency p50, ${clients} client(s)`,
      f.p50,
      "ms",
      system === "revoada" && clients === 1 ? "<= 0.4" : undefined,
    ),
  );
  figures.push(figure(`${system} latency p99, ${clients} client(s)`, f.p99, "ms"));
  figures.push(
    figure(
      `${system} CPU per commit, ${clients} client(s)`,
      f.cpuUs,
      "us",
      system === "revoada" && clients === 1 ? "<= 200" : undefined,
    ),
  );
  figures.push(figure(`${system} server CPU per commit, ${clients} client(s)`, f.serverCpuUs, "us"));
  figures.push(figure(`${system} load generator CPU per commit, ${clients} client(s)`, f.clientCpuUs, "us"));
  figures.push(
    figure(
      `${system} CPU-bound ceiling, ${clients} client(s)`,
      Math.round((cpus().length * 1e6) / f.cpuUs),
      "1/s",
    ),
  );
}

/**
 * What one client cannot beat on this machine (bench/lib/latency-floor.ts): an HTTP round
 * trip to a Node server that answers at once, plus one fdatasync of an append of the same
 * size on the disk both systems write to, measured right after their phases.
 */
async function pushLatencyFloor(figures: Figure[], notes: string[]): Promise<void> {
  const syncs = fdatasyncLatencies(baseDirectory, payloadBytes, 2_000);
  const trips = await httpRoundTripLatencies(payloadBytes, 2_000);
  const sync50 = percentile(syncs, 50);
  const trip50 = percentile(trips, 50);
  figures.push(figure(`floor: fdatasync of one ${payloadBytes} B append p50`, sync50, "ms"));
  figures.push(figure(`floor: fdatasync of one ${payloadBytes} B append p99`, percentile(syncs, 99), "ms"));
  figures.push(figure("floor: HTTP round trip, server answers at once, p50", trip50, "ms"));
  figures.push(figure("floor: HTTP round trip, server answers at once, p99", percentile(trips, 99), "ms"));
  figures.push(figure("floor: 1-client commit (round trip + one fdatasync) p50", trip50 + sync50, "ms"));
  process.stdout.write(
    `floor under a 1-client commit: HTTP round trip p50 ${trip50.toFixed(3)} ms + fdatasync p50 ${sync50.toFixed(3)} ms = ${(trip50 + sync50).toFixed(3)} ms\n`,
  );
  notes.push(
    "floor: a commit answered to one client takes at least an HTTP round trip and a follower's fdatasync (the leader's runs beside it), plus a replication round trip not counted here; both were measured on the same disk and loopback right after the phases",
  );
}

/** The side-by-side table printed before the report. */
function comparisonTable(
  rows: { clients: number; revoada: PhaseFigures; etcd: PhaseFigures | null }[],
): string {
  const lines = ["clients  system    commits/s   p50 ms   p99 ms   CPU/commit us (servers + generator)"];
  const line = (clients: number, system: string, f: PhaseFigures) =>
    `${String(clients).padStart(7)}  ${system.padEnd(8)}  ${String(f.rate).padStart(9)}  ${f.p50.toFixed(2).padStart(7)}  ${f.p99.toFixed(2).padStart(7)}  ${f.cpuUs.toFixed(0).padStart(6)} (${f.serverCpuUs.toFixed(0)} + ${f.clientCpuUs.toFixed(0)})`;
  for (const row of rows) {
    lines.push(line(row.clients, "revoada", row.revoada));
    if (row.etcd === null) continue;
    lines.push(line(row.clients, "etcd", row.etcd));
    lines.push(
      `${"".padStart(7)}  ${"ratio".padEnd(8)}  ${`${(row.revoada.rate / row.etcd.rate).toFixed(2)}x`.padStart(9)}  ${`${(row.etcd.p50 / row.revoada.p50).toFixed(2)}x`.padStart(7)}  ${`${(row.etcd.p99 / row.revoada.p99).toFixed(2)}x`.padStart(7)}  ${`${(row.etcd.cpuUs / row.revoada.cpuUs).toFixed(2)}x`.padStart(6)} (etcd / revoada)`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Kills (SIGKILL) or stops (SIGSTOP) the leader; time until any surviving node acknowledges a
 * proposal. A stopped leader keeps its connections open, so only the election timeout notices
 * it; it is then killed and restarted like a killed one, and caught up before the next trial.
 */
async function failoverTrial(signal: NodeJS.Signals): Promise<number> {
  const leader = await cluster.waitForLeader(60_000);
  const survivors = cluster.nodes.filter((node) => node !== leader);
  const termBefore = (await leader.status())?.term ?? 0;
  const killedAt = performance.now();
  leader.child?.kill(signal);
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

type FrameMode = "AES-256-GCM" | "HMAC only";

/**
 * `--compare-encryption N`: encryption's cost in one run. Each round starts a fresh cluster
 * per frame mode (the node processes read REVOADA_BENCH_UNENCRYPTED_FRAMES at start), warms it
 * up and runs one phase per client count; the order of the two modes alternates between rounds
 * so a load that drifts during the run weighs on both. Phases where leadership moved are
 * marked; the medians are over every phase.
 */
async function compareEncryption(figures: Figure[], notes: string[]): Promise<void> {
  const modes: readonly FrameMode[] = ["AES-256-GCM", "HMAC only"];
  const phases: { round: number; mode: FrameMode; clients: number; f: PhaseFigures; moved: boolean }[] = [];
  for (let round = 0; round < compareRounds; round += 1) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      process.env.REVOADA_BENCH_UNENCRYPTED_FRAMES = mode === "HMAC only" ? "1" : "0";
      cluster = new ProcessCluster(
        join(baseDirectory, `compare-${round}-${mode === "HMAC only" ? "mac" : "aead"}`),
        voterCount,
        clusterArgs,
      );
      try {
        await cluster.start();
        let leader = await cluster.waitForLeader(60_000);
        await revoadaThroughput(leader, 16, 1000);
        for (const clients of clientCounts) {
          leader = await cluster.waitForLeader(60_000);
          const movedBefore = leaderChanges;
          const f = phaseFigures(await revoadaThroughput(leader, clients, phaseMs));
          phases.push({ round, mode, clients, f, moved: leaderChanges > movedBefore });
          process.stderr.write(
            `round ${round + 1}/${compareRounds} ${mode}, ${clients} client(s): ${f.rate} commits/s, server CPU ${f.serverCpuUs.toFixed(0)} us/commit${leaderChanges > movedBefore ? " (leadership moved)" : ""}\n`,
          );
        }
      } finally {
        await cluster.stop();
      }
    }
  }
  delete process.env.REVOADA_BENCH_UNENCRYPTED_FRAMES;
  const lines = ["round  frames       clients  commits/s  server CPU us/commit  p50 ms  p99 ms"];
  for (const phase of phases) {
    lines.push(
      `${String(phase.round + 1).padStart(5)}  ${phase.mode.padEnd(11)}  ${String(phase.clients).padStart(7)}  ${String(phase.f.rate).padStart(9)}  ${phase.f.serverCpuUs.toFixed(0).padStart(20)}  ${phase.f.p50.toFixed(2).padStart(6)}  ${phase.f.p99.toFixed(2).padStart(6)}${phase.moved ? "  leadership moved" : ""}`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const clients of clientCounts) {
    const median = (mode: FrameMode, pick: (f: PhaseFigures) => number) =>
      percentile(
        phases
          .filter((phase) => phase.mode === mode && phase.clients === clients)
          .map((phase) => pick(phase.f)),
        50,
      );
    const rate = { aead: median("AES-256-GCM", (f) => f.rate), mac: median("HMAC only", (f) => f.rate) };
    const cpu = {
      aead: median("AES-256-GCM", (f) => f.serverCpuUs),
      mac: median("HMAC only", (f) => f.serverCpuUs),
    };
    figures.push(figure(`commits/s encrypted (median), ${clients} client(s)`, rate.aead, "1/s"));
    figures.push(figure(`commits/s authenticated only (median), ${clients} client(s)`, rate.mac, "1/s"));
    figures.push(
      figure(`encrypted / authenticated only commits/s, ${clients} client(s)`, rate.aead / rate.mac, "x"),
    );
    figures.push(figure(`server CPU per commit encrypted (median), ${clients} client(s)`, cpu.aead, "us"));
    figures.push(
      figure(`server CPU per commit authenticated only (median), ${clients} client(s)`, cpu.mac, "us"),
    );
    figures.push(
      figure(`server CPU per commit, cost of encryption, ${clients} client(s)`, cpu.aead - cpu.mac, "us"),
    );
  }
  const moved = phases.filter((phase) => phase.moved);
  notes.push(
    `--compare-encryption ${compareRounds}: a fresh 3-voter cluster per round and frame mode, order alternating; ${phases.length} phases of ${phaseMs / 1000} s, leadership moved in ${moved.length} (${moved.filter((phase) => phase.mode === "AES-256-GCM").length} encrypted)`,
  );
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  const notes: string[] = [
    compareRounds > 0
      ? "node transport frames: AES-256-GCM and authenticated only, alternating (--compare-encryption)"
      : `node transport frames: ${values.unencrypted ? "authenticated only (--unencrypted)" : "AES-256-GCM"}`,
  ];
  let etcd: EtcdCluster | null = null;
  try {
    if (compareRounds > 0) await compareEncryption(figures, notes);
    else if (runThroughput) {
      await cluster.start();
      if (values.vs === "etcd") etcd = await EtcdCluster.start(join(baseDirectory, "etcd"), voterCount);
      let leader = await cluster.waitForLeader(60_000);
      // Warm up JIT, connections, the WAL segments of both systems.
      await revoadaThroughput(leader, 16, 1000);
      if (etcd !== null) await etcdThroughput(etcd, 16, 1000);
      const rows: { clients: number; revoada: PhaseFigures; etcd: PhaseFigures | null }[] = [];
      for (const clients of clientCounts) {
        leader = await cluster.waitForLeader(60_000);
        const result = await revoadaThroughput(leader, clients, phaseMs);
        const revoada = phaseFigures(result);
        pushPhase(figures, "revoada", clients, revoada);
        figures.push(
          figure(`revoada entries per fsync, leader, ${clients} client(s)`, result.entriesPerSync, "entries"),
        );
        if (result.failures > 0) {
          notes.push(
            `revoada: ${result.failures} proposals refused (not the leader) with ${clients} client(s)`,
          );
        }
        let etcdFigures: PhaseFigures | null = null;
        if (etcd !== null) {
          const etcdResult = await etcdThroughput(etcd, clients, phaseMs);
          etcdFigures = phaseFigures(etcdResult);
          pushPhase(figures, "etcd", clients, etcdFigures);
          figures.push(
            figure(`revoada / etcd commits/s, ${clients} client(s)`, revoada.rate / etcdFigures.rate, "x"),
          );
          if (etcdResult.failures > 0)
            notes.push(`etcd: ${etcdResult.failures} puts failed with ${clients} client(s)`);
        }
        rows.push({ clients, revoada, etcd: etcdFigures });
      }
      process.stdout.write(comparisonTable(rows));
      if (clientCounts.includes(1)) await pushLatencyFloor(figures, notes);
      if (leaderChanges > 0) notes.push(`leadership moved during ${leaderChanges} throughput phase(s)`);
      notes.push(
        `latency is client-observed over keep-alive HTTP/1.1 (bench/lib/http-load.ts): revoada POST /v1/propose, etcd POST /v3/kv/put (JSON gateway); ${payloadBytes} B values`,
      );
      notes.push(
        "CPU per commit is the server processes' (from /proc) plus the load generator's (process.cpuUsage) CPU time over the commits",
      );
      if (etcd !== null) {
        notes.push(
          "etcd 3.4.23, 3 members on loopback, default fsync (fdatasync of the WAL per batch), default snapshot count (100 000); revoada's snapshot interval set to the same",
        );
      }
      await etcd?.stop();
      etcd = null;
      await cluster.stop();
    }
    if (runFailover) {
      // Failover runs on a fresh cluster: the throughput phases leave ~10^5 register values
      // in every process (big heaps, big snapshots), which a fabric state never has.
      cluster = new ProcessCluster(join(baseDirectory, "failover"), voterCount, clusterArgs);
      await cluster.start();
      for (const fault of faults) {
        const signal = fault === "kill" ? "SIGKILL" : "SIGSTOP";
        const failovers: number[] = [];
        failoversWithExtraElections = 0;
        for (let trial = 0; trial < trials; trial += 1) {
          failovers.push(await failoverTrial(signal));
          process.stderr.write(
            `failover (${fault}) ${trial + 1}/${trials}: ${failovers.at(-1)!.toFixed(1)} ms\n`,
          );
        }
        figures.push(figure(`failover (${fault}) trials`, failovers.length, "faults"));
        figures.push(figure(`failover (${fault}) p50`, percentile(failovers, 50), "ms", "<= 150"));
        figures.push(figure(`failover (${fault}) p99`, percentile(failovers, 99), "ms", "<= 400"));
        figures.push(figure(`failover (${fault}) max`, Math.max(...failovers), "ms"));
        figures.push(
          figure(`failovers (${fault}) over 400 ms`, failovers.filter((ms) => ms > 400).length, "faults"),
        );
        figures.push(
          figure(`failovers (${fault}) needing a second election`, failoversWithExtraElections, "faults"),
        );
      }
      notes.push(
        "failover: kill -9 (kill) or SIGSTOP (stop) of the leader until a surviving node acknowledges a proposal (committed + applied); a stopped leader is then killed and restarted",
      );
    }
    notes.push(
      `election timeout ${electionMs} ms (randomised in [${electionMs}, ${2 * electionMs})), heartbeat ${Math.max(10, Math.floor(electionMs / 6))} ms, pre-vote + check-quorum`,
    );
  } finally {
    await etcd?.stop();
    await cluster.stop();
    rmSync(baseDirectory, { recursive: true, force: true });
  }
  publishBenchReport({ name: "raft", fsyncMode: "real fsync", figures, notes });
}

await main();
