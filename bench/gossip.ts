/**
 * `pnpm bench gossip [--quick] [--sim-only | --real-only] [--loss-minutes M]` (`--help`): the membership layer's figures (anchors §6 M1-M6), from the
 * deterministic simulator and from >= 10 real processes on loopback.
 *
 * Simulator (1-3 ms delivery jitter, homelab strategy: cadence 100 ms, phi 8, ceiling 300 ms):
 *   - M1 detection: crash one node of N = 50, time until every live node declares it dead;
 *   - M3 propagation: one node of N = 100 advertises new roles, time until all 100 have it;
 *   - M4 steady-state bytes/s per node at N = 100 (envelope included);
 *   - M2 false deaths per node-hour at 20% loss (N = 50), and with one node stalling 2 s
 *     every minute on top (N = 20), healthy nodes and the stalled node counted apart;
 *   - M5 mass restart at N = 100, M6 full sync of a fresh node into N = 100.
 * Real processes (`gossip-agent.ts`, 10 of them, `--real-nodes N` for another count): detection
 * after `kill -9`, propagation of a role change, steady bytes/s per node.
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { GossipCluster } from "../packages/fabric-core/src/sim/gossip-cluster.js";
import type { NetworkFaults } from "../packages/fabric-core/src/sim/network.js";
import { SeededRandom } from "../packages/fabric-core/src/sim/random.js";
import { type AgentEvent, AgentProcess, waitFor } from "../packages/node/scripts/gossip-agents.js";
import { benchArgs } from "./lib/args.js";
import { crashWatchedCluster } from "./lib/curve-gossip.js";
import { type Figure, figure, percentile, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "gossip",
  summary:
    "membership figures (M1-M6) from the deterministic simulator and from 10 real processes on loopback",
  flags: {
    quick: { type: "boolean", help: "a quarter of the trials and shorter runs" },
    "sim-only": { type: "boolean", help: "only the simulator's figures" },
    "real-only": { type: "boolean", help: "only the real processes' figures" },
    "loss-minutes": {
      type: "string",
      value: "M",
      defaultText: "10, 3 with --quick",
      help: "virtual minutes of the 20% loss run (false deaths)",
    },
    "real-nodes": {
      type: "string",
      value: "N",
      default: "10",
      help: "real agents on loopback (bench curves --only gossip-real runs 10 and 20)",
    },
  },
});
if (args.values["sim-only"] && args.values["real-only"])
  args.fail("--sim-only and --real-only exclude each other");
const quick = args.values.quick;
const lossMinutes = args.values["loss-minutes"] === undefined ? undefined : args.integer("loss-minutes");
const scale = quick ? 0.25 : 1;
const jitter: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 3 };
const figures: Figure[] = [];
const notes: string[] = [];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function detectionInSimulator(): void {
  const trials = Math.max(10, Math.round(100 * scale));
  const { cluster, crashDetections } = crashWatchedCluster(50, 501, jitter);
  cluster.start();
  cluster.runUntilTrue(() => cluster.converged(), 30_000);
  cluster.runFor(10_000);
  const samples = crashDetections(trials);
  figures.push(figure("sim N=50 detection p50", percentile(samples, 50), "ms", "<= 1000 ms"));
  figures.push(figure("sim N=50 detection p99", percentile(samples, 99), "ms", "<= 2000 ms"));
  notes.push(`simulated detection: ${samples.length} crashes at N = 50, max ${Math.max(...samples)} ms`);
}

function propagationInSimulator(): void {
  const trials = Math.max(10, Math.round(50 * scale));
  const seenAt = new Map<number, number>();
  let target = -1;
  const cluster = new GossipCluster({
    size: 100,
    seed: 1001,
    faults: jitter,
    onEvent: (observer, event, nowMs) => {
      if (event.type !== "state-changed" || observer === target) return;
      if (cluster.indexOf(event.id) === target && !seenAt.has(observer)) seenAt.set(observer, nowMs);
    },
  });
  cluster.start();
  cluster.runUntilTrue(() => cluster.converged(), 30_000);
  cluster.runFor(20_000);
  const before = cluster.members.map((member) => cluster.bytesSentBy(member.index));
  cluster.runFor(30_000);
  const rates = cluster.members.map(
    (member) => (cluster.bytesSentBy(member.index) - before[member.index]!) / 30,
  );
  const mean = rates.reduce((sum, rate) => sum + rate, 0) / rates.length;
  figures.push(figure("sim N=100 steady bytes/s per node (mean)", Math.round(mean), "B/s", "<= 20000 B/s"));
  figures.push(
    figure("sim N=100 steady bytes/s per node (max)", Math.round(Math.max(...rates)), "B/s", "<= 20000 B/s"),
  );
  const random = new SeededRandom(11);
  const samples: number[] = [];
  for (let trial = 0; trial < trials; trial += 1) {
    target = random.int(100);
    seenAt.clear();
    const changedAt = cluster.nowMs;
    cluster.setRoles(target, trial % 2 === 0 ? ["etcd", "api-server"] : ["worker"]);
    cluster.runUntilTrue(() => seenAt.size >= 99, 10_000, 5);
    samples.push(seenAt.size >= 99 ? Math.max(...seenAt.values()) - changedAt : Number.POSITIVE_INFINITY);
    target = -1;
    cluster.runFor(2_000);
  }
  figures.push(figure("sim N=100 role change to 100% p50", percentile(samples, 50), "ms", "<= 1000 ms"));
  figures.push(figure("sim N=100 role change to 100% p99", percentile(samples, 99), "ms", "<= 1000 ms"));
  const joinAt = cluster.nowMs;
  cluster.restart(50);
  const fresh = cluster.members[50]!;
  const synced = () =>
    cluster.members.every((member) => {
      const owner = member.core?.stateVersionOf(member.signer.nodeId);
      const seen = fresh.core?.stateVersionOf(member.signer.nodeId);
      return (
        owner !== undefined &&
        owner !== null &&
        seen?.version === owner.version &&
        seen.generation === owner.generation
      );
    });
  cluster.runUntilTrue(synced, 30_000, 5);
  figures.push(figure("sim N=100 full sync of a fresh node", cluster.nowMs - joinAt, "ms", "<= 500 ms"));
  cluster.runFor(5_000);
  for (const member of cluster.members) cluster.crash(member.index);
  cluster.runFor(500);
  const restartAt = cluster.nowMs;
  for (const member of cluster.members) cluster.restart(member.index);
  cluster.runUntilTrue(() => cluster.converged(), 60_000, 10);
  figures.push(figure("sim N=100 mass restart to one view", cluster.nowMs - restartAt, "ms", "<= 5000 ms"));
}

function falseDeathsInSimulator(): void {
  const minutes = lossMinutes ?? Math.max(2, Math.round(10 * scale));
  const lossy = new GossipCluster({ size: 50, seed: 2001, faults: { ...jitter, dropRate: 0.2 } });
  lossy.start();
  lossy.runUntilTrue(() => lossy.converged(), 30_000);
  const started = lossy.falseDeaths.length;
  lossy.runFor(minutes * 60_000);
  const nodeHours = (50 * minutes) / 60;
  const deaths = lossy.falseDeaths.length - started;
  figures.push(figure("sim N=50 20% loss false deaths per node-hour", deaths / nodeHours, "/node-h", "0"));
  notes.push(
    `20% loss: ${deaths} false deaths in ${nodeHours.toFixed(1)} simulated node-hours (N = 50, ${minutes} min)`,
  );

  const stallMinutes = Math.max(2, Math.round(10 * scale));
  const stalls = new GossipCluster({ size: 20, seed: 2002, faults: { ...jitter, dropRate: 0.2 } });
  stalls.start();
  stalls.runUntilTrue(() => stalls.converged(), 30_000);
  const random = new SeededRandom(13);
  for (let minute = 0; minute < stallMinutes; minute += 1) {
    stalls.stall(random.int(20), 2_000);
    stalls.runFor(60_000);
  }
  const healthy = stalls.falseDeaths.filter((death) => !death.targetStalled).length;
  const ofStalled = stalls.falseDeaths.filter((death) => death.targetStalled).length;
  const stallHours = (20 * stallMinutes) / 60;
  figures.push(
    figure(
      "sim N=20 20% loss + 2 s stall/min: healthy deaths per node-hour",
      healthy / stallHours,
      "/node-h",
      "0",
    ),
  );
  notes.push(
    `stall soak: ${stallMinutes} stalls of 2 s at N = 20 with 20% loss; healthy nodes declared dead ${healthy} times; the stalled node itself declared dead by ${ofStalled} observer(s) in total (it refutes on waking: a 2 s silence is longer than the detection time)`,
  );
}

/** When agent `index` first reported `what` ("dead" or "state-changed") about `id`; Infinity if never. */
function firstEventMs(
  events: readonly { agent: number; event: AgentEvent }[],
  index: number,
  id: string,
  what: string,
): number {
  const found = events.find(
    (entry) =>
      entry.agent === index &&
      entry.event.event.id === id &&
      (entry.event.event.type === what || entry.event.event.status === what),
  );
  return found?.event.wallMs ?? Number.POSITIVE_INFINITY;
}

