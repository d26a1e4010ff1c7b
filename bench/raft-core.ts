/**
 * `pnpm bench raft-core [--quick]` (`--help`): the Raft core alone, without disk or sockets, so its own
 * cost and its protocol timings are visible apart from the drivers (`pnpm bench raft` runs
 * real processes with real fsync).
 *
 * - Throughput and latency in one process: 3 `RaftNode`s, messages passed in memory through
 *   the wire codec (encode + decode, as the transport does), Readies "persisted" into arrays;
 *   1 and 64 closed-loop proposers of a ~200-byte canonical-JSON Proposal, and 64 readers
 *   using ReadIndex (reads batch into one heartbeat round). Wall clock.
 * - Failover and transfer on the simulator's virtual clock (homelab timings: T = 150 ms,
 *   heartbeat 25 ms, pre-vote, check-quorum; 1-2 ms network delay; 1 ms ticks): time from
 *   a leader crash, or from a transfer request, until a new leader commits an entry.
 *   Virtual time shows what the protocol allows; real processes add event-loop delays.
 */
import { performance } from "node:perf_hooks";
import {
  decodeRaftMessage,
  defaultRaftConfig,
  encodeRaftMessage,
  type RaftMessage,
  RaftNode,
} from "../packages/fabric-core/src/raft/index.js";
import { encodeSimCommand, RaftCluster, SeededRandom } from "../packages/fabric-core/src/sim/index.js";
import { encodeProposal, type NodeId } from "../packages/fabric-core/src/vocabulary/index.js";
import { benchArgs } from "./lib/args.js";
import { type Figure, figure, percentile, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "raft-core",
  summary: "the Raft core alone: in-memory throughput and latency, failover and transfer on virtual time",
  flags: { quick: { type: "boolean", help: "500 ms phases and 50 trials (instead of 2 s and 500)" } },
});
const quick = args.values.quick;
const figures: Figure[] = [];
const peers = ["a", "b", "c"];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const payload = encodeProposal({
  command: { type: "restore", node: "ab".repeat(32) as NodeId },
  proposer: "cd".repeat(32) as NodeId,
  issued_at_ms: 1_700_000_000_000,
  origin: "policy",
  force: false,
});

/**
 * Closed-loop clients against an in-memory 3-node group: writers propose, readers ask for a
 * ReadIndex (answered after one batched heartbeat round). Returns operations/s and latencies.
 */
function throughput(
  proposers: number,
  durationMs: number,
  mode: "write" | "read" = "write",
): { perSecond: number; latencies: number[] } {
  const nodes = new Map<string, RaftNode>();
  for (const id of peers) {
    const created = RaftNode.create(
      { ...defaultRaftConfig(id), snapshotIntervalEntries: 1_000_000 },
      {
        hardState: { term: 0, vote: null, commit: 0 },
        snapshot: null,
        entries: [],
        initialConf: { voters: peers, votersOutgoing: [], learners: [], learnersNext: [] },
      },
      new SeededRandom(peers.indexOf(id) + 1),
    );
    if (!created.ok) throw new Error("create failed");
    nodes.set(id, created.value);
  }
  const disks = new Map<string, unknown[]>(peers.map((id) => [id, []]));
  const inbox: Uint8Array[] = [];
  const pending = new Map<number | string, number>();
  let readSequence = 0;
  const latencies: number[] = [];
  let committed = 0;
  const start = performance.now();
  const pump = (): void => {
    for (let round = 0; round < 1000; round += 1) {
      let busy = false;
      for (const [id, node] of nodes) {
        node.tick(performance.now() - start);
        while (node.hasReady()) {
          busy = true;
          const ready = node.ready();
          disks.get(id)!.push(ready.entries, ready.hardState);
          for (const message of ready.messages) inbox.push(encodeRaftMessage(message));
          if (node.status().role === "leader") {
            for (const read of ready.readStates) {
              const sentAt = pending.get(read.context);
              if (sentAt === undefined) continue;
              pending.delete(read.context);
              latencies.push(performance.now() - sentAt);
              committed += 1;
            }
            for (const entry of ready.committed) {
              const sentAt = pending.get(entry.index);
              if (sentAt === undefined) continue;
              pending.delete(entry.index);
              latencies.push(performance.now() - sentAt);
              committed += 1;
            }
          }
          node.advance(ready);
        }
      }
      for (const bytes of inbox.splice(0)) {
        busy = true;
        const decoded = decodeRaftMessage(bytes);
        if (!decoded.ok) throw new Error("decode failed");
        nodes.get((decoded.value as RaftMessage).to)!.step(decoded.value);
      }
      if (!busy) return;
    }
  };
  // The first election happens on its own after an election timeout (150-300 ms).
  const leaderOf = () => [...nodes.values()].find((node) => node.status().role === "leader");
  while (leaderOf() === undefined && performance.now() - start < 5000) pump();
  const leader = leaderOf();
  if (leader === undefined) throw new Error("no leader");
  const measureFrom = performance.now();
  let measuredFromCommits = committed;
  while (performance.now() - measureFrom < durationMs) {
    while (pending.size < proposers) {
      if (mode === "read") {
        readSequence += 1;
        const context = `r${readSequence}`;
        const outcome = leader.readIndex(context);
        if (outcome.type !== "accepted") throw new Error(`read rejected: ${outcome.reason}`);
        pending.set(context, performance.now());
        continue;
      }
      const outcome = leader.propose(payload);
      if (outcome.type !== "accepted") throw new Error(`proposal rejected: ${outcome.reason}`);
      pending.set(outcome.index, performance.now());
    }
    pump();
    if (latencies.length > 0 && measuredFromCommits === 0) measuredFromCommits = committed;
  }
  const seconds = (performance.now() - measureFrom) / 1000;
  return { perSecond: (committed - measuredFromCommits) / seconds, latencies };
}

