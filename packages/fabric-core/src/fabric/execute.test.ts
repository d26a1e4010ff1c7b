// Goal: the executor names the one right next step from committed state alone: membership
// mechanics first, then the open procedure's step (or its abort), then the policy's first
// shift as a `begin`; it waits while not leading or before its term's first entry applied.
// Method: machines built from hand-made logs, a real Raft status with the progress each case
// needs, and gossip views written out.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { MemberView as GossipMember, MembershipView as GossipView } from "../gossip/index.js";
import { defaultPolicyConfig } from "../policy/index.js";
import { raftTimingFromStrategy } from "../raft/index.js";
import { homelabStrategy, loadBlake3, type NodeId } from "../vocabulary/index.js";
import { defaultExecutorConfig, type ExecuteInputs, execute, type Step } from "./execute.js";
import { LeaderClock } from "./leader-clock.js";
import type { FabricMachine } from "./machine.js";
import {
  foundedLog,
  leaderStatus,
  gossipMember as member,
  nodeState,
  TestLog,
  testSigners,
} from "./test-log.js";

before(async () => {
  await loadBlake3();
});

const leaderId = testSigners[0]!.nodeId;
const cp = ["api-server", "controller-manager", "etcd", "scheduler"] as const;

function view(members: readonly GossipMember[], atMs = 5_000): GossipView {
  return { self: leaderId, atMs, members };
}

function inputs(machine: FabricMachine, overrides: Partial<ExecuteInputs> = {}): ExecuteInputs {
  const applied = machine.applied();
  return {
    self: leaderId,
    nowMs: 5_000,
    machine,
    raft: leaderStatus(applied.term, applied.index),
    gossip: view(testSigners.slice(1, 4).map((signer) => member(signer))),
    ownState: nodeState(testSigners[0]!, [...cp]),
    strategy: homelabStrategy,
    formation: "quorum-3m",
    operatorRequests: [],
    flaps: [],
    ...overrides,
  };
}

/** Begins an etcd promotion of the second node and takes it through the voters (now at etcd-add). */
function beginEtcdPromotion(log: TestLog) {
  const node = testSigners[1]!.nodeId;
  const shift = { type: "promote" as const, node, roles: [...cp], reason: "scaling-up" as const };
  log.propose({ type: "shift-procedure", step: "begin", shift, etcd: true });
  log.conf([{ type: "add-voter", node }]);
  log.conf([]);
  return { node, shift };
}

function stepOf(input: ExecuteInputs): Step {
  return execute(input).step;
}

function commandsOf(step: Step): string[] {
  assert.equal(step.type, "propose", JSON.stringify(step));
  return step.type === "propose" ? step.commands.map((proposed) => proposed.command.type) : [];
}

/** The log with node 1 mid-promotion (its procedure begun). */
function promoting(): {
  log: TestLog;
  node: NodeId;
  shift: { type: "promote"; node: NodeId; roles: (typeof cp)[number][]; reason: "scaling-up" };
} {
  const log = foundedLog();
  const node = testSigners[1]!.nodeId;
  const shift = { type: "promote" as const, node, roles: [...cp], reason: "scaling-up" as const };
  log.propose({ type: "shift-procedure", step: "begin", shift });
  return { log, node, shift };
}

