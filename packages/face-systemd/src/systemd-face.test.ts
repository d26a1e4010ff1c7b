/**
 * Goal: face-systemd's mapping decisions hold: what it drops is reported, a node's view is
 * exactly what that node runs, the control-plane chain is ordered, and the reader points at
 * file:line:column for bad input and lists files it does not understand.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { NodeId } from "@revoada/fabric-core/vocabulary";
import { readServiceContainer, serviceReplicaMarks, systemdFace } from "./systemd-face.js";
import { readUnitTree } from "./unit-tree-reader.js";
import { classifyReplicaUnit } from "./workload-units.js";

const mesh = exampleFabricStates.mesh!;
const cp1 = Object.values(mesh.nodes).find((node) => node.name === "cp-1")!;

describe("face-systemd mapping", () => {
  it("drops workloads with no placed replica and says why", () => {
    const { dropped } = systemdFace.writer.write(mesh, { kind: "cluster" });
    assert.deepEqual(
      dropped.map((entry) => entry.path),
      [
        ["workloads", "batch/idle"],
        ["placements", "batch/idle"],
      ],
    );
  });

  it("renders one node's view at the top level: its target, components and replicas", () => {
    const { files } = systemdFace.writer.write(mesh, { kind: "node", node: cp1.id });
    assert.deepEqual(
      files.map((file) => file.path),
      [
        "revoada-node.target",
        "revoada-etcd.service",
        "revoada-kube-apiserver.service",
        "revoada-kube-scheduler.service",
        "revoada-kube-controller-manager.service",
        "revoada.monitoring.node-exporter.0.service",
      ],
    );
    const unknownNode = systemdFace.writer.write(mesh, { kind: "node", node: "0".repeat(64) as NodeId });
    assert.deepEqual(unknownNode.files, []);
  });

  it("orders the control plane: apiserver after etcd, scheduler after apiserver", () => {
    const { files } = systemdFace.writer.write(mesh, { kind: "node", node: cp1.id });
    const text = (path: string) => files.find((file) => file.path === path)?.content ?? "";
    assert.match(text("revoada-kube-apiserver.service"), /\nAfter=revoada-etcd\.service\n/);
    assert.match(text("revoada-kube-apiserver.service"), /\nWants=revoada-etcd\.service\n/);
    assert.match(text("revoada-kube-scheduler.service"), /\nAfter=revoada-kube-apiserver\.service\n/);
    assert.match(text("revoada-etcd.service"), /\nRestart=always\n/);
    assert.match(text("revoada-node.target"), /\nWants=revoada-kube-controller-manager\.service\n/);
  });

  it("escapes % and $ in ExecStart and quotes Environment=", () => {
    const { files } = systemdFace.writer.write(mesh, { kind: "cluster" });
    const web = files.find((file) => file.path === "nodes/worker-1/revoada.default.web.0.service")!.content;
    assert.match(web, / "--discount=100%%" "--price=\$\$5"\n/);
    assert.match(web, /\nEnvironment="GREETING=say \\"hi\\""\n/);
    assert.match(web, /\nEnvironment="PATH_HINT=C:\\\\tmp;#not-a-comment"\n/);
  });

  it("reader: bad quoting is reported at file:line:column", async () => {
    const { files } = systemdFace.writer.write(mesh, { kind: "cluster" });
    const path = "nodes/worker-1/revoada.default.web.0.service";
    const patched = files.map((file) =>
      file.path === path
        ? {
            ...file,
            content: file.content.replace("Environment=LOG_LEVEL=info", 'Environment="LOG_LEVEL=info'),
          }
        : file,
    );
    const result = await systemdFace.reader.read(patched);
    assert.equal(result.ok, false);
    if (result.ok) return;
    const issue = result.issues[0]!;
    assert.equal(issue.file, path);
    const lines = patched.find((file) => file.path === path)!.content.split("\n");
    assert.equal(issue.line, lines.findIndex((line) => line.startsWith('Environment="LOG_LEVEL')) + 1);
    assert.equal(issue.column, 13 + '"LOG_LEVEL=info'.length);
  });

  it("reader: foreign files are listed as unknown, not fatal", async () => {
    const { files } = systemdFace.writer.write(mesh, { kind: "cluster" });
    const result = await systemdFace.reader.read([
      ...files,
      { path: "README.txt", content: "hello" },
      { path: "nodes/cp-1/custom.service", content: "[Service]\nExecStart=/bin/true\n" },
    ]);
    assert.ok(result.ok);
    assert.deepEqual(
      result.value.unknown.map((entry) => entry.file),
      ["README.txt", "nodes/cp-1/custom.service"],
    );
  });
});

describe("face-systemd reader: each workload read once", () => {
  const { files } = systemdFace.writer.write(mesh, { kind: "cluster" });
  const web = (replica: number) => `nodes/worker-1/revoada.default.web.${replica}.service`;
  const patch = (path: string, edit: (content: string) => string) =>
    files.map((file) => (file.path === path ? { ...file, content: edit(file.content) } : file));

  it("classifies one replica per workload; the others match it outside their replica lines", async () => {
    const classified: string[] = [];
    const result = await readUnitTree(
      files,
      [".service", ".target"],
      (unit, path) => {
        classified.push(path);
        return classifyReplicaUnit(unit, path, readServiceContainer);
      },
      "",
      serviceReplicaMarks,
    );
    assert.ok(result.ok);
    assert.deepEqual(result.value.state, systemdFace.model!(mesh));
    assert.ok(classified.includes(web(0)));
    assert.ok(!classified.includes(web(1)) && !classified.includes(web(2)), "web's later replicas");
  });

  /** The issues (code, file) reading the render gives once `path` is edited. */
  const issuesAfter = async (path: string, edit: (content: string) => string) => {
    const result = await systemdFace.reader.read(patch(path, edit));
    assert.equal(result.ok, false);
    return result.ok ? [] : result.issues.map((issue) => [issue.code, issue.file]);
  };

  it("a later replica that differs outside its replica lines is read in full: a conflict", async () => {
    assert.deepEqual(await issuesAfter(web(2), (text) => text.replace("--listen=:8080", "--listen=:9")), [
      ["conflict", web(2)],
    ]);
  });

  it("a replica whose index line disagrees with its other replica lines is read in full", async () => {
    const edit = (text: string) => text.replace("\nX-Revoada-Replica=1\n", "\nX-Revoada-Replica=0\n");
    assert.deepEqual(await issuesAfter(web(1), edit), [
      ["duplicate", web(1)],
      ["gap", web(0)],
    ]);
  });
});
