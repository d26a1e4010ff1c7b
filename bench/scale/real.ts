/**
 * The real-process half of `pnpm bench scale --real N [--real-only] [--netns]`: N daemons
 * (`revoada node`, built dist) on loopback through `LocalMesh`, or with `--netns` one per
 * network namespace through `NetnsMesh` (root, iproute2, nftables), face pureraft. It
 * measures, with the machine's load average recorded by the report:
 *   - formation: every node up, 3 voters, every node at the same applied index;
 *   - at rest (a 30 s window 10 s after formation, the bench silent): RSS, PSS and open file
 *     descriptors per daemon (/proc/PID/status VmRSS, smaps_rollup Pss, /proc/PID/fd), the V8
 *     heap (each node's /metrics), and CPU per daemon (/proc/PID/stat utime + stime over the
 *     window); `--rest-only` stops there;
 *   - commit -> applied and commit -> rendered on every node for client writes (workload
 *     upserts through the leader's API): applied is sampled by polling every node's
 *     /v1/status, rendered by reading every node's rendered `state.json` for the workload
 *     (so both include the polling interval: the resolution is named in the notes);
 *   - mass restart: kill -9 of every daemon, all restarted at once, until one leader and
 *     every node at the same applied index again;
 *   - relay answers refused over the run (commit stamps that did not check out: 0 expected).
 * The daemons run with `learners_max: 4` (`--learners-max K`) as the simulator does: the voters and 4 learners hold
 * the log, every other node follows the state relay (docs/scale.md); applied indexes are the
 * machines' (`learns.applied_index`), the leader is the one the log holders name.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { FabricStrategy } from "../../packages/fabric-core/src/vocabulary/index.js";
import type { NodeStatusReply } from "../../packages/node/src/api/schemas.js";
import { CommittedReply } from "../../packages/node/src/api/schemas.js";
import { LocalMesh } from "../../packages/node/src/mesh/local-mesh.js";
import type { MeshPlan } from "../../packages/node/src/mesh/mesh-setup.js";
import { type MeshNodeHandle, statusOf, waitFor } from "../../packages/node/src/mesh/observe.js";
import { NetnsMesh } from "../../packages/node/src/netns/netns-mesh.js";
import { type Figure, figure, percentile, processCpuMs } from "../report.js";

export interface RealScaleResult {
  readonly figures: Figure[];
  readonly notes: string[];
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Agreement {
  readonly leader: string;
  readonly applied: number;
}

/** The machine's applied index: a relay follower's Raft applies nothing. */
function appliedOf(status: NodeStatusReply): number {
  return status.learns?.applied_index ?? status.raft.applied_index;
}

let lastProgressAt = 0;

/** Every 30 s while waiting: how many nodes answer, at how many applied indexes, naming which leaders. */
function logProgress(statuses: readonly (NodeStatusReply | undefined)[]): void {
  if (Date.now() - lastProgressAt < 30_000) return;
  lastProgressAt = Date.now();
  const answered = statuses.filter((status) => status !== undefined) as NodeStatusReply[];
  const applied = answered.map(appliedOf);
  const leaders = new Set(answered.map((status) => status.raft.leader?.slice(0, 8) ?? "none"));
  log(
    `  waiting: ${answered.length}/${statuses.length} answer; applied ${Math.min(...applied)}..${Math.max(...applied)} ` +
      `(${new Set(applied).size} distinct); leaders named: ${[...leaders].join(",")}; load ${loadavg()[0]!.toFixed(1)}`,
  );
}

/** One leader named by every log holder, every node at the same applied index (and >= `atLeast`). */
async function agreed(nodes: readonly MeshNodeHandle[], atLeast = 0): Promise<Agreement | undefined> {
  const statuses = await Promise.all(nodes.map((node) => statusOf(node)));
  logProgress(statuses);
  if (statuses.some((status) => status === undefined)) return undefined;
  // Nodes that follow the state relay have no Raft leader: the log holders name it.
  const holders = statuses.filter((status) => status!.learns?.via !== "relay");
  const leaders = new Set(holders.map((status) => status!.raft.leader));
  const applied = new Set(statuses.map((status) => appliedOf(status!)));
  const leader = [...leaders][0];
  const index = [...applied][0]!;
  if (leaders.size !== 1 || leader === null || leader === undefined || applied.size !== 1 || index < atLeast)
    return undefined;
  const voters = statuses[0]!.raft.voters.length;
  return voters >= 3 || nodes.length < 3 ? { leader, applied: index } : undefined;
}