/** Ten agents on loopback, their events collected with the wall clock. */
class AgentCluster {
  readonly agents: AgentProcess[] = [];
  readonly events: { agent: number; event: AgentEvent }[] = [];
  private readonly key = randomBytes(32).toString("hex");
  private readonly identities: string[];

  constructor(readonly count: number) {
    this.identities = Array.from({ length: count }, () => randomBytes(32).toString("hex"));
  }

  async start(): Promise<void> {
    for (let index = 0; index < this.count; index += 1) {
      const seeds = index === 0 ? [] : [this.agents[0]!.address];
      this.agents.push(await this.spawn(index, 1, seeds));
    }
    await waitFor(() => this.converged(), 30_000);
  }

  async converged(): Promise<boolean> {
    for (const agent of this.agents) {
      const view = await agent.view();
      if (view.length !== this.count || view.some((member) => member.status !== "alive")) return false;
    }
    return true;
  }

  /** Bytes each agent sent per second over `seconds` (envelope included). */
  async bytesPerSecond(seconds: number): Promise<number[]> {
    const sent = (metrics: Record<string, unknown>) => {
      const core = metrics.core as { bytesSent: number; packetsSent: number };
      return core.bytesSent + 40 * core.packetsSent;
    };
    const before = await Promise.all(this.agents.map((agent) => agent.request("metrics")));
    await sleep(seconds * 1_000);
    const after = await Promise.all(this.agents.map((agent) => agent.request("metrics")));
    return after.map((metrics, index) => (sent(metrics) - sent(before[index]!)) / seconds);
  }

