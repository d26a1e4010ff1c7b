/**
 * Goal: the leader exposes a follower that does not catch up (issue 18): the per-peer lag
 * is the leader's commit minus the peer's match, it grows while the peer is away and falls
 * to 0 once it caught up; a follower repaired after its disk went back and a node that
 * refuses to vote after finding its own disk rolled back are visible too. Method: the
 * metrics defined by `defineRaftMetrics` over the status of Raft cores in the simulator
 * (a follower crashed, then restarted from an older copy of its disk), read through the
 * registry's rendering.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { encodeSimCommand, RaftCluster } from "@revoada/fabric-core/sim";
import { MetricsRegistry } from "../src/daemon/metrics.js";
import { defineRaftMetrics } from "../src/daemon/raft-metrics.js";

const voters = ["a", "b", "c"];

function run(cluster: RaftCluster, steps: number): void {
  for (let step = 0; step < steps; step += 1) cluster.step();
}

/** The value of `name{peer=...}` (or unlabelled) in the rendered exposition text. */
function scrape(registry: MetricsRegistry, name: string, peer?: string): number | undefined {
  const series = peer === undefined ? name : `${name}{peer="${peer}"}`;
  for (const line of registry.render().split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

function put(cluster: RaftCluster, leader: string, count: number): void {
  for (let i = 0; i < count; i += 1) {
    const outcome = cluster.raft(leader).propose(encodeSimCommand({ op: "put", key: "k", value: `v${i}` }));
    assertStrict.equal(outcome.type, "accepted");
  }
}

test("the leader's per-peer lag shows a follower that is away and falls to 0 once it caught up", () => {
  const cluster = new RaftCluster({ seed: 11, voters, config: { snapshotIntervalEntries: 100_000 } });
  run(cluster, 400);
  const leader = cluster.leader();
  assertStrict.ok(leader !== null);
  const follower = voters.find((id) => id !== leader)!;
  const other = voters.find((id) => id !== leader && id !== follower)!;
  const leaderMetrics = new MetricsRegistry();
  defineRaftMetrics(leaderMetrics, () => cluster.raft(leader).status());
  put(cluster, leader, 3);
  run(cluster, 50);
  assertStrict.equal(scrape(leaderMetrics, "revoada_raft_follower_lag", follower), 0);
  assertStrict.equal(
    scrape(leaderMetrics, "revoada_raft_follower_lag", leader),
    undefined,
    "no series for itself",
  );

  cluster.crash(follower);
  const copy = cluster.node(follower).backups.at(-1)!;
  put(cluster, leader, 7);
  run(cluster, 50);
  const status = cluster.raft(leader).status();
  const lag = scrape(leaderMetrics, "revoada_raft_follower_lag", follower);
  assertStrict.equal(lag, status.commit - status.progress[follower]!.match);
  assertStrict.ok(lag !== undefined && lag >= 7, `the lag counts the entries it missed (${lag})`);
  assertStrict.equal(scrape(leaderMetrics, "revoada_raft_follower_lag", other), 0);

  // It comes back from an older copy of its disk: the leader repairs it and says so.
  cluster.restart(follower);
  run(cluster, 50);
  put(cluster, leader, 2);
  run(cluster, 50);
  cluster.crash(follower);
  assertStrict.ok(cluster.rollBack(follower, copy));
  const followerMetrics = new MetricsRegistry();
  defineRaftMetrics(followerMetrics, () => cluster.raft(follower).status());
  let sawRolledBack = false;
  let sawRecovering = false;
  for (let step = 0; step < 400; step += 1) {
    cluster.step();
    if (scrape(leaderMetrics, "revoada_raft_follower_rolled_back", follower) === 1) sawRolledBack = true;
    if (scrape(followerMetrics, "revoada_raft_rollback_recovering") === 1) sawRecovering = true;
  }
  assertStrict.ok(sawRolledBack, "the leader showed the follower as rolled back while repairing it");
  assertStrict.ok(sawRecovering, "the restored node showed that it refused to vote while catching up");
  assertStrict.equal(scrape(leaderMetrics, "revoada_raft_follower_lag", follower), 0, "caught up");
  assertStrict.equal(scrape(leaderMetrics, "revoada_raft_follower_rolled_back", follower), 0);
  assertStrict.equal(scrape(followerMetrics, "revoada_raft_rollback_recovering"), 0);
  assertStrict.equal(
    scrape(followerMetrics, "revoada_raft_data_generation"),
    cluster.raft(follower).status().generation,
  );
  assertStrict.equal(
    scrape(followerMetrics, "revoada_raft_follower_lag", leader),
    undefined,
    "followers report no lag",
  );
});
