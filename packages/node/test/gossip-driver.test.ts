/**
 * Goal: the gossip driver's authentication holds on real sockets: the keyring encrypts and
 * opens, rotates, refuses a retired key by its id (a ring whose second key is the peer's first still talks to it), and
 * refuses short, unknown-key and bad-MAC packets; a packet sealed with the right key but
 * carrying a forged state record, or an old signed record replayed over a newer one, is
 * counted and changes nothing; oversized datagrams are counted and dropped.
 * Method: two GossipDrivers in this process on 127.0.0.1, plus a plain UDP socket that sends
 * crafted packets sealed with the cluster key.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { after, describe, it } from "node:test";
import { GossipMessage, MemberState } from "@revoada/fabric-core/gossip";
import { homelabStrategy, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { waitFor } from "../scripts/gossip-agents.js";
import { GossipDriver, parseHostPort } from "../src/gossip/gossip-driver.js";
import { envelopeBytes, Keyring } from "../src/gossip/keyring.js";

describe("gossip keyring", () => {
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

  it("seals and opens, with the sender's first key", () => {
    const ring = Keyring.create([oldKey]);
    const sealed = ring.seal(Buffer.from("hello"));
    assert.equal(sealed.length, 5 + envelopeBytes);
    const opened = ring.open(sealed);
    assert.ok(opened.ok && Buffer.from(opened.payload).toString() === "hello");
    assert.equal(opened.keyId, ring.keys.primary.id);
  });

  it("accepts every key of the ring while rotating", () => {
    const rotating = Keyring.create([newKey, oldKey]);
    const legacy = Keyring.create([oldKey]);
    assert.ok(rotating.open(legacy.seal(Buffer.from("x"))).ok, "old senders still heard");
    assert.equal(
      legacy.open(rotating.seal(Buffer.from("x"))).ok,
      false,
      "the new key is not yet known there",
    );
  });

  it("refuses short, foreign, unknown-key and tampered packets", () => {
    const ring = Keyring.create([oldKey]);
    assert.deepEqual(ring.open(Buffer.alloc(10)), { ok: false, reason: "short" });
    assert.deepEqual(ring.open(Buffer.alloc(64)), { ok: false, reason: "bad-magic" });
    assert.deepEqual(ring.open(Keyring.create([newKey]).seal(Buffer.from("x"))), {
      ok: false,
      reason: "unknown-key",
    });
    const tampered = ring.seal(Buffer.from("payload"));
    tampered[tampered.length - 1]! ^= 1;
    assert.deepEqual(ring.open(tampered), { ok: false, reason: "bad-mac" });
  });

  it("encrypts: the payload is not in the packet, and the same payload seals differently each time", () => {
    const ring = Keyring.create([oldKey]);
    const payload = Buffer.from(JSON.stringify({ type: "ping", from: "cleartext-member-name" }));
    const first = ring.seal(payload);
    assert.equal(first.includes(Buffer.from("cleartext-member-name")), false);
    assert.equal(first.equals(ring.seal(payload)), false, "fresh nonce per packet");
    assert.equal(first.subarray(4, 8).toString("hex"), ring.keys.primary.id, "the key id is in the envelope");
  });

  it("refuses a packet under a retired key, naming the key id", () => {
    const ring = Keyring.create([oldKey]);
    const newId = Keyring.create([newKey]).keys.primary.id;
    const oldId = ring.keys.primary.id;
    assert.ok(ring.keys.install(newKey).ok);
    assert.ok(ring.keys.promote(newId).ok);
    assert.ok(
      ring.open(Keyring.create([oldKey]).seal(Buffer.from("x"))).ok,
      "still accepted before retiring",
    );
    assert.ok(ring.keys.retire(oldId).ok);
    assert.deepEqual(ring.open(Keyring.create([oldKey]).seal(Buffer.from("x"))), {
      ok: false,
      reason: "retired-key",
      keyId: oldId,
    });
    assert.deepEqual(ring.keys.summary(), { primary: newId, accepted: [], retired: [oldId] });
    assert.equal(ring.keys.install(oldKey).ok, false, "a retired key cannot come back");
  });

  it("parses hex keys and refuses bad ones", () => {
    const parsed = Keyring.parse(`${oldKey.toString("hex")},${newKey.toString("hex")}`);
    // Both keys are in the ring: packets sealed with either open.
    for (const key of [oldKey, newKey]) {
      const opened = parsed.open(Keyring.create([key]).seal(Buffer.from("hello")));
      assert.ok(opened.ok, "a packet sealed with a parsed key opens");
      assert.equal(Buffer.from(opened.payload).toString(), "hello");
    }
    assert.throws(() => Keyring.parse("abcd"));
    assert.throws(() => Keyring.parse(""));
  });
});

describe("gossip driver on loopback", { timeout: 60_000 }, () => {
  const keyring = Keyring.create([randomBytes(32)]);
  const signers = [signerFromSeed(randomBytes(32)), signerFromSeed(randomBytes(32))];
  const drivers: GossipDriver[] = [];

  after(async () => {
    await Promise.all(drivers.map((driver) => driver.close()));
  });

  it("refuses a forged record and a replayed old record, sealed with the right key", async () => {
    const start = (index: number, seeds: string[]) =>
      GossipDriver.start({
        signer: signers[index]!,
        host: "127.0.0.1",
        port: 0,
        keyring,
        seeds,
        membership: homelabStrategy.membership,
        generation: 7,
      });
    drivers.push(await start(0, []));
    drivers.push(await start(1, [drivers[0]!.address]));
    const [victim, owner] = [drivers[0]!, drivers[1]!];
    owner.setState("content/manifest", "old");
    owner.setState("content/manifest", "new");
    const ownerId = signers[1]!.nodeId;
    const seesNew = () =>
      Promise.resolve(
        victim.membershipView().members.find((m) => m.id === ownerId)?.keys["content/manifest"] === "new",
      );
    assert.ok(await waitFor(seesNew, 10_000), "the victim never learned the owner's state");

    // An old record, genuinely signed by the owner, at a version the victim has passed.
    const archive = new MemberState(ownerId, 7);
    archive.write("content/manifest", "old", (message) => signers[1]!.sign(message), 0);
    const replay = archive.deltaSince(0, 10_000);
    const forged = {
      ...replay,
      fromVersion: 0,
      toVersion: 99,
      records: [{ ...replay.records[0]!, version: 99 }],
    };
    const socket = createSocket("udp4");
    const target = parseHostPort(victim.address)!;
    for (const delta of [replay, forged]) {
      const message = GossipMessage.parse({
        type: "push",
        from: ownerId,
        address: owner.address,
        updates: [{ kind: "state", delta }],
      });
      const sealed = keyring.seal(Buffer.from(JSON.stringify(message)));
      await new Promise((resolve) => socket.send(sealed, target.port, target.host, resolve));
    }
    await new Promise((resolve) =>
      socket.send(keyring.seal(randomBytes(2_000)), target.port, target.host, resolve),
    );
    socket.close();

    const counted = () => {
      const { core, driver } = victim.metrics();
      return Promise.resolve(
        core.dropped["bad-signature"] >= 1 && core.dropped["stale-state"] >= 1 && driver.oversized >= 1,
      );
    };
    assert.ok(await waitFor(counted, 5_000), JSON.stringify(victim.metrics()));
    assert.equal(await seesNew(), true, "the newer state survived");
  });
});
