// Goal: a relay follower restarted (graceful stop, then kill -9) comes back with its applied
// index and its rendered state before any source answers, from its own relay state file
// (docs/scale.md, "A restarted follower resumes from its own state"), and then catches up by
// entries, not by a whole-machine snapshot; a log holder does not use such a file; after a
// mass restart (kill -9 of every node) the follower catches up by entries from a voter, and a
// voter that finds a relay state file restarts from its Raft log.
// Method: 4 real node processes with `learners_max: 0` (3 voters, 1 relay follower). The
// voters are paused (SIGSTOP) while the follower restarts, so no source can answer; its
// output directory is emptied first, so what it renders then comes from the file.
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { CommittedReply } from "../src/api/schemas.js";
import { sampleWorkload } from "../src/cli/commands/demo.js";
import { RelayStateFile, relayStateFileName } from "../src/daemon/relay-state-file.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { type MeshNodeHandle, postToLeader, stateOf, statusOf, waitFor } from "../src/mesh/observe.js";
import { relayLayout } from "./relay-layout.js";

const patienceMs = 90_000;
let local: LocalMesh;
let directory = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-relay-restart-"));
  local = await LocalMesh.start({ directory, nodes: 4, faceId: "kubernetes", learnersMax: 0 });
});

after(async () => {
  for (const node of local.nodes) local.signal(node.name, "SIGCONT");
  await local.stopAll(5000);
  if (process.env.KEEP === undefined) await rm(directory, { recursive: true, force: true });
});

const stateFileOf = (node: MeshNodeHandle) =>
  new RelayStateFile(join(directory, node.name, "data", relayStateFileName));

async function renderedWorkloads(node: MeshNodeHandle): Promise<string[]> {
  return readdir(join(node.outputDir, "workloads", "default")).catch(() => []);
}

/**
 * Commits `name` and waits until `follower` applied it and, with `rendered`, rendered it; its
 * applied index. After a mass restart the policy may promote the follower into the control
 * plane (a voter that comes back slowly is replaced), and a control-plane node of this face
 * renders no workload files: there, applying it is what the follower must do.
 */
async function committedOn(follower: MeshNodeHandle, name: string, rendered = true): Promise<number> {
  const committed = await postToLeader(
    local.running(),
    "/v1/workloads",
    { ...sampleWorkload, name, replicas: 1 },
    CommittedReply,
  );
  const applied = await waitFor(async () => {
    const status = await statusOf(follower);
    const index = status?.learns?.applied_index ?? 0;
    if (index < committed.value.index) return undefined;
    if (!rendered)
      return (await stateOf(follower))?.workloads[`default/${name}`] === undefined ? undefined : index;
    return (await renderedWorkloads(follower)).includes(`${name}.yaml`) ? index : undefined;
  }, patienceMs);
  assert.ok(applied !== undefined, `${follower.name} applied${rendered ? " and rendered" : ""} ${name}`);
  return applied;
}

/**
 * Restarts `follower` (already stopped) with every voter paused: it must stand at `index`
 * and render `workload` with no source to ask. Then the voters resume and `next` is committed:
 * the follower takes it as entries.
 */
async function restartAlone(
  follower: MeshNodeHandle,
  voters: readonly MeshNodeHandle[],
  index: number,
  workload: string,
  next: string,
): Promise<void> {
  await rm(follower.outputDir, { recursive: true, force: true });
  for (const voter of voters) local.signal(voter.name, "SIGSTOP");
  try {
    local.startNode(follower.name);
    const resumed = await waitFor(async () => {
      const status = await statusOf(follower);
      return status?.learns === undefined ? undefined : status;
    }, patienceMs);
    assert.ok(resumed, `${follower.name} answers after its restart`);
    assert.equal(resumed.learns?.resumed_index, index, "it resumed from its state file");
    assert.equal(resumed.learns?.applied_index, index, "at its applied index");
    assert.equal(resumed.learns?.entries_relayed, 0, "no source answered");
    assert.equal(resumed.learns?.snapshots_restored, 0);
    const rendered = await waitFor(
      async () => ((await renderedWorkloads(follower)).includes(`${workload}.yaml`) ? true : undefined),
      patienceMs,
    );
    assert.ok(rendered, `${follower.name} rendered its last known state with no source`);
  } finally {
    for (const voter of voters) local.signal(voter.name, "SIGCONT");
  }
  await committedOn(follower, next);
  const status = await statusOf(follower);
  assert.ok((status?.learns?.entries_relayed ?? 0) > 0, "it caught up by entries");
  assert.equal(status?.learns?.snapshots_restored, 0, "not by a whole-machine snapshot");
}

