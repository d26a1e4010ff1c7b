/**
 * Goal: one GossipNode's contract, driven by hand: it validates its config, joins through a
 * seed, probes and converges, refutes a suspicion about itself, refuses forged or replayed
 * state and bad bytes (counting them), does not accuse anyone after its own stall, detects a
 * silent member, and leaves gracefully.
 * Method: a tiny in-memory mesh (1 ms delivery, ticks every 5 ms) over real encodings and
 * real ed25519 keys; attacks are crafted messages fed to `step` / `receive`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "../sim/random.js";
import { type Signer, signerFromSeed } from "../vocabulary/signing.js";
import { homelabStrategy } from "../vocabulary/strategy.js";
import { GossipNode } from "./gossip-node.js";
import { MemberState } from "./state-store.js";
import { defaultGossipConfig, type GossipEvent, type GossipMessage } from "./types.js";

interface Peer {
  readonly signer: Signer;
  readonly address: string;
  readonly node: GossipNode;
  readonly events: GossipEvent[];
  silent: boolean;
}

class Mesh {
  nowMs = 0;
  readonly peers = new Map<string, Peer>();
  private inFlight: { to: string; bytes: Uint8Array; at: number }[] = [];

  add(index: number, generation = 1): Peer {
    const signer = signerFromSeed(new Uint8Array(32).fill(index + 1));
    const address = `peer-${index}`;
    const config = defaultGossipConfig(
      { id: signer.nodeId, address, generation },
      homelabStrategy.membership,
    );
    const created = GossipNode.create(config, signer, new SeededRandom(index), this.nowMs);
    assert.ok(created.ok);
    const peer: Peer = { signer, address, node: created.value, events: [], silent: false };
    this.peers.set(address, peer);
    return peer;
  }

  run(durationMs: number): void {
    const end = this.nowMs + durationMs;
    for (; this.nowMs <= end; this.nowMs += 1) {
      const due = this.inFlight.filter((packet) => packet.at <= this.nowMs);
      this.inFlight = this.inFlight.filter((packet) => packet.at > this.nowMs);
      for (const packet of due) {
        const peer = this.peers.get(packet.to);
        if (peer !== undefined && !peer.silent) peer.node.receive(packet.bytes, this.nowMs);
      }
      for (const peer of this.peers.values()) {
        if (peer.silent) continue;
        if (this.nowMs % 5 === 0) peer.node.tick(this.nowMs);
        this.flush(peer);
      }
    }
    this.nowMs = end;
  }

  flush(peer: Peer): void {
    while (peer.node.hasReady()) {
      const ready = peer.node.ready();
      for (const packet of ready.packets)
        this.inFlight.push({ to: packet.to, bytes: packet.bytes, at: this.nowMs + 1 });
      peer.events.push(...ready.events);
      peer.node.advance(ready);
    }
  }
}

function statusOf(observer: Peer, target: Peer): string | undefined {
  return observer.node.statuses().get(target.signer.nodeId);
}

function cluster(size: number): { mesh: Mesh; peers: Peer[] } {
  const mesh = new Mesh();
  const peers = Array.from({ length: size }, (_, index) => mesh.add(index));
  for (const peer of peers) {
    peer.node.setState("content/blob", `from ${peer.address}`, 0);
    peer.node.join([peers[0]!.address], 0);
  }
  mesh.run(3_000);
  return { mesh, peers };
}

describe("GossipNode", () => {
  it("refuses a config that is invalid or not its signer's", () => {
    const signer = signerFromSeed(new Uint8Array(32).fill(1));
    const stranger = signerFromSeed(new Uint8Array(32).fill(2));
    const config = defaultGossipConfig(
      { id: signer.nodeId, address: "a:1", generation: 1 },
      homelabStrategy.membership,
    );
    assert.equal(GossipNode.create(config, stranger, new SeededRandom(1), 0).ok, false);
    assert.equal(
      GossipNode.create({ ...config, probeTimeoutMs: config.probeIntervalMs }, signer, new SeededRandom(1), 0)
        .ok,
      false,
    );
    assert.equal(GossipNode.create(config, signer, new SeededRandom(1), 0).ok, true);
  });

  it("takes its cadence and thresholds from the strategy", () => {
    const config = defaultGossipConfig(
      { id: "a".repeat(64), address: "a:1", generation: 1 },
      homelabStrategy.membership,
    );
    assert.equal(config.gossipIntervalMs, homelabStrategy.membership.gossip_cadence_ms);
    assert.equal(config.phiThreshold, homelabStrategy.membership.phi_threshold);
    assert.equal(config.failureDetectorTimeoutMs, homelabStrategy.membership.failure_detector_timeout_ms);
  });

  it("joins through a seed, converges, and shows state and phi in its view", () => {
    const { mesh, peers } = cluster(4);
    for (const observer of peers) {
      const view = observer.node.membershipView(mesh.nowMs);
      assert.equal(view.members.length, 4);
      for (const member of view.members) {
        assert.equal(member.status, "alive");
        const owner = peers.find((peer) => peer.signer.nodeId === member.id)!;
        assert.equal(member.keys["content/blob"], `from ${owner.address}`);
        if (member.id !== observer.signer.nodeId) {
          assert.ok(member.phi !== null && member.phi < 8, "every other member is monitored at N = 4");
        }
      }
    }
  });

  it("refutes a suspicion about itself with a higher incarnation", () => {
    const { mesh, peers } = cluster(3);
    const [accused, accuser] = [peers[1]!, peers[2]!];
    const claim: GossipMessage = {
      type: "push",
      from: accuser.signer.nodeId,
      address: accuser.address,
      updates: [
        {
          kind: "suspect",
          id: accused.signer.nodeId,
          generation: 1,
          incarnation: 0,
          accuser: accuser.signer.nodeId,
        },
      ],
    };
    accused.node.step(claim, mesh.nowMs);
    mesh.flush(accused);
    assert.ok(accused.events.some((event) => event.type === "refuted" && event.incarnation === 1));
    mesh.run(1_000);
    for (const observer of peers) {
      const view = observer.node
        .membershipView(mesh.nowMs)
        .members.find((m) => m.id === accused.signer.nodeId)!;
      assert.equal(view.status, "alive");
      assert.equal(view.incarnation, 1);
    }
  });

  it("counts and drops malformed bytes, its own packets, forged and replayed state", () => {
    const { mesh, peers } = cluster(2);
    const [victim, owner] = [peers[0]!, peers[1]!];
    victim.node.receive(new TextEncoder().encode("{garbage"), mesh.nowMs);
    victim.node.receive(new Uint8Array(10_000_000), mesh.nowMs);
    victim.node.step(
      { type: "push", from: victim.signer.nodeId, address: victim.address, updates: [] },
      mesh.nowMs,
    );
    // The owner's old record, captured, then superseded.
    const copy = new MemberState(owner.signer.nodeId, 1);
    copy.write("content/blob", "old", (message) => owner.signer.sign(message), 0);
    const old = copy.deltaSince(0, 10_000);
    owner.node.setState("content/blob", "new", mesh.nowMs);
    mesh.run(500);
    const push = (delta: typeof old): GossipMessage => ({
      type: "push",
      from: owner.signer.nodeId,
      address: owner.address,
      updates: [{ kind: "state", delta }],
    });
    victim.node.step(push(old), mesh.nowMs);
    const forgedRecord = { ...old.records[0]!, version: 99, value: "evil" };
    victim.node.step(push({ ...old, fromVersion: 2, toVersion: 99, records: [forgedRecord] }), mesh.nowMs);
    const metrics = victim.node.metrics();
    assert.equal(metrics.dropped.malformed, 1);
    assert.equal(metrics.dropped.oversized, 1);
    assert.equal(metrics.dropped["from-self"], 1);
    assert.ok(metrics.dropped["stale-state"] >= 1);
    assert.equal(metrics.dropped["bad-signature"], 1);
    const seen = victim.node.membershipView(mesh.nowMs).members.find((m) => m.id === owner.signer.nodeId)!;
    assert.equal(seen.keys["content/blob"], "new");
  });

  it("after its own stall it raises its local health and accuses nobody", () => {
    const { mesh, peers } = cluster(4);
    const sleeper = peers[0]!;
    sleeper.silent = true;
    mesh.run(2_000);
    sleeper.silent = false;
    sleeper.events.length = 0;
    mesh.run(3_000);
    assert.ok(sleeper.events.some((event) => event.type === "paused"));
    assert.ok(sleeper.events.some((event) => event.type === "local-health" && event.score > 0));
    const accusations = sleeper.events.filter(
      (event) => event.type === "member-status" && (event.status === "suspect" || event.status === "dead"),
    );
    assert.deepEqual(accusations, []);
    for (const peer of peers.slice(1)) assert.equal(statusOf(sleeper, peer), "alive");
  });

  it("declares a silent member dead, then forgets it after the grace", () => {
    const { mesh, peers } = cluster(4);
    const victim = peers[3]!;
    victim.silent = true;
    mesh.run(10_000);
    for (const observer of peers.slice(0, 3)) assert.equal(statusOf(observer, victim), "dead");
    mesh.run(61_000);
    for (const observer of peers.slice(0, 3)) assert.equal(statusOf(observer, victim), undefined);
  });

  it("a restarted member (next generation) replaces its old self", () => {
    const { mesh, peers } = cluster(3);
    const old = peers[2]!;
    old.silent = true;
    mesh.peers.delete(old.address);
    const reborn = mesh.add(2, 2);
    reborn.node.join([peers[0]!.address], mesh.nowMs);
    mesh.run(3_000);
    for (const observer of [peers[0]!, peers[1]!]) {
      const view = observer.node
        .membershipView(mesh.nowMs)
        .members.find((m) => m.id === reborn.signer.nodeId)!;
      assert.equal(view.status, "alive");
      assert.equal(view.generation, 2);
    }
  });

  it("leaves gracefully: the others see it left, not dead", () => {
    const { mesh, peers } = cluster(3);
    peers[2]!.node.leave(mesh.nowMs);
    mesh.run(1_000);
    for (const observer of peers.slice(0, 2)) assert.equal(statusOf(observer, peers[2]!), "left");
  });
});

describe("GossipNode large values", () => {
  it("spreads a value too big for a datagram by anti-entropy", () => {
    const { mesh, peers } = cluster(3);
    const big = "x".repeat(3_000);
    assert.ok(peers[0]!.node.setState("content/big", big, mesh.nowMs));
    mesh.run(5_000);
    for (const observer of peers.slice(1)) {
      const seen = observer.node
        .membershipView(mesh.nowMs)
        .members.find((m) => m.id === peers[0]!.signer.nodeId)!;
      assert.equal(seen.keys["content/big"], big);
    }
  });
});
