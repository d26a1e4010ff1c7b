// Goal: the foundation commands behave as docs/cli.md says, exit codes included. Method: run the
// CLI in a child process (from source) on good and bad files and parse what it prints.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  exampleFaces,
  FabricStrategy,
  homelabStrategy,
  schemaCatalog,
} from "@revoada/fabric-core/vocabulary";
import { parse as parseYaml } from "yaml";
import { nodePackageRoot, runCli } from "./cli-harness.js";

const goodFile = join(nodePackageRoot, "..", "..", "examples", "homelab-strategy.yaml");
const scratch = mkdtempSync(join(tmpdir(), "revoada-cli-"));

describe("revoada CLI foundation", () => {
  it("--help lists the command groups and exits 0", async () => {
    const run = await runCli(["--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Usage: revoada/);
    assert.match(run.stdout, /strategy/);
    assert.match(run.stdout, /schema/);
  });

  it("strategy check prints a one-line proof for a live strategy and exits 0", async () => {
    const run = await runCli(["strategy", "check", goodFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim().split("\n").length, 1);
    assert.match(run.stdout, /homelab-3node is live/);
  });

  it("strategy check lists every invalid field with file:line:column and exits 3", async () => {
    const bad = join(scratch, "bad.yaml");
    const text = readFileSync(goodFile, "utf8");
    writeFileSync(
      bad,
      text
        .replace("quorum_size: 3", "quorum_size: -1")
        .replace("gossip_cadence_ms: 100", "gossip_cadence_ms: 0"),
    );
    const run = await runCli(["strategy", "check", bad]);
    assert.equal(run.code, 3);
    const lines = run.stderr.trim().split("\n");
    const quorumLine = text.split("\n").findIndex((line) => line.includes("quorum_size")) + 1;
    const gossipLine = text.split("\n").findIndex((line) => line.includes("gossip_cadence_ms")) + 1;
    assert.ok(
      lines.some((line) => line.includes(`${bad}:${quorumLine}:18: consensus.kind.quorum_size:`)),
      run.stderr,
    );
    assert.ok(
      lines.some((line) => line.includes(`${bad}:${gossipLine}:22: membership.gossip_cadence_ms:`)),
      run.stderr,
    );
  });

  it("strategy check names every liveness error of a well-formed but dead strategy and exits 3", async () => {
    const dead = join(scratch, "dead.yaml");
    const text = readFileSync(goodFile, "utf8");
    writeFileSync(dead, text.replace("quorum_size: 3", "quorum_size: 4").replace("millis: 500", "millis: 0"));
    const run = await runCli(["strategy", "check", dead]);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /zero-reconciliation-cadence/);
    assert.match(run.stderr, /even-quorum: quorum size 4/);
  });

  it("strategy check on a missing file exits 4", async () => {
    const run = await runCli(["strategy", "check", join(scratch, "nope.yaml")]);
    assert.equal(run.code, 4);
  });

  for (const format of ["yaml", "json"] as const) {
    it(`strategy print --prescribed homelab -o ${format} parses back to the prescribed strategy`, async () => {
      const run = await runCli(["strategy", "print", "--prescribed", "homelab", "-o", format]);
      assert.equal(run.code, 0, run.stderr);
      const data: unknown = format === "json" ? JSON.parse(run.stdout) : parseYaml(run.stdout);
      assert.deepEqual(FabricStrategy.parse(data), homelabStrategy);
    });
  }

  it("schema prints a JSON Schema for every type, and schema FabricStrategy one of them", async () => {
    const all = await runCli(["schema"]);
    assert.equal(all.code, 0, all.stderr);
    const catalog = JSON.parse(all.stdout) as Record<string, { $schema: string }>;
    assert.deepEqual(Object.keys(catalog).sort(), Object.keys(schemaCatalog).sort());
    const one = await runCli(["schema", "FabricStrategy"]);
    assert.equal(one.code, 0);
    const schema = JSON.parse(one.stdout) as { $schema: string; type: string; required: string[] };
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.equal(schema.type, "object");
    assert.ok(schema.required.includes("reconciliation"));
    const unknown = await runCli(["schema", "Nope"]);
    assert.equal(unknown.code, 4);
  });

  it("face list shows a face for every face kind", async () => {
    const table = await runCli(["face", "list"]);
    assert.equal(table.code, 0, table.stderr);
    for (const face of exampleFaces) assert.match(table.stdout, new RegExp(`\\s${face.kind.protocol}\\s`));
  });

  it("an unknown subcommand is a usage error (exit 2)", async () => {
    const run = await runCli(["frobnicate"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown command/);
  });
});
