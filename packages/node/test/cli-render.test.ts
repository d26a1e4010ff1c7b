/**
 * Goal: `revoada render`, `revoada read` and `revoada face list` work end to end from a
 * clean checkout (the CLI runs from source in a child process).
 * Method: render examples/fabric-state.yaml through each of this faces (cluster,
 * one node, all nodes), read the cluster render back and compare with the face's model of
 * the state; break a rendered file and expect file:line:column with exit 3; unknown faces
 * exit 4 with the list of known faces.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { FabricState, parseSourceText } from "@revoada/fabric-core/vocabulary";
import { loadFace } from "../src/faces.js";
import { runCli } from "./cli-harness.js";

const stateFile = fileURLToPath(new URL("../../../examples/fabric-state.yaml", import.meta.url));
let root = "";

before(async () => {
  root = await mkdtemp(join(tmpdir(), "revoada-cli-render-"));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function exampleState(): Promise<FabricState> {
  const parsed = parseSourceText(FabricState, await readFile(stateFile, "utf8"), stateFile);
  assert.ok(parsed.ok);
  return parsed.value;
}

describe("revoada render / read", () => {
  for (const faceName of ["systemd", "baremetal", "pureraft"]) {
    it(`${faceName}: render the cluster, read it back as YAML equal to the face's model`, async () => {
      const out = join(root, `${faceName}-cluster`);
      const rendered = await runCli([
        "render",
        "--face",
        faceName,
        "--state",
        stateFile,
        "--out",
        out,
        "-o",
        "json",
      ]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const report = JSON.parse(rendered.stdout) as { written: string[]; unchanged: string[] };
      assert.ok(report.written.length > 0);
      const again = await runCli([
        "render",
        "--face",
        faceName,
        "--state",
        stateFile,
        "--out",
        out,
        "-o",
        "json",
      ]);
      assert.deepEqual(
        (JSON.parse(again.stdout) as { written: string[] }).written,
        [],
        "a re-render writes nothing",
      );
      const read = await runCli(["read", "--face", faceName, out, "-o", "yaml"]);
      assert.equal(read.code, 0, read.stderr);
      const parsed = parseSourceText(FabricState, read.stdout, "stdout");
      assert.ok(parsed.ok, JSON.stringify(parsed));
      const face = await loadFace(faceName);
      assert.ok(face.ok);
      assert.deepEqual(parsed.value, face.face.model(await exampleState()));
    });
  }

  it("--node renders one node's view; --all one folder per node", async () => {
    const one = join(root, "one");
    const byName = await runCli([
      "render",
      "--face",
      "systemd",
      "--state",
      stateFile,
      "--node",
      "cp-3",
      "--out",
      one,
    ]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.deepEqual((await readdir(one)).sort(), [
      ".revoada-manifest.json",
      "revoada-etcd.service",
      "revoada-node.target",
      "revoada.dns.resolver.0.service",
    ]);
    const byPrefix = await runCli([
      "render",
      "--face",
      "systemd",
      "--state",
      stateFile,
      "--node",
      "c3c3c3c3",
      "--out",
      one,
    ]);
    assert.equal(byPrefix.code, 0, byPrefix.stderr);
    const all = join(root, "all");
    const everyNode = await runCli([
      "render",
      "--face",
      "baremetal",
      "--state",
      stateFile,
      "--all",
      "--out",
      all,
    ]);
    assert.equal(everyNode.code, 0, everyNode.stderr);
    assert.deepEqual((await readdir(all)).sort(), [
      ".revoada-manifest.json",
      "cp-1",
      "cp-2",
      "cp-3",
      "worker-1",
      "worker-2",
    ]);
    assert.ok((await readdir(join(all, "cp-1"))).includes("revoada-etcd.container"));
    assert.match(everyNode.stderr, /dropped: workloads\.batch\/idle/);
    const missing = await runCli([
      "render",
      "--face",
      "systemd",
      "--state",
      stateFile,
      "--node",
      "nope",
      "--out",
      one,
    ]);
    assert.equal(missing.code, 4);
  });

  it("read reports a broken file with file:line:column and exit 3", async () => {
    const out = join(root, "broken");
    assert.equal((await runCli(["render", "--face", "systemd", "--state", stateFile, "--out", out])).code, 0);
    const path = join(out, "nodes/worker-1/revoada.default.web.0.service");
    const text = await readFile(path, "utf8");
    await writeFile(path, text.replace("Environment=LOG_LEVEL=info", 'Environment="LOG_LEVEL=info'));
    const read = await runCli(["read", "--face", "systemd", out]);
    assert.equal(read.code, 3);
    const line = text.split("\n").indexOf("Environment=LOG_LEVEL=info") + 1;
    assert.match(
      read.stderr,
      new RegExp(`broken/nodes/worker-1/revoada\\.default\\.web\\.0\\.service:${line}:\\d+: `),
    );
  });

  it("an invalid state file is exit 3 with line:column; an unknown face exit 4 with the known ones", async () => {
    const bad = join(root, "bad-state.yaml");
    await writeFile(bad, "nodes: {}\nworkloads: {}\nplacements: {}\napplied:\n  term: -1\n  index: 0\n");
    const invalid = await runCli(["render", "--face", "systemd", "--state", bad, "--out", join(root, "x")]);
    assert.equal(invalid.code, 3);
    assert.match(invalid.stderr, /bad-state\.yaml:5:9: applied\.term/);
    const unknown = await runCli([
      "render",
      "--face",
      "kubernetis",
      "--state",
      stateFile,
      "--out",
      join(root, "y"),
    ]);
    assert.equal(unknown.code, 4);
    assert.match(
      unknown.stderr,
      /unknown face 'kubernetis'; known faces: baremetal, kubernetes, nomad, pureraft, systemd/,
    );
    const unknownRead = await runCli(["read", "--face", "nope", root]);
    assert.equal(unknownRead.code, 4);
  });
});

describe("revoada face list", () => {
  it("lists name, protocol, package and description, as a table and as JSON", async () => {
    const table = await runCli(["face", "list"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+PROTOCOL\s+PACKAGE\s+DESCRIPTION/);
    assert.match(table.stdout, /^systemd\s+systemd\s+@revoada\/face-systemd\s+\S/m);
    const json = await runCli(["face", "list", "-o", "json"]);
    const faces = JSON.parse(json.stdout) as { name: string; package: string; protocol: string | null }[];
    assert.deepEqual(
      faces.map((face) => face.name),
      ["baremetal", "kubernetes", "nomad", "pureraft", "systemd"],
    );
    assert.equal(faces.find((face) => face.name === "pureraft")?.protocol, "pure-raft");
  });
});
