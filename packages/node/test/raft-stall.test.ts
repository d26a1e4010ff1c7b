// Goal: a follower whose event loop was held (a long synchronous task, a process starved of a
// core) reads the heartbeats that queued meanwhile before its election timer is judged, so it
// does not campaign while its buffers hold proof that the leader is alive. Method: three
// raft-process.ts children; one follower holds its event loop for several election timeouts
// (the `stall` control request) while the leader keeps sending heartbeats; afterwards that
// follower must not have become a pre-candidate or candidate, and the term and leader must be
// unchanged. Node runs due timers before it polls sockets, so a driver that judged the timer
// first would pre-campaign every time.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ProcessCluster } from "../src/raft/process-cluster.js";

const baseDirectory = mkdtempSync(join(tmpdir(), "revoada-raft-stall-"));
const cluster = new ProcessCluster(baseDirectory, 3, []);

after(async () => {
  await cluster.stop();
  rmSync(baseDirectory, { recursive: true, force: true });
});

test("a follower whose event loop was held reads the queued heartbeats before it judges its election timer", async () => {
  await cluster.start();
  const leader = await cluster.waitForLeader();
  const committed = await leader.request("propose", { data: "before-stall" });
  assert.ok(committed.ok, "the leader commits");
  const termBefore = (await leader.status())?.term;
  const follower = cluster.nodes.find((node) => node !== leader)!;
  for (let round = 0; round < 3; round += 1) {
    const rolesBefore = follower.roleEvents.length;
    // Several election timeouts; the leader's heartbeats pile up in the follower's socket.
    const stalled = await follower.request("stall", { ms: 1_200 }, 30_000);
    assert.ok(stalled.ok, "the stall request was answered");
    const settled = await follower.request("status");
    assert.ok(settled.ok, "the follower answers after its stall");
    const roles = follower.roleEvents.slice(rolesBefore);
    assert.deepEqual(roles, [], `round ${round}: the stalled follower changed role: ${roles.join(" -> ")}`);
    const status = await leader.status();
    assert.equal(status?.role, "leader", `round ${round}: the leader kept its post`);
    assert.equal(status?.term, termBefore, `round ${round}: no election happened`);
  }
});
