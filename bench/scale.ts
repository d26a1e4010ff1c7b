/**
 * `pnpm bench scale [--sizes 100,250,500] [--commits K] [--no-baseline] [--real N [--real-only] [--rest-only] [--netns] [--learners-max K] [--relay-fanout F] [--log-level L] [--keep]]`: the whole
 * fabric (gossip + Raft + policy + executor + the state relay) in the deterministic simulator
 * at N = 100, 250 and 500, with every invariant on (applied-committed after every step, machine
 * agreement every 2 s of virtual time), then optionally N real daemons on loopback
 * (`--real N`, see `bench/scale/real.ts`; `--netns`: one network namespace per daemon;
 * `--learners-max K`: the daemons' learner bound, 4 by default as in the simulator; `--real-only`
 * skips the simulator and writes bench-results/scale-real.json). Design: docs/scale.md.
 *
 * Per N: the mesh forms (voters + 4 learners hold the log, the others follow through the
 * relay), runs until 15 s of virtual time and until gossip's start-up burst is over (no core
 * has an update queued for 1 s), then K client writes (workload upserts, each followed by the policy's placement) are
 * proposed 500 ms apart, and the run reports
 *   - per-node bytes/s: gossip (envelope included), relay, and Raft on the leader;
 *   - leader CPU per commit: CPU time inside the leader's Raft core and its machine applies,
 *     over the entries committed in the window; Raft messages per commit;
 *   - commit -> applied ("rendered": a node renders from its applied machine) on 99% and on
 *     100% of nodes, p50 / p99 over the commits;
 *   - detection: a crashed node (a follower, then a learner) declared dead by every live node;
 *   - the simulator's own CPU per simulated second.
 * `--no-baseline` skips the N = 100 run with every node a learner (the old behaviour),
 * `--baseline-only` runs only that one.
 * `--rows-out FILE` saves the simulator rows; `--rows-in A,B` publishes saved rows without
 * running them again (one size per process: `--sizes 500 --no-baseline --rows-out a.json`).
 * Writes bench-results/scale.json and docs/scale-sim.svg (drawn from the JSON).
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { FabricSimNode } from "../packages/fabric-core/src/sim/fabric-cluster.js";
import { FabricCluster } from "../packages/fabric-core/src/sim/fabric-cluster.js";
import type { NetworkFaults } from "../packages/fabric-core/src/sim/network.js";
import { SeededRandom } from "../packages/fabric-core/src/sim/random.js";
import { loadBlake3 } from "../packages/fabric-core/src/vocabulary/index.js";
import { readStrategyFile } from "../packages/node/src/cli/commands/strategy.js";
import { type LogLevel, logLevels } from "../packages/node/src/daemon/log.js";
import { benchArgs } from "./lib/args.js";
import { type Figure, figure, percentile, publishBenchReport } from "./report.js";
import { drawScaleSvg } from "./scale/plot.js";
import { benchWorkload, runRealScale } from "./scale/real.js";

const args = benchArgs({
  name: "scale",
  summary:
    "the whole fabric in the deterministic simulator at N = 100/250/500, then optionally N real daemons (docs/scale.md)",
  flags: {
    sizes: {
      type: "string",
      value: "LIST",
      default: "100,250,500",
      help: "simulated mesh sizes (each >= 8)",
    },
    commits: { type: "string", value: "K", default: "10", help: "client writes per size, 500 ms apart" },
    "no-baseline": { type: "boolean", help: "skip the N = 100 run with every node a learner" },
    "baseline-only": { type: "boolean", help: "only the N = 100 run with every node a learner" },
    "rows-out": { type: "string", value: "FILE", help: "save the simulator rows to FILE" },
    "rows-in": {
      type: "string",
      value: "A,B",
      help: "publish saved rows without running them again",
    },
    real: { type: "string", value: "N", help: "then N real daemons on loopback (bench/scale/real.ts)" },
    "real-only": { type: "boolean", help: "only the real daemons, no simulator run" },
    "rest-only": {
      type: "boolean",
      help: "with --real: stop after the figures at rest (memory, CPU), no writes and no mass restart",
    },
    netns: { type: "boolean", help: "with --real: one network namespace per daemon (needs root)" },
    strategy: {
      type: "string",
      value: "FILE",
      help: "with --real: the founding strategy of the daemons, a YAML file (default: the homelab strategy)",
    },
    "learners-max": {
      type: "string",
      value: "K",
      default: "4",
      help: "with --real: the strategy's learners_max (0: every node a learner)",
    },
    "relay-fanout": {
      type: "string",
      value: "F",
      help: "with --real: the daemons' relay_fanout (default 8; small values make a deep relay tree)",
    },
    "log-level": {
      type: "string",
      value: "LEVEL",
      help: "with --real: the daemons' log_level (debug: the relay logs source changes and answers)",
    },
    keep: { type: "boolean", help: "with --real: keep the mesh directory (configs, logs) after the run" },
  },
});
const { values } = args;

function logLevelOf(text: string): LogLevel {
  const level = logLevels.find((known) => known === text);
  if (level === undefined) throw new Error(`--log-level: one of ${logLevels.join(", ")}, not ${text}`);
  return level;
}
const sizes = args.integers("sizes", 8);
const commits = args.integer("commits");
const realCount = values.real === undefined ? undefined : args.integer("real", 3);
const learnersMax = args.integer("learners-max", 0);
const jitter: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 3 };
const commitGapMs = 500;
/** Writes start at this virtual time at the earliest (the steady state, docs/gossip.md). */
const steadyFromMs = 15_000;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export interface ScaleSimRow {
  readonly nodes: number;
  readonly learnersMax: number | null;
  readonly logHolders: number;
  readonly formMs: number;
  /** When no gossip core had anything queued any more (the start-up burst is over). */
  readonly gossipQuietMs?: number;
  /** Gossip bytes/s per node from the start until then. */
  readonly gossipBurstBytesPerNodeMean?: number;
  readonly gossipBytesPerNodeMean: number;
  readonly gossipBytesPerNodeMax: number;
  readonly relayBytesPerNodeMean: number;
  readonly relayBytesPerNodeMax: number;
  readonly leaderRaftMessagesPerCommit: number;
  readonly leaderCpuMsPerCommit: number;
  readonly commits: number;
  readonly rendered99P50Ms: number;
  readonly rendered99P99Ms: number;
  readonly renderedAllP50Ms: number;
  readonly renderedAllP99Ms: number;
  readonly detectionMs: readonly number[];
  readonly simCpuSecondsPerVirtualSecond: number;
  readonly relayDepthMax: number;
}

