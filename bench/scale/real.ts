/**
 * The real-process half of `pnpm bench scale --real N`: N daemons (`revoada node`, built dist)
 * on loopback through `LocalMesh`, face pureraft. It measures, with the machine's load
 * average recorded by the report:
 *   - formation: every node up, 3 voters, every node at the same applied index;
 *   - RSS and open file descriptors per daemon (/proc/PID/status VmRSS, /proc/PID/fd);
 *   - commit -> applied on every node for client writes (workload upserts through the
 *     leader's API), sampled by polling every node's /v1/status (so the figure includes the
 *     polling interval: the resolution is named in the notes);
 *   - mass restart: kill -9 of every daemon, all restarted at once, until one leader and
 *     every node at the same applied index again.
 * The daemons run with `learners_max: 4` as the simulator does: the voters and 4 learners hold
 * the log, every other node follows the state relay (docs/scale.md); applied indexes are the
 * machines' (`learns.applied_index`), the leader is the one the log holders name.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeStatusReply } from "../../packages/node/src/api/schemas.js";
import { CommittedReply } from "../../packages/node/src/api/schemas.js";
import { LocalMesh } from "../../packages/node/src/mesh/local-mesh.js";
import { type MeshNodeHandle, statusOf, waitFor } from "../../packages/node/src/mesh/observe.js";
import { type Figure, figure, percentile } from "../report.js";

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

/** One leader named by every log holder, every node at the same applied index (and >= `atLeast`). */
async function agreed(nodes: readonly MeshNodeHandle[], atLeast = 0): Promise<Agreement | undefined> {
  const statuses = await Promise.all(nodes.map((node) => statusOf(node)));
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

async function processFigures(directory: string): Promise<{ rss: number[]; fds: number[] }> {
  const mesh = JSON.parse(await readFile(join(directory, "mesh.json"), "utf8")) as {
    nodes: { pid: number | null }[];
  };
  const rss: number[] = [];
  const fds: number[] = [];
  for (const node of mesh.nodes) {
    if (node.pid === null) continue;
    const status = await readFile(`/proc/${node.pid}/status`, "utf8").catch(() => "");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (kb !== undefined) rss.push(Number(kb) / 1024);
    const open = await readdir(`/proc/${node.pid}/fd`).catch(() => []);
    fds.push(open.length);
  }
  return { rss, fds };
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

/** Posts a write to the leader; then polls every node until each applied it. */
async function spread(nodes: readonly MeshNodeHandle[], write: number): Promise<number[] | undefined> {
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
  const done = await waitFor(
    async () => {
      const pending = nodes.filter((node) => !seen.has(node.name));
      const statuses = await Promise.all(pending.map((node) => statusOf(node)));
      const now = Date.now();
      pending.forEach((node, index) => {
        const status = statuses[index];
        if (status !== undefined && appliedOf(status) >= reply.index) seen.set(node.name, now - committedAt);
      });
      return seen.size === nodes.length ? true : undefined;
    },
    30_000,
    20,
  );
  log(
    `write ${write}: index ${reply.index}, committed in ${committedAt - started} ms, on every node: ${done === true}`,
  );
  return done === true ? [...seen.values()] : undefined;
}

export async function runRealScale(count: number): Promise<RealScaleResult> {
  const directory = await mkdtemp(join(tmpdir(), "revoada-bench-scale-"));
  const loadStart = loadavg()[0]!;
  const figures: Figure[] = [];
  const notes: string[] = [];
  const formStarted = Date.now();
  const local = await LocalMesh.start({
    directory,
    nodes: count,
    faceId: "pureraft",
    policy: { flap_threshold: 1000 },
    // As in the simulator: the voters and 4 learners hold the log, the others follow the relay.
    learnersMax: 4,
  });
  const label = `real N = ${count}`;
  try {
    const formed = await waitFor(() => agreed(local.nodes), 600_000, 500);
    if (formed === undefined) throw new Error(`${label}: the mesh did not form within 600 s`);
    const formMs = Date.now() - formStarted;
    log(`${label}: formed in ${formMs} ms (leader ${formed.leader.slice(0, 8)}, index ${formed.applied})`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const { rss, fds } = await processFigures(directory);
    figures.push(
      figure(`${label}: formation (every node at one applied index, 3 voters)`, formMs, "ms"),
      figure(`${label}: RSS per daemon, median`, Math.round(percentile(rss, 50)), "MB"),
      figure(`${label}: RSS per daemon, max`, Math.round(Math.max(...rss)), "MB", "<= 80"),
      figure(`${label}: open file descriptors per daemon, median`, percentile(fds, 50), "fds"),
      figure(`${label}: open file descriptors per daemon, max`, Math.max(...fds), "fds"),
    );
    const all: number[] = [];
    const p99s: number[] = [];
    for (let write = 0; write < 10; write += 1) {
      const times = await spread(local.nodes, write);
      if (times === undefined) continue;
      all.push(Math.max(...times));
      p99s.push(percentile(times, 99));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    figures.push(
      figure(`${label}: commit -> applied on 99% of nodes, p50 over writes`, percentile(p99s, 50), "ms"),
      figure(`${label}: commit -> applied on every node, p50 over writes`, percentile(all, 50), "ms"),
      figure(`${label}: commit -> applied on every node, max over writes`, Math.max(...all), "ms"),
      figure(`${label}: writes measured`, all.length, "writes"),
    );
    const before = await agreed(local.nodes);
    const killed = Date.now();
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
    const after = await processFigures(directory);
    figures.push(
      figure(`${label}: RSS per daemon after the restart, max`, Math.round(Math.max(...after.rss)), "MB"),
    );
    notes.push(
      `${label}: load average (1 min) ${loadStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end; ` +
        "commit -> applied is sampled by polling every node's /v1/status (one round of N requests, then 20 ms), " +
        "so it includes up to one polling round; every alive node is a Raft learner in the daemon (docs/scale.md)",
    );
  } finally {
    await local.stopAll(5_000).catch(() => undefined);
    await rm(directory, { recursive: true, force: true }).catch(() => undefined);
  }
  return { figures, notes };
}
