// Goal: a relay follower applies only what a voter's commit stamp vouches for: the good path is
// accepted (from a fresh node and from a verified one), and a tampered entry, a tampered
// snapshot or configuration, a stamp by a key that is not a voter, a forged signature, and a
// replayed (older) stamp are refused with their reason, leaving the follower's verified state
// where it was. Method: committed logs built by hand (test-log.ts; signer 0 founds and is the
// only voter), stamped by signer 0 as a voter's relay does, checked by a fresh StampVerifier.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { MemberView } from "../gossip/index.js";
import { type Entry, emptyConfState } from "../raft/index.js";
import { loadBlake3 } from "../vocabulary/index.js";
import {
  type CommitStamp,
  commitStampMessage,
  StampVerifier,
  signCommitStamp,
  stampSigners,
} from "./commit-stamp.js";
import { foundedLog, nodeState, type TestLog, testSigners } from "./test-log.js";

before(async () => {
  await loadBlake3();
});

const voter = testSigners[0]!;
const options = { origin: "revoada.test/machine", requireOperatorSignature: false };

function etcdMember(index: number): Pick<MemberView, "id" | "status" | "state"> {
  const signer = testSigners[index]!;
  return { id: signer.nodeId, status: "alive", state: nodeState(signer, ["etcd"]) };
}

/** A fresh follower's signers: gossip shows signer 0 holding etcd. */
const freshTrust = () => stampSigners(emptyConfState(), [etcdMember(0)]);

/** The log up to now, its entries after `from`, and signer 0's stamp of it. */
function stamped(log: TestLog, from = 0): { entries: Entry[]; stamp: CommitStamp } {
  return { entries: log.entries.slice(from), stamp: signCommitStamp(log.machine, voter) };
}

function tamper(entry: Entry): Entry {
  const data = new Uint8Array(entry.data);
  const middle = Math.floor(data.length / 2);
  data[middle] = data[middle]! ^ 0x20;
  return { ...entry, data };
}

describe("commit stamps (docs/scale.md)", () => {
  it("accepts the stamped entries, from a fresh node and then from its verified state", () => {
    const log = foundedLog();
    const verifier = new StampVerifier(options);
    const first = stamped(log);
    assert.deepEqual(verifier.checkEntries(first.entries, first.stamp, freshTrust()), { ok: true });
    assert.equal(verifier.appliedIndex(), log.entries.length);
    assert.equal(verifier.stamp(), first.stamp);
    // Later: the signers are the voters of the follower's own (verified) configuration.
    log.propose({ type: "node-join", state: nodeState(testSigners[4]!) });
    const next = stamped(log, first.entries.length);
    const trusted = stampSigners(verifier.configuration(), []);
    assert.deepEqual([...trusted], [voter.nodeId]);
    assert.deepEqual(verifier.checkEntries(next.entries, next.stamp, trusted), { ok: true });
    assert.equal(verifier.appliedIndex(), log.entries.length);
  });

  it("refuses a tampered entry and keeps its verified state", () => {
    const log = foundedLog();
    const verifier = new StampVerifier(options);
    const { entries, stamp } = stamped(log);
    const normal = entries.findLastIndex((entry) => entry.kind === "normal");
    const forged = entries.map((entry, index) => (index === normal ? tamper(entry) : entry));
    const check = verifier.checkEntries(forged, stamp, freshTrust());
    assert.equal(check.ok, false);
    assert.match(check.ok ? "" : check.reason, /not the stamped state/);
    assert.equal(verifier.appliedIndex(), 0, "nothing of the refused batch stays applied");
    // A second source with the true entries is accepted from the same place.
    assert.deepEqual(verifier.checkEntries(entries, stamp, freshTrust()), { ok: true });
  });

  it("refuses a stamp by a key that is not a voter, and a forged signature", () => {
    const log = foundedLog();
    const { entries, stamp } = stamped(log);
    const outsider = testSigners[4]!;
    const body = { index: stamp.index, term: stamp.term, state: stamp.state };
    const signature = Buffer.from(outsider.sign(commitStampMessage(body))).toString("hex");
    const byOutsider: CommitStamp = { ...stamp, signer: outsider.nodeId, signature };
    const verifier = new StampVerifier(options);
    const unknown = verifier.checkEntries(entries, byOutsider, freshTrust());
    assert.match(unknown.ok ? "" : unknown.reason, /not a known voter/);
    // Known to this node as holding etcd, yet not a voter of the state it stamps.
    const claimed = stampSigners(emptyConfState(), [etcdMember(0), etcdMember(4)]);
    const notVoter = verifier.checkEntries(entries, byOutsider, claimed);
    assert.match(notVoter.ok ? "" : notVoter.reason, /not a voter of the state it stamped/);
    const forged: CommitStamp = { ...stamp, signature };
    const bad = verifier.checkEntries(entries, forged, freshTrust());
    assert.match(bad.ok ? "" : bad.reason, /signature does not verify/);
    // A true signature moved onto another index does not verify either.
    const moved = verifier.checkEntries(entries, { ...stamp, index: stamp.index + 1 }, freshTrust());
    assert.match(moved.ok ? "" : moved.reason, /signature does not verify/);
    assert.equal(verifier.appliedIndex(), 0);
  });

  it("refuses a replayed stamp below what it applied", () => {
    const log = foundedLog();
    const verifier = new StampVerifier(options);
    const old = stamped(log);
    assert.ok(verifier.checkEntries(old.entries, old.stamp, freshTrust()).ok);
    log.propose({ type: "node-join", state: nodeState(testSigners[4]!) });
    const next = stamped(log, old.entries.length);
    const trusted = stampSigners(verifier.configuration(), []);
    assert.ok(verifier.checkEntries(next.entries, next.stamp, trusted).ok);
    const replay = verifier.checkEntries(old.entries, old.stamp, trusted);
    assert.match(replay.ok ? "" : replay.reason, /stale stamp: index \d+, this node applied \d+/);
    assert.equal(verifier.appliedIndex(), next.stamp.index);
  });

  it("accepts a stamped snapshot and refuses a tampered one or another configuration", () => {
    const log = foundedLog();
    const snapshot = log.machine.snapshot();
    const conf = log.machine.configuration();
    const stamp = signCommitStamp(log.machine, voter, snapshot);
    const verifier = new StampVerifier(options);
    const text = new TextDecoder().decode(snapshot).replace('"zone-a"', '"zone-b"');
    const forged = verifier.checkSnapshot(new TextEncoder().encode(text), conf, stamp, freshTrust());
    assert.match(forged.ok ? "" : forged.reason, /snapshot's digest is not the stamp's/);
    const otherConf = { ...conf, voters: [...conf.voters, testSigners[4]!.nodeId] };
    const moved = verifier.checkSnapshot(snapshot, otherConf, stamp, freshTrust());
    assert.equal(moved.ok, false);
    assert.equal(verifier.appliedIndex(), 0);
    assert.deepEqual(verifier.checkSnapshot(snapshot, conf, stamp, freshTrust()), { ok: true });
    assert.equal(verifier.appliedIndex(), stamp.index);
    const again = verifier.checkSnapshot(snapshot, conf, stamp, freshTrust());
    assert.match(again.ok ? "" : again.reason, /stale stamp/);
  });
});
