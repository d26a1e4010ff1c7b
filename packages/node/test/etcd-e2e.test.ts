// Goal: a shift really moves the control plane's etcd: the fabric runs a real etcd member on
// each etcd holder (Debian's etcd 3.4, installed by scripts/setup-system.sh), etcd's
// membership follows the committed etcd role through the executor's procedure (member add
// --learner, start, promote; member remove), and data written to etcd survives the loss of
// the Raft leader's whole host. Components whose program is absent are reported unavailable,
// never faked; SIGTERM stops what a node runs.
// Method: a 5-node mesh of real daemons with the process runtime and one etcd member per
// node on its own loopback ports; etcd's own view read with etcdctl; the leader's host
// (daemon and its etcd) killed with SIGKILL.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { FabricState, NodeState } from "@revoada/fabric-core/vocabulary";
import { type EtcdMember, etcdctlMembership } from "../src/actuate/etcd-membership.js";
import type { NodeStatusReply } from "../src/api/schemas.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { findLeader, type MeshNodeHandle, stateOf, statusOf, waitFor } from "../src/mesh/observe.js";
import { runCli } from "./cli-harness.js";

const run = promisify(execFile);
const patienceMs = 120_000;
let local: LocalMesh;
let directory = "";

function clientUrl(node: NodeState): string {
  assert.ok(node.addresses.etcd_client !== undefined, `${node.name} advertises its etcd client address`);
  return `http://${node.addresses.etcd_client}`;
}

