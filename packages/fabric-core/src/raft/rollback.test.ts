/**
 * Goal: a node whose data directory went backwards (restored from an older copy: a backup,
 * a VM snapshot) is repaired by the leader, learns that it went back, refuses to vote until
 * it caught up, and never takes a commit index meant for another start of itself (issue
 * 18). Method: a simulated cluster where a follower restarts from an older copy of its
 * disk (`RaftCluster.rollBack`, the cluster's invariant checks run after every step), and
 * single `RaftNode`s stepped by hand with the generations a peer would send.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { encodeSimCommand, RaftCluster, SeededRandom } from "../sim/index.js";
import {
  defaultRaftConfig,
  type Entry,
  encodeConfChange,
  type HardState,
  type RaftMessage,
  RaftNode,
  type Ready,
} from "./index.js";

const voters = ["a", "b", "c"];

function run(cluster: RaftCluster, steps: number): void {
  for (let step = 0; step < steps; step += 1) cluster.step();
}

function putAll(cluster: RaftCluster, leader: string, prefix: string, count: number): void {
  for (let i = 0; i < count; i += 1) {
    const outcome = cluster
      .raft(leader)
      .propose(encodeSimCommand({ op: "put", key: prefix, value: `${prefix}${i}` }));
    assertStrict.equal(outcome.type, "accepted");
  }
}

test("a follower restarted from an older copy of its disk is repaired by the leader and catches up", () => {
  const cluster = new RaftCluster({ seed: 7, voters, config: { snapshotIntervalEntries: 100_000 } });
  run(cluster, 400);
  const leader = cluster.leader();
  assertStrict.ok(leader !== null);
  const follower = voters.find((id) => id !== leader)!;
  putAll(cluster, leader, "x", 5);
  run(cluster, 50);
  // The operator stops the follower and copies its data directory (the crash keeps a copy).
  cluster.crash(follower);
  const backup = cluster.node(follower).backups.at(-1)!;
  cluster.restart(follower);
  run(cluster, 50);
  putAll(cluster, leader, "y", 5);
  run(cluster, 50);
  const acknowledged = cluster.raft(leader).status().progress[follower]!.match;
  assertStrict.ok(acknowledged > (backup.disk.snapshot?.metadata.index ?? 0) + backup.disk.entries.length);
  // Stopped again, the older copy put back, restarted.
  cluster.crash(follower);
  assertStrict.ok(cluster.rollBack(follower, backup), "the cluster can survive this rollback");
  assertStrict.equal(cluster.node(follower).appliedIndex < acknowledged, true);
  run(cluster, 400);
  const status = cluster.raft(leader).status();
  assertStrict.equal(cluster.node(follower).appliedIndex, status.commit, "the restored follower caught up");
  assertStrict.equal(cluster.node(follower).kv.get("y"), "y4", "it holds the writes made after the copy");
  assertStrict.equal(cluster.rollbacks.noticedByLeader, 1, "the leader saw acknowledged entries missing");
  assertStrict.equal(cluster.rollbacks.detected, 1, "the follower learnt that its disk went back");
  assertStrict.equal(cluster.rollbacks.recovered, 1, "and that it caught up");
  assertStrict.equal(cluster.raft(follower).status().rollback, null, "it votes again");
  assertStrict.equal(status.progress[follower]!.rolledBack, false);
});

/** Entry 1 of a cluster of `voters` (what a founding node writes). */
function foundingEntry(): Entry {
  const changes = voters.map((node) => ({ type: "add-voter" as const, node }));
  return { term: 1, index: 1, kind: "conf-change", data: encodeConfChange({ changes }) };
}

function nodeFrom(hardState: HardState, entries: Entry[], nonce: number): RaftNode {
  const created = RaftNode.create(
    defaultRaftConfig("b"),
    {
      hardState,
      snapshot: null,
      entries,
      initialConf: { voters: [], votersOutgoing: [], learners: [], learnersNext: [] },
    },
    new SeededRandom(3),
    { incarnationNonce: nonce },
  );
  assertStrict.ok(created.ok);
  const node = created.value;
  node.tick(0);
  node.tick(10_000); // Past any leader lease.
  drain(node);
  return node;
}

function drain(node: RaftNode): Ready[] {
  const readies: Ready[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    readies.push(ready);
    node.advance(ready);
  }
  return readies;
}

