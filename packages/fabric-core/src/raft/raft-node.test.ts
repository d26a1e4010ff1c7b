/**
 * Goal: the RaftNode's behaviours one at a time: the Ready contract, elections with pre-vote
 * and check-quorum, fast conflict backtracking, leadership transfer, ReadIndex, snapshots in
 * chunks, membership changes and restart from storage. Method: a `RaftCluster` from the
 * simulator on a reliable network (its invariant checks run after every step), with faults
 * placed by hand and messages counted by type.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { encodeSimCommand, RaftCluster, SeededRandom } from "../sim/index.js";
import { InvariantError } from "../vocabulary/index.js";
import { defaultRaftConfig, type RaftMessage, RaftNode, type StoredState } from "./index.js";

function run(cluster: RaftCluster, steps: number): void {
  for (let step = 0; step < steps; step += 1) cluster.step();
}

function runUntil(cluster: RaftCluster, done: () => boolean, stepsMax = 400): void {
  for (let step = 0; step < stepsMax && !done(); step += 1) cluster.step();
  assertStrict.ok(done(), "condition not reached in time");
}

function leaderOf(cluster: RaftCluster): string {
  runUntil(cluster, () => cluster.leader() !== null);
  return cluster.leader()!;
}

/** Counts sent messages by type (wraps the simulated network). */
function countMessages(cluster: RaftCluster): Map<string, number> {
  const counts = new Map<string, number>();
  const send = cluster.network.send.bind(cluster.network);
  cluster.network.send = (from: string, to: string, message: RaftMessage, now: number, bytes?: number) => {
    counts.set(message.type, (counts.get(message.type) ?? 0) + 1);
    send(from, to, message, now, bytes);
  };
  return counts;
}

function put(cluster: RaftCluster, leader: string, key: string, value: string) {
  return cluster.raft(leader).propose(encodeSimCommand({ op: "put", key, value }));
}

function emptyStored(voters: string[]): StoredState {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [],
    initialConf: { voters, votersOutgoing: [], learners: [], learnersNext: [] },
  };
}

test("Ready contract: entries are persisted before the leader counts them, one Ready at a time", () => {
  const created = RaftNode.create(defaultRaftConfig("solo"), emptyStored(["solo"]), new SeededRandom(1));
  assertStrict.ok(created.ok);
  const node = created.value;
  node.tick(0);
  const first = node.ready();
  assertStrict.equal(first.entries[0]?.kind, "conf-change", "the founding membership is entry 1");
  assertStrict.throws(() => node.ready(), InvariantError, "a second Ready before advance");
  assertStrict.equal(node.hasReady(), false, "nothing is offered while a Ready is outstanding");
  node.advance(first);
  node.campaign();
  assertStrict.equal(node.status().role, "leader", "a single voter wins at once");
  const proposal = node.propose(new TextEncoder().encode("x"));
  assertStrict.equal(proposal.type, "accepted");
  const withEntries = node.ready();
  assertStrict.ok(withEntries.entries.length >= 2, "the no-op and the proposal are handed over to persist");
  assertStrict.equal(withEntries.committed.length, 0, "nothing commits before it is persisted");
  assertStrict.throws(
    () => node.advance({ ...withEntries }),
    InvariantError,
    "only the outstanding Ready advances",
  );
  node.advance(withEntries);
  const committed = node.ready();
  assertStrict.deepEqual(
    committed.committed.map((entry) => entry.kind),
    ["empty", "normal"],
    "after advance the persisted entries commit",
  );
  assertStrict.equal(committed.hardState?.commit, 3);
  node.advance(committed);
});

