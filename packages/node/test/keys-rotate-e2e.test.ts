// Goal: `revoada keys rotate` replaces the cluster key and the gossip key of a running mesh
// without downtime (issue 13 part 2, issue 16 parts 4 and 5): every write acknowledged during
// the rotation is committed on every live node, no gossip packet between live nodes is refused
// across it, every node ends with the new keys and the old ones retired (persisted 0600), and
// a node that was stopped during the rotation resumes holding only the retired keys and is
// refused (Raft/content handshakes and gossip packets), counted, with the key id in the log.
// Method: a 4-node mesh of real processes on loopback; node-4 is paused first; a client writes
// workloads through the leader for the whole rotation; the built CLI runs as an operator's
// would (build first: `pnpm --filter @revoada/node build`, as for every real-process test).
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { CommittedReply } from "../src/api/schemas.js";
import { sampleWorkload } from "../src/cli/commands/demo.js";
import { KeysReply } from "../src/keys/key-routes.js";
import { keyIdOf } from "../src/keys/key-set.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { findLeader, type MeshNodeHandle, meshOf, stateOf, waitFor } from "../src/mesh/observe.js";
import { runBuiltCli } from "./cli-harness.js";

const patienceMs = 90_000;
let local: LocalMesh;
let directory = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-keys-"));
  local = await LocalMesh.start({ directory, nodes: 4, faceId: "pureraft" });
});

