/**
 * Goal: the quorum arithmetic decides commits and elections exactly as Raft requires, and a
 * joint configuration never lets two disjoint majorities decide. Method: table cases, plus
 * fast-check properties over random voter sets and random acknowledgements.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import fc from "fast-check";
import { applyConfChange } from "./conf-change.js";
import { committedIndex, leaderCommitRule, voteResult } from "./quorum.js";
import type { ConfState } from "./types.js";

function conf(voters: string[], votersOutgoing: string[] = []): ConfState {
  return { voters, votersOutgoing, learners: [], learnersNext: [] };
}

function matches(values: Record<string, number>): (peer: string) => number {
  return (peer) => values[peer] ?? 0;
}

test("a majority decides the committed index", () => {
  assertStrict.equal(committedIndex(conf(["a"]), matches({ a: 7 })), 7);
  assertStrict.equal(committedIndex(conf(["a", "b", "c"]), matches({ a: 9, b: 5, c: 2 })), 5);
  assertStrict.equal(committedIndex(conf(["a", "b", "c", "d"]), matches({ a: 9, b: 5, c: 2, d: 1 })), 2);
  assertStrict.equal(committedIndex(conf(["a", "b", "c", "d", "e"]), matches({ a: 9, b: 8, c: 7 })), 7);
  // Learners are not in the voter lists and never count.
  const withLearner: ConfState = { ...conf(["a", "b", "c"]), learners: ["z"] };
  assertStrict.equal(committedIndex(withLearner, matches({ a: 9, z: 9 })), 0);
});

test("a joint configuration needs both majorities", () => {
  const joint = conf(["c", "d", "e"], ["a", "b", "c"]);
  // The old majority (a, b) is at 9 but the new one (c, d) only reaches 1.
  assertStrict.equal(committedIndex(joint, matches({ a: 9, b: 9, c: 3, d: 1, e: 0 })), 1);
  assertStrict.equal(committedIndex(joint, matches({ a: 9, b: 9, c: 3, d: 8, e: 8 })), 8);
});

test("votes: won, lost and pending, in simple and joint configurations", () => {
  const simple = conf(["a", "b", "c"]);
  assertStrict.equal(voteResult(simple, new Map([["a", true]])), "pending");
  assertStrict.equal(
    voteResult(
      simple,
      new Map([
        ["a", true],
        ["b", true],
      ]),
    ),
    "won",
  );
  assertStrict.equal(
    voteResult(
      simple,
      new Map([
        ["a", true],
        ["b", false],
        ["c", false],
      ]),
    ),
    "lost",
  );
  const joint = conf(["c", "d", "e"], ["a", "b", "c"]);
  const oldOnly = new Map([
    ["a", true],
    ["b", true],
    ["c", false],
  ]);
  assertStrict.equal(voteResult(joint, oldOnly), "pending");
  assertStrict.equal(voteResult(joint, new Map([...oldOnly, ["d", false], ["e", false]])), "lost");
  assertStrict.equal(
    voteResult(
      joint,
      new Map([
        ["a", true],
        ["c", true],
        ["d", true],
      ]),
    ),
    "won",
  );
});

test("the leader commits only entries of its own term (Figure 8)", () => {
  const input = {
    conf: conf(["a", "b", "c"]),
    matchOf: matches({ a: 5, b: 5, c: 2 }),
    commit: 2,
    term: 4,
    termAt: (index: number) => (index <= 3 ? 2 : 4),
  };
  assertStrict.equal(leaderCommitRule(input), 5, "index 5 is of term 4: committed");
  const older = { ...input, matchOf: matches({ a: 5, b: 3, c: 3 }) };
  assertStrict.equal(leaderCommitRule(older), 2, "index 3 is of term 2: not committed by counting");
  const behind = { ...input, commit: 6 };
  assertStrict.equal(leaderCommitRule(behind), 6, "the commit never moves back");
});

test("property: every quorum of a joint configuration is a quorum of the old and of the new one", () => {
  const peers = ["a", "b", "c", "d", "e", "f", "g"];
  const voterSet = fc.subarray(peers, { minLength: 1 });
  fc.assert(
    fc.property(voterSet, voterSet, fc.subarray(peers), (before, after, acked) => {
      const start = conf([...before].sort());
      const changes = [
        ...after
          .filter((peer) => !before.includes(peer))
          .map((node) => ({ type: "add-voter" as const, node })),
        ...before.filter((peer) => !after.includes(peer)).map((node) => ({ type: "remove" as const, node })),
      ];
      if (changes.length === 0) return;
      const result = applyConfChange(start, { changes });
      if (!result.ok) return;
      const joint = result.conf;
      const ackedBy = (peer: string) => (acked.includes(peer) ? 1 : 0);
      if (committedIndex(joint, ackedBy) >= 1) {
        assertStrict.ok(
          committedIndex(conf(joint.voters), ackedBy) >= 1,
          "a joint quorum is a new-config quorum",
        );
        assertStrict.ok(
          committedIndex(conf(joint.votersOutgoing), ackedBy) >= 1,
          "a joint quorum is an old-config quorum",
        );
      }
    }),
    { seed: 4, numRuns: 500 },
  );
});