test("a vote is handed over to persist in the same Ready that sends the vote response", () => {
  const created = RaftNode.create(defaultRaftConfig("b"), emptyStored(["a", "b", "c"]), new SeededRandom(2));
  assertStrict.ok(created.ok);
  const node = created.value;
  node.tick(0);
  node.advance(node.ready());
  node.tick(1000); // Past the election timeout: no leader lease protects anyone.
  if (node.hasReady()) node.advance(node.ready());
  const outcome = node.step({
    type: "requestVote",
    from: "a",
    to: "b",
    term: 5,
    preVote: false,
    lastLogIndex: 1,
    lastLogTerm: 1,
    transfer: false,
  });
  assertStrict.deepEqual(outcome, { type: "applied" });
  const ready = node.ready();
  const response = ready.messages.find((message) => message.type === "voteResponse");
  assertStrict.ok(response?.type === "voteResponse" && response.granted);
  assertStrict.deepEqual(
    ready.hardState,
    { term: 5, vote: "a", commit: 1, generation: 1 },
    "persisted before the response is sent",
  );
  node.advance(ready);
});

test("pre-vote: a partitioned node does not raise its term and does not disrupt the leader", () => {
  const cluster = new RaftCluster({ seed: 3, voters: ["a", "b", "c"] });
  const leader = leaderOf(cluster);
  const term = cluster.raft(leader).status().term;
  const lonely = ["a", "b", "c"].find((id) => id !== leader)!;
  cluster.network.partition([[lonely], ["a", "b", "c"].filter((id) => id !== lonely)]);
  run(cluster, 400); // 2 s: many election timeouts.
  assertStrict.equal(cluster.raft(lonely).status().term, term, "pre-votes never won, so no term bump");
  cluster.network.heal();
  run(cluster, 100);
  assertStrict.equal(cluster.raft(leader).status().role, "leader");
  assertStrict.equal(
    cluster.raft(leader).status().term,
    term,
    "the rejoining node did not force an election",
  );
});

test("without pre-vote a partitioned node raises its term on every timeout", () => {
  const cluster = new RaftCluster({ seed: 3, voters: ["a", "b", "c"], config: { preVote: false } });
  const leader = leaderOf(cluster);
  const term = cluster.raft(leader).status().term;
  const lonely = ["a", "b", "c"].find((id) => id !== leader)!;
  cluster.network.partition([[lonely], ["a", "b", "c"].filter((id) => id !== lonely)]);
  run(cluster, 400);
  assertStrict.ok(cluster.raft(lonely).status().term > term + 2);
});

test("check-quorum: a leader cut off from its quorum steps down", () => {
  const cluster = new RaftCluster({ seed: 4, voters: ["a", "b", "c"] });
  const leader = leaderOf(cluster);
  cluster.network.partition([[leader], ["a", "b", "c"].filter((id) => id !== leader)]);
  run(cluster, 70); // 350 ms: more than two election timeouts of 150 ms.
  assertStrict.equal(cluster.raft(leader).status().role, "follower");
  const others = ["a", "b", "c"].filter((id) => id !== leader);
  assertStrict.ok(
    others.some((id) => cluster.raft(id).status().role === "leader"),
    "the majority elected a new leader",
  );
});

test("fast backtracking: a follower with a long divergent log is repaired in a few round trips", () => {
  const cluster = new RaftCluster({ seed: 5, voters: ["a", "b", "c"], config: { entriesPerAppendMax: 64 } });
  const first = leaderOf(cluster);
  const others = ["a", "b", "c"].filter((id) => id !== first);
  // The old leader, alone, appends 100 entries nobody else gets.
  cluster.network.partition([[first], others]);
  for (let i = 0; i < 100; i += 1) put(cluster, first, "k", `stale-${i}`);
  run(cluster, 1);
  runUntil(cluster, () => others.some((id) => cluster.raft(id).status().role === "leader"));
  const second = others.find((id) => cluster.raft(id).status().role === "leader")!;
  for (let i = 0; i < 50; i += 1) put(cluster, second, "k", `fresh-${i}`);
  run(cluster, 10);
  const counts = countMessages(cluster);
  cluster.network.heal();
  runUntil(cluster, () => cluster.node(first).kv.get("k") === "fresh-49");
  const rejections = counts.get("appendResponse") ?? 0;
  assertStrict.ok(rejections < 40, `repair took ${rejections} append responses for 100 divergent entries`);
});

