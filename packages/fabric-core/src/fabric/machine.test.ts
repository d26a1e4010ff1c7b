// Goal: the FabricMachine owns everything the committed log implies (state, configuration,
// chain, checkpoints, history, holds, procedures) and its snapshot carries all of it.
// Method: feed it hand-built committed entries the way Raft would, and compare what it holds
// and the bytes it snapshots.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { verifyChain } from "../attest/index.js";
import { emptyConfState } from "../raft/index.js";
import { canonicalJson, type EtcdCredential, loadBlake3 } from "../vocabulary/index.js";
import { FabricMachine } from "./machine.js";
import { foundedLog, TestLog, testSigners } from "./test-log.js";

before(async () => {
  await loadBlake3();
});

const roles = ["api-server", "controller-manager", "etcd", "scheduler"] as const;

describe("FabricMachine", () => {
  it("founds the chain at entry 1 and tracks the committed configuration", () => {
    const log = foundedLog();
    const machine = log.machine;
    assert.notEqual(log.outcomes[0]!.founded, null);
    assert.deepEqual(machine.chain!.genesis.body.control_plane, [testSigners[0]!.nodeId]);
    assert.deepEqual(machine.configuration().voters, [testSigners[0]!.nodeId]);
    assert.deepEqual(
      machine.configuration().learners,
      testSigners
        .slice(1, 4)
        .map((signer) => signer.nodeId)
        .sort(),
    );
    assert.equal(Object.keys(machine.state().nodes).length, 4);
    assert.deepEqual(machine.applied(), { term: 1, index: log.entries.length });
  });

  it("walks a promotion: begin (join-voters) -> add-voter -> leave joint -> Promote closes it, attested once", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    const shift = { type: "promote" as const, node, roles: [...roles], reason: "scaling-up" as const };
    const begun = log.propose({ type: "shift-procedure", step: "begin", shift });
    assert.equal(begun.procedure?.type, "opened");
    assert.equal(log.machine.procedureFor(node)?.phase, "join-voters");
    log.conf([{ type: "add-voter", node }]);
    assert.equal(log.machine.procedureFor(node)?.phase, "join-voters", "joint: not settled yet");
    const left = log.conf([]);
    assert.equal(left.procedure?.type, "advanced");
    assert.equal(log.machine.procedureFor(node)?.phase, "command");
    const promoted = log.propose(shift);
    assert.equal(promoted.procedure?.type, "closed");
    assert.equal(promoted.chain?.type, "appended");
    assert.deepEqual(promoted.chain?.type === "appended" ? promoted.chain.problems : null, []);
    assert.equal(log.machine.procedures().length, 0);
    assert.deepEqual(log.machine.node(node)?.roles, [...roles]);
    // The founding strategy's block, then the promotion's.
    assert.equal(log.machine.chain!.blocks.length, 2);
    assert.deepEqual(
      log.machine.history(log.clockMs).recent_shifts.map((record) => [record.type, record.node]),
      [["promote", node]],
    );
    const verdict = verifyChain(log.machine.chainExport()!);
    assert.ok(verdict.ok, JSON.stringify(verdict));
  });

  it("walks a quarantine of a voter: Quarantine -> leave-voters -> add-learner closes it", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    const shift = { type: "quarantine" as const, node, reason: "operator" as const };
    log.propose({ type: "shift-procedure", step: "begin", shift }, "operator");
    assert.equal(log.machine.procedureFor(node)?.phase, "command");
    log.propose(shift, "operator");
    assert.equal(log.machine.procedureFor(node)?.phase, "leave-voters");
    log.conf([{ type: "add-learner", node }]);
    assert.equal(log.machine.procedureFor(node)?.phase, "leave-voters", "still an outgoing voter");
    const done = log.conf([]);
    assert.equal(done.procedure?.type, "closed");
    assert.ok(log.machine.configuration().learners.includes(node));
    assert.deepEqual(log.machine.operatorHolds(), [node], "an operator's quarantine is a hold");
  });

  it("walks an etcd promotion: join-voters -> etcd-add -> etcd-promote -> command, and records the members", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    const shift = { type: "promote" as const, node, roles: [...roles], reason: "scaling-up" as const };
    log.propose({ type: "shift-procedure", step: "begin", shift, etcd: true });
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    assert.equal(log.machine.procedureFor(node)?.phase, "etcd-add");
    log.propose({ type: "etcd-member", node, event: "added", member_id: "8e9e05c52164694d" });
    assert.equal(log.machine.procedureFor(node)?.phase, "etcd-promote");
    assert.deepEqual(log.machine.etcdMembers(), [{ node, member_id: "8e9e05c52164694d", learner: true }]);
    log.propose({ type: "etcd-member", node, event: "promoted", member_id: "8e9e05c52164694d" });
    assert.equal(log.machine.procedureFor(node)?.phase, "command");
    const promoted = log.propose(shift);
    assert.equal(promoted.procedure?.type, "closed");
    assert.deepEqual(log.machine.etcdMembers(), [{ node, member_id: "8e9e05c52164694d", learner: false }]);
  });

  it("keeps an added member's TLS credential through its promotion and in the snapshot; forgets it on removal", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    const credential = { blob: "ab".repeat(32), serial: "7f01" } as unknown as EtcdCredential;
    log.propose({ type: "etcd-member", node, event: "added", member_id: "c1", credential });
    log.propose({ type: "etcd-member", node, event: "promoted", member_id: "c1" });
    assert.deepEqual(log.machine.etcdMembers(), [{ node, member_id: "c1", learner: false, credential }]);
    const restored = FabricMachine.restore(
      { origin: "revoada.test/machine", requireOperatorSignature: false },
      log.machine.snapshot(),
      log.machine.configuration(),
    );
    assert.ok(restored.ok);
    assert.deepEqual(restored.value.etcdMembers()[0]?.credential, credential);
    log.propose({ type: "etcd-member", node, event: "removed", member_id: "c1" });
    log.propose({ type: "etcd-member", node, event: "added", member_id: "c2" });
    assert.deepEqual(
      log.machine.etcdMembers(),
      [{ node, member_id: "c2", learner: true }],
      "a re-added member has no stale credential",
    );
  });

  it("walks an etcd demotion of a dead voter: Demote -> remove from the voters -> etcd member remove", () => {
    const log = foundedLog();
    const node = testSigners[2]!.nodeId;
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    log.propose({ type: "etcd-member", node, event: "promoted", member_id: "a1" });
    const shift = {
      type: "demote" as const,
      node,
      roles: ["etcd" as const],
      reason: "replacing-failed" as const,
    };
    log.propose({ type: "shift-procedure", step: "begin", shift, etcd: true });
    log.propose(shift);
    assert.equal(log.machine.procedureFor(node)?.phase, "leave-voters");
    log.conf([{ type: "remove", node }]);
    log.conf([]);
    assert.equal(log.machine.procedureFor(node)?.phase, "etcd-remove");
    const removed = log.propose({ type: "etcd-member", node, event: "removed", member_id: "a1" });
    assert.equal(removed.procedure?.type, "closed");
    assert.deepEqual(log.machine.etcdMembers(), []);
    const restored = FabricMachine.restore(
      { origin: "revoada.test/machine", requireOperatorSignature: false },
      log.machine.snapshot(),
      log.machine.configuration(),
    );
    assert.ok(restored.ok);
    assert.deepEqual(restored.value.snapshot(), log.machine.snapshot());
  });

  it("refuses a second procedure for a node, and an abort of none, deterministically", () => {
    const log = foundedLog();
    const node = testSigners[2]!.nodeId;
    const shift = { type: "promote" as const, node, roles: [...roles], reason: "scaling-up" as const };
    log.propose({ type: "shift-procedure", step: "begin", shift });
    const again = log.propose({ type: "shift-procedure", step: "begin", shift });
    assert.equal(again.procedureRejected, "a procedure for this node is in flight");
    const aborted = log.propose({ type: "shift-procedure", step: "abort", shift, reason: "test" });
    assert.deepEqual(
      aborted.procedure?.type === "closed" ? [aborted.procedure.outcome, aborted.procedure.reason] : null,
      ["aborted", "test"],
    );
    const none = log.propose({ type: "shift-procedure", step: "abort", shift });
    assert.equal(none.procedureRejected, "no such procedure in flight");
    const unknown = log.propose({
      type: "shift-procedure",
      step: "begin",
      shift: { ...shift, node: testSigners[4]!.nodeId },
    });
    assert.equal(unknown.procedureRejected, "unknown node");
  });

  it("keeps holds only for operator quarantines, lifted by a restore; flaps only for known nodes", () => {
    const log = foundedLog();
    const [a, b] = [testSigners[1]!.nodeId, testSigners[2]!.nodeId];
    log.propose({ type: "quarantine", node: a, reason: "operator" }, "operator");
    log.propose({ type: "quarantine", node: b, reason: "health-degraded" }, "policy");
    assert.deepEqual(log.machine.operatorHolds(), [a]);
    log.propose({ type: "restore", node: a }, "operator");
    assert.deepEqual(log.machine.operatorHolds(), []);
    log.propose({ type: "member-flap", node: b, at_ms: 1_500 });
    log.propose({ type: "member-flap", node: testSigners[4]!.nodeId, at_ms: 1_500 });
    assert.deepEqual(log.machine.history(2_000).recent_flaps, [{ node: b, at_ms: 1_500 }]);
  });

  it("forgets history older than the horizon, on the committed clock", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    log.propose({ type: "member-flap", node, at_ms: log.clockMs });
    log.clockMs += 11 * 60_000;
    log.propose({ type: "member-flap", node, at_ms: log.clockMs });
    assert.equal(log.machine.history(log.clockMs).recent_flaps.length, 1);
    const snapshot = JSON.parse(new TextDecoder().decode(log.machine.snapshot()));
    assert.equal(snapshot.history.flaps.length, 1, "pruned from the snapshot too");
  });

  it("snapshots everything: a restored machine has the same bytes and applies on identically", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    const shift = { type: "promote" as const, node, roles: [...roles], reason: "scaling-up" as const };
    log.propose({ type: "quarantine", node: testSigners[3]!.nodeId, reason: "operator" }, "operator");
    log.propose({ type: "member-flap", node, at_ms: log.clockMs });
    log.propose({ type: "shift-procedure", step: "begin", shift });
    log.propose({ type: "attest-checkpoint", size: 1, note: "revoada.test/machine\n1\nAAAA\n\n— x y\n" });
    const bytes = log.machine.snapshot();
    const restored = FabricMachine.restore(
      { origin: "revoada.test/machine", requireOperatorSignature: false },
      bytes,
      log.machine.configuration(),
    );
    assert.ok(restored.ok, JSON.stringify(restored));
    assert.deepEqual(restored.value.snapshot(), bytes);
    assert.deepEqual(restored.value.operatorHolds(), [testSigners[3]!.nodeId]);
    assert.equal(restored.value.procedureFor(node)?.phase, "join-voters");
    assert.equal(restored.value.chainExport(), log.machine.chainExport());
    // Both go on with the same entries to the same bytes.
    const follower = new TestLog(restored.value);
    follower.entries.push(...log.entries);
    follower.clockMs = log.clockMs;
    for (const target of [log, follower]) {
      target.conf([{ type: "add-voter", node }]);
      target.conf([]);
      target.propose(shift);
    }
    assert.deepEqual(follower.machine.snapshot(), log.machine.snapshot());
  });

  it("refuses (does not throw on) a snapshot whose chain skips a block: a relay source's bytes", () => {
    const log = foundedLog();
    log.propose({ type: "quarantine", node: testSigners[1]!.nodeId, reason: "operator" }, "operator");
    const snapshot = JSON.parse(new TextDecoder().decode(log.machine.snapshot()));
    const lines: string[] = snapshot.chain.split("\n");
    const isBlock = (line: string) => line.includes('"kind":"block"');
    assert.equal(lines.filter(isBlock).length, 2);
    snapshot.chain = lines.filter((_, at) => at !== lines.findIndex(isBlock)).join("\n");
    const restored = FabricMachine.restore(
      { origin: "revoada.test/machine", requireOperatorSignature: false },
      new TextEncoder().encode(canonicalJson(snapshot, 0)),
      log.machine.configuration(),
    );
    assert.equal(restored.ok, false);
    assert.match(restored.ok ? "" : restored.issues[0]!.message, /chain block 1 does not link/);
  });

  it("reads the snapshot format from before the machine (state and chain only)", () => {
    const log = foundedLog();
    log.propose({ type: "quarantine", node: testSigners[1]!.nodeId, reason: "operator" }, "operator");
    const legacy = canonicalJson(
      { state: canonicalJson(log.machine.state(), 0), chain: log.machine.chainExport() },
      0,
    );
    const restored = FabricMachine.restore(
      { origin: "revoada.test/machine", requireOperatorSignature: false },
      new TextEncoder().encode(legacy),
      log.machine.configuration(),
    );
    assert.ok(restored.ok);
    assert.deepEqual(restored.value.state(), log.machine.state());
    assert.equal(
      restored.value.chain!.blocks.length,
      2,
      "the founding strategy's block and the quarantine's",
    );
  });

  it("refuses bytes that are not a snapshot, naming the field", () => {
    const restored = FabricMachine.restore(
      { origin: "x", requireOperatorSignature: false },
      new TextEncoder().encode('{"v":1,"state":{},"chain":null,"history":{},"procedures":[]}'),
      emptyConfState(),
    );
    assert.equal(restored.ok, false);
    if (!restored.ok) assert.ok(restored.issues.some((issue) => issue.path[0] === "state"));
  });
});
