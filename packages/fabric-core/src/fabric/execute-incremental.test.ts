// Goal (issue 14): the executor's policy round runs incrementally when handed the last round's
// placement memo (what the daemon's reconciler does), and decides exactly what the full walk
// decides, round after round, while the fabric changes: members join and become learners and
// voters, workloads are added, placed, deleted, a worker dies, a node's labels change.
// Method: a leader driven like the reconciler over a hand-built committed log (each step it
// names is committed and applied at once), every round run twice on the same machine: with the
// memo chain and without one (`decide`'s full walk); the two executions must be equal, and the
// rounds that follow a round with nothing applied in between must have taken the incremental
// walk (they would not if the machine handed the policy a fresh copy of its state).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, it } from "node:test";
import { decide, type PlacementMemo } from "../policy/index.js";
import { isJoint, type ProgressStatus, type RaftStatus } from "../raft/index.js";
import {
  homelabStrategy,
  loadBlake3,
  type NodeId,
  type NodeState,
  type Signer,
  signerFromSeed,
  type Workload,
} from "../vocabulary/index.js";
import { type ExecuteInputs, type Execution, execute, policyInputsFrom, type Step } from "./execute.js";
import { foundedLog, gossipMember, leaderStatus, nodeState, type TestLog, testSigners } from "./test-log.js";

before(async () => {
  await loadBlake3();
});

const leader = testSigners[0]!;
const controlPlane = ["api-server", "controller-manager", "etcd", "scheduler"] as const;
/** The founder and its three workers (foundedLog), then six more machines. */
const signers: readonly Signer[] = [
  ...testSigners.slice(0, 4),
  ...[5, 6, 7, 8, 9, 10].map((index) =>
    signerFromSeed(createHash("sha256").update(`revoada-incremental-test/${index}`).digest()),
  ),
];
const zones = ["zone-a", "zone-b", "zone-c"];

function advertised(signer: Signer, index: number, labels: Record<string, string> = {}): NodeState {
  return { ...nodeState(signer), zone: zones[index % zones.length]!, rack: `rack-${index % 2}`, labels };
}

function workload(index: number): Workload {
  return {
    name: `app-${index}`,
    namespace: "default",
    image: "registry.example/app:1",
    command: [],
    args: [],
    env: {},
    ports: [],
    replicas: 1 + (index % 3),
    resources: { cpu_millis: 100, memory_bytes: 2 ** 26 },
    config_blobs: [],
    placement: {
      zones: index % 5 === 0 ? ["zone-a", "zone-b"] : [],
      labels: index % 7 === 0 ? { disk: "ssd" } : {},
      tolerate_control_plane: false,
    },
  };
}

/** A leader's Raft status at the applied position, every member caught up. */
function caughtUpStatus(log: TestLog): RaftStatus {
  const applied = log.machine.applied();
  const conf = log.machine.configuration();
  const progress: Record<string, Partial<ProgressStatus>> = {};
  for (const id of [...conf.voters, ...conf.learners])
    progress[id] = { match: applied.index, next: applied.index + 1, learner: conf.learners.includes(id) };
  return leaderStatus(applied.term, applied.index, progress);
}

/** Commits what the step names, as Raft would once the proposal is acknowledged. */
function commit(log: TestLog, step: Step): void {
  // Raft leaves a joint configuration by itself (an empty conf change).
  if (isJoint(log.machine.configuration())) log.conf([]);
  if (step.type === "propose") {
    for (const proposed of step.commands) log.propose(proposed.command, proposed.origin, proposed.force);
  } else if (step.type === "conf-change") {
    log.conf(step.change.changes);
  } else {
    assert.equal(step.type, "wait", `a step this test carries out: ${JSON.stringify(step)}`);
  }
}