test("leadership transfer: the target is caught up, then leads; proposals wait meanwhile", () => {
  const cluster = new RaftCluster({ seed: 6, voters: ["a", "b", "c"] });
  const leader = leaderOf(cluster);
  const target = ["a", "b", "c"].find((id) => id !== leader)!;
  const outcome = cluster.raft(leader).transferLeadership(target);
  assertStrict.deepEqual(outcome, { type: "started", target });
  assertStrict.equal(put(cluster, leader, "k", "v").type, "rejected", "no proposals while transferring");
  runUntil(cluster, () => cluster.raft(target).status().role === "leader", 100);
  assertStrict.equal(cluster.raft(leader).status().role, "follower");
  assertStrict.equal(
    cluster.raft(leader).transferLeadership(target).type,
    "rejected",
    "a follower cannot transfer",
  );
});

test("ReadIndex: answered only after a heartbeat round confirms leadership", () => {
  const cluster = new RaftCluster({ seed: 7, voters: ["a", "b", "c"] });
  const leader = leaderOf(cluster);
  runUntil(cluster, () => cluster.raft(leader).status().commit >= 2);
  const follower = ["a", "b", "c"].find((id) => id !== leader)!;
  assertStrict.equal(cluster.raft(follower).readIndex("r0").type, "rejected");
  put(cluster, leader, "k", "v1");
  run(cluster, 5);
  const commit = cluster.raft(leader).status().commit;
  // Cut the leader off: the read must not be answered from its stale belief.
  cluster.network.partition([[leader], ["a", "b", "c"].filter((id) => id !== leader)]);
  assertStrict.equal(cluster.raft(leader).readIndex("r1").type, "accepted");
  run(cluster, 20);
  assertStrict.equal(cluster.node(leader).readStates.has("r1"), false, "no quorum answered, no read");
  cluster.network.heal();
  const fresh = new RaftCluster({ seed: 8, voters: ["a", "b", "c"] });
  const freshLeader = leaderOf(fresh);
  runUntil(fresh, () => fresh.raft(freshLeader).status().commit >= 2);
  put(fresh, freshLeader, "k", "v1");
  run(fresh, 5);
  assertStrict.equal(fresh.raft(freshLeader).readIndex("r2").type, "accepted");
  runUntil(fresh, () => fresh.node(freshLeader).readStates.has("r2"), 20);
  assertStrict.ok(fresh.node(freshLeader).readStates.get("r2")! >= commit);
});

test("snapshots: a follower that missed compacted entries gets a snapshot in chunks", () => {
  const cluster = new RaftCluster({
    seed: 9,
    voters: ["a", "b", "c"],
    config: { snapshotIntervalEntries: 20, snapshotChunkBytes: 64 },
  });
  const leader = leaderOf(cluster);
  const lagging = ["a", "b", "c"].find((id) => id !== leader)!;
  cluster.crash(lagging);
  for (let i = 0; i < 60; i += 1) {
    put(cluster, leader, `k${i % 7}`, `v${i}`);
    run(cluster, 1);
  }
  run(cluster, 10);
  assertStrict.ok(cluster.raft(leader).status().snapshotIndex > 20, "the leader compacted its log");
  const counts = countMessages(cluster);
  cluster.restart(lagging);
  runUntil(cluster, () => cluster.node(lagging).appliedIndex === cluster.raft(leader).status().commit);
  assertStrict.ok((counts.get("snapshotChunk") ?? 0) > 1, "the snapshot went in several chunks");
  assertStrict.deepEqual(cluster.node(lagging).kv, cluster.node(leader).kv);
});

