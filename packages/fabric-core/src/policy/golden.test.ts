// Goal: every golden scenario (raft-autopilot style) decides exactly what its reviewed golden
// file says. Method: for each directory under testdata holding an inputs.json, validate the
// inputs, run one round, validate the decision, and compare its canonical JSON with
// decision.golden.json. `UPDATE_GOLDEN=1` rewrites the goldens: inspect the diff and commit it
// only if you understand what caused it. The inputs come from scripts/policy-scenarios.ts.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { canonicalJson, formatIssue, parseWith } from "../vocabulary/index.js";
import { Decision, decide, PolicyInputs } from "./index.js";

const root = new URL("./testdata/", import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === "1";

function scenarioDirectories(directory: string): string[] {
  const found: string[] = [];
  const pending = [directory];
  for (let guard = 0; pending.length > 0; guard += 1) {
    assert.ok(guard < 10_000, "testdata tree too deep");
    const current = pending.pop()!;
    if (existsSync(join(current, "inputs.json"))) found.push(current);
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.isDirectory()) pending.push(join(current, entry.name));
    }
  }
  return found.sort();
}

describe("policy golden scenarios", () => {
  const directories = scenarioDirectories(root);

  it("finds the scenarios the issue names", () => {
    const names = new Set(directories.map((directory) => relative(root, directory).split("/")[0]));
    for (const name of [
      "one-failed-voter",
      "failed-leader",
      "minority-partition",
      "two-failures",
      "rolling-restart",
      "flapping-node",
      "zone-loss",
      "adding-nodes",
      "scaling-down",
    ]) {
      assert.ok(names.has(name), `scenario ${name} is missing`);
    }
  });

  for (const directory of directories) {
    it(relative(root, directory), () => {
      const parsed = parseWith(
        PolicyInputs,
        JSON.parse(readFileSync(join(directory, "inputs.json"), "utf8")),
      );
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.issues.map(formatIssue).join("\n"));
      const decision = decide(parsed.value);
      const checked = parseWith(Decision, decision);
      assert.ok(checked.ok, checked.ok ? "" : checked.issues.map(formatIssue).join("\n"));
      assert.equal(canonicalJson(decide(parsed.value)), canonicalJson(decision), "a round is deterministic");
      const goldenPath = join(directory, "decision.golden.json");
      if (update) writeFileSync(goldenPath, canonicalJson(decision));
      assert.ok(existsSync(goldenPath), `no golden at ${goldenPath}; run with UPDATE_GOLDEN=1 and review it`);
      assert.equal(canonicalJson(decision), readFileSync(goldenPath, "utf8"));
    });
  }
});
