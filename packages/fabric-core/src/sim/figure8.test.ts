/**
 * Goal: show that the simulator's invariant checks catch the classic Raft bug of Figure 8
 * (Ongaro's thesis §3.6.2): a leader that commits an entry of an EARLIER term by counting
 * replicas. Method: a scripted 5-node run drives the exact Figure 8 interleaving, once with
 * the real commit rule (no violation) and once with a deliberately broken copy injected
 * through `RaftNodeOptions.commitRule` (the simulator must throw a `SimViolation`). Then a
 * seed sweep with the `leader-churn` profile (leader crashes while old-term entries are being
 * replicated one per append) must find the broken rule on its own, and pass with the real one.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import type { CommitRule } from "../raft/index.js";
import { encodeSimCommand, RaftCluster, SimViolation } from "./raft-cluster.js";
import { countingReplicasCommitRule, runRaftSimulation } from "./raft-sim.js";

/** The bug: commit whatever a quorum holds, ignoring the term of that entry. */
const countingReplicasRule: CommitRule = countingReplicasCommitRule;

const peers = ["s1", "s2", "s3", "s4", "s5"];

function isolate(cluster: RaftCluster, node: string, from: readonly string[]): void {
  for (const other of from) {
    cluster.network.cut(node, other);
    cluster.network.cut(other, node);
  }
}

function runUntil(cluster: RaftCluster, done: () => boolean, what: string): void {
  for (let step = 0; step < 200; step += 1) {
    if (done()) return;
    cluster.step();
  }
  const states = [...cluster.nodes.values()].map((node) =>
    node.raft === null
      ? `${node.id}:down`
      : JSON.stringify({ ...node.raft.status(), conf: undefined, progress: undefined }),
  );
  assertStrict.fail(`scenario stalled waiting for: ${what}\n${states.join("\n")}`);
}

/** Campaigns until `id` leads (a campaign may stall on votes already cast in its term). */
function tryElect(cluster: RaftCluster, id: string): boolean {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    cluster.raft(id).campaign();
    for (let step = 0; step < 10; step += 1) cluster.step();
    if (cluster.raft(id).status().role === "leader") return true;
  }
  return false;
}

/** Drives Figure 8; returns normally when no invariant broke. */
function figure8(commitRule: CommitRule | undefined): RaftCluster & { s5Leads: boolean } {
  const cluster = new RaftCluster({
    seed: 8,
    voters: peers,
    commitRule,
    pairwiseCheckEvery: 1,
    // Timers stay quiet: every election in this scenario is started by hand.
    config: {
      electionTimeoutMs: 60_000,
      heartbeatIntervalMs: 10_000,
      preVote: false,
      checkQuorum: false,
      entriesPerAppendMax: 1,
    },
  });
  const status = (id: string) => cluster.raft(id).status();
  cluster.step();

  // (a) s1 leads term 2; its entry X at index 3 reaches only s2.
  cluster.raft("s1").campaign();
  runUntil(
    cluster,
    () => status("s1").commit >= 2 && status("s5").commit >= 2,
    "s1 leads, index 2 committed",
  );
  isolate(cluster, "s1", ["s3", "s4", "s5"]);
  const put = cluster.raft("s1").propose(encodeSimCommand({ op: "put", key: "x", value: "from-term-2" }));
  assertStrict.deepEqual(put, { type: "accepted", index: 3, term: 2 });
  runUntil(cluster, () => status("s2").lastIndex === 3, "X replicated to s2");
  assertStrict.equal(status("s1").commit, 2, "X is not committed: only 2 of 5 hold it");

  // (b) s1 crashes; s5 wins term 3 with s3 and s4, appends its no-op at index 3, and
  // crashes before sending it anywhere.
  cluster.crash("s1");
  cluster.network.heal();
  isolate(cluster, "s2", peers);
  cluster.raft("s5").campaign();
  runUntil(cluster, () => status("s5").role === "leader", "s5 leads term 3");
  assertStrict.equal(status("s5").term, 3);
  cluster.crash("s5");

  // (c) s1 restarts and wins term 4 with s3 and s4 (s2 stays cut off). It brings s3 and
  // s4 up to index 3 (X, term 2) one entry per append. Counting replicas, X is now on
  // s1, s3, s4: the broken rule commits it; the real rule waits for the term-4 no-op.
  cluster.network.heal();
  isolate(cluster, "s2", peers);
  cluster.restart("s1");
  cluster.step(); // The restarted node re-applies its committed log (and so its membership).
  cluster.raft("s1").campaign();
  // Term 3 is lost (s3 and s4 already voted for s5 in it); the next campaign is term 4.
  for (let step = 0; step < 5; step += 1) cluster.step();
  cluster.raft("s1").campaign();
  runUntil(cluster, () => status("s1").role === "leader", "s1 leads term 4");
  assertStrict.equal(status("s1").term, 4);
  runUntil(
    cluster,
    () => cluster.committed.has(3) || cluster.node("s3").disk.entries.length >= 4,
    "X committed, or the term-4 no-op reached s3",
  );
  cluster.crash("s1");

  // (d) s5 restarts; its last entry (term 3) is more up to date than X (term 2) on s2,
  // s3, s4 unless they hold s1's term-4 no-op. If it wins, it overwrites index 3.
  cluster.network.heal();
  cluster.restart("s5");
  cluster.step();
  const s5Leads = tryElect(cluster, "s5");
  for (let step = 0; step < 50; step += 1) cluster.step();
  cluster.checkLogMatching();
  cluster.checkDurability();
  return Object.assign(cluster, { s5Leads });
}

test("the real commit rule survives the Figure 8 interleaving", () => {
  const cluster = figure8(undefined);
  // The term-4 no-op reached s3 and s4 before X could count as committed, so s5 (last
  // term 3) cannot collect a quorum.
  assertStrict.equal(cluster.s5Leads, false);
  // X was never committed under the real rule, so losing it broke nothing.
  const x = cluster.committed.get(3);
  assertStrict.ok(
    x === undefined || !x.startsWith("2:"),
    "X (term 2) was not committed by counting replicas",
  );
});

test("a commit rule that counts replicas of an earlier term is caught by the simulator", () => {
  assertStrict.throws(
    () => figure8(countingReplicasRule),
    (error: unknown) => {
      assertStrict.ok(error instanceof SimViolation, `expected a SimViolation, got ${String(error)}`);
      assertStrict.ok(
        ["leader-completeness", "state-machine-safety", "durability", "log-matching"].includes(
          error.invariant,
        ),
        `unexpected invariant ${error.invariant}`,
      );
      return true;
    },
  );
});

test("a seed sweep with the leader-churn profile finds the broken rule on its own", () => {
  let found: { seed: number; error: SimViolation } | null = null;
  for (let seed = 1; seed <= 150 && found === null; seed += 1) {
    try {
      runRaftSimulation({ seed, profile: "leader-churn", commitRule: countingReplicasCommitRule });
    } catch (error) {
      if (!(error instanceof SimViolation)) throw error;
      found = { seed, error };
    }
  }
  assertStrict.ok(found !== null, "150 seeds did not expose the broken commit rule");
  assertStrict.match(
    found.error.message,
    /--profile leader-churn --broken-commit-rule/,
    "the replay command is printed",
  );
  // The very seeds that exposed it pass with the real rule.
  for (let seed = 1; seed <= found.seed; seed += 1) runRaftSimulation({ seed, profile: "leader-churn" });
});