test("membership: add a learner, promote it, remove a voter; joint configurations are left", () => {
  const cluster = new RaftCluster({ seed: 10, voters: ["a", "b", "c"], spares: ["d"] });
  const leader = leaderOf(cluster);
  runUntil(cluster, () => cluster.raft(leader).status().commit >= 2);
  cluster.restart("d");
  const raft = () => cluster.raft(cluster.leader()!);
  assertStrict.equal(
    raft().proposeConfChange({ changes: [{ type: "add-learner", node: "d" }] }).type,
    "accepted",
  );
  runUntil(cluster, () => raft().status().conf.learners.includes("d"));
  put(cluster, cluster.leader()!, "k", "v");
  runUntil(cluster, () => cluster.node("d").kv.get("k") === "v");
  assertStrict.equal(cluster.raft("d").campaign(), undefined);
  assertStrict.notEqual(cluster.raft("d").status().role, "candidate", "a learner never campaigns");
  const removed = ["a", "b", "c"].find((id) => id !== leader)!;
  const change = raft().proposeConfChange({
    changes: [
      { type: "add-voter", node: "d" },
      { type: "remove", node: removed },
    ],
  });
  assertStrict.equal(change.type, "accepted");
  runUntil(cluster, () => {
    const conf = raft().status().conf;
    return conf.votersOutgoing.length === 0 && conf.voters.includes("d");
  });
  const conf = raft().status().conf;
  assertStrict.deepEqual(conf.voters, ["a", "b", "c", "d"].filter((id) => id !== removed).sort());
  put(cluster, cluster.leader()!, "k", "after");
  runUntil(cluster, () => cluster.node("d").kv.get("k") === "after");
});

test("restart: a node recovers its term, vote and log from storage", () => {
  const cluster = new RaftCluster({ seed: 11, voters: ["a", "b", "c"] });
  const leader = leaderOf(cluster);
  put(cluster, leader, "k", "v");
  run(cluster, 10);
  const follower = ["a", "b", "c"].find((id) => id !== leader)!;
  const before = cluster.raft(follower).status();
  cluster.crash(follower);
  cluster.restart(follower);
  const after = cluster.raft(follower).status();
  assertStrict.equal(after.term, before.term);
  assertStrict.equal(after.vote, before.vote);
  assertStrict.equal(after.lastIndex, before.lastIndex);
  run(cluster, 10);
  assertStrict.equal(cluster.node(follower).kv.get("k"), "v", "the log is re-applied after restart");
});

test("create refuses a stored log with a gap", () => {
  const stored: StoredState = {
    ...emptyStored(["a"]),
    hardState: { term: 1, vote: null, commit: 0 },
    entries: [{ index: 2, term: 1, kind: "normal", data: new Uint8Array() }],
  };
  const created = RaftNode.create(defaultRaftConfig("a"), stored, new SeededRandom(1));
  assertStrict.equal(created.ok, false);
});

test("the outbox is bounded when the driver stops taking Readies", () => {
  const created = RaftNode.create(defaultRaftConfig("b"), emptyStored(["a", "b", "c"]), new SeededRandom(3));
  assertStrict.ok(created.ok);
  const node = created.value;
  node.tick(0);
  node.advance(node.ready());
  for (let i = 0; i < 70_000; i += 1) {
    node.step({ type: "heartbeat", from: "a", to: "b", term: 2, commit: 1, readRound: i });
  }
  const ready = node.ready();
  assertStrict.equal(ready.messages.length, 65_536);
  const dropped = ready.events.filter((event) => event.type === "message-dropped");
  assertStrict.equal(dropped.length, 1, "one event, not one per dropped message");
  node.advance(ready);
});

