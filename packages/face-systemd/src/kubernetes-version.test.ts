/**
 * Goal: face-systemd's `kubernetes_version` gives the control-plane units the flags of that
 * Kubernetes release, so the host's own etcd takes them: 1.33 and older in etcd 3.5's spelling
 * (which Debian 12's etcd 3.4.23 accepts), 1.34 in etcd 3.6's (`--feature-gates`).
 * Method: the mesh example's etcd unit through the configured face; where etcd is installed,
 * every flag is checked against `etcd --help`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { Face, RenderContext } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { systemdFace } from "./systemd-face.js";
import { lastValue, parseUnitFile, sectionEntries } from "./unit-syntax.js";
import { isWordError, parseExecLine } from "./unit-values.js";

const mesh = exampleFabricStates.mesh!;

function etcdArgv(face: Face, context: RenderContext = {}): string[] {
  const file = face.writer
    .write(mesh, { kind: "cluster" }, context)
    .files.find((candidate) => candidate.path === "nodes/cp-1/revoada-etcd.service");
  assert.ok(file);
  const unit = parseUnitFile(file.content, file.path);
  assert.ok(unit.ok);
  const exec = lastValue(sectionEntries(unit.value, "Service"), "ExecStart");
  const argv = parseExecLine(exec?.value ?? "");
  assert.ok(!isWordError(argv));
  return argv;
}

function configured(version: string): Face {
  const face = systemdFace.configure?.({ kubernetes_version: version });
  assert.ok(face?.ok, version);
  return face.value;
}

describe("face-systemd kubernetes_version", () => {
  it("1.33 and older carry etcd 3.5's flag spelling, 1.34 (the default) etcd 3.6's", () => {
    for (const version of ["1.28", "1.33"]) {
      const argv = etcdArgv(configured(version));
      assert.ok(argv.includes("--experimental-initial-corrupt-check=true"), version);
      assert.ok(!argv.some((word) => word.startsWith("--feature-gates")), version);
    }
    const current = etcdArgv(systemdFace);
    assert.ok(current.includes("--feature-gates=InitialCorruptCheck=true"));
    assert.deepEqual(etcdArgv(configured("1.34")), current);
  });

  it("keeps user_units when only the version changes, and refuses an unsupported version at its field", () => {
    const user = systemdFace.configure?.({ user_units: true, kubernetes_version: "1.30" });
    assert.ok(user?.ok);
    const paths = user.value.writer.write(mesh, { kind: "cluster" }).files.map((file) => file.path);
    assert.ok(paths.some((path) => path.includes("/.config/systemd/user/")));
    const old = systemdFace.configure?.({ kubernetes_version: "1.27" });
    assert.equal(old?.ok, false);
    assert.deepEqual(!old?.ok && old?.issues[0]?.path, ["kubernetes_version"]);
  });

  it("the host's etcd knows every flag of the 1.33 unit", async (t) => {
    const help = await promisify(execFile)("etcd", ["--help"]).then(
      (result) => `${result.stdout}${result.stderr}`,
      () => undefined,
    );
    if (help === undefined) {
      if (process.env.CI === "true")
        assert.fail("etcd is not installed (scripts/setup-system.sh installs etcd-server)");
      t.skip("no etcd binary");
      return;
    }
    // With the node's revocation list, so its two flags are checked too.
    for (const word of etcdArgv(configured("1.33"), { etcdRevocationList: true }).slice(1)) {
      const name = word.split("=", 1)[0]!;
      assert.match(help, new RegExp(`^\\s*${name}(\\s|$)`, "m"), `etcd --help lists ${name}`);
    }
  });
});