function homelabCluster(seed: number): RaftCluster {
  return new RaftCluster({
    seed,
    voters: peers,
    tickMs: 1,
    faults: { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 2 },
    config: { snapshotIntervalEntries: 100_000 },
  });
}

/** Virtual ms from `act` until an entry proposed afterwards is committed by a leader. */
function timeToCommit(cluster: RaftCluster, act: () => void, stepsMax: number): number {
  act();
  const startedAt = cluster.nowMs;
  let marker: { index: number; term: number } | null = null;
  for (let step = 0; step < stepsMax; step += 1) {
    cluster.step();
    const leader = cluster.leader();
    if (leader === null) continue;
    const status = cluster.raft(leader).status();
    if (marker !== null && status.term === marker.term && status.commit >= marker.index)
      return cluster.nowMs - startedAt;
    if (marker === null || marker.term !== status.term) {
      const outcome = cluster.raft(leader).propose(encodeSimCommand({ op: "marker", tag: `m${step}` }));
      if (outcome.type === "accepted") marker = { index: outcome.index, term: outcome.term };
    }
  }
  throw new Error("no commit within the bound");
}

/** Per trial: a settled homelab cluster, then `act` on its leader; the time to a new commit. */
function trialsOf(
  trials: number,
  seedBase: number,
  act: (cluster: RaftCluster, leader: string) => void,
): number[] {
  const samples: number[] = [];
  for (let trial = 0; trial < trials; trial += 1) {
    const cluster = homelabCluster(seedBase + trial);
    for (let step = 0; step < 600 && cluster.leader() === null; step += 1) cluster.step();
    for (let step = 0; step < 100 + (trial % 25); step += 1) cluster.step();
    const leader = cluster.leader()!;
    samples.push(timeToCommit(cluster, () => act(cluster, leader), 5000));
  }
  return samples;
}

function failovers(trials: number): number[] {
  return trialsOf(trials, 1000, (cluster, leader) => cluster.crash(leader));
}

function transfers(trials: number): number[] {
  return trialsOf(trials, 5000, (cluster, leader) => {
    cluster.raft(leader).transferLeadership(peers.find((id) => id !== leader)!);
  });
}

const durationMs = quick ? 500 : 2000;
for (const proposers of [1, 64]) {
  log(`throughput with ${proposers} proposer(s)...`);
  const result = throughput(proposers, durationMs);
  figures.push(
    figure(`in-memory commits/s, ${proposers} proposer(s)`, Math.round(result.perSecond), "commits/s"),
  );
  figures.push(
    figure(`in-memory latency p50, ${proposers} proposer(s)`, percentile(result.latencies, 50), "ms"),
  );
  figures.push(
    figure(
      `in-memory latency p99, ${proposers} proposer(s)`,
      percentile(result.latencies, 99),
      "ms",
      proposers === 1 ? "<= 0.3 ms (C3, in-memory log)" : undefined,
    ),
  );
}
log("ReadIndex with 64 readers...");
const reads = throughput(64, durationMs, "read");
figures.push(
  figure("in-memory ReadIndex reads/s, 64 readers", Math.round(reads.perSecond), "reads/s", ">= 50 000 (C4)"),
);
figures.push(figure("in-memory ReadIndex latency p50, 64 readers", percentile(reads.latencies, 50), "ms"));
const trials = quick ? 50 : 500;
log(`failover, ${trials} virtual trials...`);
const failover = failovers(trials);
figures.push(
  figure(
    "sim failover (leader crash -> commit) p50",
    percentile(failover, 50),
    "ms virtual",
    "<= 150 ms (C1)",
  ),
);
figures.push(
  figure(
    "sim failover (leader crash -> commit) p99",
    percentile(failover, 99),
    "ms virtual",
    "<= 400 ms (C1)",
  ),
);
log(`transfer, ${trials} virtual trials...`);
const transfer = transfers(trials);
figures.push(figure("sim transfer (request -> commit) p50", percentile(transfer, 50), "ms virtual"));
figures.push(
  figure("sim transfer (request -> commit) p99", percentile(transfer, 99), "ms virtual", "<= 50 ms (C2)"),
);
publishBenchReport({
  name: "raft-core",
  fsyncMode: "not applicable",
  figures,
  notes: [
    "throughput: one process, 3 nodes, messages through the wire codec, no disk, no sockets",
    `failover/transfer: simulator virtual time, homelab timings, ${trials} trials each`,
  ],
});
