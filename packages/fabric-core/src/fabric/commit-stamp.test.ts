// Goal: a relay follower applies only what a voter's commit stamp vouches for: the good path is
// accepted (from a fresh node and from a verified one), and a tampered entry, a tampered
// snapshot or configuration, a stamp by a key that is not a voter, a forged signature, and a
// replayed (older) stamp are refused with their reason, leaving the follower's verified state
// where it was. A follower whose voters were all replaced, twice, while it was behind trusts
// the new voters' stamp through the attestation chain the stamped state carries (entries or
// snapshot), and refuses a chain whose handover is forged: a block by a non-member, a block
// skipped, a block altered, a voter set the chain does not back.
// Method: committed logs built by hand (test-log.ts; signer 0 founds and is the only voter,
// leadership and voters then move as the policy moves them), stamped by a voter as a voter's
// relay does, checked by a fresh StampVerifier.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { type BlockRecord, makeBlock } from "../attest/index.js";
import type { MemberView } from "../gossip/index.js";
import { type Entry, emptyConfState } from "../raft/index.js";
import { loadBlake3, type NodeId, type Signer } from "../vocabulary/index.js";
import {
  type CommitStamp,
  chainHandsOver,
  commitStampMessage,
  StampVerifier,
  signCommitStamp,
  stampSigners,
  stateDigest,
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

const controlPlane = ["api-server", "controller-manager", "etcd", "scheduler"] as const;

/**
 * The policy replaces every voter: `incoming` join the voters and are promoted by the current
 * leader, the first of them leads from the next term, and it demotes the outgoing voters and
 * takes them out of the configuration (docs/fabric-machine.md, the shift procedures' steps).
 */
function replaceVoters(log: TestLog, incoming: readonly Signer[]): void {
  const outgoing = log.machine.configuration().voters;
  log.conf(incoming.map((signer) => ({ type: "add-voter" as const, node: signer.nodeId })));
  log.conf([]);
  for (const signer of incoming)
    log.propose({
      type: "promote",
      node: signer.nodeId,
      roles: [...controlPlane],
      reason: "replacing-failed",
    });
  log.term += 1;
  log.leader = incoming[0]!;
  for (const node of outgoing)
    log.propose({
      type: "demote",
      node: node as NodeId,
      roles: [...controlPlane],
      reason: "replacing-failed",
    });
  log.conf(outgoing.map((node) => ({ type: "remove" as const, node })));
  log.conf([]);
}

/** A follower that verified the founded log (voters {signer 0}), and that log. */
function behindFollower(): { log: TestLog; verifier: StampVerifier; applied: number } {
  const log = foundedLog();
  const verifier = new StampVerifier(options);
  const first = stamped(log);
  assert.ok(verifier.checkEntries(first.entries, first.stamp, freshTrust()).ok);
  return { log, verifier, applied: log.entries.length };
}

/** Two full replacements: {0} -> {1} -> {2, 3}; signer 3 stamps the result. */
function twoReplacements(log: TestLog): CommitStamp {
  replaceVoters(log, [testSigners[1]!]);
  replaceVoters(log, [testSigners[2]!, testSigners[3]!]);
  assert.deepEqual(
    log.machine.configuration().voters,
    [testSigners[2]!.nodeId, testSigners[3]!.nodeId].sort(),
  );
  for (const outcome of log.outcomes) {
    if (outcome.chain?.type === "appended") assert.deepEqual(outcome.chain.problems, [], "an honest chain");
  }
  return signCommitStamp(log.machine, testSigners[3]!);
}

describe("commit stamps across voter replacements (docs/scale.md)", () => {
  it("trusts a stamp by a voter two replacements later, through the entries' chain blocks", () => {
    const { log, verifier, applied } = behindFollower();
    const stamp = twoReplacements(log);
    const trusted = stampSigners(verifier.configuration(), []);
    assert.deepEqual([...trusted], [voter.nodeId], "the follower knows only the founder");
    const check = verifier.checkEntries(log.entries.slice(applied), stamp, trusted);
    // promote 1, demote 0, promote 2 and 3, demote 1: five blocks hand over.
    assert.deepEqual(check, { ok: true, handover: { signer: testSigners[3]!.nodeId, blocks: 5 } });
    assert.equal(verifier.appliedIndex(), log.entries.length);
    assert.deepEqual(verifier.configuration(), log.machine.configuration());
    // From there on the new voters are known voters: no handover needed.
    log.propose({ type: "node-join", state: nodeState(testSigners[4]!) });
    const next = signCommitStamp(log.machine, testSigners[2]!);
    const known = stampSigners(verifier.configuration(), []);
    assert.deepEqual(verifier.checkEntries(log.entries.slice(-1), next, known), { ok: true });
  });

  it("trusts the same stamp on a snapshot, through the snapshot's chain", () => {
    const { log, verifier } = behindFollower();
    const stamp = twoReplacements(log);
    const snapshot = log.machine.snapshot();
    const conf = log.machine.configuration();
    const check = verifier.checkSnapshot(snapshot, conf, stamp, stampSigners(verifier.configuration(), []));
    assert.deepEqual(check, { ok: true, handover: { signer: testSigners[3]!.nodeId, blocks: 5 } });
    assert.equal(verifier.appliedIndex(), stamp.index);
  });

  it("refuses a chain whose new voter was promoted by a non-member (an outsider's own fork)", () => {
    const { log: honest, verifier, applied } = behindFollower();
    const outsider = testSigners[4]!;
    // The outsider holds a node key and the cluster key, no voter key: it writes its own history
    // on top of what the follower has, makes itself the only voter, and stamps it.
    const forged = foundedLog();
    assert.equal(forged.entries.length, applied);
    forged.term = 2;
    forged.leader = outsider;
    forged.propose({ type: "node-join", state: nodeState(outsider) });
    replaceVoters(forged, [outsider]);
    const stamp = signCommitStamp(forged.machine, outsider);
    const trusted = stampSigners(verifier.configuration(), []);
    const entries = verifier.checkEntries(forged.entries.slice(applied), stamp, trusted);
    assert.match(
      entries.ok ? "" : entries.reason,
      /not a known voter, and the chain does not hand over to it: block 1: signer-not-member/,
    );
    const snapshot = verifier.checkSnapshot(
      forged.machine.snapshot(),
      forged.machine.configuration(),
      stamp,
      trusted,
    );
    assert.match(snapshot.ok ? "" : snapshot.reason, /block 1: signer-not-member/);
    assert.equal(verifier.appliedIndex(), applied, "nothing of the forgery stays applied");
    // The honest history is still accepted from the same place.
    const stampHonest = twoReplacements(honest);
    assert.ok(verifier.checkEntries(honest.entries.slice(applied), stampHonest, trusted).ok);
  });

  it("refuses a voter set the chain does not back (the snapshot's configuration names the outsider)", () => {
    const { log, verifier, applied } = behindFollower();
    twoReplacements(log);
    const outsider = testSigners[4]!;
    const snapshot = log.machine.snapshot();
    const conf = log.machine.configuration();
    const tampered = { ...conf, voters: [...conf.voters, outsider.nodeId].sort() };
    // The outsider stamps the true machine under a configuration that names it a voter.
    const body = { ...log.machine.applied(), state: stateDigest(snapshot, tampered) };
    const signature = Buffer.from(outsider.sign(commitStampMessage(body))).toString("hex");
    const stamp: CommitStamp = { v: 1, ...body, signer: outsider.nodeId, signature };
    const check = verifier.checkSnapshot(
      snapshot,
      tampered,
      stamp,
      stampSigners(verifier.configuration(), []),
    );
    assert.match(
      check.ok ? "" : check.reason,
      /not a known voter, and the chain does not hand over to it: it holds no etcd role there/,
    );
    assert.equal(verifier.appliedIndex(), applied);
  });

  it("refuses a chain with a block skipped, altered or forked, and a chain of another genesis", () => {
    const { log } = behindFollower();
    const trusted = { genesis: log.machine.chain!.genesis, blocks: log.machine.chain!.blocks.slice() };
    twoReplacements(log);
    const chain = log.machine.chain!;
    const signer = testSigners[3]!.nodeId;
    const honest = { genesis: chain.genesis, blocks: chain.blocks };
    assert.ok(chainHandsOver(trusted, honest, signer).ok);
    const known = trusted.blocks.length;
    const reason = (blocks: readonly BlockRecord[], genesis = chain.genesis) => {
      const handover = chainHandsOver(trusted, { genesis, blocks }, signer);
      return handover.ok ? "" : handover.reason;
    };
    // Skipped: the block demoting the founder is left out.
    const skipped = chain.blocks.filter((_, sequence) => sequence !== known + 1);
    assert.match(reason(skipped), new RegExp(`block ${known + 2}: sequence-mismatch`));
    // Altered: the second promotion names the outsider; with its hash kept, then recomputed.
    const promote = chain.blocks[known + 2]!;
    assert.equal(promote.body.command.type, "promote");
    const body = {
      ...promote.body,
      command: { ...promote.body.command, node: testSigners[4]!.nodeId },
    } as typeof promote.body;
    const altered = (block: BlockRecord) => chain.blocks.map((each, at) => (at === known + 2 ? block : each));
    assert.match(
      reason(altered({ ...promote, body })),
      new RegExp(`block ${known + 2}: block-hash-mismatch`),
    );
    assert.match(
      reason(altered(makeBlock(body, promote.signature))),
      new RegExp(`block ${known + 2}: block-signature-invalid`),
    );
    // Forked below what the follower holds (its strategy block), and cut short of it.
    assert.equal(known, 1);
    const fork = chain.blocks.map((each, at) => (at === 0 ? { ...each, hash: "0".repeat(64) } : each));
    assert.match(reason(fork), /forks from this node's at block 0/);
    assert.match(reason([]), /holds 0 blocks, this node 1/);
    assert.match(reason(chain.blocks, { ...chain.genesis, hash: "1".repeat(64) }), /another genesis/);
  });
});
