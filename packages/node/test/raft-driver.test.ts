// Goal: the Raft driver, in one process, elects, commits proposals (futures resolve with
// their index once applied), serves ReadIndex reads, hands leadership over on stop, and
// recovers a restarted node's state machine from its snapshot and log. Method: three
// RaftDriver instances on loopback with real disk in a temp directory, a counter applier.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { defaultRaftConfig, type Entry } from "@revoada/fabric-core/raft";
import { type NodeId, type Signer, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { RaftUnavailableError } from "../src/errors.js";
import { type RaftApplier, RaftDriver } from "../src/raft/index.js";
import type { PeerAddress } from "../src/transport/index.js";

const baseDirectory = mkdtempSync(join(tmpdir(), "revoada-raft-driver-"));
const clusterKey = randomBytes(32);
const signers: Signer[] = [0, 1, 2].map(() => signerFromSeed(randomBytes(32)));
const voters = signers.map((signer) => signer.nodeId);
const addresses = new Map<NodeId, PeerAddress>();
const drivers = new Map<NodeId, RaftDriver<number>>();
const appliers = new Map<NodeId, SumApplier>();

after(async () => {
  for (const driver of drivers.values()) await driver.stop({ transfer: false });
  rmSync(baseDirectory, { recursive: true, force: true });
});

/** Sums the numbers proposed; the result of each apply is the running total. */
class SumApplier implements RaftApplier<number> {
  total = 0;
  count = 0;
  apply(entry: Entry): number {
    if (entry.kind === "normal") {
      this.total += Number(Buffer.from(entry.data).toString());
      this.count += 1;
    }
    return this.total;
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify({ total: this.total, count: this.count }));
  }
  restore(data: Uint8Array): void {
    const state = JSON.parse(Buffer.from(data).toString()) as { total: number; count: number };
    this.total = state.total;
    this.count = state.count;
  }
}

async function startDriver(signer: Signer, port: number): Promise<RaftDriver<number>> {
  const applier = new SumApplier();
  const peers = new Map<NodeId, PeerAddress>();
  for (const [peer, address] of addresses) if (peer !== signer.nodeId) peers.set(peer, address);
  const driver = await RaftDriver.start({
    config: { ...defaultRaftConfig(signer.nodeId, 150), snapshotIntervalEntries: 25 },
    signer,
    clusterKey,
    dataDirectory: join(baseDirectory, signer.nodeId.slice(0, 8)),
    listen: { host: "127.0.0.1", port },
    peers,
    initialVoters: voters,
    applier,
    segmentBytesMax: 8192,
  });
  drivers.set(signer.nodeId, driver);
  appliers.set(signer.nodeId, applier);
  return driver;
}

async function waitFor<T>(what: string, probe: () => T | null, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function leader(): RaftDriver<number> | null {
  for (const driver of drivers.values()) if (driver.status().role === "leader") return driver;
  return null;
}

test("three drivers elect, commit, read, transfer on stop, and recover from snapshot + log", async () => {
  // Listen first on port 0 to learn the addresses, then connect everyone.
  for (const signer of signers) {
    const driver = await startDriver(signer, 0);
    addresses.set(signer.nodeId, driver.address);
  }
  for (const driver of drivers.values()) {
    for (const [peer, address] of addresses) if (peer !== driver.nodeId) driver.setPeer(peer, address);
  }
  const first = await waitFor("a leader", leader);
  const follower = [...drivers.values()].find((driver) => driver !== first)!;
  await assert.rejects(follower.propose(Buffer.from("1")), (error: unknown) => {
    assert.ok(error instanceof RaftUnavailableError, "a typed refusal");
    assert.equal(error.reason, "notLeader");
    return true;
  });

  const results = await Promise.all(
    Array.from({ length: 60 }, (_, n) => first.propose(Buffer.from(String(n + 1)))),
  );
  const indexes = results.map((result) => result.index);
  assert.deepEqual(
    indexes,
    [...indexes].sort((a, b) => a - b),
    "indexes follow proposal order",
  );
  assert.equal(new Set(indexes).size, 60, "one index per proposal");
  const readIndex = await first.readIndex();
  assert.ok(readIndex >= indexes.at(-1)!, "the read index covers every acknowledged write");
  assert.equal(appliers.get(first.nodeId)!.total, (60 * 61) / 2, "the leader applied every proposal");

  // A graceful stop hands leadership over before the node goes.
  await first.stop({ transfer: true });
  drivers.delete(first.nodeId);
  const second = await waitFor("a new leader", leader);
  assert.notEqual(second.nodeId, first.nodeId, "leadership moved");
  await Promise.all(Array.from({ length: 40 }, () => second.propose(Buffer.from("1"))));

  // Restart the stopped node on its old port: its state comes back from snapshot + log.
  const signer = signers.find((each) => each.nodeId === first.nodeId)!;
  await startDriver(signer, addresses.get(first.nodeId)!.port);
  const expected = (60 * 61) / 2 + 40;
  await waitFor("the restarted node catches up", () =>
    appliers.get(first.nodeId)!.total === expected ? true : null,
  );
  for (const [node, applier] of appliers) {
    if (!drivers.has(node)) continue;
    await waitFor(`node ${node.slice(0, 8)} applies everything`, () =>
      applier.total === expected ? true : null,
    );
    assert.equal(applier.count, 100, "every proposal applied exactly once");
  }
  assert.ok(drivers.get(first.nodeId)!.status().snapshotIndex > 0, "compaction ran");
});
