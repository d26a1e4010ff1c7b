/**
 * Goal: a member's versioned state is hard to fool: deltas round-trip, a record with a bad
 * signature (or moved to another member or generation) is refused as a whole, an old signed
 * record cannot be replayed over a newer one, a delta with a gap waits for anti-entropy,
 * tombstones are collected after their grace and a laggard then gets the whole state, and
 * the per-node limits hold.
 * Method: an owner MemberState signs with a real ed25519 key; a replica applies deltas.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { signerFromSeed, verifySignature } from "../vocabulary/signing.js";
import { MemberState } from "./state-store.js";
import { gossipLimits } from "./types.js";

const signer = signerFromSeed(new Uint8Array(32).fill(7));
const other = signerFromSeed(new Uint8Array(32).fill(8));
const verifier = { verify: verifySignature };
const sign = (message: Uint8Array) => signer.sign(message);

function owner(generation = 1): MemberState {
  return new MemberState(signer.nodeId, generation);
}

describe("member state", () => {
  it("round-trips deltas in version order and reports the changed keys", () => {
    const source = owner();
    source.write("node", '{"a":1}', sign, 0);
    source.write("content/x", "1", sign, 0);
    const replica = owner();
    const outcome = replica.apply(source.deltaSince(0, 10_000), verifier, 0);
    assert.deepEqual(outcome, { type: "applied", keys: ["node", "content/x"] });
    source.write("content/x", "2", sign, 0);
    const delta = source.deltaSince(replica.version, 10_000);
    assert.equal(delta.records.length, 1);
    assert.deepEqual(replica.apply(delta, verifier, 0), { type: "applied", keys: ["content/x"] });
    assert.deepEqual(replica.entries(), source.entries());
    assert.equal(replica.version, 3);
  });

  it("refuses a delta with one bad signature, changing nothing", () => {
    const source = owner();
    source.write("a", "1", sign, 0);
    source.write("b", "2", sign, 0);
    const delta = source.deltaSince(0, 10_000);
    const forged = { ...delta, records: [delta.records[0]!, { ...delta.records[1]!, value: "evil" }] };
    const replica = owner();
    assert.deepEqual(replica.apply(forged, verifier, 0), { type: "bad-signature" });
    assert.equal(replica.version, 0);
    assert.deepEqual(replica.entries(), {});
  });

  it("refuses a record signed by another node or for another generation", () => {
    const theirs = new MemberState(other.nodeId, 1);
    theirs.write("a", "1", (message) => other.sign(message), 0);
    const moved = { ...theirs.deltaSince(0, 10_000), id: signer.nodeId };
    assert.deepEqual(owner().apply(moved, verifier, 0), { type: "bad-signature" });
    const source = owner(1);
    source.write("a", "1", sign, 0);
    const nextGeneration = owner(2);
    assert.deepEqual(nextGeneration.apply({ ...source.deltaSince(0, 10_000), generation: 2 }, verifier, 0), {
      type: "bad-signature",
    });
  });

  it("ignores a replay of an old signed record over a newer one", () => {
    const source = owner();
    source.write("node", "old", sign, 0);
    const old = source.deltaSince(0, 10_000);
    source.write("node", "new", sign, 0);
    const replica = owner();
    replica.apply(source.deltaSince(0, 10_000), verifier, 0);
    assert.deepEqual(replica.apply(old, verifier, 0), { type: "stale" });
    // Relabelling the old record as newer breaks its signature.
    const relabelled = {
      ...old,
      fromVersion: 2,
      toVersion: 3,
      records: [{ ...old.records[0]!, version: 3 }],
    };
    assert.deepEqual(replica.apply(relabelled, verifier, 0), { type: "bad-signature" });
    assert.equal(replica.entries().node, "new");
  });

  it("waits on a gap instead of skipping versions", () => {
    const source = owner();
    source.write("a", "1", sign, 0);
    source.write("b", "2", sign, 0);
    source.write("c", "3", sign, 0);
    const replica = owner();
    assert.deepEqual(replica.apply(source.deltaSince(2, 10_000), verifier, 0), { type: "gap" });
    assert.equal(replica.version, 0);
  });

  it("refuses malformed deltas: versions out of range, duplicate keys", () => {
    const source = owner();
    source.write("a", "1", sign, 0);
    source.write("b", "2", sign, 0);
    const delta = source.deltaSince(0, 10_000);
    const reversed = { ...delta, records: [...delta.records].reverse() };
    assert.deepEqual(owner().apply(reversed, verifier, 0), { type: "malformed" });
    assert.deepEqual(owner().apply({ ...delta, toVersion: 5 }, verifier, 0), { type: "malformed" });
  });

  it("collects tombstones after the grace; a laggard then receives the whole state", () => {
    const source = owner();
    source.write("a", "1", sign, 0);
    const laggard = owner();
    laggard.apply(source.deltaSince(0, 10_000), verifier, 0);
    source.write("a", null, sign, 1_000);
    source.write("b", "2", sign, 1_000);
    assert.equal(source.collectTombstones(1_500, 1_000), 0, "inside the grace");
    assert.equal(source.collectTombstones(2_000, 1_000), 1);
    const delta = source.deltaSince(laggard.version, 10_000);
    assert.equal(delta.fromVersion, 0, "below the collected tombstone: the whole state");
    assert.equal(laggard.apply(delta, verifier, 2_000).type, "applied");
    assert.deepEqual(laggard.entries(), { b: "2" });
  });

  it("never collects the newest record, which carries the version", () => {
    const source = owner();
    source.write("a", "1", sign, 0);
    source.write("a", null, sign, 0);
    assert.equal(source.collectTombstones(1e9, 1), 0);
    assert.equal(source.version, 2);
  });

  it("refuses writes over the per-node limits", () => {
    const source = owner();
    const value = "x".repeat(gossipLimits.valueBytesMax);
    let accepted = 0;
    for (let i = 0; i < 100; i += 1) if (source.write(`k${i}`, value, sign, 0) !== null) accepted += 1;
    assert.ok(accepted * gossipLimits.valueBytesMax <= gossipLimits.stateBytesPerNodeMax);
    assert.ok(accepted < 100);
  });

  it("parses the node key as a NodeState only when it is valid and its own", () => {
    const source = owner();
    const state = {
      id: signer.nodeId,
      name: "n1",
      addresses: {},
      roles: ["worker"],
      capacity: { cpu_millis: 1, memory_bytes: 1, storage_bytes: 1, pods: 1 },
      zone: "",
      rack: "",
      labels: {},
      version: "0",
      generation: 1,
    };
    source.write("node", JSON.stringify(state), sign, 0);
    assert.equal(source.nodeState?.name, "n1");
    source.write("node", JSON.stringify({ ...state, id: other.nodeId }), sign, 0);
    assert.equal(source.nodeState, null);
    source.write("node", "{not json", sign, 0);
    assert.equal(source.nodeState, null);
  });
});
