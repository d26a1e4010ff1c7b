// Goal: the whole fabric (gossip + Raft + FabricMachine + policy + executor) keeps its
// invariants under faults, resumes procedures across leaders, keeps operator holds across
// restarts and leader changes, and replays a seed exactly. Method: a seed sweep per profile
// (every invariant checked as entries apply and after every step), scripted scenarios, and
// deliberately broken drivers that the invariants must catch.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { type Formation, loadBlake3, type NodeId } from "../vocabulary/index.js";
import { FabricCluster } from "./fabric-cluster.js";
import { fabricSimProfiles, runFabricSimulation } from "./fabric-sim.js";
import { SimViolation } from "./raft-cluster.js";

before(async () => {
  await loadBlake3();
});

/** Seeds per profile in CI; FABRIC_SIM_SEEDS widens the sweep. */
const seedsPerProfile = Number(process.env.FABRIC_SIM_SEEDS ?? 8);

function replayHint(seed: number, profile: string): string {
  return `replay: pnpm sim:fabric --seed ${seed} --profile ${profile}`;
}

describe("fabric simulation sweep", () => {
  for (const profile of fabricSimProfiles) {
    it(`${profile}: ${seedsPerProfile} seeds keep every invariant and settle`, () => {
      let procedures = 0;
      let faults = 0;
      let blocks = 0;
      for (let seed = 1; seed <= seedsPerProfile; seed += 1) {
        try {
          const report = runFabricSimulation({ seed, profile });
          procedures += report.stats.proceduresCompleted;
          faults += report.faults;
          blocks += report.chainBlocks;
          assert.equal(report.stats.blocks, report.chainBlocks, "one block per committed role command");
        } catch (error) {
          assert.fail(
            `${error instanceof Error ? error.message : String(error)}\n${replayHint(seed, profile)}`,
          );
        }
      }
      // The sweep did the work it claims: faults were injected and shifts carried out.
      assert.ok(faults > 0, "the nemesis injected faults");
      assert.ok(procedures >= seedsPerProfile * 2, `procedures completed: ${procedures}`);
      assert.ok(blocks > 0, "role shifts were attested");
    });
  }

  it("replays a seed exactly", () => {
    const first = runFabricSimulation({ seed: 5, profile: "mixed" });
    const second = runFabricSimulation({ seed: 5, profile: "mixed" });
    assert.deepEqual(second, first);
  });
});

describe("the invariants catch a broken driver", () => {
  it("a second begin for the same node is a one-procedure-per-node violation", () => {
    assert.throws(
      () => runFabricSimulation({ seed: 1, profile: "leader-kill", sabotage: "double-begin" }),
      (error: unknown) => error instanceof SimViolation && error.invariant === "one-procedure-per-node",
    );
  });

  it("removing a live etcd member where a promotion adds one is an etcd-floor violation", () => {
    assert.throws(
      () => runFabricSimulation({ seed: 1, profile: "etcd", sabotage: "etcd-remove-live-first" }),
      (error: unknown) => error instanceof SimViolation && error.invariant === "etcd-floor",
    );
  });

  it("a role command signed against a stale chain head is an attested-once violation", () => {
    assert.throws(
      () => runFabricSimulation({ seed: 1, profile: "leader-kill", sabotage: "stale-chain-head" }),
      (error: unknown) => error instanceof SimViolation && error.invariant === "attested-once",
    );
  });
});

/** A formed 5-node fabric (seeded), settled with its formation's voters. */
function formed(seed: number, formation: Formation = "quorum-3m", voters = 3): FabricCluster {
  const cluster = new FabricCluster({ seed, size: 5, formation });
  const ok = cluster.runUntil(() => {
    const leader = cluster.leaderIndex();
    if (leader === null) return false;
    const machine = cluster.node(leader).machine;
    return (
      machine.configuration().voters.length === voters &&
      machine.procedures().length === 0 &&
      Object.keys(machine.state().nodes).length === 5
    );
  }, 20_000);
  assert.ok(ok, `the fabric forms ${voters} voters`);
  return cluster;
}