interface ProcessFigures {
  readonly rss: number[];
  /** Proportional set size: the node binary's pages, shared by every daemon, counted once among them. */
  readonly pss: number[];
  readonly fds: number[];
  /** CPU time (user + system) per daemon since its start, ms, by pid. */
  readonly cpuMs: Map<number, number>;
}

async function processFigures(directory: string): Promise<ProcessFigures> {
  const mesh = JSON.parse(await readFile(join(directory, "mesh.json"), "utf8")) as {
    nodes: { pid: number | null }[];
  };
  const rss: number[] = [];
  const pss: number[] = [];
  const fds: number[] = [];
  const cpuMs = new Map<number, number>();
  for (const node of mesh.nodes) {
    if (node.pid === null) continue;
    const status = await readFile(`/proc/${node.pid}/status`, "utf8").catch(() => "");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (kb !== undefined) rss.push(Number(kb) / 1024);
    const rollup = await readFile(`/proc/${node.pid}/smaps_rollup`, "utf8").catch(() => "");
    const pssKb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
    if (pssKb !== undefined) pss.push(Number(pssKb) / 1024);
    const open = await readdir(`/proc/${node.pid}/fd`).catch(() => []);
    fds.push(open.length);
    // 0: the process is gone (a live daemon has spent CPU since its start).
    const spent = processCpuMs(node.pid);
    if (spent > 0) cpuMs.set(node.pid, spent);
  }
  return { rss, pss, fds, cpuMs };
}

/** CPU per daemon between two samples, ms per second of the window (daemons in both only). */
function cpuRates(before: ProcessFigures, after: ProcessFigures, windowMs: number): number[] {
  const rates: number[] = [];
  for (const [pid, end] of after.cpuMs) {
    const start = before.cpuMs.get(pid);
    if (start !== undefined) rates.push(((end - start) / windowMs) * 1000);
  }
  return rates;
}

/** V8 heap used and reserved per daemon (MB), from `/metrics` (`revoada_process_memory_bytes`). */
async function heapFigures(nodes: readonly MeshNodeHandle[]): Promise<{ used: number[]; total: number[] }> {
  const used: number[] = [];
  const total: number[] = [];
  for (const node of nodes) {
    const text = await node.client.text("/metrics").catch(() => "");
    const read = (kind: string) =>
      new RegExp(`^revoada_process_memory_bytes\\{kind="${kind}"\\} (\\d+)$`, "m").exec(text)?.[1];
    const heapUsed = read("heap_used");
    const heapTotal = read("heap_total");
    if (heapUsed !== undefined) used.push(Number(heapUsed) / 2 ** 20);
    if (heapTotal !== undefined) total.push(Number(heapTotal) / 2 ** 20);
  }
  return { used, total };
}

/** A small workload (one replica): each write is its upsert, then the policy's placement. */
export function benchWorkload(name: string) {
  return {
    name,
    namespace: "scale",
    image: "registry.example/bench:1",
    command: [],
    args: [],
    env: {},
    ports: [],
    replicas: 1,
    resources: { cpu_millis: 100, memory_bytes: 64 * 2 ** 20 },
    config_blobs: [],
    placement: { zones: [], labels: {}, tolerate_control_plane: false },
  };
}

/** Whether the node's rendered `state.json` (face pureraft) holds the workload `scale/NAME`. */
async function rendered(node: MeshNodeHandle, name: string): Promise<boolean> {
  const text = await readFile(join(node.outputDir, "state.json"), "utf8").catch(() => "");
  return text.includes(`"scale/${name}"`);
}

