/**
 * Goal: face-baremetal writes Quadlet units podman documents, and systemd accepts what
 * Quadlet would generate from them.
 * etcd reads the node's revocation list through its certificate volume.
 * Method: the validator against hand-broken units (unknown [Container] key, unsupported
 * [Install] key, missing Image=); the equivalent `.service` of every rendered container
 * (quadletEquivalentService) through `systemd-analyze verify --root --recursive-errors=no`,
 * with the node target. Missing systemd-analyze fails in CI and skips locally.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { etcdRevocationListFile, type FaceFile, type RenderContext } from "@revoada/fabric-core/face";
import { arbitraryFabricState, exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { FabricState } from "@revoada/fabric-core/vocabulary";
import { systemdAnalyzeAvailability, unitsByDirectory, verifyUnits } from "@revoada/face-systemd/testing";
import fc from "fast-check";
import { baremetalFace, formatEntrypoint, parseEntrypoint } from "./baremetal-face.js";
import { quadletEquivalentService } from "./quadlet-service.js";

const mesh = exampleFabricStates.mesh!;

function equivalentServices(files: readonly FaceFile[]): FaceFile[] {
  return files.map((file) => {
    if (!file.path.endsWith(".container")) return file;
    const service = quadletEquivalentService(file);
    if (!service.ok) assert.fail(JSON.stringify(service.issues));
    return service.value;
  });
}

describe("face-baremetal Quadlet keys", () => {
  const validate = baremetalFace.validate!;

  it("accepts its own output, including node targets wanting generated .service names", async () => {
    const { files } = baremetalFace.writer.write(mesh, { kind: "cluster" });
    assert.ok(files.some((file) => file.path === "nodes/cp-1/revoada-etcd.container"));
    assert.deepEqual(await validate(files), []);
  });

  it("etcd reads the node's revocation list through its certificate volume, and the validator accepts it", async () => {
    const { files } = baremetalFace.writer.write(mesh, { kind: "cluster" }, { etcdRevocationList: true });
    const etcd = files.find((file) => file.path === "nodes/cp-1/revoada-etcd.container");
    assert.ok(etcd);
    const exec = /^Exec=(.*)$/m.exec(etcd.content)?.[1] ?? "";
    assert.ok(exec.split(" ").includes(`--client-crl-file=${etcdRevocationListFile}`), exec);
    assert.ok(exec.split(" ").includes(`--peer-crl-file=${etcdRevocationListFile}`), exec);
    // The container sees the host's file: a directory holding it is mounted at the same path.
    const volumes = [...etcd.content.matchAll(/^Volume=([^:]+):([^:\n]+)/gm)];
    assert.ok(
      volumes.some(([, host, inside]) => host === inside && etcdRevocationListFile.startsWith(`${host}/`)),
      etcd.content,
    );
    assert.deepEqual(await validate(files), []);
    const plain = baremetalFace.writer.write(mesh, { kind: "cluster" }).files;
    assert.doesNotMatch(plain.find((file) => file.path === etcd.path)?.content ?? "", /crl-file/);
  });

  it("rejects keys podman-systemd.unit(5) does not document", async () => {
    const issues = await validate([
      {
        path: "a.container",
        content:
          "[Container]\nImage=x\nPublishPorts=80:80\n\n[Install]\nWantedBy=multi-user.target\nAlso=b.service\n",
      },
      { path: "b.container", content: "[Container]\nExec=/bin/true\n" },
    ]);
    assert.deepEqual(
      issues.map((issue) => `${issue.file}:${issue.line}:${issue.code}`),
      ["a.container:3:unknown_key", "a.container:7:unknown_key", "b.container:1:missing_key"],
    );
  });

  it("writes the entrypoint as a program or podman's JSON form, and reads both", () => {
    assert.equal(formatEntrypoint(["/bin/app"]), "/bin/app");
    assert.equal(
      formatEntrypoint(["/bin/sh", "-c", "echo $HOME 100%"]),
      '["/bin/sh","-c","echo $$HOME 100%%"]',
    );
    assert.deepEqual(parseEntrypoint('["/bin/sh","-c","echo $$HOME 100%%"]'), [
      "/bin/sh",
      "-c",
      "echo $HOME 100%",
    ]);
    assert.equal(typeof parseEntrypoint("[not json"), "string");
  });
});

const availability = systemdAnalyzeAvailability();

describe("systemd-analyze verify accepts the services Quadlet would generate", {
  skip: availability.run ? false : availability.reason,
}, () => {
  function verifyState(state: FabricState, context: RenderContext = {}): void {
    const { files } = baremetalFace.writer.write(state, { kind: "cluster" }, context);
    const services = equivalentServices(files);
    for (const [directory, group] of unitsByDirectory(services, [".service", ".target"])) {
      const outcome = verifyUnits(group);
      assert.equal(outcome.status, 0, `${directory}:\n${outcome.stderr}`);
      assert.deepEqual(outcome.problems, [], directory);
    }
  }

  it("example mesh", () => verifyState(mesh));

  it("example mesh with the node's etcd revocation list", () =>
    verifyState(mesh, { etcdRevocationList: true }));

  it("generated states", () => {
    for (const state of fc.sample(arbitraryFabricState({ nodesMax: 3, workloadsMax: 4 }), {
      numRuns: 4,
      seed: 11,
    })) {
      verifyState(state);
    }
  });
});