function rolesOf(cluster: FabricCluster, id: NodeId): readonly string[] {
  return cluster.mostAdvanced().machine.node(id)?.roles ?? [];
}

describe("procedures", () => {
  it("a leader kill is healed by promote (learner -> voter -> Promote) and demote (Demote -> remove)", () => {
    const cluster = formed(11);
    const leader = cluster.leaderIndex()!;
    const dead = cluster.node(leader).id;
    const opened = cluster.stats.proceduresOpened;
    cluster.crash(leader);
    const healed = cluster.runUntil(() => {
      const machine = cluster.mostAdvanced().machine;
      return (
        !machine.configuration().voters.includes(dead) &&
        machine.configuration().voters.length === 3 &&
        machine.procedures().length === 0
      );
    }, 15_000);
    assert.ok(healed, "the dead voter is replaced");
    assert.deepEqual(rolesOf(cluster, dead), ["worker"], "the dead node is demoted to a worker");
    assert.ok(cluster.stats.proceduresOpened >= opened + 2, "one procedure promoted, one demoted");
    const blocks = cluster.mostAdvanced().machine.chain!.blocks;
    const last = blocks.slice(-2).map((block) => block.body.command.type);
    assert.deepEqual(last.sort(), ["demote", "promote"], "the promotion and the demotion are attested");
  });

  it("a procedure interrupted by a leader kill is finished by the next leader, once", () => {
    for (const seed of [21, 22, 23, 24, 25, 26]) {
      // Five voters, so that losing the leader while a voter leaves still keeps a majority.
      const cluster = formed(seed, "mesh-all-peers", 5);
      // An operator quarantines a voter (forced): begin -> Quarantine -> leave the voters.
      const voter = cluster.nodes.find(
        (node) =>
          node.index !== cluster.leaderIndex() &&
          cluster.mostAdvanced().machine.configuration().voters.includes(node.id),
      )!;
      cluster.operator({ type: "quarantine", node: voter.id, reason: "operator" }, true);
      const begun = cluster.runUntil(() => {
        const leader = cluster.leaderIndex();
        return leader !== null && cluster.node(leader).machine.procedures().length > 0;
      }, 10_000);
      assert.ok(begun, `seed ${seed}: a procedure began`);
      // Kill the leader a seed-dependent number of steps into the procedure.
      for (let step = 0; step < seed - 21; step += 1) cluster.step();
      const leader = cluster.leaderIndex()!;
      const procedure = cluster.node(leader).machine.procedures()[0];
      cluster.crash(leader);
      const finished = cluster.runUntil(() => {
        const next = cluster.leaderIndex();
        if (next === null) return false;
        const machine = cluster.node(next).machine;
        return (
          machine.procedures().length === 0 &&
          machine.node(voter.id)?.roles.includes("quarantined") === true &&
          !machine.configuration().voters.includes(voter.id)
        );
      }, 20_000);
      assert.ok(finished, `seed ${seed}: the next leader finished the quarantine`);
      const blocks = cluster.mostAdvanced().machine.chain!.blocks;
      const quarantines = blocks.filter(
        (block) => block.body.command.type === "quarantine" && block.body.command.node === voter.id,
      );
      assert.equal(quarantines.length, 1, `seed ${seed}: the quarantine is attested once`);
      if (procedure !== undefined) {
        assert.ok(cluster.leaderIndex() !== leader, `seed ${seed}: another node led to the end`);
      }
    }
  });
});