function etcdHolders(state: FabricState): NodeState[] {
  return Object.values(state.nodes)
    .filter((node) => node.roles.includes("etcd"))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** etcd's own member list, asked of the holders' client URLs. */
async function etcdMembers(state: FabricState): Promise<readonly EtcdMember[] | undefined> {
  const endpoints = etcdHolders(state).map(clientUrl);
  return etcdctlMembership({ endpoints, timeoutMs: 3000 })
    .list()
    .catch(() => undefined);
}

/** Settled: etcd's voting members are exactly the etcd holders (by name), started, no learner. */
async function etcdFollowsRoles(members: readonly MeshNodeHandle[], excluded: readonly string[] = []) {
  return waitFor(
    async () => {
      const leader = await findLeader(members.filter((node) => !excluded.includes(node.name)));
      if (leader === undefined || leader.status.procedures.length > 0) return undefined;
      const state = await stateOf(leader.node);
      if (state === undefined) return undefined;
      const holders = etcdHolders(state);
      if (holders.length !== 3 || holders.some((node) => excluded.includes(node.name))) return undefined;
      const listed = await etcdMembers(state);
      if (listed === undefined || listed.some((member) => member.isLearner || member.name === ""))
        return undefined;
      const names = listed.map((member) => member.name).sort();
      return names.join(",") === holders.map((node) => node.name).join(",")
        ? { leader, state, listed }
        : undefined;
    },
    patienceMs,
    250,
  );
}

async function etcdctl(endpoints: readonly string[], ...args: string[]): Promise<string> {
  const { stdout } = await run(
    "etcdctl",
    [`--endpoints=${endpoints.join(",")}`, "--command-timeout=5s", ...args],
    {
      env: { ...process.env, ETCDCTL_API: "3" },
    },
  );
  return stdout;
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/**
 * Writes `/revoada/load/<n>` in a bounded loop through etcd's JSON gateway
 * (`/v3/kv/put`), round-robin over the endpoints, and records each acknowledged write's value.
 */
function writeThrough(endpoints: readonly string[]): { stop(): Promise<Map<string, string>> } {
  const acknowledged = new Map<string, string>();
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; n < 5_000 && !stopped; n += 1) {
      // One key per write: a write whose answer was lost may still have committed, so only
      // keys written once can be checked exactly.
      const key = `/revoada/load/${n}`;
      const value = `v${n}`;
      const endpoint = endpoints[n % endpoints.length]!;
      const answer = await fetch(`${endpoint}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({ key: base64(key), value: base64(value) }),
        signal: AbortSignal.timeout(2000),
      }).catch(() => undefined);
      if (answer?.ok === true && "header" in ((await answer.json().catch(() => ({}))) as object)) {
        acknowledged.set(key, value);
      } else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return acknowledged;
    },
  };
}

/** Every key under `prefix` and its value, read through the JSON gateway (`/v3/kv/range`). */
async function readPrefix(endpoints: readonly string[], prefix: string): Promise<Map<string, string>> {
  const end = `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
  for (const endpoint of endpoints) {
    const answer = await fetch(`${endpoint}/v3/kv/range`, {
      method: "POST",
      body: JSON.stringify({ key: base64(prefix), range_end: base64(end) }),
      signal: AbortSignal.timeout(3000),
    }).catch(() => undefined);
    if (answer?.ok !== true) continue;
    const body = (await answer.json()) as { kvs?: { key: string; value: string }[] };
    return new Map(
      (body.kvs ?? []).map((kv) => [
        Buffer.from(kv.key, "base64").toString("utf8"),
        Buffer.from(kv.value, "base64").toString("utf8"),
      ]),
    );
  }
  throw new Error("no etcd endpoint answered the read");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function etcdComponent(status: NodeStatusReply | undefined) {
  return status?.actuator?.components.find((component) => component.name === "etcd");
}

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-etcd-e2e-"));
  local = await LocalMesh.start({
    directory,
    nodes: 5,
    faceId: "kubernetes",
    actuator: { runtime: "process", etcd: true },
  });
});

after(async () => {
  await local?.stopAll(5_000);
  await rm(directory, { recursive: true, force: true });
});

describe("a real etcd follows the fabric's etcd role", () => {
  let healthy: NonNullable<Awaited<ReturnType<typeof etcdFollowsRoles>>>;

  test("a cold start grows the founder's one-member etcd to three voting members, the etcd holders", async () => {
    const formed = await etcdFollowsRoles(local.nodes);
    assert.ok(formed, "etcd's voting members became the three etcd holders");
    healthy = formed;
    for (const holder of etcdHolders(formed.state)) {
      const handle = local.nodes.find((node) => node.name === holder.name)!;
      const component = etcdComponent(await statusOf(handle));
      assert.equal(component?.state, "running", `${holder.name} runs its etcd member`);
      assert.ok((component?.pid ?? 0) > 0);
    }
    // What this machine lacks is said, not faked.
    const leaderStatus = await statusOf(formed.leader.node);
    const apiServer = leaderStatus?.actuator?.components.find(
      (component) => component.name === "kube-apiserver",
    );
    assert.equal(apiServer?.state, "unavailable");
    assert.match(apiServer?.detail ?? "", /kube-apiserver/);
  });

  test("kill -9 of the leader's host: etcd loses the member, gains the replacement, keeps its data", async () => {
    assert.ok(healthy, "formed");
    const endpoints = etcdHolders(healthy.state).map(clientUrl);
    await etcdctl(endpoints, "put", "/revoada/e2e", "survives");
    const victim = healthy.leader.node;
    const victimStatus = await statusOf(victim);
    const etcdPid = etcdComponent(victimStatus)?.pid ?? null;
    assert.ok(etcdPid !== null, "the leader runs an etcd member");
    // A client writes through the failover, to every member in turn, and keeps what etcd
    // acknowledged; the whole host then goes: the daemon and the etcd it runs.
    const writer = writeThrough(endpoints);
    process.kill(etcdPid, "SIGKILL");
    await local.kill(victim.name);
    const healed = await etcdFollowsRoles(local.nodes, [victim.name]);
    const acknowledged = await writer.stop();
    assert.ok(healed, "etcd's voting members are again the three etcd holders");
    assert.ok(!healed.listed.some((member) => member.name === victim.name), "the dead member was removed");
    assert.ok(
      !etcdHolders(healed.state).some((node) => node.name === victim.name),
      "the dead node no longer holds etcd",
    );
    const value = await etcdctl(
      etcdHolders(healed.state).map(clientUrl),
      "get",
      "/revoada/e2e",
      "--print-value-only",
    );
    assert.equal(value.trim(), "survives");
    assert.ok(
      acknowledged.size >= 10,
      `the client wrote through the failover (${acknowledged.size} acknowledged)`,
    );
    const stored = await readPrefix(etcdHolders(healed.state).map(clientUrl), "/revoada/load/");
    for (const [key, written] of acknowledged) {
      assert.equal(stored.get(key), written, `acknowledged ${key} reads back its value`);
    }
    const machine = healed.leader.status.procedures;
    assert.deepEqual(machine, [], "no procedure left open");
  });

  test("revoada etcd status shows the fabric's members beside etcd's, and the metrics count the calls", async () => {
    const shown = await runCli(["etcd", "status", "--dir", directory, "-o", "json"]);
    assert.equal(shown.code, 0, shown.stderr);
    const report = JSON.parse(shown.stdout) as {
      committed: { name: string; learner: boolean }[];
      etcd: { members: { name: string; isLearner: boolean }[]; health: { healthy: boolean }[] };
    };
    const fabric = report.committed.map((member) => `${member.name}:${member.learner}`).sort();
    const etcd = report.etcd.members.map((member) => `${member.name}:${member.isLearner}`).sort();
    assert.deepEqual(fabric, etcd, "etcd's members are the ones the fabric committed");
    assert.equal(etcd.length, 3);
    assert.ok(
      report.etcd.health.every((entry) => entry.healthy),
      "every member healthy",
    );
    const table = await runCli(["etcd", "status", "--dir", directory]);
    assert.match(table.stdout, /MEMBER\s+ID\s+ETCD\s+FABRIC\s+HEALTHY/);
    const leader = await findLeader(local.running());
    assert.ok(leader, "a leader");
    const metrics = await leader.node.client.text("/metrics");
    assert.match(metrics, /^revoada_etcd_members\{role="voter"\} 3$/m);
    assert.match(
      metrics,
      /^revoada_etcd_calls_total\{action="etcd-add-learner",outcome="committed"\} [1-9]/m,
    );
  });

  test("an operator's quarantine of an etcd holder removes its member: its etcd stops, its data moves aside", async () => {
    const before = await etcdFollowsRoles(local.running());
    assert.ok(before, "settled");
    const holder = etcdHolders(before.state).find((node) => node.name !== before.leader.node.name)!;
    const handle = local.nodes.find((node) => node.name === holder.name)!;
    const pid = etcdComponent(await statusOf(handle))?.pid ?? null;
    assert.ok(pid !== null, `${holder.name} runs an etcd member`);
    const shift = await runCli(["shift", "quarantine", holder.name, "--force", "--dir", directory]);
    assert.equal(shift.code, 0, shift.stderr);
    const after = await etcdFollowsRoles(local.running(), [holder.name]);
    assert.ok(after, "etcd's voting members are the three holders again, without the quarantined node");
    assert.ok(!after.listed.some((member) => member.name === holder.name), "its member was removed");
    const stopped = await waitFor(async () => (isAlive(pid) ? undefined : true), patienceMs, 100);
    assert.equal(stopped, true, "its etcd process was stopped");
    const dataParent = join(directory, holder.name, "data");
    const aside = (await readdir(dataParent)).filter((name) => name.startsWith("etcd.removed-"));
    assert.equal(
      aside.length,
      1,
      `its etcd data was moved aside (${(await readdir(dataParent)).join(", ")})`,
    );
  });

  test("SIGTERM stops the etcd members the nodes run", async () => {
    const pids: number[] = [];
    for (const node of local.running()) {
      const pid = etcdComponent(await statusOf(node))?.pid;
      if (pid !== undefined && pid !== null) pids.push(pid);
    }
    assert.ok(pids.length >= 3, "the etcd holders run members");
    await local.stopAll(10_000);
    const alive = pids.filter(isAlive);
    assert.deepEqual(alive, [], "no etcd member outlives its node's SIGTERM");
  });
});
