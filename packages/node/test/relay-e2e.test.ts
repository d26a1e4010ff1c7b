// Goal: with a learner bound (`learners_max`), a node that holds no Raft log still learns
// the committed state through the state relay (docs/scale.md), renders it, and follows a
// leader change; status says which way each node learns.
// Method: 5 real node processes on loopback with `learners_max: 0` (the 3 voters hold the
// log, the 2 others follow the relay); a workload is applied, the followers must render it;
// the leader is killed with kill -9, the followers must apply what the new leader commits.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { CommittedReply } from "../src/api/schemas.js";
import { sampleWorkload } from "../src/cli/commands/demo.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { etcdHolders, findLeader, postToLeader, stateOf, statusOf, waitFor } from "../src/mesh/observe.js";
import { relayLayout } from "./relay-layout.js";

const patienceMs = 90_000;
let local: LocalMesh;
let directory = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-relay-"));
  local = await LocalMesh.start({ directory, nodes: 5, faceId: "kubernetes", learnersMax: 0 });
});

after(async () => {
  await local.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
});

test("nodes above the learner bound learn committed state through the relay and follow a leader change", async () => {
  const nodes = local.nodes;
  const formed = await waitFor(() => relayLayout(nodes, { learners: 0, followers: 2 }), patienceMs, 200);
  assert.ok(formed, "3 voters, no learner, and the 2 other nodes learn through the relay");

  // A committed change reaches the followers: they apply it and render it.
  const committed = await postToLeader(nodes, "/v1/workloads", sampleWorkload, CommittedReply);
  const placedOn = await waitFor(async () => {
    const state = await stateOf(committed.node);
    return state?.placements["default/web"]?.length === 2 ? state : undefined;
  }, patienceMs);
  assert.ok(placedOn, "the workload was placed");
  for (const follower of formed.followers) {
    const caughtUp = await waitFor(async () => {
      const [theirs, status] = await Promise.all([stateOf(follower.node), statusOf(follower.node)]);
      if (theirs === undefined || status?.learns === undefined) return undefined;
      if (status.learns.applied_index < placedOn.applied.index) return undefined;
      return theirs.workloads["default/web"] !== undefined ? status : undefined;
    }, patienceMs);
    assert.ok(caughtUp, `${follower.node.name} applied the workload through the relay`);
    assert.equal(caughtUp.raft.applied_index, 0, "its Raft applied nothing: it holds no log");
    assert.ok(caughtUp.learns!.entries_relayed + caughtUp.learns!.snapshots_restored > 0);
    // Every answer carried a voter's commit stamp that checked out (docs/scale.md).
    assert.equal(caughtUp.learns!.answers_refused, 0, "no honest answer was refused");
    const rendered = await waitFor(async () => {
      const files: string[] = await readdir(join(follower.node.outputDir, "workloads", "default")).catch(
        () => [],
      );
      return files.includes("web.yaml") ? files : undefined;
    }, patienceMs);
    assert.ok(rendered, `${follower.node.name} rendered the committed workload`);
  }

  // kill -9 of the leader: a new leader is elected and the control plane healed; the
  // followers (those still following) apply what the new leader commits.
  const oldLeader = formed.leader;
  await local.kill(oldLeader.node.name);
  const survivors = nodes.filter((node) => node.name !== oldLeader.node.name);
  const healed = await waitFor(
    async () => {
      const leader = await findLeader(survivors);
      if (leader === undefined || leader.status.id === oldLeader.status.id) return undefined;
      const state = await stateOf(leader.node);
      if (state === undefined) return undefined;
      const voters = etcdHolders(state);
      return voters.length === 3 && !voters.includes(oldLeader.status.id as never)
        ? { leader, state }
        : undefined;
    },
    patienceMs,
    200,
  );
  assert.ok(healed, "a new leader, and the killed leader's etcd role moved to a live node");
  const second = { ...sampleWorkload, name: "after-failover", replicas: 1 };
  const committedAfter = await postToLeader(survivors, "/v1/workloads", second, CommittedReply);
  const relayNodes = survivors.filter((node) => formed.followers.some((f) => f.node.name === node.name));
  let followedAfter = 0;
  for (const node of relayNodes) {
    const status = await statusOf(node);
    if (status?.learns?.via !== "relay") continue; // promoted meanwhile: Raft feeds it now
    const caughtUp = await waitFor(async () => {
      const [state, now] = await Promise.all([stateOf(node), statusOf(node)]);
      if (state?.workloads["default/after-failover"] === undefined) return undefined;
      const voters = etcdHolders(state);
      return voters.length === 3 && !voters.includes(oldLeader.status.id as never) ? now : undefined;
    }, patienceMs);
    assert.ok(caughtUp, `${node.name} applied what the new leader committed`);
    assert.notEqual(caughtUp.learns?.source, oldLeader.status.id, "it no longer follows the dead leader");
    assert.ok((caughtUp.learns?.applied_index ?? 0) >= committedAfter.value.index);
    followedAfter += 1;
  }
  assert.ok(followedAfter >= 1, "at least one node still learned through the relay after the failover");
});