describe("etcd membership follows the etcd role", () => {
  it("a leader kill is healed in Raft and in etcd: member add, promote, remove, one step at a time", () => {
    const cluster = new FabricCluster({ seed: 41, size: 5, manageEtcd: true });
    const etcd = cluster.etcd!;
    const voters = () => [...cluster.mostAdvanced().machine.configuration().voters].sort().join(",");
    const formed = cluster.runUntil(
      () => etcd.votingNodes().length === 3 && etcd.votingNodes().join(",") === voters(),
      20_000,
    );
    assert.ok(formed, "three etcd voting members, the Raft voters");
    const leader = cluster.leaderIndex()!;
    const dead = cluster.node(leader).id;
    cluster.crash(leader);
    const healed = cluster.runUntil(() => {
      const machine = cluster.mostAdvanced().machine;
      return (
        machine.procedures().length === 0 &&
        !etcd.votingNodes().includes(dead) &&
        etcd.votingNodes().length === 3 &&
        etcd.learnerNodes().length === 0 &&
        etcd.votingNodes().join(",") === voters()
      );
    }, 20_000);
    assert.ok(
      healed,
      `etcd follows: voting ${etcd.votingNodes().length}, learners ${etcd.learnerNodes().length}`,
    );
    const recorded = cluster.mostAdvanced().machine.etcdMembers();
    assert.deepEqual(
      recorded.map((member) => member.node).sort(),
      etcd.votingNodes(),
      "the committed etcd members are etcd's",
    );
  });
});

describe("etcd: five members, two hosts lost at once", () => {
  it("5 -> kill 2 -> 5: the dead members are removed first, two replacements added and promoted", () => {
    for (const seed of [51, 52, 53]) {
      const cluster = new FabricCluster({
        seed,
        size: 7,
        manageEtcd: true,
        policy: { role_targets: { etcd: 5 } },
      });
      const etcd = cluster.etcd!;
      const voters = () => [...cluster.mostAdvanced().machine.configuration().voters].sort().join(",");
      const formed = cluster.runUntil(
        () => etcd.votingNodes().length === 5 && etcd.votingNodes().join(",") === voters(),
        30_000,
      );
      assert.ok(formed, `seed ${seed}: five etcd voting members, the Raft voters`);
      const leader = cluster.node(cluster.leaderIndex()!).id;
      const victims = cluster.nodes
        .filter((node) => etcd.votingNodes().includes(node.id) && node.id !== leader)
        .slice(0, 2);
      for (const victim of victims) cluster.crash(victim.index);
      const healed = cluster.runUntil(() => {
        const voting = etcd.votingNodes();
        return (
          voting.length === 5 &&
          etcd.learnerNodes().length === 0 &&
          victims.every((victim) => !voting.includes(victim.id)) &&
          voting.join(",") === voters() &&
          cluster.mostAdvanced().machine.procedures().length === 0
        );
      }, 60_000);
      assert.ok(
        healed,
        `seed ${seed}: etcd back to five voting members (${etcd.votingNodes().length}), without the dead`,
      );
    }
  });
});

describe("operator holds", () => {
  it("survive a leader change and a restart of every node: the policy never restores the node", () => {
    const cluster = formed(31);
    const leader = cluster.leaderIndex()!;
    const worker = cluster.nodes.find(
      (node) => node.index !== leader && rolesOf(cluster, node.id).includes("worker"),
    )!;
    cluster.operator({ type: "quarantine", node: worker.id, reason: "operator" });
    const quarantined = cluster.runUntil(() => rolesOf(cluster, worker.id).includes("quarantined"), 5_000);
    assert.ok(quarantined, "the operator's quarantine commits");
    assert.deepEqual(cluster.mostAdvanced().machine.operatorHolds(), [worker.id]);
    // The node is healthy; without the hold the damper would restore it once it is stable.
    cluster.crash(cluster.leaderIndex()!);
    cluster.runFor(3_000);
    for (const node of cluster.nodes) cluster.restart(node.index);
    cluster.runFor(30_000);
    for (const node of cluster.nodes) {
      assert.deepEqual(node.machine.operatorHolds(), [worker.id], `node ${node.index} keeps the hold`);
    }
    assert.deepEqual(rolesOf(cluster, worker.id), ["quarantined"]);
    cluster.operator({ type: "restore", node: worker.id });
    const restored = cluster.runUntil(() => rolesOf(cluster, worker.id).includes("worker"), 5_000);
    assert.ok(restored, "an operator's restore lifts the hold");
    assert.deepEqual(cluster.mostAdvanced().machine.operatorHolds(), []);
  });
});
