// Goal: the daemon does what an operator relies on, with real node processes on loopback:
// a cold start forms a control plane; kill -9 of a control-plane follower and of the
// leader are both healed (replacement promoted, attested, rendered); a killed node
// restarts with its identity and data and rejoins; a node with the wrong cluster key never
// joins; mutations need the token; SIGTERM leaves every rendered file whole.
// Method: one 5-node mesh driven through its HTTP API and output directories, waiting on
// conditions (never on fixed timings) with generous limits for a loaded CI machine.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { verifyChain } from "@revoada/fabric-core/attest";
import { loadBlake3, type NodeId } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { CommittedReply } from "../src/api/schemas.js";
import { sampleWorkload } from "../src/cli/commands/demo.js";
import { ApiClient } from "../src/mesh/api-client.js";
import { measureFailover } from "../src/mesh/failover.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import type { MeshFile } from "../src/mesh/mesh-file.js";
import { createMeshLayout } from "../src/mesh/mesh-setup.js";
import {
  chainOf,
  etcdHolders,
  findLeader,
  type MeshNodeHandle,
  meshOf,
  postToLeader,
  stateOf,
  statusOf,
  waitFor,
} from "../src/mesh/observe.js";
import { startNodeProcess, stopNodeProcess } from "../src/mesh/supervisor.js";
import { readManifest } from "../src/render/index.js";

const patienceMs = 90_000;
let local: LocalMesh;
let directory = "";
let mesh: MeshFile;
let token = "";
let nodes: readonly MeshNodeHandle[] = [];
const isRunning = (name: string) => local.isRunning(name);
const running = () => local.running();
const start = (name: string) => local.startNode(name);

async function healthyShape(members: readonly MeshNodeHandle[], voters: number) {
  return waitFor(
    async () => {
      const leader = await findLeader(members);
      if (leader === undefined) return undefined;
      const state = await stateOf(leader.node);
      if (state === undefined) return undefined;
      return etcdHolders(state).length === voters ? { leader, state } : undefined;
    },
    patienceMs,
    100,
  );
}

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-e2e-"));
  local = await LocalMesh.start({ directory, nodes: 5, faceId: "kubernetes" });
  ({ mesh, token, nodes } = local);
});

after(async () => {
  await local.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
});