describe("execute", () => {
  it("waits when not leading, and until an entry of its own term has applied", () => {
    const log = foundedLog();
    const follower = { ...leaderStatus(1, 8), role: "follower" as const, leader: testSigners[1]!.nodeId };
    assert.equal(stepOf(inputs(log.machine, { raft: follower })).type, "wait");
    const newTerm = stepOf(inputs(log.machine, { raft: leaderStatus(2, 8) }));
    assert.deepEqual(newTerm, { type: "wait", reason: "no entry of this leader's term has applied yet" });
  });

  it("records the founder, then alive members as nodes, then as learners", () => {
    const founding = new TestLog();
    founding.conf([{ type: "add-voter", node: leaderId }]);
    founding.empty();
    const strategy = stepOf(inputs(founding.machine));
    assert.deepEqual(commandsOf(strategy), ["strategy"], "the founding strategy is the first normal entry");
    founding.propose({ type: "strategy", strategy: homelabStrategy });
    const own = stepOf(inputs(founding.machine));
    assert.equal(own.type, "propose");
    assert.deepEqual(own.type === "propose" ? own.commands[0]!.command : null, {
      type: "node-join",
      state: nodeState(testSigners[0]!, [...cp]),
    });
    const log = foundedLog();
    const joining = stepOf(
      inputs(log.machine, { gossip: view([...testSigners.slice(1, 5)].map((signer) => member(signer))) }),
    );
    assert.deepEqual(commandsOf(joining), ["node-join"], "node 4 is new");
    log.propose({ type: "node-join", state: nodeState(testSigners[4]!) });
    const learners = stepOf(
      inputs(log.machine, { gossip: view([...testSigners.slice(1, 5)].map((signer) => member(signer))) }),
    );
    assert.equal(learners.type, "conf-change");
    assert.deepEqual(learners.type === "conf-change" ? learners.change.changes : null, [
      { type: "add-learner", node: testSigners[4]!.nodeId },
    ]);
  });

  it("commits the flaps this leader saw, for known nodes only", () => {
    const log = foundedLog();
    const step = stepOf(
      inputs(log.machine, {
        flaps: [
          { node: testSigners[2]!.nodeId, at_ms: 99_000 },
          { node: testSigners[4]!.nodeId, at_ms: 99_000 },
        ],
      }),
    );
    assert.equal(step.type, "propose");
    assert.deepEqual(step.type === "propose" ? step.commands.map((proposed) => proposed.command) : null, [
      { type: "member-flap", node: testSigners[2]!.nodeId, at_ms: 99_000 },
    ]);
  });

  it("steps a promotion: add-voter once the learner caught up, never before; aborts a dead one", () => {
    const { log, node } = promoting();
    const applied = log.machine.applied();
    const lagging = stepOf(
      inputs(log.machine, { raft: leaderStatus(applied.term, 500, { [node]: { match: 10 } }) }),
    );
    assert.equal(lagging.type, "wait");
    const caughtUp = stepOf(
      inputs(log.machine, {
        raft: leaderStatus(applied.term, applied.index, { [node]: { match: applied.index } }),
      }),
    );
    assert.deepEqual(caughtUp.type === "conf-change" ? caughtUp.change.changes : caughtUp, [
      { type: "add-voter", node },
    ]);
    const dead = stepOf(
      inputs(log.machine, {
        gossip: view([member(testSigners[1]!, "dead"), member(testSigners[2]!), member(testSigners[3]!)]),
      }),
    );
    assert.equal(dead.type, "propose");
    const abort = dead.type === "propose" ? dead.commands[0]!.command : null;
    assert.equal(abort?.type === "shift-procedure" ? abort.step : null, "abort");
  });

  it("aborts a promotion that did not join the voters in time", () => {
    const { log, node } = promoting();
    const applied = log.machine.applied();
    const late = stepOf(
      inputs(log.machine, {
        nowMs: log.clockMs + 31_000,
        raft: leaderStatus(applied.term, 500, { [node]: { match: 10 } }),
      }),
    );
    assert.equal(late.type, "propose");
    assert.match(late.type === "propose" ? late.why : "", /within 30000 ms/);
  });

  it("waits while the joint configuration is left, then proposes the role command with the procedure's origin", () => {
    const { log, node, shift } = promoting();
    log.conf([{ type: "add-voter", node }]);
    assert.deepEqual(stepOf(inputs(log.machine)), {
      type: "wait",
      reason: "the joint configuration is being left",
    });
    log.conf([]);
    const command = stepOf(inputs(log.machine));
    assert.equal(command.type, "propose");
    assert.deepEqual(command.type === "propose" ? command.commands : null, [
      { command: shift, origin: "policy", force: false },
    ]);
  });

  it("takes a quarantined voter out of the voters: a learner when alive, removed when dead", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    const shift = { type: "quarantine" as const, node, reason: "operator" as const };
    log.propose({ type: "shift-procedure", step: "begin", shift }, "operator", true);
    log.propose(shift, "operator", true);
    const alive = stepOf(inputs(log.machine));
    assert.deepEqual(alive.type === "conf-change" ? alive.change.changes : alive, [
      { type: "add-learner", node },
    ]);
    const dead = stepOf(
      inputs(log.machine, {
        gossip: view([member(testSigners[1]!, "dead"), member(testSigners[2]!), member(testSigners[3]!)]),
      }),
    );
    assert.deepEqual(dead.type === "conf-change" ? dead.change.changes : dead, [{ type: "remove", node }]);
  });

  it("with etcd managed: adopts the founder's member, then steps member add, promote and remove", () => {
    const log = foundedLog();
    const etcd = { config: { manageEtcd: true } };
    const adopt = stepOf(inputs(log.machine, etcd));
    assert.deepEqual(adopt.type === "actuate" ? adopt.action : adopt, { kind: "etcd-adopt", node: leaderId });
    log.propose({ type: "etcd-member", node: leaderId, event: "promoted", member_id: "1" });
    const { node, shift } = beginEtcdPromotion(log);
    const add = stepOf(inputs(log.machine, etcd));
    assert.deepEqual(add.type === "actuate" ? add.action : add, { kind: "etcd-add-learner", node });
    log.propose({ type: "etcd-member", node, event: "added", member_id: "2" });
    const promote = stepOf(inputs(log.machine, etcd));
    assert.deepEqual(promote.type === "actuate" ? promote.action : promote, {
      kind: "etcd-promote",
      node,
      member_id: "2",
    });
    // A dead learner's promotion is abandoned; its leftover member is then removed.
    const dead = stepOf(
      inputs(log.machine, {
        ...etcd,
        gossip: view([member(testSigners[1]!, "dead"), member(testSigners[2]!), member(testSigners[3]!)]),
      }),
    );
    assert.equal(dead.type === "propose" ? dead.commands[0]!.command.type : dead.type, "shift-procedure");
    log.propose({ type: "shift-procedure", step: "abort", shift, reason: "dead" });
    const cleanup = stepOf(inputs(log.machine, etcd));
    assert.deepEqual(cleanup.type === "actuate" ? cleanup.action : cleanup, {
      kind: "etcd-remove",
      node,
      member_id: "2",
    });
  });

  it("gives up an etcd learner that never catches up: abort, member removed, the node damped", () => {
    const log = foundedLog();
    const etcd = { config: { manageEtcd: true } };
    log.propose({ type: "etcd-member", node: leaderId, event: "promoted", member_id: "1" });
    const { node } = beginEtcdPromotion(log);
    log.propose({ type: "etcd-member", node, event: "added", member_id: "2" });
    const procedure = log.machine.procedureFor(node);
    assert.equal(procedure?.phase, "etcd-promote");
    const addedAt = procedure?.phase_at_ms;
    assert.ok(addedAt !== undefined, "the machine records when the learner was added");
    const patient = stepOf(
      inputs(log.machine, { ...etcd, nowMs: addedAt + defaultExecutorConfig.learnerCatchUpMs }),
    );
    assert.equal(patient.type === "actuate" ? patient.action.kind : patient.type, "etcd-promote");
    const late = stepOf(
      inputs(log.machine, { ...etcd, nowMs: addedAt + defaultExecutorConfig.learnerCatchUpMs + 1 }),
    );
    assert.ok(late.type === "propose", late.type);
    const abort = late.commands[0]!.command;
    assert.ok(abort.type === "shift-procedure" && abort.step === "abort");
    assert.match(abort.reason ?? "", /etcd learner did not catch up within 60000 ms/);
    const shiftsBefore = log.machine.history(addedAt).recent_shifts.length;
    log.propose(abort);
    assert.equal(log.machine.procedureFor(node), undefined);
    const damped = log.machine.history(addedAt).recent_shifts.slice(shiftsBefore);
    assert.deepEqual(
      damped.map((record) => record.node),
      [node],
      "the node counts as just shifted: the damper's hysteresis turns the policy to another node",
    );
    const cleanup = stepOf(inputs(log.machine, etcd));
    assert.deepEqual(cleanup.type === "actuate" ? cleanup.action : cleanup, {
      kind: "etcd-remove",
      node,
      member_id: "2",
    });
  });

  it("with etcd managed, a dead voting member is removed before a new member is added", () => {
    const log = foundedLog();
    const etcd = { config: { manageEtcd: true } };
    log.propose({ type: "etcd-member", node: leaderId, event: "promoted", member_id: "1" });
    const dead = testSigners[2]!.nodeId;
    log.conf([{ type: "add-voter", node: dead }]);
    log.conf([]);
    log.propose({ type: "etcd-member", node: dead, event: "promoted", member_id: "3" });
    const node = testSigners[1]!.nodeId;
    const shift = { type: "promote" as const, node, roles: [...cp], reason: "replacing-failed" as const };
    log.propose({ type: "shift-procedure", step: "begin", shift, etcd: true });
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    const gossip = view([member(testSigners[1]!), member(testSigners[2]!, "dead"), member(testSigners[3]!)]);
    const first = stepOf(inputs(log.machine, { ...etcd, gossip }));
    assert.deepEqual(first.type === "actuate" ? first.action : first, {
      kind: "etcd-remove",
      node: dead,
      member_id: "3",
    });
    log.propose({ type: "etcd-member", node: dead, event: "removed", member_id: "3" });
    const then = stepOf(inputs(log.machine, { ...etcd, gossip }));
    assert.deepEqual(then.type === "actuate" ? then.action : then, { kind: "etcd-add-learner", node });
  });

  it("with etcd managed, a live voting member leaving is not removed while etcd would keep fewer than three voters", () => {
    const log = foundedLog();
    const etcd = { config: { manageEtcd: true } };
    log.propose({ type: "etcd-member", node: leaderId, event: "promoted", member_id: "1" });
    const leaving = testSigners[2]!.nodeId;
    const other = testSigners[3]!.nodeId;
    log.conf([
      { type: "add-voter", node: leaving },
      { type: "add-voter", node: other },
    ]);
    log.conf([]);
    log.propose({ type: "etcd-member", node: leaving, event: "promoted", member_id: "3" });
    log.propose({ type: "etcd-member", node: other, event: "promoted", member_id: "4" });
    const shift = {
      type: "demote" as const,
      node: leaving,
      roles: ["etcd" as const],
      reason: "rebalance" as const,
    };
    log.propose({ type: "shift-procedure", step: "begin", shift, etcd: true });
    log.propose(shift);
    log.conf([{ type: "add-learner", node: leaving }]);
    log.conf([]);
    assert.equal(log.machine.procedureFor(leaving)?.phase, "etcd-remove");
    // Three voters, all alive: removing one would leave two, which tolerate no failure.
    const kept = stepOf(inputs(log.machine, etcd));
    assert.ok(kept.type === "propose", kept.type);
    const abort = kept.commands[0]!.command;
    assert.ok(abort.type === "shift-procedure" && abort.step === "abort");
    assert.match(abort.reason ?? "", /stays until etcd keeps three voters without it/);
    log.propose(abort);
    const after = stepOf(inputs(log.machine, etcd));
    assert.ok(after.type !== "actuate" || after.action.kind !== "etcd-remove", "nor by the reconciliation");
  });

  it("with etcd managed, a shift that touches the voters begins with etcd: true", () => {
    const log = foundedLog();
    log.propose({ type: "etcd-member", node: leaderId, event: "promoted", member_id: "1" });
    const applied = log.machine.applied();
    const progress = Object.fromEntries(
      testSigners.slice(1, 4).map((signer) => [signer.nodeId, { match: applied.index, learner: true }]),
    );
    const step = stepOf(
      inputs(log.machine, {
        config: { manageEtcd: true },
        raft: leaderStatus(applied.term, applied.index, progress),
        gossip: view(
          testSigners.slice(1, 4).map((signer) => ({ ...member(signer), stableSinceMs: 0 })),
          5_000,
        ),
      }),
    );
    const begin = step.type === "propose" ? step.commands[0]!.command : null;
    assert.equal(begin?.type === "shift-procedure" ? begin.etcd : undefined, true);
  });

  it("a leader that is not a control-plane member hands over instead of signing a role command", () => {
    const { log, node, shift } = promoting();
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    assert.equal(log.machine.procedureFor(node)?.phase, "command");
    // Node 1 became a voter and then the leader, before its own Promote committed.
    const applied = log.machine.applied();
    const asNode1 = inputs(log.machine, {
      self: node,
      raft: leaderStatus(applied.term, applied.index, {}, node),
      gossip: view([member(testSigners[0]!), member(testSigners[2]!), member(testSigners[3]!)]),
    });
    assert.deepEqual(stepOf(asNode1), {
      type: "transfer",
      to: leaderId,
      why: `${shift.type} ${node}: signed by a control-plane member, not this leader`,
    });
    // The member leader signs it.
    assert.equal(stepOf(inputs(log.machine)).type, "propose");
  });

  it("refuses, forced or not, a shift that leaves no alive control-plane member among the voters", () => {
    const log = foundedLog();
    const execution = execute(
      inputs(log.machine, {
        operatorRequests: [
          { command: { type: "quarantine", node: leaderId, reason: "operator" }, force: true },
        ],
      }),
    );
    assert.deepEqual(
      execution.refused.map((refusal) => [refusal.rule, refusal.shift.type, refusal.shift.node]),
      [["last-control-plane-member", "quarantine", leaderId]],
    );
    assert.notEqual(
      execution.step.type === "propose" ? execution.step.commands[0]?.command.type : "",
      "shift-procedure",
    );
  });

  it("a voter that does not hold etcd leaves the voters when the policy wants no shift", () => {
    const log = foundedLog();
    const node = testSigners[1]!.nodeId;
    log.conf([{ type: "add-voter", node }]);
    log.conf([]);
    const step = stepOf(inputs(log.machine));
    assert.deepEqual(step.type === "conf-change" ? step.change.changes : step, [
      { type: "add-learner", node },
    ]);
  });

  it("counts a voter that acknowledged everything committed as heard, also right after check-quorum cleared recentActive", () => {
    const log = foundedLog();
    const [a, b] = [testSigners[1]!.nodeId, testSigners[2]!.nodeId];
    log.conf([{ type: "add-voter", node: a }]);
    log.conf([]);
    log.conf([{ type: "add-voter", node: b }]);
    log.conf([]);
    const applied = log.machine.applied();
    const cleared = { recentActive: false, match: applied.index };
    const heard = execute(
      inputs(log.machine, {
        raft: leaderStatus(applied.term, applied.index, { [a]: cleared, [b]: cleared }),
      }),
    );
    assert.equal(heard.decision?.acting, true, "caught-up voters count: the leader acts");
    const behind = { recentActive: false, match: 1 };
    const cutOff = execute(
      inputs(log.machine, { raft: leaderStatus(applied.term, applied.index, { [a]: behind, [b]: behind }) }),
    );
    assert.equal(cutOff.decision?.acting, false, "voters neither heard nor caught up: the leader is cut off");
    assert.equal(
      cutOff.wakeAtMs,
      5_000 + raftTimingFromStrategy(homelabStrategy).heartbeatIntervalMs,
      "it looks again at the next heartbeat: their answers raise no event",
    );
    // Raft hears them, gossip holds them dead: not acting either, but gossip's view arrives as
    // events, so no heartbeat polling.
    const gossipMinority = execute(
      inputs(log.machine, {
        raft: leaderStatus(applied.term, applied.index, { [a]: cleared, [b]: cleared }),
        gossip: view([
          member(testSigners[1]!, "dead"),
          member(testSigners[2]!, "dead"),
          member(testSigners[3]!),
        ]),
      }),
    );
    assert.equal(gossipMinority.decision?.acting, false);
    assert.notEqual(
      gossipMinority.wakeAtMs,
      5_000 + raftTimingFromStrategy(homelabStrategy).heartbeatIntervalMs,
    );
  });

  it("opens a procedure for the policy's first shift instead of proposing the shift itself", () => {
    const log = foundedLog();
    const applied = log.machine.applied();
    const progress = Object.fromEntries(
      testSigners.slice(1, 4).map((signer) => [signer.nodeId, { match: applied.index, learner: true }]),
    );
    const execution = execute(
      inputs(log.machine, {
        raft: leaderStatus(applied.term, applied.index, progress),
        gossip: view(
          testSigners.slice(1, 4).map((signer) => ({ ...member(signer), stableSinceMs: 0 })),
          5_000,
        ),
      }),
    );
    assert.notEqual(execution.decision, null);
    const step = execution.step;
    assert.equal(step.type, "propose", JSON.stringify(execution.decision?.records));
    const begin = step.type === "propose" ? step.commands[0]!.command : null;
    assert.equal(begin?.type, "shift-procedure");
    assert.equal(
      begin?.type === "shift-procedure" ? `${begin.step} ${begin.shift.type}` : null,
      "begin promote",
    );
    assert.equal(step.type === "propose" ? step.commands.length : 0, 1, "one shift at a time");
  });
});

