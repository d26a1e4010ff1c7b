// Goal: relay followers below other followers (depth 2) learn committed state from a fresh
// start, as in a large mesh where most followers' parent is another follower that has nothing
// yet (docs/scale.md, "Real processes, N = 50": 44 of 50 followers never received a state).
// Method: 8 real node processes on loopback, `learners_max: 1` and a relay fan-out of 1: the 3
// voters root the tree, the learner feeds nobody, 3 followers hang below the voters and the
// fourth below a follower. A workload is applied; every follower must reach the leader's
// applied index (as it was 2 s before) and render it (face pureraft: state.json), and one must
// learn at depth 2 from a follower.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { CommittedReply } from "../src/api/schemas.js";
import { sampleWorkload } from "../src/cli/commands/demo.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { findLeader, postToLeader, stateOf, statusOf, waitFor } from "../src/mesh/observe.js";
import { relayLayout } from "./relay-layout.js";

const patienceMs = 240_000;
let local: LocalMesh;
let directory = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-relay-deep-"));
  local = await LocalMesh.start({
    directory,
    nodes: 8,
    faceId: "pureraft",
    learnersMax: 1,
    relayFanout: 1,
    logLevel: "debug",
  });
});

after(async () => {
  await local.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
});

test("followers two hops below the voters reach the leader's applied index and render it", async () => {
  const nodes = local.nodes;
  const layout = await waitFor(() => relayLayout(nodes, { learners: 1, followers: 4 }), patienceMs, 500);
  assert.ok(layout, "3 voters, 1 learner, and the 4 other nodes learn through the relay");
  const mesh = { ...layout, followers: layout.followers.map((follower) => follower.node) };

  const committed = await postToLeader(nodes, "/v1/workloads", sampleWorkload, CommittedReply);
  const placed = await waitFor(async () => {
    const state = await stateOf(committed.node);
    return state?.placements["default/web"]?.length === 2 ? state : undefined;
  }, patienceMs);
  assert.ok(placed, "the workload was placed");

  // Every follower at the leader's applied index, one of them two hops below the voters (a
  // follower moves to its tree parent once its view holds it for a while: polled, not at once).
  const voters = new Set(mesh.voters);
  const caughtUp = await waitFor(async () => {
    // The leader's applied index a moment ago: it keeps committing (node records, checkpoints).
    const leader = await findLeader(nodes);
    if (leader === undefined) return undefined;
    const target = Math.max(placed.applied.index, leader.status.raft.applied_index);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const statuses = await Promise.all(mesh.followers.map((follower) => statusOf(follower)));
    if (statuses.some((status) => (status?.learns?.applied_index ?? 0) < target)) return undefined;
    const deep = statuses.some(
      (status) =>
        status?.learns?.via === "relay" &&
        (status.learns.depth ?? 0) >= 2 &&
        status.learns.source !== null &&
        !voters.has(status.learns.source),
    );
    return deep ? statuses : undefined;
  }, patienceMs);
  assert.ok(caughtUp, "every follower reached the leader's applied index, one at depth 2 below a follower");
  let relayed = 0;
  for (const [index, follower] of mesh.followers.entries()) {
    const learns = caughtUp[index]?.learns;
    // The policy may have swapped the learner meanwhile (a standby): Raft feeds that one now.
    if (learns?.via === "relay") {
      assert.ok(
        learns.entries_relayed + learns.snapshots_restored > 0,
        `${follower.name} took state from the relay`,
      );
      relayed += 1;
    }
    // Face pureraft renders the whole state (state.json) on every node.
    const rendered = await waitFor(async () => {
      const text = await readFile(join(follower.outputDir, "state.json"), "utf8").catch(() => "");
      return text.includes('"default/web"') ? text : undefined;
    }, patienceMs);
    assert.ok(rendered, `${follower.name} rendered the committed workload`);
  }
  // The policy may swap a follower in as a learner at any time (more than one under load), so
  // only the one the deep check saw below a follower is certain to be a relay follower here.
  assert.ok(relayed >= 1, "the followers that learn through the relay took their state from it");
});
