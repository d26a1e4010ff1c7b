// Goal: a real 3-process Raft cluster on loopback elects a leader, replicates, survives
// kill -9 of the leader and of a follower (each restarted from its own disk), and loses no
// acknowledged entry. Method: raft-process.ts children driven over their JSON-lines
// control channel; a client keeps proposing through every fault and records each value the
// leader acknowledged; after recovery every node must hold every acknowledged value, and all
// nodes must hold the same sequence. Small snapshot interval and WAL segments, so restarts
// recover from snapshot + log and compaction runs throughout.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type ControlResponse, ProcessCluster, type RaftProcess } from "../src/raft/process-cluster.js";

const baseDirectory = mkdtempSync(join(tmpdir(), "revoada-raft-cluster-"));
const cluster = new ProcessCluster(baseDirectory, 3, [
  "--snapshot-interval",
  "40",
  "--segment-bytes",
  "8192",
  "--http",
  "127.0.0.1:0",
]);

after(async () => {
  await cluster.stop();
  rmSync(baseDirectory, { recursive: true, force: true });
});

const acknowledged = new Set<string>();
let proposalCount = 0;

/** Proposes one value, retrying only definite refusals (not the leader, overwritten). */
async function proposeOnce(value: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const leader = await cluster.waitForLeader(30_000).catch(() => null);
    if (leader === null) continue;
    const response = await leader.request("propose", { data: value }, 10_000).catch(() => null);
    if (response === null || response.reason === "killed") return; // outcome unknown: not acknowledged
    if (response.ok) {
      acknowledged.add(value);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Proposes `count` values, `concurrency` at a time. */
async function proposeMany(count: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      proposalCount += 1;
      await proposeOnce(`value-${proposalCount}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Keeps proposing until `stop()` is called (load during faults). */
function backgroundLoad(): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) await proposeMany(5, 5);
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * A ReadIndex read at the current leader. Retried only when refused (leadership can move on
 * a loaded machine between the writes and the read); a served read must see every write.
 */
async function readFromLeader(): Promise<ControlResponse> {
  let last: ControlResponse | null = null;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const leader = await cluster.waitForLeader();
    last = await leader.request("read", {}, 10_000).catch(() => null);
    if (last?.ok === true) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`no ReadIndex read served: ${JSON.stringify(last)}`);
}

async function appliedOn(node: RaftProcess): Promise<string[]> {
  const response = await node.request("applied", {}, 20_000);
  assert.ok(response.ok, "applied answered");
  return response.values as string[];
}

async function waitForConvergence(): Promise<string[][]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const all = await Promise.all(cluster.nodes.map(appliedOn));
    const complete = all.every((values) => [...acknowledged].every((value) => values.includes(value)));
    const same = all.every((values) => values.length === all[0]!.length);
    if (complete && same) return all;
    if (Date.now() > deadline) {
      assert.fail(
        `no convergence: lengths ${all.map((values) => values.length).join(",")}, acked ${acknowledged.size}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("3 processes survive kill -9 of the leader and of a follower without losing an acknowledged entry", async () => {
  await cluster.start();
  const firstLeader = await cluster.waitForLeader();
  await proposeMany(60, 8);
  assert.equal(acknowledged.size, 60, "all proposals acknowledged in a healthy cluster");
  const read = await readFromLeader();
  assert.ok((read.count as number) >= 60, "the read sees every acknowledged write");

  // kill -9 the leader while a client keeps proposing.
  let load = backgroundLoad();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await firstLeader.kill();
  const secondLeader = await cluster.waitForLeader(30_000, firstLeader);
  assert.notEqual(secondLeader, firstLeader, "a new leader took over");
  await proposeMany(20, 4);
  await load.stop();
  await cluster.restart(firstLeader);

  // kill -9 a follower while a client keeps proposing.
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node !== leader)!;
  load = backgroundLoad();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await follower.kill();
  await proposeMany(20, 4);
  await load.stop();
  await cluster.restart(follower);
  await proposeMany(20, 4);

  const all = await waitForConvergence();
  for (const values of all) {
    for (const value of acknowledged) assert.ok(values.includes(value), `acknowledged ${value} present`);
    assert.deepEqual(values, all[0], "every node applied the same sequence");
    assert.equal(new Set(values).size, values.length, "no value applied twice");
  }
  assert.ok(acknowledged.size >= 120, `enough acknowledged writes (${acknowledged.size})`);
  const restarted = await firstLeader.status();
  assert.ok((restarted?.snapshotIndex ?? 0) > 0, "the restarted node recovered through snapshots");

  // A graceful stop of the leader hands leadership over before the process exits.
  const stopping = await cluster.waitForLeader();
  const stopped = await stopping.request("stop", {}, 30_000);
  assert.ok(stopped.ok, "stop answered");
  await stopping.exited;
  const successor = await cluster.waitForLeader(30_000, stopping);
  assert.notEqual(successor, stopping, "leadership moved on");
  const before = acknowledged.size;
  await proposeMany(10, 2);
  assert.equal(acknowledged.size, before + 10, "the two remaining nodes keep committing");
});

test("the HTTP client API commits on the leader and refuses on a follower with the leader's id", async () => {
  const post = (node: RaftProcess, path: string, body: string) =>
    fetch(`http://127.0.0.1:${node.httpPort}${path}`, { method: "POST", body });
  // Leadership may move between finding the leader and asking it (a loaded machine): ask again.
  const value = `http-${Date.now()}`;
  let committed: { leader: RaftProcess; index: number } | null = null;
  for (let attempt = 0; attempt < 20 && committed === null; attempt += 1) {
    const leader = await cluster.waitForLeader();
    const response = await post(leader, "/v1/propose", value);
    const body = (await response.json()) as { index?: number; reason?: string };
    if (response.status === 503) continue;
    assert.equal(response.status, 200);
    committed = { leader, index: body.index ?? -1 };
  }
  assert.ok(committed !== null, "a leader accepted the proposal");
  assert.ok(Number.isInteger(committed.index) && committed.index > 0, "answered with the entry's index");
  const applied = await committed.leader.request("applied");
  assert.ok((applied.values as string[]).includes(value), "the body is the applied entry");

  let refusal: unknown = null;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader && node.running)!;
    const refused = await post(follower, "/v1/propose", "x");
    assert.equal(refused.status, 503);
    refusal = await refused.json();
    if ((refusal as { leader?: unknown }).leader === leader.nodeId) break;
  }
  const leader = await cluster.waitForLeader();
  assert.deepEqual(refusal, { reason: "notLeader", leader: leader.nodeId });
  assert.equal((await post(leader, "/v1/propose", "x".repeat(65_537))).status, 413);
  assert.equal((await post(leader, "/v1/other", "x")).status, 404);
});
