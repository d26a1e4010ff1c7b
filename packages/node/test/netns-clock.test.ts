// Goal: a jump of one node's wall clock, ten minutes back and then ten minutes ahead, breaks
// nothing the fabric promises: the node stays up, the mesh commits writes through both jumps
// and every node converges on one state and one chain that verifies. What moves with the wall
// clock only moves what is meant to (timestamps); intervals (uptime, timers) do not jump.
// Method: 3 daemons in network namespaces (src/netns/), each run under libfaketime with its
// offset in a file the harness rewrites (`jumpClock`): a real jump of the process's wall clock,
// its monotonic clock left alone. The leader's clock is moved (it stamps proposals, runs the
// policy and the sealer); the jump is seen through the leader's own HTTP `Date` header.
// Needs root, iproute2, nftables and libfaketime (scripts/setup-system.sh); fails, never skips.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { verifyChain } from "@revoada/fabric-core/attest";
import { FabricState, loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { NodeStatusReply } from "../src/api/schemas.js";
import { chainOf, findLeader, type MeshNodeHandle, postToLeader, waitFor } from "../src/mesh/observe.js";
import { NetnsMesh } from "../src/netns/netns-mesh.js";

const patienceMs = 120_000;
let directory = "";
let mesh: NetnsMesh;

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-netns-clock-"));
  // Every node can have its clock moved; the test moves the leader's, where wall time is read most.
  const clockNodes = ["node-1", "node-2", "node-3"];
  mesh = await NetnsMesh.start({ directory, nodes: 3, faceId: "systemd", clockNodes }, {});
});

after(async () => {
  await mesh?.stop(5000);
  await rm(directory, { recursive: true, force: true });
});

/** A node's wall clock as its HTTP server states it (`Date`, whole seconds), and its uptime. */
function clockOf(node: MeshNodeHandle): Promise<{ dateMs: number; uptimeMs: number } | undefined> {
  return new Promise((resolve) => {
    const outgoing = request(
      `https://${node.client.address}/v1/status`,
      { ca: mesh.local.caPem ?? "", headers: { authorization: `Bearer ${mesh.local.token}` }, timeout: 5000 },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => {
          const status = NodeStatusReply.safeParse(JSON.parse(Buffer.concat(chunks).toString() || "null"));
          const dateMs = Date.parse(incoming.headers.date ?? "");
          resolve(status.success ? { dateMs, uptimeMs: status.data.uptime_ms } : undefined);
        });
      },
    );
    outgoing.on("error", () => resolve(undefined));
    outgoing.on("timeout", () => outgoing.destroy());
    outgoing.end();
  });
}

function workload(name: string) {
  return {
    name,
    namespace: "clock",
    image: "docker.io/library/busybox:1.36",
    command: [],
    args: [],
    env: { AT: name },
    ports: [],
    replicas: 0,
    resources: { cpu_millis: 10, memory_bytes: 1024 * 1024 },
    config_blobs: [],
    placement: { zones: [], labels: {}, tolerate_control_plane: false },
  };
}

test("one node's wall clock jumps 10 minutes back, then 10 ahead: it stays up, writes commit, all converge", async () => {
  const formed = await waitFor(
    async () => {
      const leader = await findLeader(mesh.nodes);
      const state = await leader?.node.client.get("/v1/state", FabricState).catch(() => undefined);
      return state !== undefined && Object.keys(state.nodes).length === 3 ? leader : undefined;
    },
    patienceMs,
    250,
  );
  assert.ok(formed, "the mesh formed");
  // The leader: it stamps every proposal (issued_at_ms), runs the policy and the sealer.
  const skewed = formed.node;
  const before = await clockOf(skewed);
  assert.ok(before);
  assert.ok(Math.abs(before.dateMs - Date.now()) < 3000, "no offset before the jump");
  const monotonicAtBefore = performance.now();

  for (const offsetS of [-600, 600]) {
    await mesh.jumpClock(skewed.name, offsetS);
    const seen = await waitFor(
      async () => {
        const clock = await clockOf(skewed);
        return clock !== undefined && Math.abs(clock.dateMs - (Date.now() + offsetS * 1000)) < 3000
          ? clock
          : undefined;
      },
      30_000,
      250,
    );
    assert.ok(seen, `${skewed.name}'s wall clock moved by ${offsetS} s`);
    // Its uptime is an interval: it did not jump with the wall clock.
    const elapsed = performance.now() - monotonicAtBefore;
    assert.ok(
      Math.abs(seen.uptimeMs - (before.uptimeMs + elapsed)) < 5000,
      `uptime ${seen.uptimeMs} ms follows real time (${Math.round(before.uptimeMs + elapsed)} ms), not the jump`,
    );
    const name = `jump${offsetS < 0 ? "back" : "ahead"}`;
    const written = await postToLeader(
      mesh.nodes,
      "/v1/workloads",
      workload(name),
      z.object({ index: z.number() }),
    );
    const everywhere = await waitFor(
      async () => {
        const states = await Promise.all(
          mesh.nodes.map((node) => node.client.get("/v1/state", FabricState).catch(() => undefined)),
        );
        return states.every((state) => state?.workloads[`clock/${name}`]?.env.AT === name) ? true : undefined;
      },
      patienceMs,
      250,
    );
    assert.ok(
      everywhere,
      `the write at index ${written.value.index} during the ${offsetS} s jump is on every node`,
    );
  }

  await mesh.jumpClock(skewed.name, 0);
  const converged = await waitFor(
    async () => {
      const states = await Promise.all(
        mesh.nodes.map((node) => node.client.get("/v1/state", FabricState).catch(() => undefined)),
      );
      if (states.some((state) => state === undefined)) return undefined;
      const chains = await Promise.all(mesh.nodes.map((node) => chainOf(node)));
      const applied = new Set(states.map((state) => state?.applied.index));
      return applied.size === 1 && new Set(chains).size === 1 && chains[0] !== undefined
        ? chains[0]
        : undefined;
    },
    patienceMs,
    500,
  );
  assert.ok(converged, "every node holds one state and one chain after the jumps");
  assert.ok(verifyChain(converged, { mode: "every-block" }).ok, "the chain verifies");
  assert.ok(mesh.local.isRunning(skewed.name), "the node whose clock jumped never died");
  const log = await readFile(join(directory, skewed.name, "node.log"), "utf8");
  assert.doesNotMatch(log, /time does not go backwards|clock never runs backwards/);
});