function workload(index: number) {
  return { type: "workload-upsert" as const, workload: benchWorkload(`bench-${index}`) };
}

/** Wraps the leader's Raft core and machine applies with a CPU clock. */
function leaderTimer(cluster: FabricCluster): {
  readonly elapsedMs: () => number;
  readonly stop: () => void;
} {
  const leader = cluster.leaderIndex();
  if (leader === null) throw new Error("no leader to time");
  const node = cluster.node(leader);
  const raft = cluster.raft.raft(node.id) as unknown as Record<string, (...args: unknown[]) => unknown>;
  let spentUs = 0;
  const restore: (() => void)[] = [];
  const wrap = (target: Record<string, (...args: unknown[]) => unknown>, name: string) => {
    const original = target[name]!;
    target[name] = function (this: unknown, ...args: unknown[]) {
      const start = process.cpuUsage();
      try {
        return original.apply(this, args);
      } finally {
        const used = process.cpuUsage(start);
        spentUs += used.user + used.system;
      }
    };
    restore.push(() => {
      target[name] = original;
    });
  };
  for (const name of [
    "step",
    "tick",
    "propose",
    "proposeConfChange",
    "ready",
    "advance",
    "hasReady",
    "status",
  ]) {
    wrap(raft, name);
  }
  const machine = node.machine as unknown as Record<string, (...args: unknown[]) => unknown>;
  wrap(machine, "apply");
  return {
    elapsedMs: () => spentUs / 1000,
    stop: () => {
      for (const undo of restore) undo();
    },
  };
}

