// Goal: hostile or mistaken input files get one clear line and the documented exit code
// (3 invalid input), never a stack trace: an alias bomb, a directory, a file over the size
// cap, bytes that are not UTF-8, a dead strategy (whose errors name the field and
// file:line:column), and the same checks for `revoada node --config`. Method: run the CLI in
// a child process (from source) on crafted files in a scratch directory.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { inputBytesMax } from "../src/cli/io.js";
import { type CliRun, nodePackageRoot, runCli } from "./cli-harness.js";

const goodFile = join(nodePackageRoot, "..", "..", "examples", "homelab-strategy.yaml");
const scratch = mkdtempSync(join(tmpdir(), "revoada-bad-input-"));

/** Exit 3, a message that matches, and no stack frame anywhere in the output. */
function assertInvalidInput(run: CliRun, message: RegExp): void {
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
  assert.equal(run.stderr.trim().split("\n").length >= 1, true);
}

describe("bad input files", () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("strategy check on a YAML alias bomb exits 3 with the alias limit named", async () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [name, previous] of [
      ["b", "a"],
      ["c", "b"],
      ["d", "c"],
      ["e", "d"],
      ["f", "e"],
    ] as const) {
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const bomb = join(scratch, "bomb.yaml");
    writeFileSync(bomb, `${lines.join("\n")}\n`);
    const run = await runCli(["strategy", "check", bomb]);
    assertInvalidInput(run, new RegExp(`^error: ${bomb}:1:1: YAML aliases expand past the limit`));
  });

  it("strategy check on a directory exits 3 saying it is a directory", async () => {
    const directory = join(scratch, "a-directory");
    mkdirSync(directory);
    const run = await runCli(["strategy", "check", directory]);
    assertInvalidInput(run, /is a directory; give a file/);
  });

  it("strategy check on a file over the document cap exits 3 before parsing it", async () => {
    const text = readFileSync(goodFile, "utf8");
    const large = join(scratch, "large.yaml");
    // Valid YAML (a comment pads it), so only the cap can refuse it.
    writeFileSync(large, `${text}#${"x".repeat(inputBytesMax.document)}\n`);
    const run = await runCli(["strategy", "check", large]);
    assertInvalidInput(
      run,
      new RegExp(`is too large .*the limit for this input is ${inputBytesMax.document} bytes`),
    );
  });

  it("strategy check on bytes that are not UTF-8 exits 3", async () => {
    const binary = join(scratch, "binary.yaml");
    writeFileSync(binary, Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
    const run = await runCli(["strategy", "check", binary]);
    assertInvalidInput(run, /not UTF-8 text/);
  });

  it("strategy check locates each liveness error at its field and file:line:column", async () => {
    const text = readFileSync(goodFile, "utf8");
    const dead = join(scratch, "dead.yaml");
    writeFileSync(dead, text.replace("quorum_size: 3", "quorum_size: 4").replace("millis: 500", "millis: 0"));
    const lineOf = (key: string) => text.split("\n").findIndex((line) => line.includes(`${key}:`)) + 1;
    const columnOf = (key: string) => {
      const line = text.split("\n")[lineOf(key) - 1]!;
      return line.indexOf(`${key}:`) + key.length + 3;
    };
    const run = await runCli(["strategy", "check", dead]);
    assertInvalidInput(run, /even-quorum/);
    const at = (key: string) => `${dead}:${lineOf(key)}:${columnOf(key)}`;
    assert.ok(
      run.stderr.includes(`${at("millis")}: reconciliation.millis: zero-reconciliation-cadence:`),
      run.stderr,
    );
    assert.ok(
      run.stderr.includes(`${at("quorum_size")}: consensus.kind.quorum_size: even-quorum: quorum size 4`),
      run.stderr,
    );
  });

  it("node --config on a directory exits 3, on a missing file 4", async () => {
    const directory = join(scratch, "config-directory");
    mkdirSync(directory);
    assertInvalidInput(await runCli(["node", "--config", directory]), /is a directory; give a file/);
    const missing = await runCli(["node", "--config", join(scratch, "no-such.yaml")]);
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /no such file/);
  });
});
