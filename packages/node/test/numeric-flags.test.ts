// Goal: a numeric flag that is not a number says so (exit 2), and one out of range names its
// range. Method: the CLI run as a user would, with words where numbers belong.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { wholeNumberProblem } from "../src/cli/numbers.js";
import { runCli } from "./cli-harness.js";

describe("numeric flags", () => {
  for (const args of [
    ["up", "--nodes", "five"],
    ["demo", "--nodes", "many"],
    ["workload", "apply", "x.yaml", "--wait-ms", "soon"],
  ]) {
    it(`revoada ${args.join(" ")}: "is not a number", exit 2`, async () => {
      const run = await runCli(args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /is not a number/);
    });
  }

  it("a number out of range names the range", async () => {
    const run = await runCli(["up", "--nodes", "0"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--nodes: 0 is not a whole number from 1 to 64/);
    assert.equal(wholeNumberProblem("--x", "2.5", 0), "--x: 2.5 is not a whole number >= 0");
    assert.equal(wholeNumberProblem("--x", "7", 0), null);
  });
});