describe("execute with a bound on learners (docs/scale.md)", () => {
  /** Nodes 1..4 joined; 1..3 are learners (foundedLog), node 4 is not. */
  function joinedFour(): TestLog {
    const log = foundedLog();
    log.propose({ type: "node-join", state: nodeState(testSigners[4]!) });
    return log;
  }
  const allAlive = () => view(testSigners.slice(1, 5).map((signer) => member(signer)));

  it("admits alive members only into free learner slots", () => {
    const bounded = stepOf(inputs(joinedFour().machine, { gossip: allAlive(), config: { learnersMax: 3 } }));
    assert.ok(
      !(
        bounded.type === "conf-change" &&
        bounded.change.changes.some((change) => change.type === "add-learner")
      ),
      `three learners already: nobody is added (${JSON.stringify(bounded)})`,
    );
    const roomy = stepOf(inputs(joinedFour().machine, { gossip: allAlive(), config: { learnersMax: 4 } }));
    assert.deepEqual(roomy.type === "conf-change" ? roomy.change.changes : roomy, [
      { type: "add-learner", node: testSigners[4]!.nodeId },
    ]);
    const unbounded = stepOf(inputs(joinedFour().machine, { gossip: allAlive() }));
    assert.deepEqual(unbounded.type === "conf-change" ? unbounded.change.changes : unbounded, [
      { type: "add-learner", node: testSigners[4]!.nodeId },
    ]);
  });

  it("a dead learner leaves the bounded set, so that an alive member can take its slot", () => {
    const gossip = view([
      member(testSigners[1]!),
      member(testSigners[2]!),
      member(testSigners[3]!, "dead"),
      member(testSigners[4]!),
    ]);
    const step = stepOf(inputs(joinedFour().machine, { gossip, config: { learnersMax: 3 } }));
    assert.deepEqual(step.type === "conf-change" ? step.change.changes : step, [
      { type: "remove", node: testSigners[3]!.nodeId },
    ]);
    const unbounded = stepOf(inputs(joinedFour().machine, { gossip }));
    assert.ok(
      !(
        unbounded.type === "conf-change" &&
        unbounded.change.changes.some((change) => change.type === "remove")
      ),
      "without a bound a dead learner stays (the old behaviour)",
    );
  });
});