test("a rejected vote request with a higher term does not hold the election timer back", () => {
  // Without pre-vote, a node that cannot win (its log is behind) keeps raising the term. If
  // seeing a higher term restarted everyone's timer, such a node with a fast clock would
  // prevent every election (found by the simulator with clock drift).
  const config = { ...defaultRaftConfig("b"), preVote: false, checkQuorum: false };
  const created = RaftNode.create(config, emptyStored(["a", "b", "c"]), new SeededRandom(5));
  assertStrict.ok(created.ok);
  const node = created.value;
  node.tick(0);
  node.advance(node.ready());
  node.tick(140);
  node.step({
    type: "requestVote",
    from: "a",
    to: "b",
    term: 9,
    preVote: false,
    lastLogIndex: 0,
    lastLogTerm: 0,
    transfer: false,
  });
  assertStrict.equal(node.status().term, 9);
  assertStrict.equal(node.status().vote, null, "a candidate with a shorter log gets no vote");
  node.tick(300); // The timer armed at 0 fires before 2T = 300.
  assertStrict.equal(node.status().role, "candidate");
  assertStrict.equal(node.status().term, 10);
});

test("lease reads: a cut-off leader stops answering from its lease before anyone else can lead", () => {
  // The lease may answer without a quorum round only while no other leader can exist: until
  // T - margin after the heartbeats a quorum acknowledged. Method: cut the leader off, keep
  // asking it for reads every step until it steps down, and check that no read asked after
  // partition time + T - margin was answered (a lease that trusts the last contact, or
  // never expires, answers them).
  const cluster = new RaftCluster({ seed: 12, voters: ["a", "b", "c"], config: { leaseReads: true } });
  const leader = leaderOf(cluster);
  put(cluster, leader, "x", "1");
  run(cluster, 20);
  assertStrict.equal(cluster.raft(leader).readIndex("warm").type, "accepted");
  run(cluster, 1);
  assertStrict.ok(cluster.node(leader).readStates.has("warm"), "a valid lease answers at once");
  const config = defaultRaftConfig(leader);
  const partitionedAt = cluster.clockOf(cluster.node(leader));
  const leaseEnd = partitionedAt + config.electionTimeoutMs - config.leaseSafetyMarginMs;
  cluster.network.partition([[leader], ["a", "b", "c"].filter((id) => id !== leader)]);
  const askedAt = new Map<string, number>();
  for (let step = 0; step < 200 && cluster.raft(leader).status().role === "leader"; step += 1) {
    const context = `r${step}`;
    if (cluster.raft(leader).readIndex(context).type === "accepted") {
      askedAt.set(context, cluster.clockOf(cluster.node(leader)));
    }
    cluster.step();
  }
  assertStrict.notEqual(cluster.raft(leader).status().role, "leader", "check-quorum deposed it");
  const late = [...askedAt].filter(
    ([context, at]) => at >= leaseEnd && cluster.node(leader).readStates.has(context),
  );
  assertStrict.deepEqual(late, [], "no read asked after the lease ended was answered");
  assertStrict.ok(
    [...askedAt.values()].some((at) => at >= leaseEnd),
    "the leader was still asked after its lease",
  );
});

test("ReadIndex asked before the new leader's first commit waits for it, then answers", () => {
  const cluster = new RaftCluster({ seed: 13, voters: ["a", "b", "c"] });
  const first = leaderOf(cluster);
  put(cluster, first, "x", "1");
  run(cluster, 20);
  const committedBefore = cluster.raft(first).status().commit;
  const next = ["a", "b", "c"].find((id) => id !== first)!;
  cluster.raft(first).transferLeadership(next);
  runUntil(cluster, () => cluster.raft(next).status().role === "leader", 100);
  // Right after winning, the new leader has not committed its no-op yet.
  const status = cluster.raft(next).status();
  assertStrict.ok(status.commit < status.lastIndex, "the no-op is not committed yet");
  assertStrict.deepEqual(cluster.raft(next).readIndex("early"), { type: "accepted" });
  runUntil(cluster, () => cluster.node(next).readStates.has("early"), 20);
  const index = cluster.node(next).readStates.get("early")!;
  assertStrict.ok(index > committedBefore, "the answer covers the new leader's no-op");
});

