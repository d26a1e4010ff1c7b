// Goal: under faults the daemon keeps the safety rules an operator relies on. A partition
// (injected in every node's transports) leaves the minority side unable to commit or shift
// roles while the majority heals itself, and everyone converges once it heals. A node that
// flaps (its process paused and resumed) is damped: quarantined, then restored once stable.
// Method: a 5-node mesh of real processes with REVOADA_FAULT_INJECTION=1, driven through the
// API; every wait is on a condition, with generous limits for a loaded CI machine.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadBlake3, type NodeId } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import {
  chainOf,
  describeMesh,
  etcdHolders,
  findLeader,
  type MeshNodeHandle,
  stateOf,
  statusOf,
  waitFor,
} from "../src/mesh/observe.js";

const patienceMs = 90_000;
let directory = "";
let local: LocalMesh;
let nodes: readonly MeshNodeHandle[] = [];
const Partition = z.object({ peers: z.array(z.string()), addresses: z.array(z.string()) });

async function formed() {
  return waitFor(
    async () => {
      const leader = await findLeader(nodes);
      if (leader === undefined) return undefined;
      const state = await stateOf(leader.node);
      if (state === undefined || Object.keys(state.nodes).length < 5) return undefined;
      return etcdHolders(state).length === 3 ? { leader, state } : undefined;
    },
    patienceMs,
    100,
  );
}

async function partition(side: readonly MeshNodeHandle[], others: readonly MeshNodeHandle[]): Promise<void> {
  for (const node of side) {
    await node.client.post("/v1/debug/partition", { peers: others.map((o) => o.name) }, Partition);
  }
}

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-faults-"));
  local = await LocalMesh.start({ directory, nodes: 5, faceId: "systemd" }, { REVOADA_FAULT_INJECTION: "1" });
  nodes = local.nodes;
});

after(async () => {
  await local.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
});

describe("a mesh under faults", () => {
  test("a partition leaves the minority unable to commit or shift roles, and heals", async () => {
    const start = await formed();
    assert.ok(start, "the control plane formed");
    const oldLeader = start.leader.node;
    const worker = nodes.find((n) => !etcdHolders(start.state).includes(idOf(start.state, n.name)))!;
    const minority = [oldLeader, worker];
    const majority = nodes.filter((n) => !minority.includes(n));
    await partition(minority, majority);
    await partition(majority, minority);

    const majorityLeader = await waitFor(async () => findLeader(majority), patienceMs);
    assert.ok(majorityLeader, "the majority elects a leader of its own");
    const stepDown = await waitFor(async () => {
      const status = await statusOf(oldLeader);
      return status !== undefined && status.raft.state !== "leader" ? status : undefined;
    }, patienceMs);
    assert.ok(stepDown, "the old leader steps down when it cannot reach a quorum (check-quorum)");
    const frozenCommit = stepDown.raft.commit_index;
    const minorityRoles = (await stateOf(oldLeader))?.nodes;

    const healed = await waitFor(async () => {
      const state = await stateOf(majorityLeader.node);
      if (state === undefined) return undefined;
      const holders = etcdHolders(state);
      return holders.length === 3 && !holders.includes(idOf(start.state, oldLeader.name)) ? state : undefined;
    }, patienceMs);
    assert.ok(healed, `the majority replaced the unreachable voter\n${await describeMesh(nodes)}`);
    const minorityAfter = await statusOf(oldLeader);
    assert.equal(minorityAfter?.raft.commit_index, frozenCommit, "the minority committed nothing meanwhile");
    assert.deepEqual((await stateOf(oldLeader))?.nodes, minorityRoles, "the minority shifted no role");

    await partition(nodes, []);
    const converged = await waitFor(async () => {
      const statuses = await Promise.all(nodes.map((n) => statusOf(n)));
      const commits = new Set(statuses.map((s) => s?.raft.applied_index));
      if (commits.size !== 1 || statuses.some((s) => s === undefined)) return undefined;
      const chains = await Promise.all(nodes.map((n) => chainOf(n)));
      return chains.every((c) => c === chains[0]) ? true : undefined;
    }, patienceMs);
    assert.ok(
      converged,
      `after healing every node applies the same log and holds the same chain\n${await describeMesh(nodes)}`,
    );
  });

  test("a flapping node is quarantined, then restored once it is stable", async () => {
    const start = await formed();
    assert.ok(start);
    const flapper = nodes.find((n) => !etcdHolders(start.state).includes(idOf(start.state, n.name)))!;
    const id = idOf(start.state, flapper.name);
    const leader = start.leader.node;
    const quarantined = await waitFor(
      async () => {
        // Pause the process long enough to be suspected, then let it come back.
        local.signal(flapper.name, "SIGSTOP");
        await new Promise((resolve) => setTimeout(resolve, 1200));
        local.signal(flapper.name, "SIGCONT");
        await new Promise((resolve) => setTimeout(resolve, 800));
        const state = await stateOf((await findLeader(nodes))?.node ?? leader);
        return state?.nodes[id]?.roles.includes("quarantined") === true ? true : undefined;
      },
      patienceMs,
      0,
    );
    assert.ok(quarantined, "the flapping node was quarantined");
    const restored = await waitFor(async () => {
      const state = await stateOf((await findLeader(nodes))?.node ?? leader);
      return state?.nodes[id]?.roles.includes("worker") === true ? true : undefined;
    }, patienceMs);
    assert.ok(restored, "it was restored after staying stable");
  });
});

function idOf(state: { nodes: Record<string, { name: string; id: string }> }, name: string): NodeId {
  return Object.values(state.nodes).find((node) => node.name === name)!.id as NodeId;
}