function runSize(size: number, learnersMax: number | null): ScaleSimRow {
  const cpuStart = process.cpuUsage();
  const cluster = new FabricCluster({
    seed: 17,
    size,
    faults: jitter,
    learnersMax,
    agreementCheckEvery: 400,
  });
  const formed = cluster.runUntil(() => {
    if (cluster.committedVoters().length < 3) return false;
    const index = cluster.mostAdvanced().machine.applied().index;
    return cluster.nodes.every((node) => node.machine.applied().index === index);
  }, 60_000);
  if (!formed) throw new Error(`N = ${size}: the mesh did not form within 60 s`);
  const formMs = cluster.nowMs;
  // Gossip's start-up burst (every node's state disseminated, digests exchanged): the window
  // starts once no gossip core has anything queued for a whole second (at most 120 s).
  cluster.runFor(Math.max(1_000, steadyFromMs - cluster.nowMs));
  let quietSinceMs: number | null = null;
  cluster.runUntil(() => {
    const queued = cluster.gossip.members.some((member) => (member.core?.metrics().queuedUpdates ?? 0) > 0);
    if (queued) quietSinceMs = null;
    else quietSinceMs ??= cluster.nowMs;
    return quietSinceMs !== null && cluster.nowMs - quietSinceMs >= 1_000;
  }, 120_000);
  const gossipQuietMs = quietSinceMs ?? cluster.nowMs;
  const burstBytes = [...cluster.gossip.network.bytesSent.values()].reduce((sum, bytes) => sum + bytes, 0);
  const gossipBurstBytesPerNodeMean = (burstBytes * 1000) / size / Math.max(1, cluster.nowMs);
  log(
    `N = ${size}${learnersMax === null ? " (all learners)" : ""}: formed at ${formMs} ms, gossip quiet at ${gossipQuietMs} ms`,
  );

  // Steady window: K writes, 500 ms apart, then time for the last to spread.
  const reachedAt = new Map<number, number[]>();
  const watched = new Set<number>();
  cluster.onAdvance = (node: FabricSimNode, index: number) => {
    for (const target of watched) {
      if (target > index) continue;
      const times = reachedAt.get(target)!;
      if (times[node.index] === -1) times[node.index] = cluster.nowMs;
    }
  };
  const gossipBefore = new Map(cluster.gossip.network.bytesSent);
  const relayBefore = new Map(cluster.relayNetwork.bytesSent);
  const leader = cluster.node(cluster.leaderIndex()!);
  const messagesBefore = cluster.raft.network.messagesSent.get(leader.id) ?? 0;
  const appliedBefore = leader.machine.applied().index;
  const timer = leaderTimer(cluster);
  const windowStart = cluster.nowMs;
  const proposedAt = new Map<number, number>();
  for (let write = 0; write < commits; write += 1) {
    const index = cluster.propose(workload(write));
    if (index !== null) {
      watched.add(index);
      proposedAt.set(index, cluster.nowMs);
      reachedAt.set(index, new Array<number>(size).fill(-1));
    }
    cluster.runFor(commitGapMs);
  }
  const windowMs = cluster.nowMs - windowStart;
  // Bytes over the window itself (an earlier version read them after the 2 s below, and
  // divided 7 s of traffic by the 5 s window: every bytes/s figure was 1.4 times too high).
  const gossipAfter = new Map(cluster.gossip.network.bytesSent);
  const relayAfter = new Map(cluster.relayNetwork.bytesSent);
  timer.stop();
  const committed = leader.machine.applied().index - appliedBefore;
  const messages = (cluster.raft.network.messagesSent.get(leader.id) ?? 0) - messagesBefore;
  cluster.runFor(2_000);
  cluster.onAdvance = null;

  const perNode = (after: Map<string, number>, before: Map<string, number>, keys: readonly string[]) =>
    keys.map((key) => (((after.get(key) ?? 0) - (before.get(key) ?? 0)) * 1000) / windowMs);
  const gossip = perNode(
    gossipAfter,
    gossipBefore,
    cluster.gossip.members.map((member) => member.address),
  );
  const relay = perNode(
    relayAfter,
    relayBefore,
    cluster.nodes.map((node) => node.id),
  );
  const spread99: number[] = [];
  const spreadAll: number[] = [];
  for (const [index, times] of reachedAt) {
    // Commit time: the first node to apply it (a log holder, through Raft).
    const reached = times.filter((time) => time >= 0);
    if (reached.length < size) throw new Error(`N = ${size}: entry ${index} reached ${reached.length} nodes`);
    const committedAt = Math.min(...reached);
    spread99.push(percentile(reached, 99) - committedAt);
    spreadAll.push(Math.max(...reached) - committedAt);
  }
  const detectionMs = detect(cluster, size);
  const conf = cluster.mostAdvanced().machine.configuration();
  const depths = cluster.nodes.map((node) => node.relay.depth() ?? 0);
  const cpu = process.cpuUsage(cpuStart);
  const row: ScaleSimRow = {
    nodes: size,
    learnersMax,
    logHolders: conf.voters.length + conf.learners.length,
    formMs,
    gossipQuietMs,
    gossipBurstBytesPerNodeMean,
    gossipBytesPerNodeMean: mean(gossip),
    gossipBytesPerNodeMax: Math.max(...gossip),
    relayBytesPerNodeMean: mean(relay),
    relayBytesPerNodeMax: Math.max(...relay),
    leaderRaftMessagesPerCommit: messages / Math.max(1, committed),
    leaderCpuMsPerCommit: timer.elapsedMs() / Math.max(1, committed),
    commits: committed,
    rendered99P50Ms: percentile(spread99, 50),
    rendered99P99Ms: percentile(spread99, 99),
    renderedAllP50Ms: percentile(spreadAll, 50),
    renderedAllP99Ms: percentile(spreadAll, 99),
    detectionMs,
    simCpuSecondsPerVirtualSecond: (cpu.user + cpu.system) / 1e6 / (cluster.nowMs / 1000),
    relayDepthMax: Math.max(...depths),
  };
  log(JSON.stringify(row));
  return row;
}

