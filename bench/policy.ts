/**
 * `pnpm bench policy`: one policy round on 1 000 nodes and 10 000 workloads (steady state: the
 * control plane at its target, every workload placed), and a full re-placement after a zone
 * loss (a third of the nodes dead at once, with their replicas). Prints ms per round (median
 * and p99 over the runs, after a warm-up). Target: a round <= 10 ms, so the policy never
 * delays the reconciliation tick. Pure computation: no files, no fsync.
 *
 * The steady round is measured twice in the same run: `decide` (every workload walked), and
 * `decideIncremental` fed the memo of the round before (what a caller that keeps its state
 * copy-on-write gets), with the ratio between them; then the incremental round after one node
 * of the cluster died (the memo's node facts changed, the records did not).
 *
 * Usage: `pnpm bench policy --help` (bench/lib/args.ts).
 */
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import {
  applyCommands,
  type Decision,
  decide,
  decideIncremental,
  type PlacementMemo,
  type PolicyInputs,
  type SyntheticNode,
  syntheticInputs,
} from "../packages/fabric-core/src/policy/index.js";
import { homelabStrategy, type NodeRole } from "../packages/fabric-core/src/vocabulary/index.js";
import { benchArgs } from "./lib/args.js";
import { figure, percentile, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "policy",
  summary: "one policy round (full walk and incremental) at steady state and after a zone loss",
  flags: {
    runs: { type: "string", value: "N", default: "200", help: "rounds measured after the warm-up" },
    nodes: { type: "string", value: "N", default: "1000", help: "nodes of the cluster" },
    workloads: { type: "string", value: "N", default: "10000", help: "workloads placed" },
  },
});
const runs = args.integer("runs");
const loadAtStart = loadavg();
const nodeCount = args.integer("nodes");
const workloadCount = args.integer("workloads");
const zones = ["zone-a", "zone-b", "zone-c"];
const master: readonly NodeRole[] = ["api-server", "controller-manager", "etcd", "scheduler"];

/** 5 masters (one per zone first), workers spread over 3 zones and 10 racks each. */
function clusterInputs(): PolicyInputs {
  const nodes: SyntheticNode[] = Array.from({ length: nodeCount }, (_, index) => ({
    name: `node-${index + 1}`,
    zone: zones[index % zones.length]!,
    rack: `rack-${Math.floor(index / zones.length) % 10}`,
    roles: index < 5 ? master : ["worker"],
    pods: 250,
    cpuMillis: 64_000,
    labels: { disk: index % 2 === 0 ? "ssd" : "hdd" },
  }));
  const workloads = Array.from({ length: workloadCount }, (_, index) => ({
    name: `app-${index}`,
    replicas: 1 + (index % 5),
    ...(index % 7 === 0 ? { labels: { disk: "ssd" } } : {}),
    ...(index % 11 === 0 ? { zones: ["zone-a", "zone-b"] } : {}),
  }));
  return syntheticInputs({
    nowMs: 600_000,
    self: "node-1",
    formation: "quorum-3m",
    config: { role_targets: { etcd: 5 } },
    strategy: { ...homelabStrategy, placement: { kind: "zone-aware", min_zones: 2 } },
    nodes,
    workloads,
    learners: [{ name: "node-6", caughtUp: true }],
  });
}

/** Wall and CPU ms per round: on a shared machine the CPU time is the steadier figure. */
function time(inputs: PolicyInputs, count: number): { samples: number[]; cpu: number[]; decision: Decision } {
  let decision = decide(inputs);
  for (let warm = 0; warm < Math.min(20, count); warm += 1) decision = decide(inputs);
  const samples: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < count; run += 1) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    decision = decide(inputs);
    const used = process.cpuUsage(cpuStart);
    samples.push(performance.now() - start);
    cpu.push((used.user + used.system) / 1000);
  }
  return { samples, cpu, decision };
}

/** CPU ms per incremental round, each fed the memo of the one before (from `start`). */
function timeIncremental(
  inputs: PolicyInputs,
  count: number,
  start: PlacementMemo | null,
  reset: boolean,
): { samples: number[]; cpu: number[]; decision: Decision } {
  let memo = start;
  let decision = decide(inputs);
  for (let warm = 0; warm < Math.min(20, count); warm += 1) {
    const round = decideIncremental(inputs, reset ? start : memo);
    memo = round.memo;
  }
  const samples: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < count; run += 1) {
    const from = reset ? start : memo;
    const begin = performance.now();
    const cpuStart = process.cpuUsage();
    const round = decideIncremental(inputs, from);
    const used = process.cpuUsage(cpuStart);
    samples.push(performance.now() - begin);
    cpu.push((used.user + used.system) / 1000);
    decision = round.decision;
    memo = round.memo;
  }
  return { samples, cpu, decision };
}

