// Goal: with a bound on learners (docs/scale.md), only the voters and that many learners hold
// the Raft log, and every other node still reaches the committed state, through the relay,
// under faults; a dead learner's slot is refilled; a relay that forges or skips entries is
// caught by applied-committed. Method: 16-node whole-fabric simulations (every invariant
// checked after every step), seeded, with the relay's own network sharing the faults.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { defaultRelayConfig } from "../fabric/relay.js";
import { loadBlake3, type Workload } from "../vocabulary/index.js";
import { FabricCluster } from "./fabric-cluster.js";
import { runFabricSimulation } from "./fabric-sim.js";
import { SimViolation } from "./raft-cluster.js";

before(async () => {
  await loadBlake3();
});

const nodes = 16;

function workload(name: string): Workload {
  return {
    name,
    namespace: "scale",
    image: "registry.example/app:1",
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

/** Every node's machine at the most advanced one's index, byte for byte. */
function converged(cluster: FabricCluster): boolean {
  const best = cluster.mostAdvanced().machine;
  const index = best.applied().index;
  const bytes = Buffer.from(best.snapshot()).toString("base64");
  return cluster.nodes.every(
    (node) =>
      cluster.isUp(node.index) &&
      node.machine.applied().index === index &&
      Buffer.from(node.machine.snapshot()).toString("base64") === bytes,
  );
}

describe("bounded learners and the state relay", () => {
  it("16 nodes under faults: at most 4 learners hold the log, every node settles at the leader's machine", () => {
    for (const profile of ["mixed", "leader-kill"] as const) {
      for (const seed of [1, 2]) {
        const report = runFabricSimulation({ seed, profile, nodes, faultMs: 10_000 });
        assert.ok(
          report.stats.relayedEntries > 0,
          `${profile}/${seed}: followers took entries from the relay`,
        );
        assert.ok(report.stats.proceduresCompleted > 0, `${profile}/${seed}: shifts were carried out`);
      }
    }
  });

  it("a formed fabric: voters + 4 learners hold the log, a dead learner's slot is refilled", () => {
    const cluster = new FabricCluster({ seed: 3, size: nodes });
    assert.ok(
      cluster.runUntil(() => converged(cluster) && cluster.committedVoters().length === 3, 20_000),
      "formed",
    );
    const conf = cluster.mostAdvanced().machine.configuration();
    assert.equal(conf.learners.length, 4);
    const holders = new Set([...conf.voters, ...conf.learners]);
    const followers = cluster.nodes.filter((node) => !holders.has(node.id));
    assert.equal(followers.length, nodes - 7);
    // The followers hold no Raft log: their Raft nodes never applied anything.
    for (const follower of followers) assert.equal(cluster.raft.node(follower.id).appliedIndex, 0);

    const learner = cluster.nodes.find((node) => node.id === conf.learners[0])!;
    cluster.crash(learner.index);
    const refilled = cluster.runUntil(() => {
      const now = cluster.mostAdvanced().machine.configuration();
      return now.learners.length === 4 && !now.learners.includes(learner.id);
    }, 15_000);
    assert.ok(refilled, "the dead learner left and another node took its slot");
    cluster.restart(learner.index);
    assert.ok(
      cluster.runUntil(() => converged(cluster), 15_000),
      "the restarted node catches up, as a follower",
    );
  });

  it("rooted at the voters as the daemon does, learners answering busy, fan-out 2: followers below followers settle", () => {
    // Fresh followers know no configuration: their first view comes from gossip, where a
    // learner looks like any member; one taken for a parent answers busy and is left.
    for (const seed of [1, 2]) {
      const cluster = new FabricCluster({ seed, size: nodes, relayRoots: "voters", relayFanout: 2 });
      assert.ok(
        cluster.runUntil(() => converged(cluster) && cluster.committedVoters().length === 3, 20_000),
        `${seed}: formed, every node at the leader's machine`,
      );
      const conf = cluster.mostAdvanced().machine.configuration();
      const holders = new Set([...conf.voters, ...conf.learners]);
      const followers = cluster.nodes.filter((node) => !holders.has(node.id));
      assert.equal(followers.length, nodes - 7);
      for (const follower of followers) {
        assert.equal(cluster.raft.node(follower.id).appliedIndex, 0, "a follower holds no Raft log");
      }
      // Followers start at a voter (all a fresh view offers), then move to their tree parent.
      const deepest = () => Math.max(...followers.map((node) => node.relay.depth() ?? 0));
      assert.ok(
        cluster.runUntil(() => converged(cluster) && deepest() >= 2, 20_000),
        `${seed}: a follower two hops below the voters, every node at the leader's machine`,
      );
    }
  });

  it("rooted at the voters: voters that trailed the holder they probe serve their followers again once Raft feeds them", () => {
    // Issue 17's mass restart at N = 50: followers stayed a few entries behind with no source.
    // A voter that trails the holder it probes for silenceMs while Raft feeds it nothing turns
    // stale; a stale voter signs no stamp, so it answers its followers busy. Here each voter in
    // turn is cut off from Raft alone (gossip and the relay still reach it) while writes commit.
    const cluster = new FabricCluster({ seed: 1, size: 8, relayRoots: "voters", learnersMax: 0 });
    assert.ok(
      cluster.runUntil(() => converged(cluster) && cluster.committedVoters().length === 3, 20_000),
      "formed",
    );
    const voters = [...cluster.committedVoters()];
    let write = 0;
    const writeFor = (durationMs: number) => {
      for (let spent = 0; spent < durationMs; spent += 250) {
        cluster.propose({ type: "workload-upsert", workload: workload(`w-${write++}`) });
        cluster.runFor(250);
      }
    };
    for (const voter of voters) {
      cluster.raft.network.partition([
        [voter],
        cluster.nodes.map((node) => node.id).filter((id) => id !== voter),
      ]);
      writeFor(3 * defaultRelayConfig.silenceMs);
      cluster.raft.network.heal();
      writeFor(2_000);
    }
    writeFor(2_000);
    assert.ok(
      cluster.runUntil(() => converged(cluster), 20_000),
      `every node at the leader's machine (applied: ${cluster.nodes.map((node) => node.machine.applied().index).join(", ")}; ` +
        `stale: ${cluster.nodes.filter((node) => node.relay.isStale()).length})`,
    );
  });

  it("without the bound every alive node is a learner and nothing is relayed", () => {
    const cluster = new FabricCluster({ seed: 3, size: 10, learnersMax: null });
    assert.ok(cluster.runUntil(() => converged(cluster) && cluster.committedVoters().length === 3, 20_000));
    const conf = cluster.mostAdvanced().machine.configuration();
    assert.equal(conf.voters.length + conf.learners.length, 10);
    assert.equal(cluster.stats.relayedEntries, 0);
  });
});

describe("applied-committed catches a broken relay", () => {
  for (const relaySabotage of ["relay-forged-term", "relay-skip"] as const) {
    it(`${relaySabotage}`, () => {
      assert.throws(
        () => runFabricSimulation({ seed: 1, profile: "leader-kill", nodes, faultMs: 5_000, relaySabotage }),
        (error: unknown) => error instanceof SimViolation && error.invariant === "applied-committed",
      );
    });
  }
});