after(async () => {
  await local?.stopAll(5000);
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

/** `name{labels} value` lines of a /metrics text, summed over the series matching `labels`. */
function metric(text: string, name: string, labels: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

async function keyRejections(node: MeshNodeHandle): Promise<number> {
  const text = await node.client.text("/metrics");
  return (
    ["unknown-key", "retired-key", "bad-mac"].reduce(
      (sum, reason) => sum + metric(text, "revoada_gossip_packets_rejected_total", `reason="${reason}"`),
      0,
    ) + metric(text, "revoada_transport_refusals_total", "")
  );
}

test("keys rotate on a running mesh: no lost commits or gossip; a node with only the retired key is refused", async (t) => {
  const startedMs = Date.now();
  const phase = (name: string) =>
    t.diagnostic(`${name} at ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  const [n1, n2, n3, n4] = local.nodes as [MeshNodeHandle, MeshNodeHandle, MeshNodeHandle, MeshNodeHandle];
  const live = [n1, n2, n3];
  const formed = await waitFor(async () => {
    const leader = await findLeader(local.nodes);
    const state = leader === undefined ? undefined : await stateOf(leader.node);
    return state !== undefined && Object.keys(state.nodes).length === 4 ? leader : undefined;
  }, patienceMs);
  assert.ok(formed, "the mesh formed with four nodes");
  const oldKey = (await readFile(join(directory, "cluster.key"), "utf8")).trim();
  const oldId = keyIdOf(Buffer.from(oldKey, "hex"));

  // node-4 misses the rotation: paused (SIGSTOP), not killed, so nothing else on the machine
  // can take its ports before it resumes.
  const n4Id = (await meshOf(n1))?.find((member) => member.name === n4.name)?.id;
  assert.ok(n4Id !== undefined, "node-4 is a member");
  phase("formed");
  local.signal(n4.name, "SIGSTOP");
  const gone = await waitFor(async () => {
    const members = await meshOf(n1);
    return members?.every((member) => member.name !== n4.name || member.status !== "alive") === true
      ? true
      : undefined;
  }, patienceMs);
  assert.ok(gone, "gossip noticed node-4 is paused");
  const before = await Promise.all(live.map(keyRejections));

  // A client writes through the leader for the whole rotation.
  const acknowledged: string[] = [];
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i += 1) {
      const leader = await findLeader(live);
      const name = `rotation-${i}`;
      const done = await leader?.node.client
        .post("/v1/workloads", { ...sampleWorkload, name }, CommittedReply)
        .then(() => true)
        .catch(() => false);
      if (done === true) acknowledged.push(name);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  await waitFor(async () => (acknowledged.length >= 3 ? true : undefined), patienceMs);
  const ackedBeforeRotation = acknowledged.length;
  phase("writing");
  // The built CLI, as the nodes run (the source through tsx starts much slower on a loaded machine).
  const rotation = await runBuiltCli([
    "keys",
    "rotate",
    "--dir",
    directory,
    "--settle-ms",
    "1500",
    "-o",
    "json",
  ]);
  assert.equal(rotation.code, 0, rotation.stderr);
  // Writes keep being acknowledged after the rotation, over sessions under the new key.
  const ackedAfterRotation = acknowledged.length;
  await waitFor(async () => (acknowledged.length >= ackedAfterRotation + 3 ? true : undefined), patienceMs);
  writing = false;
  await writer;
  assert.ok(ackedAfterRotation > ackedBeforeRotation, "writes were acknowledged while the keys rotated");
  assert.match(rotation.stderr, /node-4: not reachable, skipped/);
  assert.ok(!`${rotation.stdout}${rotation.stderr}`.includes(oldKey), "the CLI never prints a key");

  // Every live node: new primary in both sets, the old key retired, persisted 0600.
  const sets = await Promise.all(live.map((node) => node.client.get("/v1/keys", KeysReply)));
  const newCluster = sets[0]!.cluster.primary;
  const newGossip = sets[0]!.gossip.primary;
  assert.notEqual(newCluster, oldId);
  assert.notEqual(newGossip, oldId);
  assert.notEqual(newCluster, newGossip, "the two sets get different keys");
  for (const keys of sets) {
    assert.deepEqual(keys.cluster, { primary: newCluster, accepted: [], retired: [oldId] });
    assert.deepEqual(keys.gossip, { primary: newGossip, accepted: [], retired: [oldId] });
  }
  for (const node of live) {
    const file = join(directory, node.name, "data", "keys", "cluster.keys");
    assert.equal((await stat(file)).mode & 0o777, 0o600, `${file} is 0600`);
    assert.match(await readFile(file, "utf8"), new RegExp(`^primary [0-9a-f]{64}\nretired ${oldId}\n$`));
  }

  phase("rotated");
  // No lost commits: every acknowledged write is committed on every live node.
  for (const node of live) {
    const complete = await waitFor(async () => {
      const state = await stateOf(node);
      if (state === undefined) return undefined;
      const names = new Set(Object.values(state.workloads).map((workload) => workload.name));
      return acknowledged.every((name) => names.has(name)) ? true : undefined;
    }, patienceMs);
    assert.ok(complete, `${node.name} holds every acknowledged write (${acknowledged.length})`);
  }
  // No lost gossip: not one packet or handshake between live nodes was refused for its key.
  const afterRotation = await Promise.all(live.map(keyRejections));
  assert.deepEqual(afterRotation, before, "no gossip packet or handshake refused across the rotation");
  for (const node of live) {
    const members = await meshOf(node);
    const alive = members?.filter((member) => member.status === "alive").map((member) => member.name);
    assert.deepEqual(
      alive?.sort(),
      ["node-1", "node-2", "node-3"],
      `${node.name} sees every live node alive`,
    );
  }

  // node-4 resumes with only the retired keys: its gossip packets are refused by the key's id
  // (counted, logged); its sessions were closed when the old key was retired, and no new one
  // opens: its handshakes under the old key are refused by name, and it refuses the live
  // nodes' handshakes under the new key (whichever side dials first).
  phase("checked");
  local.signal(n4.name, "SIGCONT");
  const refused = await waitFor(async () => {
    const texts = await Promise.all(live.map((node) => node.client.text("/metrics").catch(() => "")));
    const gossip = texts.reduce(
      (sum, text) => sum + metric(text, "revoada_gossip_packets_rejected_total", 'reason="retired-key"'),
      0,
    );
    const n4Text = await n4.client.text("/metrics").catch(() => "");
    const byN4 = metric(n4Text, "revoada_transport_refusals_total", 'reason="cluster-key"');
    const ofN4 = texts.reduce(
      (sum, text) => sum + metric(text, "revoada_transport_refusals_total", 'reason="retired-cluster-key"'),
      0,
    );
    return byN4 + ofN4 > 0 && gossip > 0 ? { byN4, ofN4, gossip } : undefined;
  }, patienceMs);
  if (refused === undefined) {
    const n4Log = await readFile(join(directory, n4.name, "node.log"), "utf8").catch(() => "(no log)");
    const n1Metrics = (await n1.client.text("/metrics").catch(() => ""))
      .split("\n")
      .filter((line) => /refusals|rejected/.test(line))
      .join("\n");
    assert.fail(
      `node-4 was not refused.\nnode-1 metrics:\n${n1Metrics}\nnode-4 log tail:\n${n4Log.slice(-3000)}`,
    );
  }
  const logs = (
    await Promise.all(live.map((node) => readFile(join(directory, node.name, "node.log"), "utf8")))
  ).join("");
  assert.match(logs, new RegExp(`gossip packet under a retired key refused.*"key_id":"${oldId}"`));
  const n4Log = await readFile(join(directory, n4.name, "node.log"), "utf8");
  if (refused.byN4 > 0) {
    assert.ok(
      n4Log.includes(
        `authentication failed: cluster-key (the peer's cluster key ${newCluster} is not held here`,
      ),
      "node-4 names the cluster key it lacks",
    );
  }
  if (refused.ofN4 > 0) {
    assert.ok(
      logs.includes(
        `authentication failed: retired-cluster-key (the peer's cluster key ${oldId} is retired here)`,
      ),
      "the live nodes name the retired cluster key node-4 proved itself with",
    );
  }
  t.diagnostic(`handshakes refused: ${refused.byN4} by node-4, ${refused.ofN4} of node-4`);
  for (const text of [logs, n4Log]) {
    assert.ok(!text.includes(oldKey), "no key in any log");
    for (const node of live) {
      const keyFile = await readFile(join(directory, node.name, "data", "keys", "gossip.keys"), "utf8");
      assert.ok(!text.includes(keyFile.split("\n")[0]!.split(" ")[1]!), "no new key in any log");
    }
  }
  for (const node of live) {
    const members = await meshOf(node);
    const member = members?.find((candidate) => candidate.id === n4Id);
    assert.notEqual(member?.status, "alive", `${node.name} does not let node-4 back in`);
  }
  const n4Status = await n4.client.get("/v1/keys", KeysReply);
  assert.deepEqual(
    n4Status.cluster,
    { primary: oldId, accepted: [], retired: [] },
    "node-4 holds only the old key",
  );
  // `keys status` shows where every node stands, by id only.
  const status = await runBuiltCli(["keys", "status", "--dir", directory, "-o", "json"]);
  assert.equal(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as { name: string; cluster: { primary: string } }[];
  assert.deepEqual(
    rows.map((row) => `${row.name} ${row.cluster.primary}`),
    ["node-1", "node-2", "node-3"].map((name) => `${name} ${newCluster}`).concat(`node-4 ${oldId}`),
  );
  assert.ok(!status.stdout.includes(oldKey), "status shows no key");
  phase("refused");
});