const fresh = clusterInputs();
const initialStart = performance.now();
const initial = decide(fresh);
const initialMs = performance.now() - initialStart;
const steady: PolicyInputs = { ...fresh, state: applyCommands(fresh.state, initial.commands) };
const replicas = Object.values(steady.state.placements).reduce((sum, nodes) => sum + nodes.length, 0);

const steadyRound = time(steady, runs);
const placementChanges = steadyRound.decision.commands.filter(({ command }) => command.type === "placement");
if (placementChanges.length !== 0)
  throw new Error(`steady state still moves ${placementChanges.length} workloads`);

const incremental = timeIncremental(steady, runs, decideIncremental(steady, null).memo, false);
if (JSON.stringify(incremental.decision) !== JSON.stringify(steadyRound.decision))
  throw new Error("the incremental steady round decided something else");

// One worker dies: the records are the same objects, one node's facts changed.
const victim = Object.values(steady.state.nodes).find((node) => node.name === "node-500")!.id;
const oneDead: PolicyInputs = {
  ...steady,
  membership: {
    members: steady.membership.members.map((member) =>
      member.id === victim ? { ...member, status: "dead", stable_since_ms: 599_000 } : member,
    ),
  },
};
const steadyMemo = decideIncremental(steady, null).memo;
const oneDeadRound = timeIncremental(oneDead, Math.max(20, Math.floor(runs / 4)), steadyMemo, true);
const oneDeadFull = time(oneDead, Math.max(20, Math.floor(runs / 4)));
if (JSON.stringify(oneDeadRound.decision) !== JSON.stringify(oneDeadFull.decision))
  throw new Error("the incremental round after a death decided something else");
const oneDeadMoved = oneDeadRound.decision.commands.filter(
  ({ command }) => command.type === "placement",
).length;

const lost = new Set(
  Object.values(steady.state.nodes)
    .filter((node) => node.zone === "zone-c")
    .map((node) => node.id as string),
);
const zoneLoss: PolicyInputs = {
  ...steady,
  membership: {
    members: steady.membership.members.map((member) =>
      lost.has(member.id) ? { ...member, status: "dead", stable_since_ms: 599_000 } : member,
    ),
  },
};
const lossRound = time(zoneLoss, Math.max(5, Math.floor(runs / 10)));
const moved = lossRound.decision.commands.filter(({ command }) => command.type === "placement").length;
const promoted = lossRound.decision.commands.filter(({ command }) => command.type === "promote").length;

publishBenchReport({
  name: "policy",
  fsyncMode: "not applicable",
  figures: [
    figure("nodes", nodeCount, "count"),
    figure("workloads", workloadCount, "count"),
    figure("replicas placed", replicas, "count"),
    figure("steady round p50", percentile(steadyRound.samples, 50), "ms", "<= 10 ms"),
    figure("steady round p99", percentile(steadyRound.samples, 99), "ms", "<= 10 ms"),
    figure("steady round CPU p50 (decide, full walk)", percentile(steadyRound.cpu, 50), "ms"),
    figure(
      "steady round CPU p50 (decideIncremental)",
      percentile(incremental.cpu, 50),
      "ms",
      "<= 5 ms (issue 14)",
    ),
    figure("steady round wall p50 (decideIncremental)", percentile(incremental.samples, 50), "ms"),
    figure("steady round wall p99 (decideIncremental)", percentile(incremental.samples, 99), "ms"),
    figure(
      "ratio: incremental / full steady round (CPU p50)",
      percentile(incremental.cpu, 50) / percentile(steadyRound.cpu, 50),
      "x",
    ),
    figure("one node dead, round CPU p50 (decide, full walk)", percentile(oneDeadFull.cpu, 50), "ms"),
    figure("one node dead, round CPU p50 (decideIncremental)", percentile(oneDeadRound.cpu, 50), "ms"),
    figure("one node dead, workloads re-placed", oneDeadMoved, "count"),
    figure("initial placement (one round, cold)", initialMs, "ms"),
    figure("zone-loss round p50", percentile(lossRound.samples, 50), "ms"),
    figure("zone-loss round p99", percentile(lossRound.samples, 99), "ms"),
    figure("zone-loss round CPU p50", percentile(lossRound.cpu, 50), "ms"),
    figure("zone-loss workloads re-placed", moved, "count"),
    figure("zone-loss promotions", promoted, "count"),
  ],
  notes: [
    "peer: the full walk (`decide`) on the same inputs in the same run; the incremental round is fed the memo of the round before",
    `${runs} steady rounds and ${lossRound.samples.length} zone-loss rounds after a warm-up; decide() only (inputs already validated)`,
    "zone loss: every node of zone-c dead at once (a third of the nodes, including master node-3)",
    `load average at the start: ${loadAtStart.map((load) => load.toFixed(1)).join(" ")}`,
    `load average at the end: ${loadavg()
      .map((load) => load.toFixed(1))
      .join(" ")} on ${cpus().length} cores (wall times include waiting for a core; CPU times do not)`,
  ],
});