interface Spread {
  /** Commit -> applied, per node (ms). */
  readonly applied: number[];
  /** Commit -> rendered, per node (ms). */
  readonly rendered: number[];
}

/** Posts a write to the leader; then polls every node until each applied and rendered it. */
async function spread(nodes: readonly MeshNodeHandle[], write: number): Promise<Spread | undefined> {
  const leaderStatus = await waitFor(async () => {
    for (const node of nodes) {
      const status = await statusOf(node);
      if (status?.raft.state === "leader") return node;
    }
    return undefined;
  }, 20_000);
  if (leaderStatus === undefined) return undefined;
  const started = Date.now();
  const reply = await leaderStatus.client
    .post("/v1/workloads", benchWorkload(`real-${write}`), CommittedReply)
    .catch(() => undefined);
  if (reply === undefined) return undefined;
  const committedAt = Date.now();
  const seen = new Map<string, number>();
  const drawn = new Map<string, number>();
  const name = `real-${write}`;
  const done = await waitFor(
    async () => {
      const pending = nodes.filter((node) => !seen.has(node.name));
      const undrawn = nodes.filter((node) => !drawn.has(node.name));
      const [statuses, files] = await Promise.all([
        Promise.all(pending.map((node) => statusOf(node))),
        Promise.all(undrawn.map((node) => rendered(node, name))),
      ]);
      const now = Date.now();
      pending.forEach((node, index) => {
        const status = statuses[index];
        if (status !== undefined && appliedOf(status) >= reply.index) seen.set(node.name, now - committedAt);
      });
      undrawn.forEach((node, index) => {
        if (files[index] === true) drawn.set(node.name, now - committedAt);
      });
      return seen.size === nodes.length && drawn.size === nodes.length ? true : undefined;
    },
    30_000,
    20,
  );
  log(
    `write ${write}: index ${reply.index}, committed in ${committedAt - started} ms, applied and rendered on every node: ${done === true}`,
  );
  return done === true ? { applied: [...seen.values()], rendered: [...drawn.values()] } : undefined;
}

/** Relay answers refused, summed over the nodes (`learns.answers_refused`). */
async function refusedAnswers(nodes: readonly MeshNodeHandle[]): Promise<number> {
  const statuses = await Promise.all(nodes.map((node) => statusOf(node)));
  return statuses.reduce((sum, status) => sum + (status?.learns?.answers_refused ?? 0), 0);
}

