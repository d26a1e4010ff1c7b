// Goal: the network-namespace harness gives every node a host of its own, keeps all traffic
// inside the namespaces it makes, cuts the network for real, and leaves nothing behind.
// Method: 5 daemons, one per namespace (10.77.0.2-6 on a bridge in a namespace of its own),
// each listening on its own address; a real two-way partition (nftables drops inside the
// namespaces) of the leader and a worker: the majority elects a leader and commits, the
// minority commits nothing, and after healing every node converges on one log and one chain.
// Then the run is stopped and checked gone; a crashed run (its owner process dead) is swept.
// Needs root, iproute2 and nftables (scripts/setup-system.sh); without them it fails, never skips.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FabricState, loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { MeshMember } from "../src/api/schemas.js";
import {
  chainOf,
  etcdHolders,
  findLeader,
  type MeshNodeHandle,
  statusOf,
  waitFor,
} from "../src/mesh/observe.js";
import {
  createHosts,
  ipIn,
  markerDirectory,
  namespacesOf,
  removeHosts,
  runMounts,
  sweepStaleRuns,
} from "../src/netns/hosts.js";
import { NetnsMesh } from "../src/netns/netns-mesh.js";

// Generous: five daemons start slowly on a loaded 2-core machine; every wait is on a condition.
const patienceMs = 240_000;
let directory = "";
let mesh: NetnsMesh;

async function formed(nodes: readonly MeshNodeHandle[]) {
  return waitFor(
    async () => {
      const leader = await findLeader(nodes);
      if (leader === undefined) return undefined;
      const state = await leader.node.client.get("/v1/state", FabricState).catch(() => undefined);
      if (state === undefined || Object.keys(state.nodes).length < 5) return undefined;
      return etcdHolders(state).length === 3 ? { leader, state } : undefined;
    },
    patienceMs,
    250,
  );
}

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-netns-"));
  mesh = await NetnsMesh.start({
    directory,
    nodes: 5,
    faceId: "systemd",
    smallDisks: { nodes: ["node-5"], bytes: 8 * 1024 * 1024 },
  });
});

after(async () => {
  await mesh?.stop(5000);
  await rm(directory, { recursive: true, force: true });
});

