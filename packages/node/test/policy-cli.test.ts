// Goal: `revoada policy explain` prints a round's decisions readably and exactly, from an
// inputs file or a bare fabric state, with the documented exit codes. Method: run the CLI in a
// child process (from source) on the example files and on broken copies, and parse its output.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Decision } from "@revoada/fabric-core/policy";
import { parse as parseYaml } from "yaml";
import { nodePackageRoot, runCli } from "./cli-harness.js";

const examples = join(nodePackageRoot, "..", "..", "examples");
const inputsFile = join(examples, "policy-inputs.json");
const stateFile = join(examples, "fabric-state.yaml");
const scratch = mkdtempSync(join(tmpdir(), "revoada-policy-cli-"));

describe("revoada policy explain", () => {
  it("prints a summary and one row per decision as a table", async () => {
    const run = await runCli(["policy", "explain", "--state", inputsFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^round at 60000 ms by cp-1 \(01010101\): acting$/m);
    assert.match(run.stdout, /^OUTCOME +RULE +SUBJECT +MESSAGE$/m);
    assert.match(run.stdout, /^proposed +replace-failed +w-4 \(07070707\) +promote w-4/m);
    assert.match(run.stdout, /^proposed +placement-replace +default\/cache/m);
  });

  it("prints the whole decision as JSON that validates", async () => {
    const run = await runCli(["policy", "explain", "--state", inputsFile, "-o", "json"]);
    assert.equal(run.code, 0, run.stderr);
    const decision = Decision.parse(JSON.parse(run.stdout));
    assert.equal(decision.acting, true);
    assert.ok(decision.commands.some(({ command }) => command.type === "promote"));
    assert.ok(decision.records.every((entry) => entry.message.length > 0));
  });

  it("explains a bare fabric state over several rounds, as YAML", async () => {
    const run = await runCli([
      "policy",
      "explain",
      "--state",
      stateFile,
      "--strategy",
      join(examples, "homelab-strategy.yaml"),
      "--formation",
      "cluster-3m-nw",
      "--rounds",
      "2",
      "-o",
      "yaml",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const rounds = (parseYaml(run.stdout) as unknown[]).map((round) => Decision.parse(round));
    assert.equal(rounds.length, 2);
    assert.ok(rounds[1]!.now_ms > rounds[0]!.now_ms);
    assert.ok(rounds[0]!.commands.length > 0, "the first round has something to do");
  });

  it("names the bad field with file:line:column and exits 3", async () => {
    const bad = join(scratch, "bad-inputs.json");
    const text = readFileSync(inputsFile, "utf8").replace(
      '"quorum_visible": true',
      '"quorum_visible": "yes"',
    );
    writeFileSync(bad, text);
    const run = await runCli(["policy", "explain", "--state", bad]);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /bad-inputs\.json:\d+:\d+: raft\.quorum_visible:/);
  });

  it("exits 4 on a missing file and 2 on a bad formation", async () => {
    const missing = await runCli(["policy", "explain", "--state", join(scratch, "nope.json")]);
    assert.equal(missing.code, 4);
    const usage = await runCli(["policy", "explain", "--state", stateFile, "--formation", "blob"]);
    assert.equal(usage.code, 2);
  });

  it("prints the JSON Schemas of the policy's types", async () => {
    const run = await runCli(["policy", "schema"]);
    assert.equal(run.code, 0, run.stderr);
    const schemas = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(schemas).sort(), ["Decision", "PolicyConfig", "PolicyInputs"]);
  });
});