/** Crash a follower, then a learner: time until every live node's gossip declares each dead. */
function detect(cluster: FabricCluster, size: number): number[] {
  const conf = cluster.mostAdvanced().machine.configuration();
  const holders = new Set([...conf.voters, ...conf.learners]);
  const random = new SeededRandom(size);
  const followers = cluster.nodes.filter((node) => !holders.has(node.id));
  const learners = cluster.nodes.filter((node) => conf.learners.includes(node.id));
  // With every node a learner there are no followers: only a learner is crashed.
  const victims = [followers, learners]
    .filter((group) => group.length > 0)
    .map((group) => random.pick(group));
  const samples: number[] = [];
  for (const victim of victims) {
    const declared = new Set<number>();
    cluster.onGossip = (observer, event) => {
      if (event.type === "member-status" && event.status === "dead" && event.id === victim.id)
        declared.add(observer);
    };
    const crashedAt = cluster.nowMs;
    cluster.crash(victim.index);
    const live = cluster.nodes.filter((node) => cluster.isUp(node.index)).map((node) => node.index);
    const ok = cluster.runUntil(() => live.every((index) => declared.has(index)), 30_000);
    samples.push(ok ? cluster.nowMs - crashedAt : Number.POSITIVE_INFINITY);
    cluster.onGossip = null;
    cluster.restart(victim.index);
    cluster.runFor(1_000);
  }
  return samples;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

function figuresOf(row: ScaleSimRow): Figure[] {
  const label = `sim N = ${row.nodes}${row.learnersMax === null ? " (every node a learner)" : ""}`;
  const is500 = row.nodes === 500 && row.learnersMax !== null;
  return [
    figure(`${label}: log holders`, row.logHolders, "nodes"),
    ...(row.gossipQuietMs === undefined || row.gossipBurstBytesPerNodeMean === undefined
      ? []
      : [
          figure(`${label}: gossip start-up burst over at`, row.gossipQuietMs, "ms"),
          figure(
            `${label}: gossip bytes/s per node during the start-up burst, mean`,
            Math.round(row.gossipBurstBytesPerNodeMean),
            "B/s",
          ),
        ]),
    figure(`${label}: gossip bytes/s per node, mean`, Math.round(row.gossipBytesPerNodeMean), "B/s"),
    figure(
      `${label}: gossip bytes/s per node, max`,
      Math.round(row.gossipBytesPerNodeMax),
      "B/s",
      is500 ? "<= 10000" : undefined,
    ),
    figure(`${label}: relay bytes/s per node, mean`, Math.round(row.relayBytesPerNodeMean), "B/s"),
    figure(`${label}: relay bytes/s per node, max`, Math.round(row.relayBytesPerNodeMax), "B/s"),
    figure(
      `${label}: leader Raft messages per commit (heartbeats included)`,
      row.leaderRaftMessagesPerCommit,
      "msgs",
    ),
    figure(
      `${label}: leader CPU per commit`,
      row.leaderCpuMsPerCommit,
      "ms",
      is500 ? "sublinear in N" : undefined,
    ),
    figure(`${label}: commit -> rendered on 99% of nodes p50`, row.rendered99P50Ms, "ms"),
    figure(
      `${label}: commit -> rendered on 99% of nodes p99`,
      row.rendered99P99Ms,
      "ms",
      is500 ? "<= 1000" : undefined,
    ),
    figure(`${label}: commit -> rendered on every node p50`, row.renderedAllP50Ms, "ms"),
    figure(`${label}: commit -> rendered on every node p99`, row.renderedAllP99Ms, "ms"),
    ...row.detectionMs.map((value, index) =>
      figure(
        `${label}: detection (${index === 0 && row.learnersMax !== null ? "follower" : "learner"}) by every live node`,
        value,
        "ms",
      ),
    ),
    figure(`${label}: simulator CPU per simulated second`, row.simCpuSecondsPerVirtualSecond, "s"),
  ];
}

await loadBlake3();
const rows: ScaleSimRow[] = [];
const notes: string[] = [];
if (values["rows-in"] !== undefined) {
  // Rows saved by earlier runs (`--rows-out`), e.g. one size per process on a shared machine.
  for (const file of values["rows-in"].split(","))
    rows.push(...(JSON.parse(readFileSync(file, "utf8")) as ScaleSimRow[]));
  rows.sort((a, b) => a.nodes - b.nodes || (a.learnersMax === null ? -1 : 1));
} else if (!values["real-only"]) {
  if (!values["baseline-only"]) for (const size of sizes) rows.push(runSize(size, 4));
  if (!values["no-baseline"]) rows.push(runSize(100, null));
}
if (values["rows-out"] !== undefined) writeFileSync(values["rows-out"], `${JSON.stringify(rows, null, 2)}\n`);
if (rows.length > 0) {
  notes.push(
    `${commits} workload writes per N, ${commitGapMs} ms apart; network 1-3 ms jitter, no loss; seed 17; ` +
      "leader CPU = time inside the leader's Raft core and machine applies (the simulator's other nodes excluded)",
  );
  writeFileSync("docs/scale-sim.svg", drawScaleSvg(rows));
}
const figures = rows.flatMap(figuresOf);
if (realCount !== undefined) {
  const strategy = values.strategy === undefined ? undefined : await readStrategyFile(values.strategy);
  const real = await runRealScale(realCount, {
    netns: values.netns === true,
    learnersMax,
    strategy,
    restOnly: values["rest-only"] === true,
    ...(values["relay-fanout"] === undefined ? {} : { relayFanout: args.integer("relay-fanout", 1) }),
    ...(values["log-level"] === undefined ? {} : { logLevel: logLevelOf(values["log-level"]) }),
    keep: values.keep === true,
  });
  figures.push(...real.figures);
  notes.push(...real.notes);
}
publishBenchReport({
  // A real-only run does not overwrite the simulator's figures.
  name: values["real-only"] ? "scale-real" : "scale",
  fsyncMode: realCount === undefined ? "not applicable" : "real fsync",
  figures,
  notes: [...notes, `rows: ${JSON.stringify(rows)}`],
});