describe("network-namespace hosts", () => {
  test("each node is a host of its own: own namespace, loopback up, own address, nothing in the host's namespace", async () => {
    const hostLinks = execFileSync("ip", ["-o", "addr"], { encoding: "utf8" });
    for (const host of mesh.run.hosts) {
      const addresses = await ipIn(host.namespace, "-o", "addr");
      assert.match(addresses, new RegExp(`eth0\\s+inet ${host.address.replace(/\./g, "\\.")}/24`));
      assert.match(await ipIn(host.namespace, "-o", "link", "show", "lo"), /state UNKNOWN|LOOPBACK,UP/);
      assert.ok(
        !hostLinks.includes(`${host.address}/`),
        `the host's own namespace has no address ${host.address}`,
      );
    }
    const start = await formed(mesh.nodes);
    assert.ok(start, "the mesh formed across the namespaces");
    // Gossip advertises the real addresses: each peer is known at its own host's address.
    const view = await mesh.nodes[0]!.client.get("/v1/mesh", z.array(MeshMember));
    const gossip = view.map((member) => member.addresses.gossip ?? "").sort();
    assert.deepEqual(
      gossip,
      mesh.run.hosts.map((host) => `${host.address}:7946`),
    );
    const config = await readFile(join(directory, "node-2", "node.yaml"), "utf8");
    assert.match(config, /raft: 10\.77\.0\.3:7947/);
  });

  test("a real partition: the majority moves on, the minority commits nothing, and all converge after healing", async (t) => {
    const start = await formed(mesh.nodes);
    assert.ok(start);
    const leaderName = start.leader.node.name;
    // The leader and a worker: the other two voters (of three) keep a quorum on the majority side.
    const voterNames = etcdHolders(start.state).map((id) => start.state.nodes[id]?.name);
    const worker = mesh.nodes.find((node) => !voterNames.includes(node.name));
    assert.ok(worker, "a node that is not a voter");
    const minority = [leaderName, worker.name];
    const majority = mesh.nodes.filter((node) => !minority.includes(node.name));
    await mesh.partition([minority, majority.map((node) => node.name)]);
    // Healed when this test ends, failed or not, so the next test starts on a whole network.
    t.after(() => mesh.heal());

    const newLeader = await waitFor(async () => findLeader(majority), patienceMs, 250);
    assert.ok(newLeader, "the majority elects a leader of its own");
    const oldLeader = mesh.nodes.find((node) => node.name === leaderName)!;
    const stepDown = await waitFor(async () => {
      const status = await statusOf(oldLeader);
      return status !== undefined && status.raft.state !== "leader" ? status : undefined;
    }, patienceMs);
    assert.ok(stepDown, "the old leader steps down when it cannot reach a quorum");
    const frozen = stepDown.raft.commit_index;
    const workload = {
      name: "across",
      namespace: "netns",
      image: "docker.io/library/busybox:1.36",
      command: [],
      args: [],
      env: {},
      ports: [],
      replicas: 0,
      resources: { cpu_millis: 10, memory_bytes: 1024 * 1024 },
      config_blobs: [],
      placement: { zones: [], labels: {}, tolerate_control_plane: false },
    };
    const committed = await waitFor(
      async () =>
        (await findLeader(majority))?.node.client
          .post("/v1/workloads", workload, z.object({ index: z.number() }))
          .catch(() => undefined),
      patienceMs,
      500,
    );
    assert.ok(committed, "the majority commits a write during the partition");
    const minorityState = await oldLeader.client.get("/v1/state", FabricState);
    assert.equal((await statusOf(oldLeader))?.raft.commit_index, frozen, "the minority committed nothing");
    assert.equal(minorityState.workloads["netns/across"], undefined, "the minority does not show the write");

    await mesh.heal();
    const converged = await waitFor(
      async () => {
        const states = await Promise.all(
          mesh.nodes.map((node) => node.client.get("/v1/state", FabricState).catch(() => undefined)),
        );
        if (states.some((state) => state?.workloads["netns/across"] === undefined)) return undefined;
        const applied = new Set(states.map((state) => state?.applied.index));
        const chains = new Set(await Promise.all(mesh.nodes.map((node) => chainOf(node))));
        return applied.size === 1 && chains.size === 1 ? true : undefined;
      },
      patienceMs * 2,
      500,
    );
    const diagnosis = await Promise.all(
      mesh.nodes.map(async (node) => {
        const status = await statusOf(node);
        return `${node.name}: ${status?.raft.state} term ${status?.raft.term} applied ${status?.raft.applied_index} chain ${status?.chain_height}`;
      }),
    );
    assert.ok(
      converged,
      `after healing every node holds the write, the same applied index and the same chain\n${diagnosis.join("\n")}`,
    );
  });

  test("an interface set down cuts a node off; set up, it is back", async (t) => {
    const victim = mesh.nodes[4]!;
    const others = mesh.nodes.slice(0, 4);
    await mesh.linkDown(victim.name);
    t.after(() => mesh.linkUp(victim.name));
    const ping = await ipIn(
      mesh.host(victim.name).namespace,
      "route",
      "get",
      mesh.run.hosts[0]!.address,
    ).catch((error: Error) => error.message);
    assert.match(ping, /unreachable|No route|Network is unreachable/i, "the host has no route out");
    const cutOff = await waitFor(async () => {
      const view = await others[0]!.client.get("/v1/mesh", z.array(MeshMember)).catch(() => undefined);
      const seen = view?.find((member) => member.name === victim.name);
      return seen !== undefined && seen.status !== "alive" ? seen.status : undefined;
    }, patienceMs);
    assert.ok(cutOff, "the others stop hearing the node");
    await mesh.linkUp(victim.name);
    const back = await waitFor(async () => {
      const view = await others[0]!.client.get("/v1/mesh", z.array(MeshMember)).catch(() => undefined);
      return view?.find((member) => member.name === victim.name)?.status === "alive" ? true : undefined;
    }, patienceMs);
    assert.ok(back, "the node is alive again once its interface is up");
  });

  test("stop removes every namespace, veth, mount and marker; a crashed run is swept by the next", async () => {
    const runId = mesh.run.runId;
    await mesh.stop(5000);
    assert.deepEqual(await namespacesOf(runId), []);
    assert.deepEqual(
      (await runMounts()).filter((mount) => mount.runId === runId),
      [],
    );
    const markers = execFileSync("ls", [markerDirectory], { encoding: "utf8" });
    assert.ok(!markers.includes(runId), "the run's marker is gone");

    // A run whose owner dies without cleaning up: a child process creates hosts, is killed -9.
    const orphan = spawn(
      process.execPath,
      [
        "--conditions=source",
        "--import",
        "tsx",
        "-e",
        `import("${new URL("../src/netns/hosts.ts", import.meta.url).pathname}").then(async (m) => { const run = await m.createHosts(2, "10.78.0"); process.stdout.write(run.runId + "\\n"); setInterval(() => {}, 1000); });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const orphanExited = new Promise((done) => orphan.once("exit", done));
    try {
      const orphanRun = await new Promise<string>((resolve) => {
        orphan.stdout?.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
      });
      assert.equal((await namespacesOf(orphanRun)).length, 3, "the orphan made a bridge and two hosts");
      assert.equal((await sweepStaleRuns()).includes(orphanRun), false, "a live run is never swept");
      orphan.kill("SIGKILL");
      await orphanExited;
      assert.ok((await sweepStaleRuns()).includes(orphanRun), "the dead owner's run is swept");
      assert.deepEqual(await namespacesOf(orphanRun), []);
    } finally {
      // On a failed assertion too: the orphan dies and its run is removed.
      orphan.kill("SIGKILL");
      await orphanExited;
      await sweepStaleRuns();
    }
    // And a fresh run still starts cleanly afterwards.
    const fresh = await createHosts(1);
    try {
      assert.equal((await namespacesOf(fresh.runId)).length, 2);
    } finally {
      await removeHosts(fresh);
    }
    assert.deepEqual(await namespacesOf(fresh.runId), []);
  });
});
