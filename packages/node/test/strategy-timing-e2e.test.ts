// Goal: a committed strategy swap puts its timing in force on every running node without a
// restart (issue 16 part 1): each node's status shows the strategy whose timing runs and the
// values its Raft, gossip and policy hold; after a swap to a long election timeout, a paused
// leader is replaced only once that timeout has run out (the old timeout would have replaced
// it within 1.2 s); a swap back to a short timeout is in force too. No node restarts (the
// data generation and the processes stay the same).
// Method: a 3-node mesh of real processes on loopback; swaps through the leader's API
// (`revoada strategy apply --yes` sends the same request); the leader is paused with SIGSTOP
// (no socket closes, so the followers wait out their election timeout) and resumed.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type FabricStrategy, loadBlake3 } from "@revoada/fabric-core/vocabulary";
import type { NodeStatusReply } from "../src/api/schemas.js";
import { StrategyApplyReply } from "../src/api/strategy-routes.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { findLeader, type MeshNodeHandle, postToLeader, statusOf, waitFor } from "../src/mesh/observe.js";
import { calmStrategy } from "./calm-strategy.js";

const patienceMs = 45_000;

let local: LocalMesh;
let directory = "";

/** The founding strategy (test/calm-strategy.ts). */
const base: FabricStrategy = calmStrategy;

/** Swapped in: T = 4 s (heartbeat 666 ms), gossip every 250 ms, detector 1.5 s, rounds every 2 s. */
const slow: FabricStrategy = {
  ...base,
  name: "slow-election",
  consensus: { kind: { ...base.consensus.kind, election_timeout_ms: 4000 } },
  membership: { phi_threshold: 10, gossip_cadence_ms: 250, failure_detector_timeout_ms: 1500 },
  reconciliation: { millis: 2000 },
};

/** Swapped in last: a shorter timeout than the founding one. */
const brisk: FabricStrategy = {
  ...base,
  name: "brisk",
  consensus: { kind: { ...base.consensus.kind, election_timeout_ms: 450 } },
};

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-strategy-timing-"));
  local = await LocalMesh.start({ directory, nodes: 3, faceId: "pureraft", strategy: base });
});

after(async () => {
  for (const node of local?.nodes ?? []) local.signal(node.name, "SIGCONT");
  await local?.stopAll(5000);
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

async function statuses(nodes: readonly MeshNodeHandle[]): Promise<(NodeStatusReply | undefined)[]> {
  return Promise.all(nodes.map(statusOf));
}

/** Every node reports the timing of `strategy` in force (read from its components). */
async function everyNodeRunsTimingOf(
  nodes: readonly MeshNodeHandle[],
  strategy: FabricStrategy,
): Promise<NodeStatusReply[] | undefined> {
  const all = await statuses(nodes);
  const T = strategy.consensus.kind.election_timeout_ms;
  const ok = all.every(
    (status) =>
      status?.timing?.strategy === strategy.name &&
      status.timing.raft.election_timeout_ms === T &&
      status.timing.gossip.cadence_ms === strategy.membership.gossip_cadence_ms &&
      status.timing.gossip.failure_detector_timeout_ms === strategy.membership.failure_detector_timeout_ms &&
      status.timing.gossip.phi_threshold === strategy.membership.phi_threshold &&
      status.timing.policy.reconciliation_ms === strategy.reconciliation.millis,
  );
  return ok ? (all as NodeStatusReply[]) : undefined;
}

async function swapTo(strategy: FabricStrategy): Promise<void> {
  const { value } = await postToLeader(
    local.nodes,
    "/v1/strategy",
    { strategy, yes: true },
    StrategyApplyReply,
  );
  assert.equal(value.applied, true, `the swap to ${strategy.name} committed`);
}

test("a strategy swap changes Raft, gossip and policy timing live on every node; a paused leader is replaced after the new timeout", async () => {
  const formed = await waitFor(async () => {
    const leader = await findLeader(local.nodes);
    return leader !== undefined && leader.status.raft.voters.length === 3
      ? everyNodeRunsTimingOf(local.nodes, base)
      : undefined;
  }, patienceMs);
  assert.ok(formed, "the mesh formed; every node runs the founding strategy's timing");
  const founding = formed[0]!.timing!;
  assert.equal(founding.raft.heartbeat_interval_ms, 100);
  assert.equal(founding.policy.hysteresis_ms, 4 * base.reconciliation.millis);
  const generations = formed.map((status) => status.raft.data_generation);
  const uptimes = formed.map((status) => status.uptime_ms);

  // 1. Swap to the slow strategy: every node shows its timing, read from its components.
  await swapTo(slow);
  const swapped = await waitFor(() => everyNodeRunsTimingOf(local.nodes, slow), patienceMs);
  assert.ok(swapped, "every node runs the slow strategy's timing");
  for (const status of swapped) {
    const timing = status.timing!;
    assert.equal(timing.raft.heartbeat_interval_ms, 666, "the heartbeat follows T/6");
    assert.equal(timing.gossip.probe_interval_ms, 500, "probes every 2 gossip cadences");
    assert.equal(timing.policy.hysteresis_ms, 4 * slow.reconciliation.millis, "the damper spans 4 rounds");
    assert.equal(timing.policy.stabilization_ms, 5 * slow.membership.failure_detector_timeout_ms);
  }
  assert.deepEqual(
    swapped.map((status) => status.raft.data_generation),
    generations,
    "no node restarted (same data generation)",
  );
  swapped.forEach((status, i) => {
    assert.ok(status.uptime_ms > uptimes[i]!, "the same processes answer");
  });
  const metrics = await local.nodes[1]!.client.text("/metrics");
  assert.match(metrics, /revoada_timing_in_force\{parameter="raft\.election_timeout_ms"\} 4000/);

  // 2. Pause the leader: the followers wait out the new 4 s timeout (less one heartbeat) before
  // one of them leads; with the founding 600 ms timeout it would lead within 1.2 s.
  const leader = await waitFor(() => findLeader(local.nodes), patienceMs);
  assert.ok(leader !== undefined);
  const followers = local.nodes.filter((node) => node !== leader.node);
  const pausedAt = Date.now();
  local.signal(leader.node.name, "SIGSTOP");
  const replaced = await waitFor(
    async () => {
      const found = await findLeader(followers);
      return found === undefined || found.status.raft.term <= leader.status.raft.term ? undefined : found;
    },
    patienceMs,
    50,
  );
  const replacedAfterMs = Date.now() - pausedAt;
  local.signal(leader.node.name, "SIGCONT");
  assert.ok(replaced !== undefined, "a follower took over from the paused leader");
  const earliest = slow.consensus.kind.election_timeout_ms - swapped[0]!.timing!.raft.heartbeat_interval_ms;
  assert.ok(
    replacedAfterMs >= earliest,
    `the paused leader was replaced after ${replacedAfterMs} ms: not before the new timeout less a heartbeat (${earliest} ms)`,
  );

  // 3. Swap to a shorter timeout than the founding one: in force on every node (the resumed
  // old leader too), still without a restart.
  await swapTo(brisk);
  const brisked = await waitFor(() => everyNodeRunsTimingOf(local.nodes, brisk), patienceMs);
  assert.ok(brisked, "every node runs the brisk strategy's timing");
  assert.equal(brisked[0]!.timing!.raft.heartbeat_interval_ms, 75);
  assert.deepEqual(
    brisked.map((status) => status.raft.data_generation),
    generations,
    "still no restart",
  );
});
