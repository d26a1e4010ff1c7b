/**
 * Goal: `user_units: true` renders units `systemctl --user` runs as they are: each node's units
 * under `.config/systemd/user/` (a node view at the top of that path), the node target
 * `WantedBy=default.target`, no `User=`, no `network-online.target` (a user manager has none),
 * accepted by `systemd-analyze --user verify`; and they read back to the same state.
 * Method: the example states through the configured face; `--user` verify offline with a
 * private XDG_RUNTIME_DIR and stubbed programs (testing/systemd-analyze.ts). Missing
 * systemd-analyze fails in CI and skips locally.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Face } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { FabricState, NodeId } from "@revoada/fabric-core/vocabulary";
import { systemdFace } from "./systemd-face.js";
import {
  systemdAnalyzeAvailability,
  unitsByDirectory,
  verifyUnits,
  verifyUserUnits,
} from "./testing/systemd-analyze.js";

const availability = systemdAnalyzeAvailability();
const skip = availability.run ? false : availability.reason;
const mesh = exampleFabricStates.mesh!;

function userFace(): Face {
  const configured = systemdFace.configure?.({ user_units: true });
  assert.ok(configured?.ok);
  return configured.value;
}

describe("face-systemd user units", () => {
  it("puts each node's units under .config/systemd/user/, and a node view at the top of that path", () => {
    const files = userFace().writer.write(mesh, { kind: "cluster" }).files;
    for (const file of files) {
      if (file.path === "revoada-fabric.target") continue;
      assert.match(file.path, /^nodes\/[^/]+\/\.config\/systemd\/user\/[^/]+\.(service|target)$/);
    }
    const cp1 = Object.values(mesh.nodes).find((node) => node.name === "cp-1")!;
    const view = userFace().writer.write(mesh, { kind: "node", node: cp1.id as NodeId }).files;
    assert.ok(view.length > 0);
    for (const file of view) assert.match(file.path, /^\.config\/systemd\/user\/[^/]+$/);
  });

  it("installs into default.target, names no User= and no system target", () => {
    const files = userFace().writer.write(mesh, { kind: "cluster" }).files;
    const targets = files.filter((file) => file.path.endsWith("/revoada-node.target"));
    assert.ok(targets.length > 0);
    for (const target of targets) assert.match(target.content, /^WantedBy=default\.target$/m);
    for (const file of files) {
      assert.doesNotMatch(file.content, /^User=/m, file.path);
      assert.doesNotMatch(file.content, /multi-user\.target|network-online\.target/, file.path);
    }
    const system = systemdFace.writer.write(mesh, { kind: "cluster" }).files;
    assert.ok(
      system.some((file) => /^WantedBy=multi-user\.target$/m.test(file.content)),
      "system units stay system units",
    );
  });

  it("reads back to the same state as the system units, and refuses a non-boolean", async () => {
    for (const state of Object.values(exampleFabricStates) as FabricState[]) {
      const read = await userFace().reader.read(userFace().writer.write(state, { kind: "cluster" }).files);
      assert.ok(read.ok);
      assert.deepEqual(read.value.unknown, []);
      assert.deepEqual(read.value.state, systemdFace.model(state));
    }
    assert.equal(systemdFace.configure?.({ user_units: "yes" }).ok, false);
  });

  it("systemd-analyze --user verify accepts every node's user units", { skip }, () => {
    for (const state of Object.values(exampleFabricStates) as FabricState[]) {
      const written = userFace().writer.write(state, { kind: "cluster" });
      for (const [directory, files] of unitsByDirectory(written.files, [".service", ".target"])) {
        if (directory === "") continue;
        const outcome = verifyUserUnits(files);
        assert.equal(
          outcome.status,
          0,
          `${directory}: systemd-analyze --user verify failed:\n${outcome.stderr}`,
        );
        assert.deepEqual(outcome.problems, [], `${directory}: systemd-analyze --user verify warned`);
      }
    }
  });

  it("the --user harness fails on a broken unit", { skip }, () => {
    const outcome = verifyUserUnits([
      { path: "bad.service", content: "[Service]\nExecStart=/usr/bin/podman run x\nRestartt=always\n" },
    ]);
    assert.ok(
      outcome.problems.some((line) => line.includes("Restartt")),
      outcome.stderr,
    );
    assert.equal(
      verifyUnits([{ path: "ok.service", content: "[Service]\nExecStart=/usr/bin/true\n" }]).status,
      0,
    );
  });
});
