// Goal: a node restored from an older copy of its data directory (issue 18: an operator
// restores a backup or a VM snapshot) catches up with what the cluster committed after the
// copy, says that it was restored, and votes again once caught up. Method: three real
// raft-process.ts children on loopback; one follower is stopped cleanly and its data
// directory copied; it runs again while the cluster commits more (it acknowledges those
// writes), is stopped, gets the old copy back and restarts. Its applied values must then
// hold every acknowledged write (before, during and after its absence), its control
// channel must report the rollback events and its status the new generation.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ProcessCluster, type RaftProcess } from "../src/raft/process-cluster.js";

const baseDirectory = mkdtempSync(join(tmpdir(), "revoada-raft-rollback-"));
const cluster = new ProcessCluster(baseDirectory, 3);

after(async () => {
  await cluster.stop();
  rmSync(baseDirectory, { recursive: true, force: true });
});

async function proposeAll(values: readonly string[]): Promise<void> {
  for (const value of values) {
    let done = false;
    for (let attempt = 0; attempt < 50 && !done; attempt += 1) {
      const leader = await cluster.waitForLeader();
      const response = await leader.request("propose", { data: value }).catch(() => null);
      done = response?.ok === true;
      if (!done) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(done, `the cluster acknowledged ${value}`);
  }
}

async function appliedValues(node: RaftProcess): Promise<string[]> {
  const response = await node.request("applied");
  assert.ok(response.ok);
  return response.values as string[];
}

/** Polls until `node` applied every value of `expected`; returns what it applied. */
async function waitForValues(
  node: RaftProcess,
  expected: readonly string[],
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  let values: string[] = [];
  while (performance.now() < deadline) {
    values = await appliedValues(node);
    if (expected.every((value) => values.includes(value))) return values;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`node applied ${JSON.stringify(values)}, missing some of ${JSON.stringify(expected)}`);
}

test("a follower restarted from an older copy of its data directory catches up and reports it", async () => {
  await cluster.start();
  const leader = await cluster.waitForLeader();
  const before = ["before-1", "before-2", "before-3"];
  await proposeAll(before);
  const follower = cluster.nodes.find((node) => node !== leader)!;
  await waitForValues(follower, before);

  // The operator's backup: taken while the node is stopped.
  await follower.stop();
  const backupDirectory = join(baseDirectory, "backup");
  cpSync(follower.dataDirectory, backupDirectory, { recursive: true });
  await cluster.restart(follower);
  const during = ["during-1", "during-2", "during-3", "during-4"];
  await proposeAll(during);
  await waitForValues(follower, [...before, ...during]);
  const generationBefore = (await follower.status())!.generation;

  // Stopped again, the old copy put back, started.
  await follower.stop();
  rmSync(follower.dataDirectory, { recursive: true, force: true });
  cpSync(backupDirectory, follower.dataDirectory, { recursive: true });
  await cluster.restart(follower);
  const afterRestore = ["after-1", "after-2"];
  await proposeAll(afterRestore);

  const values = await waitForValues(follower, [...before, ...during, ...afterRestore]);
  assert.deepEqual(values, [...before, ...during, ...afterRestore], "the same sequence as the cluster");
  for (const node of cluster.nodes) {
    assert.deepEqual(await waitForValues(node, values), values, "every node holds the same sequence");
  }
  const detected = follower.rollbackEvents.find((event) => event.type === "rollback-detected");
  assert.ok(detected !== undefined, "the restored node reported that its data directory went back");
  const status = (await follower.status())!;
  assert.ok(status.generation > generationBefore, "its generation moved past the one its peers saw");
  const deadline = performance.now() + 30_000;
  while (follower.rollbackEvents.every((event) => event.type !== "rollback-recovered")) {
    assert.ok(performance.now() < deadline, "the restored node caught up and votes again");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal((await follower.status())!.rollback, null);
  assert.match(follower.stderr, /data directory went backwards/, "and logged it");
});