describe("a 5-node mesh of real processes", () => {
  test("forms a control plane of three voters from a cold start, and renders it", async () => {
    const formed = await healthyShape(nodes, 3);
    assert.ok(formed, "three etcd holders were committed");
    const everyone = await waitFor(async () => {
      const state = await stateOf(formed.leader.node);
      return state !== undefined && Object.keys(state.nodes).length === 5 ? state : undefined;
    }, patienceMs);
    assert.ok(everyone, "every node joined the fabric state");
    const status = await statusOf(formed.leader.node);
    assert.equal(status?.raft.voters.length, 3, "the Raft voters are the etcd holders");
    const holder = nodes.find((n) => formed.state.nodes[etcdHolders(formed.state)[0]!]?.name === n.name)!;
    const rendered = await waitFor(async () => {
      const directory_ = join(holder.outputDir, "nodes", holder.name, "manifests");
      const files: string[] = await readdir(directory_).catch(() => []);
      return files.includes("etcd.yaml") ? files : undefined;
    }, patienceMs);
    assert.ok(rendered, "a control-plane node renders its static pods");
    // Whoever leads when asked (on a loaded machine leadership can move after formation).
    const metrics = await waitFor(async () => {
      const leading = await findLeader(nodes);
      const text = await leading?.node.client.text("/metrics").catch(() => undefined);
      return text !== undefined && /^revoada_raft_is_leader 1$/m.test(text) ? text : undefined;
    }, patienceMs);
    assert.ok(metrics, "the leader's metrics say it leads");
    assert.match(metrics, /^revoada_gossip_members\{status="alive"\} 5$/m);
    assert.match(metrics, /^revoada_event_loop_delay_ms\{quantile="0.99"\} /m);
    assert.match(metrics, /^revoada_process_memory_bytes\{kind="heap_used"\} [1-9]\d*$/m);
    assert.match(metrics, /^revoada_procedures_open 0$/m, "formed: no role-shift procedure in flight");
    assert.match(metrics, /^revoada_gossip_packets_rejected_total\{reason="[a-z-]+"\} 0$/m);
    assert.match(metrics, /^revoada_raft_follower_lag\{peer="[0-9a-f]{64}"\} \d+$/m);
    // The leader's steady policy rounds walk only what changed (issue 14): its first round as
    // leader walks every workload, the rounds after it (every reconciliation tick) reuse the memo.
    const incremental = await waitFor(async () => {
      const leading = await findLeader(nodes);
      const text = leading === undefined ? "" : await leading.node.client.text("/metrics");
      return /^revoada_policy_rounds_total\{walk="incremental"\} [1-9]\d*$/m.test(text) ? true : undefined;
    }, patienceMs);
    assert.ok(incremental, "the leader's steady policy rounds are incremental");
    const openapi = JSON.parse(await formed.leader.node.client.text("/openapi.json")) as {
      paths: Record<string, Record<string, unknown>>;
    };
    assert.ok(openapi.paths["/v1/shifts"]?.post, "the OpenAPI document lists the shift endpoint");
  });

  test("refuses mutations without the token", async () => {
    const leader = await waitFor(() => findLeader(nodes), patienceMs, 100);
    assert.ok(leader);
    const anonymous = new ApiClient(mesh.nodes.find((n) => n.name === leader.node.name)!.api);
    await assert.rejects(anonymous.post("/v1/workloads", sampleWorkload, CommittedReply), /bearer token/);
    const wrong = new ApiClient(
      mesh.nodes.find((n) => n.name === leader.node.name)!.api,
      "x".repeat(token.length),
    );
    await assert.rejects(wrong.post("/v1/workloads", sampleWorkload, CommittedReply), /bearer token/);
    const committed = await postToLeader(nodes, "/v1/workloads", sampleWorkload, CommittedReply);
    assert.ok(committed.value.index > 0);
    const placed = await waitFor(async () => {
      const state = await stateOf(committed.node);
      return state?.placements["default/web"]?.length === 2 ? true : undefined;
    }, patienceMs);
    assert.ok(placed, "the workload was placed on two nodes");
  });

  test("fetches a workload's config blob peer to peer before rendering the workload", async () => {
    const data = Buffer.from("server { listen 80; }\n");
    const { node: holder, value: stored } = await postToLeader(
      nodes,
      "/v1/blobs",
      { data_base64: data.toString("base64") },
      z.object({ hash: z.string(), size: z.number() }),
    );
    assert.equal(stored.size, data.length);
    const workload = {
      ...sampleWorkload,
      name: "configured",
      replicas: 1,
      config_blobs: [{ name: "nginx-conf", hash: stored.hash, mount_path: "/etc/nginx/conf.d/default.conf" }],
    };
    await postToLeader(nodes, "/v1/workloads", workload, CommittedReply);
    const target = await waitFor(async () => {
      const state = await stateOf(holder);
      const placed = state?.placements["default/configured"]?.[0];
      return placed === undefined ? undefined : nodes.find((n) => n.name === state?.nodes[placed]?.name);
    }, patienceMs);
    assert.ok(target, "the workload was placed");
    const fetched = await waitFor(
      () =>
        target.client
          .get(`/v1/blobs/${stored.hash}`, z.object({ hash: z.string(), size: z.number() }))
          .catch(() => undefined),
      patienceMs,
    );
    assert.equal(fetched?.size, data.length, "the node running it fetched the blob from its peers");
    const rendered = await waitFor(async () => {
      const files: string[] = await readdir(join(target.outputDir, "workloads", "default")).catch(() => []);
      return files.includes("configured.yaml") ? true : undefined;
    }, patienceMs);
    assert.ok(rendered, "the workload rendered once its blob was there");
  });

  test("heals kill -9 of a control-plane follower: replaced, attested, rendered", async () => {
    const formed = await healthyShape(nodes, 3);
    assert.ok(formed);
    const victimId = etcdHolders(formed.state).find((id) => id !== formed.leader.status.id)!;
    const victim = nodes.find((n) => n.name === formed.state.nodes[victimId as NodeId]?.name)!;
    const steps = await measureFailover({
      nodes,
      victim,
      timeoutMs: patienceMs,
      kill: () => local.kill(victim.name),
    });
    assert.equal(steps.victimWasLeader, false);
    assert.notEqual(steps.declaredMs, null, "every survivor declared the victim dead");
    assert.notEqual(steps.promotedMs, null, "a replacement was promoted and committed");
    assert.notEqual(steps.attestedMs, null, "the promotion is in the chain");
    assert.notEqual(steps.renderedMs, null, "the replacement rendered its control-plane files");
  });

  test("heals kill -9 of the leader, and the chain still verifies", async () => {
    const survivors = running();
    const formed = await healthyShape(survivors, 3);
    assert.ok(formed);
    const steps = await measureFailover({
      nodes: survivors,
      victim: formed.leader.node,
      timeoutMs: patienceMs,
      kill: () => local.kill(formed.leader.node.name),
    });
    assert.equal(steps.victimWasLeader, true);
    assert.notEqual(steps.electedMs, null, "a new leader was elected");
    assert.notEqual(steps.promotedMs, null);
    assert.notEqual(steps.attestedMs, null);
    const remaining = survivors.filter((n) => n.name !== formed.leader.node.name);
    const leader = await findLeader(remaining);
    assert.ok(leader);
    const chains = await Promise.all(remaining.map((node) => chainOf(node)));
    const report = verifyChain(chains[0]!, { mode: "every-block" });
    assert.ok(report.ok, JSON.stringify(!report.ok && report.failure));
    assert.ok(report.summary.blocks >= 4, "founding promotions plus two replacements are attested");
    const settled = await waitFor(async () => {
      const texts = await Promise.all(remaining.map((node) => chainOf(node)));
      return texts.every((text) => text === texts[0]) ? texts : undefined;
    }, patienceMs);
    assert.ok(settled, "every surviving node holds the byte-identical chain");
    const sealed = await waitFor(async () => {
      const text = await chainOf(leader.node);
      const checked = text === undefined ? undefined : verifyChain(text, { mode: "checkpoints" });
      if (checked === undefined || !checked.ok) return undefined;
      const summary = checked.summary;
      return summary.checkpoints > 0 && summary.sealedSize === summary.blocks ? summary : undefined;
    }, patienceMs);
    assert.ok(sealed, "witnesses cosigned checkpoints that seal every block");
  });

  test("a killed node restarts with its identity and data and rejoins", async () => {
    const dead = nodes.filter((n) => !isRunning(n.name));
    assert.equal(dead.length, 2);
    const identities = await Promise.all(
      dead.map((n) => readFile(join(directory, n.name, "data", "identity.key"), "utf8")),
    );
    for (const node of dead) start(node.name);
    for (const [i, node] of dead.entries()) {
      const status = await waitFor(() => statusOf(node), patienceMs);
      assert.ok(status, `${node.name} answers again`);
      const key = await readFile(join(directory, node.name, "data", "identity.key"), "utf8");
      assert.equal(key, identities[i], "the identity key is reused");
      const alive = await waitFor(async () => {
        const views = await Promise.all(nodes.map((n) => meshOf(n)));
        return views.every((view) => view?.some((m) => m.id === status.id && m.status === "alive"))
          ? true
          : undefined;
      }, patienceMs);
      assert.ok(alive, `${node.name} is alive in every view`);
      const caughtUp = await waitFor(async () => {
        const leader = await findLeader(nodes);
        const own = await statusOf(node);
        if (leader === undefined || own === undefined) return undefined;
        return own.raft.applied_index >= leader.status.raft.commit_index ? true : undefined;
      }, patienceMs);
      assert.ok(caughtUp, `${node.name} caught up with the log`);
    }
  });

  test("a node with the wrong cluster key never joins", async () => {
    const outsider = await mkdtemp(join(tmpdir(), "revoada-outsider-"));
    const layout = await createMeshLayout({ directory: outsider, nodes: 1, faceId: "kubernetes" });
    const config = (await readFile(layout.configs[0]!, "utf8"))
      .replace("bootstrap: true", "bootstrap: false")
      .replace("seeds: []", `seeds:\n  - ${await seedOf()}`);
    await writeFile(layout.configs[0]!, config);
    const intruder = startNodeProcess("node-1", layout.configs[0]!, outsider);
    try {
      const intruderClient: MeshNodeHandle = {
        name: "intruder",
        client: new ApiClient(layout.mesh.nodes[0]!.api, undefined, 3000),
        outputDir: join(outsider, "node-1", "out"),
      };
      const status = await waitFor(() => statusOf(intruderClient), patienceMs);
      assert.ok(status, "the intruder runs");
      // Let gossip rounds pass: its packets fail authentication, so nobody learns of it.
      await waitFor(
        async () => (((await meshOf(nodes[0]!))?.length ?? 0) >= 5 ? true : undefined),
        patienceMs,
      );
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const views = await Promise.all(nodes.map((n) => meshOf(n)));
      for (const view of views)
        assert.ok(!view?.some((m) => m.id === status.id), "the intruder is in no view");
      const state = await stateOf(nodes[0]!);
      assert.equal(state?.nodes[status.id as NodeId], undefined, "the intruder is not in the fabric state");
    } finally {
      await stopNodeProcess(intruder, 5000);
      await rm(outsider, { recursive: true, force: true });
    }
  });

  test("SIGTERM stops a node gracefully and leaves every rendered file whole", async () => {
    const victim = nodes[nodes.length - 1]!;
    assert.equal(await local.stopNode(victim.name, 20_000), 0, "a graceful stop exits 0");
    const manifest = await readManifest(victim.outputDir);
    assert.ok(manifest, "the ownership manifest is there");
    for (const [path, hash] of Object.entries(manifest.files)) {
      const bytes = await readFile(join(victim.outputDir, path));
      assert.equal(
        createHash("sha256").update(bytes).digest("hex"),
        hash,
        `${path} matches its manifest hash`,
      );
    }
    const leftovers = (await readdir(victim.outputDir, { recursive: true })).filter((f) =>
      String(f).includes(".tmp-"),
    );
    assert.deepEqual(leftovers, [], "no temporary file is left behind");
  });
});

async function seedOf(): Promise<string> {
  const config = await readFile(mesh.nodes[0]!.config, "utf8");
  const match = /gossip: (127\.0\.0\.1:\d+)/.exec(config);
  return match?.[1] ?? "";
}