/** The reasons the nodes logged for refused relay answers (`<dir>/<node>/node.log`), counted. */
async function refusalReasons(directory: string, nodes: readonly MeshNodeHandle[]): Promise<string[]> {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    const text = await readFile(join(directory, node.name, "node.log"), "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      if (!line.includes("relay answer refused")) continue;
      let reason: unknown;
      try {
        reason = (JSON.parse(line) as { reason?: unknown }).reason;
      } catch {
        reason = undefined;
      }
      const key = `${node.name}: ${typeof reason === "string" ? reason : "?"}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].map(([reason, count]) => `${count} x ${reason}`);
}

/**
 * Stamps the nodes trusted through the attestation chain (their voters had been replaced:
 * docs/scale.md, "Trust across voter replacements"), counted from their logs: a restarted
 * node's status counts only since its start.
 */
async function stampHandovers(directory: string, nodes: readonly MeshNodeHandle[]): Promise<number> {
  let count = 0;
  for (const node of nodes) {
    const text = await readFile(join(directory, node.name, "node.log"), "utf8").catch(() => "");
    count += text.split("commit stamp trusted through the attestation chain").length - 1;
  }
  return count;
}

/** The mesh the run drives: on loopback, or one network namespace per node (`--netns`). */
interface BenchMesh {
  /** Kills and starts the daemons (a `NetnsMesh` runs its daemons through one too). */
  readonly local: LocalMesh;
  readonly directory: string;
  stop(): Promise<void>;
}

async function startMesh(plan: MeshPlan, netns: boolean): Promise<BenchMesh> {
  if (netns) {
    const { addresses: _addresses, ...rest } = plan;
    const mesh = await NetnsMesh.start(rest);
    return { local: mesh.local, directory: mesh.directory, stop: () => mesh.stop(5_000) };
  }
  const local = await LocalMesh.start(plan);
  return { local, directory: plan.directory, stop: () => local.stopAll(5_000) };
}

/** The at-rest window: CPU per daemon is measured over it. */
const restWindowMs = 30_000;

export async function runRealScale(
  count: number,
  options: {
    readonly netns?: boolean;
    readonly learnersMax?: number;
    readonly strategy?: FabricStrategy;
    /** Stop after the figures at rest: no writes, no mass restart. */
    readonly restOnly?: boolean;
    readonly relayFanout?: number;
    readonly logLevel?: MeshPlan["logLevel"];
    /** Keep the mesh directory (configs, logs) for reading after the run. */
    readonly keep?: boolean;
  } = {},
): Promise<RealScaleResult> {
  const directory = await mkdtemp(join(tmpdir(), "revoada-bench-scale-"));
  const loadStart = loadavg()[0]!;
  const figures: Figure[] = [];
  const notes: string[] = [];
  const formStarted = Date.now();
  const netns = options.netns === true;
  const learnersMax = options.learnersMax ?? 4;
  const mesh = await startMesh(
    {
      directory,
      nodes: count,
      faceId: "pureraft",
      ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
      policy: { flap_threshold: 1000 },
      // By default as in the simulator: the voters and 4 learners hold the log, the others follow the relay.
      learnersMax,
      ...(options.relayFanout === undefined ? {} : { relayFanout: options.relayFanout }),
      ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    },
    netns,
  );
  const local = mesh.local;
  const label = `real N = ${count}${netns ? " (netns)" : ""}`;
  try {
    const formed = await waitFor(() => agreed(local.nodes), 600_000, 500);
    if (formed === undefined) throw new Error(`${label}: the mesh did not form within 600 s`);
    const formMs = Date.now() - formStarted;
    log(`${label}: formed in ${formMs} ms (leader ${formed.leader.slice(0, 8)}, index ${formed.applied})`);
    // At rest: 10 s to settle, then a window in which the bench asks nothing of the daemons.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const restStart = await processFigures(mesh.directory);
    const restStartedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, restWindowMs));
    const atRest = await processFigures(mesh.directory);
    const cpu = cpuRates(restStart, atRest, Date.now() - restStartedAt);
    const { rss, pss, fds } = atRest;
    const heap = await heapFigures(local.nodes);
    figures.push(
      figure(`${label}: formation (every node at one applied index, 3 voters)`, formMs, "ms"),
      figure(`${label}: RSS per daemon, median`, Math.round(percentile(rss, 50)), "MB"),
      figure(`${label}: RSS per daemon, max`, Math.round(Math.max(...rss)), "MB", "<= 80"),
      figure(`${label}: PSS per daemon (shared pages split), median`, Math.round(percentile(pss, 50)), "MB"),
      figure(`${label}: CPU per daemon at rest, median`, Math.round(percentile(cpu, 50)), "ms/s"),
      figure(`${label}: CPU per daemon at rest, max`, Math.round(Math.max(...cpu)), "ms/s"),
      figure(`${label}: open file descriptors per daemon, median`, percentile(fds, 50), "fds"),
      figure(`${label}: open file descriptors per daemon, max`, Math.max(...fds), "fds"),
    );
    // Daemons before `revoada_process_memory_bytes` (an older build measured for comparison) have no heap figures.
    if (heap.used.length > 0)
      figures.push(
        figure(`${label}: V8 heap used per daemon, median`, Math.round(percentile(heap.used, 50)), "MB"),
        figure(`${label}: V8 heap used per daemon, max`, Math.round(Math.max(...heap.used)), "MB"),
        figure(`${label}: V8 heap reserved per daemon, median`, Math.round(percentile(heap.total, 50)), "MB"),
      );
    notes.push(
      `${label}: at rest = a ${restWindowMs / 1000} s window, 10 s after formation, with no request from the bench; ` +
        `load average (1 min) ${loadStart.toFixed(1)} at the start of the run, ${loadavg()[0]!.toFixed(1)} at the window's end; RSS counts the node binary's pages every ` +
        "daemon shares (about 40 MB), PSS splits them among the processes that map them",
    );
    if (options.restOnly === true) return { figures, notes };
    const all: number[] = [];
    const p99s: number[] = [];
    const drawnAll: number[] = [];
    const drawnP99s: number[] = [];
    for (let write = 0; write < 10; write += 1) {
      const times = await spread(local.nodes, write);
      if (times === undefined) continue;
      all.push(Math.max(...times.applied));
      p99s.push(percentile(times.applied, 99));
      drawnAll.push(Math.max(...times.rendered));
      drawnP99s.push(percentile(times.rendered, 99));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    figures.push(
      figure(`${label}: commit -> applied on 99% of nodes, p50 over writes`, percentile(p99s, 50), "ms"),
      figure(`${label}: commit -> applied on every node, p50 over writes`, percentile(all, 50), "ms"),
      figure(`${label}: commit -> applied on every node, max over writes`, Math.max(...all), "ms"),
      figure(
        `${label}: commit -> rendered on 99% of nodes, p50 over writes`,
        percentile(drawnP99s, 50),
        "ms",
      ),
      figure(`${label}: commit -> rendered on every node, p50 over writes`, percentile(drawnAll, 50), "ms"),
      figure(`${label}: commit -> rendered on every node, max over writes`, Math.max(...drawnAll), "ms"),
      figure(`${label}: writes measured`, all.length, "writes"),
    );
    const before = await agreed(local.nodes);
    const killed = Date.now();
    const refusedBefore = await refusedAnswers(local.nodes);
    await Promise.all(local.nodes.map((node) => local.kill(node.name)));
    for (const node of local.nodes) local.startNode(node.name);
    const restarted = await waitFor(() => agreed(local.nodes, before?.applied ?? 0), 600_000, 200);
    const restartMs = Date.now() - killed;
    figures.push(
      figure(
        `${label}: mass restart (kill -9 all, start all) -> one leader, every node at one index`,
        restarted === undefined ? Number.POSITIVE_INFINITY : restartMs,
        "ms",
        "<= 10000",
      ),
    );
    const after = await processFigures(mesh.directory);
    figures.push(
      figure(`${label}: RSS per daemon after the restart, max`, Math.round(Math.max(...after.rss)), "MB"),
      figure(
        `${label}: relay answers refused (commit stamps), before the restart + after`,
        refusedBefore + (await refusedAnswers(local.nodes)),
        "answers",
        "0",
      ),
    );
    const reasons = await refusalReasons(mesh.directory, local.nodes);
    if (reasons.length > 0) notes.push(`${label}: relay answers refused: ${reasons.slice(0, 20).join("; ")}`);
    notes.push(
      `${label}: commit stamps trusted through the attestation chain (voters replaced): ${await stampHandovers(mesh.directory, local.nodes)}`,
    );
    notes.push(
      `${label}: load average (1 min) ${loadStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end; ` +
        "commit -> applied is sampled by polling every node's /v1/status and commit -> rendered by reading every " +
        "node's state.json (one round of N requests and N reads, then 20 ms), so both include up to one polling " +
        `round; the voters and ${learnersMax} learners hold the log, the other nodes follow the state relay (docs/scale.md)`,
    );
    const strategy = options.strategy;
    notes.push(
      strategy === undefined
        ? `${label}: strategy homelab-3node (election 150 ms, gossip 100 ms, content 200 ms, reconciliation 500 ms)`
        : `${label}: strategy ${strategy.name} (election ${strategy.consensus.kind.election_timeout_ms} ms, ` +
            `gossip ${strategy.membership.gossip_cadence_ms} ms, content ${strategy.content.sync_cadence_ms} ms, ` +
            `reconciliation ${strategy.reconciliation.millis} ms)`,
    );
  } finally {
    await mesh.stop().catch(() => undefined);
    if (options.keep === true) log(`${label}: kept ${directory}`);
    else await rm(directory, { recursive: true, force: true }).catch(() => undefined);
  }
  return { figures, notes };
}
