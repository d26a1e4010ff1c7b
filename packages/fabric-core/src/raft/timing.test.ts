/**
 * Goal: a running RaftNode takes new timing (a committed strategy swap) without a restart:
 * `setTiming` is validated like the config, a shorter election timeout or heartbeat pulls the
 * armed deadlines in, a longer one is used from the next reset, and a cluster keeps one
 * leader across the change. Method: single nodes on a logical clock (deadlines read with
 * `nextDeadlineMs`), and the simulator's `RaftCluster` for the whole-cluster case.
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { RaftCluster, SeededRandom } from "../sim/index.js";
import { prescribedStrategies } from "../vocabulary/index.js";
import { defaultRaftConfig, RaftNode, type RaftTiming, raftTimingFromStrategy } from "./index.js";

function timingFor(electionTimeoutMs: number): RaftTiming {
  const defaults = defaultRaftConfig("x", electionTimeoutMs);
  return {
    electionTimeoutMs,
    heartbeatIntervalMs: defaults.heartbeatIntervalMs,
    leaseSafetyMarginMs: defaults.leaseSafetyMarginMs,
    snapshotIntervalEntries: defaults.snapshotIntervalEntries,
  };
}

function follower(id: string): RaftNode {
  const created = RaftNode.create(
    defaultRaftConfig(id, 150),
    {
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
      initialConf: { voters: ["a", "b", "c"], votersOutgoing: [], learners: [], learnersNext: [] },
    },
    new SeededRandom(7),
  );
  assert.ok(created.ok);
  const node = created.value;
  node.tick(0);
  while (node.hasReady()) node.advance(node.ready());
  return node;
}

/** Ticks until the follower campaigns (hands out a pre-vote request); returns that time. */
function campaignTime(node: RaftNode, fromMs: number): number {
  for (let now = fromMs; now < fromMs + 100_000; now += 1) {
    node.tick(now);
    let campaigned = false;
    while (node.hasReady()) {
      const ready = node.ready();
      if (ready.messages.some((message) => message.type === "requestVote")) campaigned = true;
      node.advance(ready);
    }
    if (campaigned) return now;
  }
  assert.fail("never campaigned");
}

test("setTiming: a longer election timeout is used from the next reset", () => {
  const node = follower("a");
  const first = campaignTime(node, 0);
  assert.ok(first >= 150 && first < 300, `first campaign within [T, 2T) of the old T: ${first}`);
  const applied = node.setTiming(timingFor(1000));
  assert.ok(applied.ok);
  assert.equal(node.timing().electionTimeoutMs, 1000);
  assert.equal(node.timing().heartbeatIntervalMs, 166);
  const second = campaignTime(node, first + 1);
  // The deadline armed at the first campaign still used the old T; every later one uses 1000.
  const third = campaignTime(node, second + 1);
  assert.ok(
    third - second >= 1000 && third - second < 2000,
    `next campaign within [T, 2T) of the new T: ${third - second}`,
  );
});

test("setTiming: a shorter election timeout pulls an armed deadline in", () => {
  const node = follower("b");
  assert.ok(node.setTiming(timingFor(5000)).ok);
  const first = campaignTime(node, 0);
  const armed = node.nextDeadlineMs() - first;
  assert.ok(armed >= 5000, `armed with the long timeout: ${armed}`);
  assert.ok(node.setTiming(timingFor(100)).ok);
  const pulled = node.nextDeadlineMs() - first;
  assert.ok(pulled >= 100 && pulled < 200, `pulled in to the short timeout: ${pulled}`);
});

test("setTiming: timing that fails the config's rules is refused and nothing changes", () => {
  const node = follower("c");
  const before = node.timing();
  const refused = node.setTiming({ ...before, heartbeatIntervalMs: before.electionTimeoutMs });
  assert.equal(refused.ok, false);
  assert.match(JSON.stringify(refused), /heartbeat interval must be below the election timeout/);
  assert.deepEqual(node.timing(), before);
});

test("setTiming: the strategy's timing, applied on every node of a running cluster, keeps one leader and moves heartbeats", () => {
  const cluster = new RaftCluster({ voters: ["a", "b", "c"], seed: 3 });
  for (let step = 0; step < 400 && cluster.leader() === null; step += 1) cluster.step();
  const leader = cluster.leader();
  assert.ok(leader !== null);
  const homelab = prescribedStrategies.homelab;
  assert.ok(homelab !== undefined);
  const heartbeats = { count: 0 };
  const send = cluster.network.send.bind(cluster.network);
  cluster.network.send = (from, to, message, now, bytes) => {
    if (message.type === "heartbeat") heartbeats.count += 1;
    send(from, to, message, now, bytes);
  };
  const steps = 400; // 2 s at the simulator's 5 ms per step
  for (let step = 0; step < steps; step += 1) cluster.step();
  const before = heartbeats.count;
  const slow = raftTimingFromStrategy({
    ...homelab,
    consensus: { kind: { ...homelab.consensus.kind, election_timeout_ms: 600 } },
  });
  for (const id of ["a", "b", "c"]) assert.ok(cluster.raft(id).setTiming(slow).ok);
  const term = cluster.raft(leader).status().term;
  heartbeats.count = 0;
  for (let step = 0; step < steps; step += 1) cluster.step();
  assert.equal(cluster.leader(), leader, "the leader keeps leading across the change");
  assert.equal(cluster.raft(leader).status().term, term, "no election");
  assert.equal(cluster.raft(leader).timing().heartbeatIntervalMs, 100);
  // 25 ms heartbeats before, 100 ms after: about a quarter as many in the same virtual time.
  assert.ok(heartbeats.count * 3 < before, `heartbeats ${before} before, ${heartbeats.count} after`);
});