  /** Kills one agent with SIGKILL, times its death everywhere, restarts it (next generation). */
  async detectionTrial(trial: number): Promise<number> {
    const victim = 1 + (trial % (this.count - 1));
    const victimId = this.agents[victim]!.id;
    this.events.length = 0;
    const killedAt = Date.now();
    this.agents[victim]!.kill9();
    const survivors = this.agents.map((_, index) => index).filter((index) => index !== victim);
    const times = () => survivors.map((index) => firstEventMs(this.events, index, victimId, "dead"));
    await waitFor(() => Promise.resolve(times().every(Number.isFinite)), 30_000, 20);
    const detectionMs = Math.max(...times()) - killedAt;
    this.agents[victim] = await this.spawn(victim, trial + 2, [this.agents[0]!.address]);
    await waitFor(() => this.converged(), 30_000);
    await sleep(1_000);
    return detectionMs;
  }

  /** One agent advertises new roles; the time until every other agent has applied them. */
  async propagationTrial(trial: number): Promise<number> {
    const source = trial % this.count;
    const sourceId = this.agents[source]!.id;
    this.events.length = 0;
    const changedAt = Date.now();
    await this.agents[source]!.request(`roles ${trial % 2 === 0 ? "etcd,api-server" : "worker"}`);
    const others = this.agents.map((_, index) => index).filter((index) => index !== source);
    const times = () => others.map((index) => firstEventMs(this.events, index, sourceId, "state-changed"));
    await waitFor(() => Promise.resolve(times().every(Number.isFinite)), 10_000, 5);
    await sleep(500);
    return Math.max(...times()) - changedAt;
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((agent) => agent.stop()));
  }

  private async spawn(index: number, generation: number, seeds: string[]): Promise<AgentProcess> {
    const agent = await AgentProcess.spawn({
      keys: this.key,
      identity: this.identities[index]!,
      generation,
      seeds,
      events: true,
    });
    agent.onEvent((event) => this.events.push({ agent: index, event }));
    return agent;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `--real-nodes N`: how many agents (default 10). */
const realNodes = args.integer("real-nodes", 3);

async function realProcesses(): Promise<void> {
  const cluster = new AgentCluster(realNodes);
  const trials = Math.max(5, Math.round(20 * scale));
  try {
    await cluster.start();
    await sleep(3_000);
    const rates = await cluster.bytesPerSecond(10);
    figures.push(
      figure(
        `real N=${realNodes} steady bytes/s per node (max)`,
        Math.round(Math.max(...rates)),
        "B/s",
        "<= 20000 B/s",
      ),
    );
    const detections: number[] = [];
    for (let trial = 0; trial < trials; trial += 1) detections.push(await cluster.detectionTrial(trial));
    figures.push(
      figure(`real N=${realNodes} kill -9 detection p50`, percentile(detections, 50), "ms", "<= 1000 ms"),
    );
    figures.push(
      figure(`real N=${realNodes} kill -9 detection p99`, percentile(detections, 99), "ms", "<= 2000 ms"),
    );
    notes.push(
      `real kill -9 detection, ${detections.length} trials (ms, sorted): ${[...detections].sort((a, b) => a - b).join(", ")}`,
    );
    const propagations: number[] = [];
    for (let trial = 0; trial < trials; trial += 1) propagations.push(await cluster.propagationTrial(trial));
    figures.push(
      figure(`real N=${realNodes} role change to all p50`, percentile(propagations, 50), "ms", "<= 1000 ms"),
    );
    figures.push(
      figure(`real N=${realNodes} role change to all p99`, percentile(propagations, 99), "ms", "<= 1000 ms"),
    );
  } finally {
    await cluster.stop();
  }
}

const started = performance.now();
const simulator = !args.values["real-only"];
const real = !args.values["sim-only"];
if (simulator) {
  log("simulator: detection at N = 50");
  detectionInSimulator();
  log("simulator: bandwidth, propagation, full sync and mass restart at N = 100");
  propagationInSimulator();
  log("simulator: false deaths at 20% loss");
  falseDeathsInSimulator();
}
if (real) {
  log(`real processes: ${realNodes} agents on loopback`);
  const loadBefore = loadavg()[0]!;
  await realProcesses();
  notes.push(
    `load average (1 min) around the real-process runs: ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after, on this machine's cores, shared with other work`,
  );
}
notes.push(
  `strategy: homelab (gossip_cadence_ms 100, phi_threshold 8, failure_detector_timeout_ms 300); ${quick ? "quick run" : "full run"} in ${Math.round((performance.now() - started) / 1000)} s`,
);
publishBenchReport({ name: "gossip", fsyncMode: "not applicable", figures, notes });