describe("learners_max as a strategy field (docs/scale.md)", () => {
  // Goal: the bound the leader keeps is the committed strategy's `learners_max` (over the node
  // setting, the executor's `learnersMax`), and a committed swap changes it. Method: the same
  // hand-made log (3 learners, a fourth member alive and not holding the log) before and after
  // strategy entries with other bounds.
  const swapTo = (learnersMax: number) => ({
    ...homelabStrategy,
    name: `bound-${learnersMax}`,
    consensus: { kind: { ...homelabStrategy.consensus.kind, learners_max: learnersMax } },
  });
  const joinedFour = (): TestLog => {
    const log = foundedLog();
    log.propose({ type: "node-join", state: nodeState(testSigners[4]!) });
    return log;
  };
  const allAlive = () => view(testSigners.slice(1, 5).map((signer) => member(signer)));
  const added = (step: Step) =>
    step.type === "conf-change" ? step.change.changes.filter((change) => change.type === "add-learner") : [];
  const removed = (step: Step) =>
    step.type === "conf-change" ? step.change.changes.filter((change) => change.type === "remove") : [];

  it("a committed swap changes how many learners the leader keeps", () => {
    const log = joinedFour();
    // The node setting bounds at 3: three learners already, nobody is added.
    assert.deepEqual(
      added(stepOf(inputs(log.machine, { gossip: allAlive(), config: { learnersMax: 3 } }))),
      [],
    );
    // A strategy with learners_max 4 commits: the fourth member is admitted, whatever the node setting.
    log.propose({ type: "strategy", strategy: swapTo(4) }, "operator");
    const grown = stepOf(inputs(log.machine, { gossip: allAlive(), config: { learnersMax: 3 } }));
    assert.deepEqual(added(grown), [{ type: "add-learner", node: testSigners[4]!.nodeId }]);
    // A swap to learners_max 1: a learner over the bound leaves, node setting unbounded or not.
    log.propose({ type: "strategy", strategy: swapTo(1) }, "operator");
    for (const config of [{}, { learnersMax: 3 }]) {
      // (formation solo: the policy wants no promotion first, so the bound's step is next)
      const shrunk = stepOf(inputs(log.machine, { gossip: allAlive(), config, formation: "solo" }));
      assert.equal(added(shrunk).length, 0, JSON.stringify(shrunk));
      assert.equal(removed(shrunk).length, 1, `one learner over the bound leaves: ${JSON.stringify(shrunk)}`);
    }
  });
});