test("nextDeadlineMs: tick does nothing before it and acts at it (election, then heartbeats)", () => {
  const config = defaultRaftConfig("a");
  const created = RaftNode.create(config, emptyStored(["a", "b", "c"]), new SeededRandom(7));
  assertStrict.ok(created.ok);
  const node = created.value;
  const drain = () => {
    const messages: RaftMessage[] = [];
    while (node.hasReady()) {
      const ready = node.ready();
      messages.push(...ready.messages);
      node.advance(ready);
    }
    return messages;
  };
  node.tick(0);
  drain();
  const election = node.nextDeadlineMs();
  assertStrict.ok(
    election >= config.electionTimeoutMs && election < 2 * config.electionTimeoutMs,
    `the election deadline ${election} lies in [T, 2T)`,
  );
  node.tick(election - 0.5);
  assertStrict.equal(node.status().role, "follower", "no campaign before the deadline");
  assertStrict.deepEqual(drain(), [], "nothing to send before the deadline");
  node.tick(election);
  assertStrict.equal(node.status().role, "pre-candidate", "the campaign starts at the deadline");
  assertStrict.ok(drain().some((message) => message.type === "requestVote"));

  // A solo voter leads at once; its deadlines are then heartbeats.
  const solo = RaftNode.create(defaultRaftConfig("solo"), emptyStored(["solo"]), new SeededRandom(7));
  assertStrict.ok(solo.ok);
  const leader = solo.value;
  leader.tick(0);
  while (leader.hasReady()) leader.advance(leader.ready());
  leader.tick(leader.nextDeadlineMs());
  while (leader.hasReady()) leader.advance(leader.ready());
  assertStrict.equal(leader.status().role, "leader");
  const becameLeaderAt = leader.nextDeadlineMs() - config.heartbeatIntervalMs;
  leader.tick(becameLeaderAt + config.heartbeatIntervalMs);
  assertStrict.equal(
    leader.nextDeadlineMs(),
    becameLeaderAt + 2 * config.heartbeatIntervalMs,
    "the next heartbeat is due one interval after the last",
  );
});

/** A fresh voter of {a, b, c} whose founding Ready is persisted; its log ends at (index, term). */
function freshVoter(id: string, config = defaultRaftConfig(id)) {
  const created = RaftNode.create(config, emptyStored(["a", "b", "c"]), new SeededRandom(id.charCodeAt(0)));
  assertStrict.ok(created.ok);
  const node = created.value;
  node.tick(0);
  while (node.hasReady()) node.advance(node.ready());
  return node;
}

function takeMessages(node: RaftNode): RaftMessage[] {
  const messages: RaftMessage[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    messages.push(...ready.messages);
    node.advance(ready);
  }
  return messages;
}

function preVoteFrom(from: string, to: string, node: RaftNode, term: number): RaftMessage {
  const status = node.status();
  return {
    type: "requestVote",
    from,
    to,
    term,
    preVote: true,
    lastLogIndex: status.lastIndex,
    lastLogTerm: status.lastTerm,
    transfer: false,
  };
}

test("pre-vote tie-break: of two fresh pre-candidates with equal logs only the smaller id gets both pre-votes", () => {
  const a = freshVoter("a");
  const b = freshVoter("b");
  a.tick(a.nextDeadlineMs());
  b.tick(Math.max(b.nextDeadlineMs(), a.nextDeadlineMs() - 1000));
  assertStrict.equal(a.status().role, "pre-candidate");
  assertStrict.equal(b.status().role, "pre-candidate");
  takeMessages(a);
  takeMessages(b);
  a.step(preVoteFrom("b", "a", b, b.status().term + 1));
  b.step(preVoteFrom("a", "b", a, a.status().term + 1));
  const answerOfA = takeMessages(a).find((message) => message.type === "voteResponse");
  const answerOfB = takeMessages(b).find((message) => message.type === "voteResponse");
  assertStrict.equal(answerOfA?.type === "voteResponse" && answerOfA.granted, false, "a refuses b");
  assertStrict.equal(answerOfB?.type === "voteResponse" && answerOfB.granted, true, "b grants a");

  // Past half an election timeout the pre-candidate grants as before (no one is held back).
  const later = freshVoter("a");
  const began = later.nextDeadlineMs();
  later.tick(began);
  takeMessages(later);
  later.tick(began + defaultRaftConfig("a").electionTimeoutMs / 2);
  assertStrict.equal(later.status().role, "pre-candidate", "still pre-campaigning");
  later.step(preVoteFrom("b", "a", b, later.status().term + 1));
  const answer = takeMessages(later).find((message) => message.type === "voteResponse");
  assertStrict.equal(answer?.type === "voteResponse" && answer.granted, true, "a grants b after the window");
});

