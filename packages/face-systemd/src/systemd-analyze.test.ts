/**
 * Goal: every unit face-systemd writes is accepted by systemd itself, and the face's own
 * reference check catches what verify lets through (dangling Wants=/After=).
 * Method: formats.md §6 — stage each node's units under a temporary root with stubbed
 * programs and run `systemd-analyze verify --root=DIR --recursive-errors=no`, for the
 * example states and a handful of generated ones; a deliberately broken unit proves the
 * harness fails when it should. Missing systemd-analyze fails in CI and skips locally.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { etcdRevocationListFile, type RenderContext } from "@revoada/fabric-core/face";
import { arbitraryFabricState, exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { FabricState } from "@revoada/fabric-core/vocabulary";
import fc from "fast-check";
import { systemdFace } from "./systemd-face.js";
import { systemdAnalyzeAvailability, unitsByDirectory, verifyUnits } from "./testing/systemd-analyze.js";
import { checkUnitFiles } from "./unit-check.js";

const availability = systemdAnalyzeAvailability();
const skip = availability.run ? false : availability.reason;

function verifyState(state: FabricState, context: RenderContext = {}): void {
  const written = systemdFace.writer.write(state, { kind: "cluster" }, context);
  for (const [directory, files] of unitsByDirectory(written.files, [".service", ".target"])) {
    const outcome = verifyUnits(files);
    assert.equal(outcome.status, 0, `${directory}: systemd-analyze verify failed:\n${outcome.stderr}`);
    assert.deepEqual(outcome.problems, [], `${directory}: systemd-analyze verify warned`);
  }
}

describe("systemd-analyze verify accepts face-systemd output", { skip }, () => {
  for (const [name, state] of Object.entries(exampleFabricStates)) {
    it(`example ${name}`, () => verifyState(state));
  }

  it("example mesh with the node's etcd revocation list (the CRL flags in ExecStart=)", () => {
    const mesh = exampleFabricStates.mesh!;
    const etcdUnit = systemdFace.writer
      .write(mesh, { kind: "cluster" }, { etcdRevocationList: true })
      .files.find((file) => file.path.endsWith("/revoada-etcd.service"));
    assert.match(etcdUnit?.content ?? "", new RegExp(` --client-crl-file=${etcdRevocationListFile} `));
    assert.match(etcdUnit?.content ?? "", new RegExp(` --peer-crl-file=${etcdRevocationListFile} `));
    verifyState(mesh, { etcdRevocationList: true });
  });

  it("generated states", () => {
    const samples = fc.sample(arbitraryFabricState({ nodesMax: 3, workloadsMax: 4 }), {
      numRuns: 6,
      seed: 7,
    });
    for (const state of samples) verifyState(state);
  });

  it("the harness fails on a broken unit", () => {
    const outcome = verifyUnits([
      {
        path: "bad.service",
        content: "[Service]\nType=simple\nExecStart=/usr/bin/true\nRestart=sometimes\nRestartt=always\n",
      },
    ]);
    assert.ok(outcome.status !== 0 || outcome.problems.length > 0, outcome.stderr);
    assert.ok(
      outcome.problems.some((line) => line.includes("Restartt")),
      outcome.stderr,
    );
  });
});

describe("face-systemd reference check", () => {
  it("catches a dangling Wants= that verify would pass", () => {
    const issues = checkUnitFiles([
      { path: "nodes/a/revoada-node.target", content: "[Unit]\nWants=missing.service\n" },
    ]);
    assert.deepEqual(
      issues.map((issue) => [issue.code, issue.line]),
      [["dangling_reference", 2]],
    );
  });

  it("catches unknown keys and bad restart specifiers", () => {
    const issues = checkUnitFiles([
      {
        path: "x.service",
        content: "[Service]\nExecStart=relative/path\nRestart=sometimes\nRestartt=always\n",
      },
    ]);
    assert.deepEqual(
      issues.map((issue) => issue.code),
      ["invalid_value", "invalid_value", "unknown_key"],
    );
  });
});
