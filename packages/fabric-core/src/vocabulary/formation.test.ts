// Goal: every formation yields a usable, odd voter count that never shrinks as nodes are added.
// Method: check the properties for every formation over N = 1..64, plus the named cases.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvariantError } from "./assert.js";
import { Formation, formationDescriptions, largestOddAtMost, votersFor } from "./formation.js";

const formations = Formation.options;

describe("formations", () => {
  it("yield odd voter counts between 1 and N, non-decreasing in N, for N = 1..64", () => {
    for (const formation of formations) {
      let previous = 0;
      for (let eligible = 1; eligible <= 64; eligible += 1) {
        const voters = votersFor(formation, eligible);
        assert.equal(voters % 2, 1, `${formation} N=${eligible} gave even ${voters}`);
        assert.ok(voters >= 1 && voters <= eligible, `${formation} N=${eligible} gave ${voters}`);
        assert.ok(voters >= previous, `${formation} shrank from ${previous} to ${voters} at N=${eligible}`);
        previous = voters;
      }
    }
  });

  it("give no voters for no nodes", () => {
    for (const formation of formations) assert.equal(votersFor(formation, 0), 0);
  });

  it("phalanx stays about 2N/5 and never even (the original gave 2 for N=5)", () => {
    for (let eligible = 1; eligible <= 64; eligible += 1) {
      const voters = votersFor("phalanx", eligible);
      const target = (2 * eligible) / 5;
      assert.ok(Math.abs(voters - target) <= 2, `phalanx N=${eligible}: ${voters} vs ${target}`);
    }
    assert.equal(votersFor("phalanx", 5), 1);
    assert.equal(votersFor("phalanx", 10), 3);
    assert.equal(votersFor("phalanx", 20), 7);
    assert.equal(votersFor("phalanx", 25), 9);
  });

  it("match their descriptions", () => {
    for (let eligible = 1; eligible <= 64; eligible += 1) {
      assert.equal(votersFor("solo", eligible), 1);
      assert.equal(votersFor("pair", eligible), 1);
      assert.equal(votersFor("quorum-3m", eligible), eligible >= 3 ? 3 : 1);
      assert.equal(votersFor("cluster-3m-nw", eligible), eligible >= 3 ? 3 : 1);
      assert.equal(votersFor("mesh-all-peers", eligible), eligible % 2 === 1 ? eligible : eligible - 1);
    }
    assert.deepEqual(Object.keys(formationDescriptions).sort(), [...formations].sort());
  });

  it("refuse a negative or fractional node count as a programmer error", () => {
    assert.throws(() => votersFor("solo", -1), InvariantError);
    assert.throws(() => votersFor("solo", 2.5), InvariantError);
    assert.throws(() => largestOddAtMost(0), InvariantError);
  });
});