it("the executor's incremental policy round decides what the full walk decides, and is taken while nothing changed", () => {
  const log = foundedLog();
  const alive = new Set<number>([1, 2, 3, 4, 5, 6, 7, 8]);
  let memo: PlacementMemo | null = null;
  let nowMs = 10_000;
  let workloads = 0;
  let dead: NodeId | null = null;
  let appliedAtLastRound = -1;
  const walks = { full: 0, incremental: 0 };
  let afterDeath: Execution | null = null;

  for (let round = 0; round < 90; round += 1) {
    // The world between rounds: what operators and machines do.
    if (round === 20) {
      for (let index = 0; index < 24; index += 1)
        log.propose({ type: "workload-upsert", workload: workload(index) });
      workloads = 24;
    }
    if (round === 40) {
      // A worker dies (gossip only: nothing is committed until the policy moves its replicas).
      const voters = new Set(log.machine.configuration().voters);
      const victim = [...alive].find((index) => {
        const id = signers[index]!.nodeId;
        return (
          !voters.has(id) && Object.values(log.machine.view().placements).some((nodes) => nodes.includes(id))
        );
      });
      assert.ok(victim !== undefined, "a worker that holds replicas");
      alive.delete(victim);
      dead = signers[victim]!.nodeId;
    }
    if (round === 55) alive.add(9); // a new machine appears
    if (round === 65) {
      log.propose({ type: "workload-upsert", workload: workload(workloads) });
      workloads += 1;
      log.propose({ type: "workload-delete", namespace: "default", name: "app-3" });
    }
    if (round === 75) {
      // A node re-advertises new labels: its placement facts change, the records do not.
      const relabelled = { ...advertised(signers[2]!, 2, { disk: "ssd" }), generation: 2 };
      log.propose({ type: "node-join", state: relabelled });
    }
    nowMs += 1_000;

    const inputs: ExecuteInputs = {
      self: leader.nodeId,
      nowMs,
      machine: log.machine,
      raft: caughtUpStatus(log),
      gossip: {
        self: leader.nodeId,
        atMs: nowMs,
        members: signers
          .slice(1)
          .map((signer, offset) =>
            gossipMember(signer, alive.has(offset + 1) ? "alive" : "dead", advertised(signer, offset + 1)),
          ),
      },
      ownState: { ...advertised(leader, 0), roles: [...controlPlane] },
      strategy: homelabStrategy,
      formation: "quorum-3m",
      operatorRequests: [],
      flaps: [],
    };
    const incremental = execute({ ...inputs, placementMemo: memo });
    const full = execute(inputs);
    assert.equal(full.placementWalk === "incremental", false, "without a memo the walk is full");
    assert.deepEqual(incremental.step, full.step, `round ${round}: the same step`);
    assert.deepEqual(incremental.decision, full.decision, `round ${round}: the same decision`);
    assert.deepEqual(incremental.refused, full.refused, `round ${round}: the same refusals`);
    if (incremental.decision !== null) {
      // And `decide` on a fresh copy of the state (not the shared view both rounds above read).
      const copied = decide({ ...policyInputsFrom(inputs), state: log.machine.state() });
      assert.deepEqual(incremental.decision, copied, `round ${round}: decide's own on a copy of the state`);
      const applied = log.machine.applied().index;
      if (applied === appliedAtLastRound && incremental.decision.acting) {
        assert.equal(
          incremental.placementWalk,
          "incremental",
          `round ${round}: nothing applied since the last round`,
        );
      }
      appliedAtLastRound = applied;
    }
    if (incremental.placementWalk !== null) walks[incremental.placementWalk] += 1;
    if (round === 40) afterDeath = incremental;
    memo = incremental.placementMemo;
    commit(log, incremental.step);
  }

  // The round right after the death walked only what changed, and moved the dead node's replicas.
  assert.ok(afterDeath !== null && dead !== null);
  assert.equal(afterDeath.placementWalk, "incremental", "the death changed node facts, not the records");
  const moved =
    afterDeath.decision?.commands.filter((proposed) => proposed.command.type === "placement") ?? [];
  assert.ok(moved.length > 0, "the dead node's replicas are placed elsewhere");
  for (const proposed of moved)
    if (proposed.command.type === "placement") assert.ok(!proposed.command.nodes.includes(dead));
  // The fabric converged: every workload placed on alive nodes, nothing left on the dead one.
  const final = log.machine.view();
  assert.equal(Object.keys(final.workloads).length, workloads - 1);
  for (const [key, nodes] of Object.entries(final.placements)) {
    assert.equal(nodes.length, final.workloads[key]!.replicas, `${key} has all its replicas`);
    assert.ok(!nodes.includes(dead), `${key} is off the dead node`);
  }
  assert.ok(Object.keys(final.nodes).includes(signers[9]!.nodeId), "the new machine joined");
  assert.ok(walks.incremental >= 30, `most acting rounds were incremental (${JSON.stringify(walks)})`);
  assert.ok(walks.full >= 3, `a changed record costs a full walk (${JSON.stringify(walks)})`);
});
