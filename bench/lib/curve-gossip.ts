/**
 * One point of the gossip cost curve in the deterministic simulator (`pnpm bench curves`):
 * N nodes with the same setup as `pnpm bench gossip`'s simulator part (1-3 ms delivery jitter,
 * no loss, the homelab strategy's membership settings), measured in simulated time, so the
 * figures do not depend on the machine's load:
 *   - steady bytes/s per node (mean and max over the nodes), over a window that starts once
 *     no core has had an update queued for a whole second (the start-up burst is over);
 *   - detection: one node crashed at a time, the time until every live node declares it dead
 *     (p50 / p99 / max over the trials), the node restarted and the view converged in between.
 * The simulator's own CPU per simulated second is returned too (what a run costs, not a figure
 * of the system).
 */
import { GossipCluster } from "../../packages/fabric-core/src/sim/gossip-cluster.js";
import type { NetworkFaults } from "../../packages/fabric-core/src/sim/network.js";
import { SeededRandom } from "../../packages/fabric-core/src/sim/random.js";
import { percentile } from "../report.js";

const jitter: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 3 };

export interface GossipCurvePoint {
  readonly nodes: number;
  /** Simulated ms from the start until no core had anything queued for 1 s. */
  readonly quietAtMs: number;
  readonly windowMs: number;
  readonly bytesPerNodeMean: number;
  readonly bytesPerNodeMax: number;
  readonly detectionMs: readonly number[];
  readonly detectionP50Ms: number;
  readonly detectionP99Ms: number;
  readonly simCpuSecondsPerSimulatedSecond: number;
}

export function gossipCurvePoint(
  size: number,
  trials: number,
  windowMs: number,
  log: (line: string) => void = () => {},
): GossipCurvePoint {
  if (!Number.isSafeInteger(size) || size < 4) throw new Error(`gossip curve: N = ${size} is below 4`);
  const cpuStart = process.cpuUsage();
  const { cluster, crashDetections } = crashWatchedCluster(size, 500 + size, jitter);
  cluster.start();
  if (!cluster.runUntilTrue(() => cluster.converged(), 60_000))
    throw new Error(`gossip curve: N = ${size} did not converge in 60 s`);
  cluster.runFor(Math.max(0, 10_000 - cluster.nowMs));
  let quietSince: number | null = null;
  cluster.runUntilTrue(() => {
    const queued = cluster.members.some((member) => (member.core?.metrics().queuedUpdates ?? 0) > 0);
    if (queued) quietSince = null;
    else quietSince ??= cluster.nowMs;
    return quietSince !== null && cluster.nowMs - quietSince >= 1_000;
  }, 120_000);
  const quietAtMs = cluster.nowMs;
  const before = cluster.members.map((member) => cluster.bytesSentBy(member.index));
  cluster.runFor(windowMs);
  const rates = cluster.members.map(
    (member) => ((cluster.bytesSentBy(member.index) - before[member.index]!) * 1000) / windowMs,
  );

  log(
    `N = ${size}: quiet at ${quietAtMs} ms, steady bytes/s per node mean ${Math.round(rates.reduce((sum, rate) => sum + rate, 0) / rates.length)}, max ${Math.round(Math.max(...rates))}`,
  );
  const samples = crashDetections(trials, (trial, ms) =>
    log(`N = ${size}: crash ${trial + 1} of ${trials} declared dead by every live node in ${ms} ms`),
  );
  const cpu = process.cpuUsage(cpuStart);
  return {
    nodes: size,
    quietAtMs,
    windowMs,
    bytesPerNodeMean: rates.reduce((sum, rate) => sum + rate, 0) / rates.length,
    bytesPerNodeMax: Math.max(...rates),
    detectionMs: samples,
    detectionP50Ms: percentile(samples, 50),
    detectionP99Ms: percentile(samples, 99),
    simCpuSecondsPerSimulatedSecond: (cpu.user + cpu.system) / 1e6 / (cluster.nowMs / 1000),
  };
}

/**
 * A simulated mesh that notes when each observer declares the current crash target dead, and
 * the crash trials both `bench gossip` and the curve run: a seeded non-seed victim (nodes 0-2
 * are the seeds) is crashed, the time until every live node declared it dead is the sample,
 * then it is restarted and the mesh settles before the next.
 */
export function crashWatchedCluster(
  size: number,
  seed: number,
  faults: NetworkFaults,
): {
  cluster: GossipCluster;
  crashDetections: (trials: number, onTrial?: (trial: number, ms: number) => void) => number[];
} {
  const deadAt = new Map<number, number>();
  let target = -1;
  const cluster = new GossipCluster({
    size,
    seed,
    faults,
    onEvent: (observer, event, nowMs) => {
      if (event.type !== "member-status" || event.status !== "dead") return;
      if (cluster.indexOf(event.id) === target && !deadAt.has(observer)) deadAt.set(observer, nowMs);
    },
  });
  const crashDetections = (trials: number, onTrial?: (trial: number, ms: number) => void): number[] => {
    const random = new SeededRandom(9);
    const samples: number[] = [];
    for (let trial = 0; trial < trials; trial += 1) {
      const victim = 3 + random.int(size - 3);
      target = victim;
      deadAt.clear();
      const crashedAt = cluster.nowMs;
      cluster.crash(victim);
      const live = cluster.liveIndexes();
      cluster.runUntilTrue(() => live.every((index) => deadAt.has(index)), 30_000, 5);
      const ms = Math.max(...live.map((index) => deadAt.get(index) ?? Number.POSITIVE_INFINITY)) - crashedAt;
      samples.push(ms);
      onTrial?.(trial, ms);
      target = -1;
      cluster.restart(victim);
      cluster.runUntilTrue(() => cluster.converged(), 30_000);
      cluster.runFor(5_000);
    }
    return samples;
  };
  return { cluster, crashDetections };
}
