// Goal: issue 17's mass restart, the part about trust: a relay follower that stood still while
// every voter it knew was replaced catches up when it runs again, trusting the new voters'
// commit stamps through the attestation chain (docs/scale.md, "Trust across voter
// replacements"), where before it refused every stamp (`the stamp's signer … is not a known
// voter`) for good.
// Method: 7 real node processes on loopback, `learners_max: 0` (3 voters, 4 relay followers).
// One follower is paused (SIGSTOP: its applied state stays; a restarted follower would start
// fresh, its machine is not on disk); then the 3 voters are killed one after another, each
// time waiting until the control plane healed onto live nodes (3 etcd holders, none of the
// killed); the follower is resumed and must reach the leader's applied index through the relay.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { describeMesh, etcdHolders, findLeader, stateOf, statusOf, waitFor } from "../src/mesh/observe.js";
import { relayLayout } from "./relay-layout.js";

const patienceMs = 120_000;
let local: LocalMesh;
let directory = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-relay-handover-"));
  local = await LocalMesh.start({ directory, nodes: 7, faceId: "pureraft", learnersMax: 0 });
});

after(async () => {
  await local.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
});

test("a relay follower down while every voter it knew was replaced catches up through the chain", async () => {
  const nodes = local.nodes;
  const formed = await waitFor(() => relayLayout(nodes, { learners: 0, followers: 4 }), patienceMs, 200);
  assert.ok(formed, `3 voters and 4 relay followers\n${await describeMesh(nodes)}`);
  const away = formed.followers[0]!;
  const applied = await waitFor(async () => {
    const index = (await statusOf(away.node))?.learns?.applied_index ?? 0;
    return index > 0 ? index : undefined;
  }, patienceMs);
  assert.ok(applied, "the follower applied committed state before it is paused");
  local.signal(away.node.name, "SIGSTOP");

  const killed = new Set<string>();
  for (const voter of formed.voters) {
    const victim = await byId(voter);
    assert.ok(victim, `the voter ${voter.slice(0, 8)} is one of the mesh's nodes`);
    await local.kill(victim.name);
    killed.add(voter);
    const healed = await waitFor(
      async () => {
        const leader = await findLeader(local.running());
        const state = leader === undefined ? undefined : await stateOf(leader.node);
        if (state === undefined) return undefined;
        const holders = etcdHolders(state);
        return holders.length === 3 && holders.every((id) => !killed.has(id)) ? holders : undefined;
      },
      patienceMs,
      200,
    );
    assert.ok(
      healed,
      `the control plane healed after ${killed.size} voters killed\n${await describeMesh(local.running())}`,
    );
  }

  local.signal(away.node.name, "SIGCONT");
  const caughtUp = await waitFor(
    async () => {
      const leader = await findLeader(local.running());
      const status = await statusOf(away.node);
      if (leader === undefined || status?.learns === undefined) return undefined;
      return status.learns.applied_index >= leader.status.raft.applied_index ? status : undefined;
    },
    patienceMs,
    250,
  );
  const last = await statusOf(away.node);
  assert.ok(
    caughtUp,
    `${away.node.name} caught up after its voters were all replaced (learns: ${JSON.stringify(last?.learns)})`,
  );
  assert.equal(caughtUp.learns?.via, "relay");
  assert.ok(
    (caughtUp.learns?.stamp_handovers ?? 0) >= 1,
    `it trusted a new voter through the chain (learns: ${JSON.stringify(caughtUp.learns)})`,
  );
});

/** The handle of the node whose status says `id`. */
async function byId(id: string) {
  for (const node of local.nodes) {
    if (!local.isRunning(node.name)) continue;
    if ((await statusOf(node))?.id === id) return node;
  }
  return undefined;
}