test("leaderUnreachable: a follower drops its leader lease and campaigns within two heartbeats", () => {
  const config = defaultRaftConfig("a");
  const a = freshVoter("a", config);
  a.tick(10);
  a.step({ type: "heartbeat", from: "b", to: "a", term: 1, commit: 0, readRound: 0 });
  takeMessages(a);
  assertStrict.equal(a.status().leader, "b");
  const c = freshVoter("c");
  a.step(preVoteFrom("c", "a", c, 2));
  const refused = takeMessages(a).find((message) => message.type === "voteResponse");
  assertStrict.ok(
    refused === undefined || (refused.type === "voteResponse" && !refused.granted),
    "within the lease",
  );

  assertStrict.equal(a.leaderUnreachable("c"), false, "only the leader's loss counts");
  assertStrict.equal(a.leaderUnreachable("b"), true);
  assertStrict.ok(
    a.nextDeadlineMs() < 10 + 2 * config.heartbeatIntervalMs,
    "the campaign is due within two heartbeats",
  );
  a.step(preVoteFrom("c", "a", c, 2));
  const granted = takeMessages(a).find((message) => message.type === "voteResponse");
  assertStrict.ok(
    granted?.type === "voteResponse" && granted.granted,
    "the lease is gone: c's pre-vote is granted",
  );
  a.tick(a.nextDeadlineMs());
  assertStrict.equal(a.status().role, "pre-candidate");

  const withLeases = freshVoter("a", { ...config, leaseReads: true });
  withLeases.tick(10);
  withLeases.step({ type: "heartbeat", from: "b", to: "a", term: 1, commit: 0, readRound: 0 });
  takeMessages(withLeases);
  assertStrict.equal(withLeases.leaderUnreachable("b"), false, "ignored with lease reads");
});

test("advanceClock moves time without judging timeouts: a heartbeat read late still counts", () => {
  const config = defaultRaftConfig("a");
  const a = freshVoter("a", config);
  a.tick(10);
  a.step({ type: "heartbeat", from: "b", to: "a", term: 1, commit: 0, readRound: 0 });
  takeMessages(a);
  const deadline = a.nextDeadlineMs();
  // The event loop was held past the deadline; the heartbeat that waited is read first.
  const late = deadline + 5 * config.electionTimeoutMs;
  a.advanceClock(late);
  assertStrict.equal(a.status().role, "follower", "no campaign while only the clock moved");
  assertStrict.deepEqual(takeMessages(a), [], "nothing sent while only the clock moved");
  a.step({ type: "heartbeat", from: "b", to: "a", term: 1, commit: 0, readRound: 0 });
  takeMessages(a);
  assertStrict.ok(a.nextDeadlineMs() > late, "the late heartbeat reset the election deadline");
  a.tick(late);
  assertStrict.equal(a.status().role, "follower", "the tick after it finds the leader alive");
  assertStrict.throws(() => a.advanceClock(late - 1), InvariantError, "time never goes backwards");

  // Without that heartbeat, the tick at the same moment campaigns.
  const b = freshVoter("a", config);
  b.tick(10);
  b.step({ type: "heartbeat", from: "b", to: "a", term: 1, commit: 0, readRound: 0 });
  takeMessages(b);
  b.advanceClock(late);
  b.tick(late);
  assertStrict.equal(b.status().role, "pre-candidate");
});