test("a restarted relay follower resumes from its state file and catches up by entries; a voter ignores one", async () => {
  const formed = await waitFor(
    () => relayLayout(local.nodes, { learners: 0, followers: 1 }),
    patienceMs,
    200,
  );
  assert.ok(formed, "3 voters and 1 relay follower");
  const follower = formed.followers[0]!.node;
  const voters = local.nodes.filter((node) => node !== follower);

  // Graceful stop: the state as applied at the stop is written on the way out.
  const first = await committedOn(follower, "before-stop");
  await local.stopNode(follower.name);
  const saved = await stateFileOf(follower).read();
  assert.equal(saved.type, "read", "the follower kept its applied machine");
  const savedIndex = saved.type === "read" ? saved.state.header.index : 0;
  assert.ok(savedIndex >= first);
  await restartAlone(follower, voters, savedIndex, "before-stop", "after-stop");

  // kill -9: what the periodic save wrote last (the index moved: it writes within seconds).
  const second = (await statusOf(follower))?.learns?.applied_index ?? 0;
  const written = await waitFor(async () => {
    const read = await stateFileOf(follower).read();
    return read.type === "read" && read.state.header.index >= second ? read.state.header.index : undefined;
  }, patienceMs);
  assert.ok(written !== undefined, "the state file follows the applied index while the node runs");
  await local.kill(follower.name);
  await restartAlone(follower, voters, written, "after-stop", "after-kill");

  // Mass restart: kill -9 of every node, all started at once, with the follower's file behind
  // the voters' commit (it is paused while a workload commits, as a follower whose last save
  // is a few seconds old). The voters replay their logs at start before their relays exist;
  // those entries must be in their relay windows, so the follower takes them as entries.
  const applied = (await statusOf(follower))?.learns?.applied_index ?? 0;
  const kept = await waitFor(async () => {
    const read = await stateFileOf(follower).read();
    return read.type === "read" && read.state.header.index >= applied ? read.state.header.index : undefined;
  }, patienceMs);
  assert.ok(kept !== undefined);
  local.signal(follower.name, "SIGSTOP");
  const ahead = await postToLeader(
    voters,
    "/v1/workloads",
    { ...sampleWorkload, name: "while-paused", replicas: 1 },
    CommittedReply,
  );
  assert.ok(ahead.value.index > kept, "the voters committed past the follower's file");
  await Promise.all(local.nodes.map((node) => local.kill(node.name)));
  // A voter finds a relay state file in its data directory (as if it had followed the relay
  // before it was promoted); nothing changes while every node is down.
  const voter = voters[0]!;
  const planted = join(directory, voter.name, "data", relayStateFileName);
  await copyFile(join(directory, follower.name, "data", relayStateFileName), planted);
  for (const node of local.nodes) local.startNode(node.name);
  await committedOn(follower, "after-mass-restart", false);
  const restarted = await statusOf(follower);
  assert.equal(restarted?.learns?.resumed_index, kept, "the follower resumed from its file");
  assert.ok((restarted?.learns?.entries_relayed ?? 0) > 0, "it caught up by entries");
  assert.equal(restarted?.learns?.snapshots_restored, 0, "not by a whole-machine snapshot");

  // The voter that was planted a relay state file restarted from its Raft log: the file is
  // removed, not resumed.
  const back = await waitFor(async () => {
    const status = await statusOf(voter);
    return status?.learns?.via === "raft" && status.raft.applied_index > 0 ? status : undefined;
  }, patienceMs);
  assert.ok(back, "the voter is back, fed by Raft");
  assert.equal(back.learns?.resumed_index, null, "it did not resume from the relay file");
  await assert.rejects(stat(planted), { code: "ENOENT" }, "the relay file is gone");
});
