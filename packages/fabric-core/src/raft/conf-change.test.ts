/**
 * Goal: membership changes follow joint consensus: learner-only changes apply directly,
 * anything touching voters enters a joint configuration that is then left, several changes
 * apply atomically, and invalid changes are refused with a reason. Method: table cases over
 * the pure `applyConfChange` / `leaveJoint`, checking inputs are never mutated.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { applyConfChange, leaveJoint } from "./conf-change.js";
import type { ConfChange, ConfState } from "./types.js";

const base: ConfState = { voters: ["a", "b", "c"], votersOutgoing: [], learners: [], learnersNext: [] };

function apply(conf: ConfState, changes: ConfChange["changes"]): ConfState {
  const result = applyConfChange(conf, { changes });
  assertStrict.ok(result.ok, result.ok ? "" : result.reason);
  return result.conf;
}

test("adding a learner applies directly, without a joint configuration", () => {
  const next = apply(base, [{ type: "add-learner", node: "d" }]);
  assertStrict.deepEqual(next, { ...base, learners: ["d"] });
  assertStrict.deepEqual(base.learners, [], "the input is not mutated");
});

test("promoting a learner enters a joint configuration, which is then left", () => {
  const withLearner = apply(base, [{ type: "add-learner", node: "d" }]);
  const joint = apply(withLearner, [{ type: "add-voter", node: "d" }]);
  assertStrict.deepEqual(joint, {
    voters: ["a", "b", "c", "d"],
    votersOutgoing: ["a", "b", "c"],
    learners: [],
    learnersNext: [],
  });
  const left = leaveJoint(joint);
  assertStrict.ok(left.ok);
  assertStrict.deepEqual(left.conf, {
    voters: ["a", "b", "c", "d"],
    votersOutgoing: [],
    learners: [],
    learnersNext: [],
  });
  // The empty change list is the "leave joint" entry.
  assertStrict.deepEqual(apply(joint, []), left.conf);
});

test("several changes at once: promote one, remove one, demote one", () => {
  const start: ConfState = { voters: ["a", "b", "c"], votersOutgoing: [], learners: ["d"], learnersNext: [] };
  const joint = apply(start, [
    { type: "add-voter", node: "d" },
    { type: "remove", node: "a" },
    { type: "add-learner", node: "b" },
  ]);
  assertStrict.deepEqual(joint, {
    voters: ["c", "d"],
    votersOutgoing: ["a", "b", "c"],
    learners: [],
    learnersNext: ["b"],
  });
  const left = leaveJoint(joint);
  assertStrict.ok(left.ok);
  assertStrict.deepEqual(left.conf, {
    voters: ["c", "d"],
    votersOutgoing: [],
    learners: ["b"],
    learnersNext: [],
  });
});

test("invalid changes are refused with a reason", () => {
  const joint = apply(base, [{ type: "remove", node: "c" }]);
  const during = applyConfChange(joint, { changes: [{ type: "add-learner", node: "z" }] });
  assertStrict.equal(during.ok, false, "no change while joint");
  const all = applyConfChange(base, {
    changes: [
      { type: "remove", node: "a" },
      { type: "remove", node: "b" },
      { type: "remove", node: "c" },
    ],
  });
  assertStrict.equal(all.ok, false, "never remove every voter");
  assertStrict.equal(leaveJoint(base).ok, false, "nothing to leave");
});

test("removing a learner applies directly", () => {
  const withLearner = apply(base, [{ type: "add-learner", node: "d" }]);
  assertStrict.deepEqual(apply(withLearner, [{ type: "remove", node: "d" }]), base);
});