describe("execute on the leader's clock when its wall clock is behind the committed clock", () => {
  const epochMs = 1_780_000_000_000;
  const behindMs = 5 * 60_000;

  /** A leader whose wall clock is `offsetMs` off the committed clock, reading the machine's. */
  function leaderClock(machine: FabricMachine, offsetMs: number) {
    const now = { wall: machine.committedClockMs() + offsetMs, monotonic: 0 };
    const clock = new LeaderClock({
      wallMs: () => now.wall,
      monotonicMs: () => now.monotonic,
      committedMs: () => machine.committedClockMs(),
    });
    clock.observe();
    return {
      clock,
      wallMs: () => now.wall,
      pass(ms: number) {
        now.wall += ms;
        now.monotonic += ms;
      },
    };
  }

  /** Every learner caught up and alive: the policy wants to promote one of them. */
  function promotable(log: TestLog): Partial<ExecuteInputs> {
    const applied = log.machine.applied();
    const progress = Object.fromEntries(
      testSigners.slice(1, 4).map((signer) => [signer.nodeId, { match: applied.index, learner: true }]),
    );
    return {
      raft: leaderStatus(applied.term, applied.index, progress),
      gossip: view(testSigners.slice(1, 4).map((signer) => ({ ...member(signer), stableSinceMs: 0 }))),
    };
  }

  const beginsPromotion = (step: Step) =>
    step.type === "propose" &&
    step.commands.some(
      (proposed) => proposed.command.type === "shift-procedure" && proposed.command.step === "begin",
    );

  it("holds a promotion for the hysteresis and releases it after the hysteresis, not 5 minutes off", () => {
    const log = foundedLog();
    log.clockMs = epochMs;
    // Every worker shifted just now: an operator's quarantine, then its restore.
    for (const signer of testSigners.slice(1, 4)) {
      const node = signer.nodeId;
      for (const shift of [
        { type: "quarantine" as const, node, reason: "operator" as const },
        { type: "restore" as const, node },
      ]) {
        log.propose({ type: "shift-procedure", step: "begin", shift }, "operator", true);
        log.propose(shift, "operator", true);
      }
      assert.equal(log.machine.procedureFor(node), undefined);
    }
    assert.equal(log.machine.history(log.clockMs).recent_shifts.length, 6);
    assert.deepEqual(log.machine.operatorHolds(), []);
    const hysteresisMs = defaultPolicyConfig(homelabStrategy).hysteresis_ms;
    const leader = leaderClock(log.machine, -behindMs);
    const held = execute(inputs(log.machine, { ...promotable(log), nowMs: leader.clock.now() }));
    assert.ok(!beginsPromotion(held.step), "within the hysteresis: held");
    assert.ok(held.decision?.records.some((record) => record.rule === "hysteresis"));
    // On its wall clock the shifts lie 5 minutes in its future, and the damper ignores shifts
    // it has not reached yet: it would promote at once, damping nothing.
    const onWall = execute(inputs(log.machine, { ...promotable(log), nowMs: leader.wallMs() }));
    assert.ok(beginsPromotion(onWall.step), "the wall clock behind loses the hysteresis");
    // The workers' last shifts are 80, 40 and 0 ms before the committed clock (a promotion
    // needs two of them: an odd voter count).
    assert.ok(
      held.wakeAtMs !== null && held.wakeAtMs > leader.clock.now(),
      "a held round names when the gate next changes, for its driver's timer",
    );
    leader.pass(hysteresisMs - 41);
    const still = execute(inputs(log.machine, { ...promotable(log), nowMs: leader.clock.now() }));
    assert.ok(!beginsPromotion(still.step), "1 ms before a second worker's hysteresis ends: held");
    assert.equal(still.wakeAtMs, leader.clock.now() + 1, "execute again exactly when it ends");
    leader.pass(1);
    const released = execute(inputs(log.machine, { ...promotable(log), nowMs: leader.clock.now() }));
    assert.ok(beginsPromotion(released.step), JSON.stringify(released.decision?.records));
  });

  it("names when to execute again if nothing happens: a learner catching up at the next heartbeat, a procedure at its timeout, never when nothing is pending on time", () => {
    const { log, node } = promoting();
    const applied = log.machine.applied();
    const nowMs = log.machine.committedClockMs() + 100;
    const heartbeatMs = raftTimingFromStrategy(homelabStrategy).heartbeatIntervalMs;
    // A new leader has not heard from the learner yet: its match is 0. Its answer to the next
    // heartbeat moves it, and Raft raises no event for that.
    const unheard = execute(
      inputs(log.machine, { nowMs, raft: leaderStatus(applied.term, 500, { [node]: { match: 0 } }) }),
    );
    assert.match(unheard.step.type === "wait" ? unheard.step.reason : "", /catching up/);
    assert.equal(unheard.wakeAtMs, nowMs + heartbeatMs);
    // Waiting on something else (the joint configuration, left by an applied entry): the
    // procedure's timeout is the only instant time alone changes the step.
    log.conf([{ type: "add-voter", node }]);
    const joint = execute(inputs(log.machine, { nowMs }));
    assert.deepEqual(joint.step, { type: "wait", reason: "the joint configuration is being left" });
    const begunAtMs = log.machine.procedureFor(node)?.begun_at_ms ?? Number.NaN;
    assert.equal(joint.wakeAtMs, begunAtMs + defaultExecutorConfig.procedureTimeoutMs + 1);
    // Nothing pending on time (every gate long past): no timer.
    const steady = execute(inputs(foundedLog().machine, { ...promotable(foundedLog()), nowMs: 10 * 60_000 }));
    assert.equal(steady.wakeAtMs, null, JSON.stringify(steady.step));
  });

  it("times out a procedure after the configured time, not 5 minutes later; a leader ahead is unaffected", () => {
    const log = foundedLog();
    log.clockMs = epochMs;
    const node = testSigners[1]!.nodeId;
    const shift = { type: "promote" as const, node, roles: [...cp], reason: "scaling-up" as const };
    log.propose({ type: "shift-procedure", step: "begin", shift });
    const applied = log.machine.applied();
    const lagging = { raft: leaderStatus(applied.term, 500, { [node]: { match: 10 } }) };
    const timeoutMs = defaultExecutorConfig.procedureTimeoutMs;
    const behind = leaderClock(log.machine, -behindMs);
    behind.pass(timeoutMs);
    assert.equal(stepOf(inputs(log.machine, { ...lagging, nowMs: behind.clock.now() })).type, "wait");
    behind.pass(1);
    const late = stepOf(inputs(log.machine, { ...lagging, nowMs: behind.clock.now() }));
    assert.match(late.type === "propose" ? late.why : JSON.stringify(late), /within 30000 ms/);
    assert.equal(
      stepOf(inputs(log.machine, { ...lagging, nowMs: behind.wallMs() })).type,
      "wait",
      "read on the wall clock it waits 5 minutes more",
    );
    // A leader 5 minutes ahead reads its wall clock, as before (it aborts at once).
    const ahead = leaderClock(log.machine, behindMs);
    assert.equal(ahead.clock.now(), ahead.wallMs());
    const early = stepOf(inputs(log.machine, { ...lagging, nowMs: ahead.clock.now() }));
    assert.match(early.type === "propose" ? early.why : JSON.stringify(early), /within 30000 ms/);
  });
});
