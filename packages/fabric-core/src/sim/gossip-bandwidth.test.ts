/**
 * Goal: what bounds gossip's bytes in a large mesh (docs/scale.md, "Gossip bandwidth"):
 * an anti-entropy mismatch exchanges the digests of the differing buckets only, and still
 * converges; a member learned from a peer's digest is not gossiped on again.
 * Method: GossipCluster at N = 80 (above the bucketed-digest threshold of 64 members), fixed
 * seed, 1-3 ms jitter; sync messages are read off the simulated network.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GossipCluster } from "./gossip-cluster.js";

const size = 80;

describe(`gossip bandwidth bounds at N = ${size}`, () => {
  const cluster = new GossipCluster({
    size,
    seed: 8080,
    faults: { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 3 },
  });
  const digests: { entries: number; buckets: number | null }[] = [];
  const send = cluster.network.send.bind(cluster.network);
  cluster.network.send = ((from, to, packet, now, bytes) => {
    const text = Buffer.from(packet.bytes).toString("utf8");
    if (text.startsWith('{"type":"syncDigest"')) {
      const message = JSON.parse(text) as { entries: unknown[]; buckets?: number[] };
      digests.push({ entries: message.entries.length, buckets: message.buckets?.length ?? null });
    }
    send(from, to, packet, now, bytes);
  }) as typeof cluster.network.send;

  it("a state change spread by anti-entropy alone exchanges the differing buckets' digests only", () => {
    cluster.start();
    assert.ok(cluster.runUntilTrue(() => cluster.converged(), 30_000));
    cluster.runFor(15_000);
    digests.length = 0;
    // Over a datagram: not piggybacked, so only anti-entropy can carry it.
    const owner = cluster.members[5]!;
    assert.ok(owner.core!.setState("big", "x".repeat(2_000), cluster.nowMs));
    const everyoneHasIt = () =>
      cluster.liveIndexes().every((index) => {
        const member = cluster.members[index]!.core!.membershipView(cluster.nowMs).members;
        return member.find((m) => m.id === owner.signer.nodeId)?.keys.big !== undefined;
      });
    assert.ok(cluster.runUntilTrue(everyoneHasIt, 60_000), "the change reached every node");
    assert.ok(digests.length > 0, "anti-entropy exchanged digests");
    for (const digest of digests) {
      assert.notEqual(digest.buckets, null, "a bucketed digest, not the whole view");
      assert.ok(digest.entries < size / 4, `a digest of ${digest.entries} entries`);
    }
  });

  it("a restarted node learns every member from a digest without queueing them for gossip", () => {
    cluster.runFor(5_000);
    const index = 40;
    cluster.crash(index);
    cluster.runFor(500);
    cluster.restart(index);
    const member = cluster.members[index]!;
    const learned = () => (member.core?.membershipView(cluster.nowMs).members.length ?? 0) >= size;
    assert.ok(cluster.runUntilTrue(learned, 30_000, 1), "it learned the whole view");
    // Its own alive claim and its own state at most: the others' claims are not queued again.
    assert.ok(member.core!.metrics().queuedUpdates <= 2, `${member.core!.metrics().queuedUpdates} queued`);
  });
});