function voteRequest(term: number, recipientGeneration: { count: number; nonce: number }): RaftMessage {
  return {
    type: "requestVote",
    from: "c",
    to: "b",
    term,
    preVote: false,
    lastLogIndex: 10,
    lastLogTerm: term - 1,
    transfer: false,
    generation: { count: 1, nonce: 1 },
    recipientGeneration,
  };
}

function voteGranted(readies: readonly Ready[]): boolean | undefined {
  for (const ready of readies) {
    for (const message of ready.messages) if (message.type === "voteResponse") return message.granted;
  }
  return undefined;
}

test("a node whose peer saw a newer start of it refuses votes until it caught up", () => {
  // The copy on disk says term 3 and generation 4; the node already lived as generation 5
  // (another nonce) and may have voted in term 5 there.
  const hardState: HardState = { term: 3, vote: null, commit: 1, generation: 4 };
  const faithful = nodeFrom(hardState, [foundingEntry()], 8);
  faithful.step(voteRequest(5, { count: 4, nonce: 2 }));
  assertStrict.equal(voteGranted(drain(faithful)), true, "a peer that saw an older start gets the vote");

  const restored = nodeFrom(hardState, [foundingEntry()], 8);
  restored.step(voteRequest(5, { count: 5, nonce: 6 }));
  const readies = drain(restored);
  assertStrict.equal(voteGranted(readies), false, "no second vote in a term it may have voted in");
  const status = restored.status();
  assertStrict.equal(status.rollback?.reason, "newer-generation-seen");
  assertStrict.equal(status.generation, 6, "the generation moves past the one the peer saw");
  const persisted = readies.find((ready) => ready.hardState !== null);
  assertStrict.equal(persisted?.hardState?.generation, 6);
  assertStrict.equal(persisted?.mustSync, true, "the new generation is synced before the answer leaves");
  const detected = readies
    .flatMap((ready) => ready.events)
    .find((event) => event.type === "rollback-detected");
  assertStrict.ok(detected !== undefined, "an event says so (the driver logs it)");

  // A leader of term 5 replicates; once the commit index reaches the leader's, it votes again.
  const append: RaftMessage = {
    type: "append",
    from: "a",
    to: "b",
    term: 5,
    prevLogIndex: 1,
    prevLogTerm: 1,
    entries: [{ term: 5, index: 2, kind: "empty", data: new Uint8Array(0) }],
    commit: 2,
    generation: { count: 1, nonce: 1 },
    recipientGeneration: { count: 6, nonce: 8 },
  };
  restored.step(append);
  const caughtUp = drain(restored);
  assertStrict.equal(restored.status().rollback, null);
  assertStrict.ok(
    caughtUp.flatMap((ready) => ready.events).some((event) => event.type === "rollback-recovered"),
  );
  restored.tick(30_000);
  drain(restored);
  restored.step(voteRequest(7, { count: 6, nonce: 8 }));
  assertStrict.equal(voteGranted(drain(restored)), true, "caught up, it votes in later terms");
});

test("a restored node does not campaign while it catches up", () => {
  const restored = nodeFrom({ term: 3, vote: null, commit: 1, generation: 4 }, [foundingEntry()], 8);
  restored.step(voteRequest(5, { count: 5, nonce: 6 }));
  drain(restored);
  restored.campaign();
  restored.tick(60_000);
  const readies = drain(restored);
  assertStrict.equal(restored.status().role, "follower");
  assertStrict.ok(
    readies.flatMap((ready) => ready.messages).every((message) => message.type !== "requestVote"),
  );
});

test("a heartbeat meant for another start of this node does not move its commit index", () => {
  // The restored log ends in an entry of term 2 that a later leader replaced; a heartbeat
  // capped at what the previous start acknowledged must not commit it here.
  const entries: Entry[] = [
    foundingEntry(),
    { term: 2, index: 2, kind: "normal", data: new TextEncoder().encode("never committed") },
  ];
  const heartbeat = (recipientGeneration: { count: number; nonce: number }): RaftMessage => ({
    type: "heartbeat",
    from: "a",
    to: "b",
    term: 3,
    commit: 2,
    readRound: 0,
    generation: { count: 1, nonce: 1 },
    recipientGeneration,
  });
  const node = nodeFrom({ term: 2, vote: null, commit: 1, generation: 3 }, entries, 8);
  node.step(heartbeat({ count: 3, nonce: 5 }));
  drain(node);
  assertStrict.equal(node.status().commit, 1, "acknowledgements of the previous start are not this log's");
  node.step(heartbeat({ count: 4, nonce: 8 }));
  drain(node);
  assertStrict.equal(node.status().commit, 2, "a heartbeat addressed to this start moves it");
});
