/**
 * Goal: a face is found at run time by name, and a face from a package the core has never
 * heard of can be registered by naming it in config — no core change.
 * Method: write a tiny face package (package.json + index.js, plain ESM) into a temp
 * directory, load it by path and by a configured name, render with it; check that unknown
 * names list the known faces and that a module that is not a face is refused.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { listKnownFaces, loadConfiguredFace, loadFace } from "./faces.js";
import { renderToDirectory } from "./render/render-directory.js";

const pluginSource = `
const face = {
  id: "acme-lines",
  protocol: "pure-raft",
  description: "one line per node (test plugin)",
  writer: {
    write(state) {
      const lines = Object.values(state.nodes).map((node) => node.name).sort();
      return { files: [{ path: "nodes.txt", content: lines.join("\\n") + "\\n" }], dropped: [] };
    },
  },
  reader: { async read() { return { ok: false, issues: [{ code: "unsupported", message: "write-only", path: [] }] }; } },
  model(state) { return state; },
};
export default face;
`;

let root = "";
let pluginDirectory = "";

before(async () => {
  root = await mkdtemp(join(tmpdir(), "revoada-faces-"));
  pluginDirectory = join(root, "node_modules", "@acme", "face-lines");
  await mkdir(pluginDirectory, { recursive: true });
  await writeFile(
    join(pluginDirectory, "package.json"),
    JSON.stringify({ name: "@acme/face-lines", version: "1.0.0", type: "module", exports: "./index.js" }),
  );
  await writeFile(join(pluginDirectory, "index.js"), pluginSource);
  await writeFile(join(root, "not-a-face.js"), "export const hello = 1;\n");
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("face registry at run time", () => {
  it("loads built-in faces by name and alias", async () => {
    const systemd = await loadFace("systemd");
    assert.ok(systemd.ok);
    assert.equal(systemd.face.protocol, "systemd");
    const pure = await loadFace("pure-raft");
    assert.ok(pure.ok && pure.face.id === "pureraft");
  });

  it("registers a face from a package the core does not know, by path, by package name and by configured name", async () => {
    const byPath = await loadFace(pluginDirectory);
    assert.ok(byPath.ok, JSON.stringify(byPath));
    assert.equal(byPath.face.id, "acme-lines");
    const byPackage = await loadFace("@acme/face-lines", { baseDirectory: root });
    assert.ok(byPackage.ok, JSON.stringify(byPackage));
    const configured = { lines: pluginDirectory };
    const byName = await loadFace("lines", { configured });
    assert.ok(byName.ok);
    const out = join(root, "out");
    const written = byName.face.writer.write(exampleFabricStates.mesh!, { kind: "cluster" });
    await renderToDirectory(out, byName.face.id, written.files);
    assert.equal(await readFile(join(out, "nodes.txt"), "utf8"), "cp-1\ncp-2\ncp-3\nworker-1\nworker-2\n");
    const listed = await listKnownFaces({ configured });
    assert.deepEqual(
      listed.map((face) => face.name),
      ["baremetal", "kubernetes", "nomad", "pureraft", "systemd", "lines"],
    );
    assert.deepEqual(listed.at(-1), {
      name: "lines",
      package: pluginDirectory,
      protocol: "pure-raft",
      description: "one line per node (test plugin)",
      available: true,
    });
  });

  it("an unknown name is an error listing the known faces", async () => {
    const result = await loadFace("kubernetis", { configured: { lines: pluginDirectory } });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.kind, "unknown");
    assert.match(
      result.issues.at(-1)?.message ?? "",
      /known faces: baremetal, kubernetes, nomad, pureraft, systemd, lines/,
    );
    const missing = await loadFace("@acme/face-missing", { baseDirectory: root });
    assert.equal(missing.ok, false);
  });

  it("a module that does not export a face is refused with what is missing", async () => {
    const result = await loadFace(join(root, "not-a-face.js"));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.kind, "invalid");
    assert.match(result.issues[0]?.message ?? "", /default export/);
  });

  it("loads the face a node config names by protocol or module", async () => {
    const face = await loadConfiguredFace({
      name: "systemd",
      kind: { protocol: "systemd", user_units: false },
    });
    assert.ok(face.ok && face.face.id === "systemd");
    const plugin = await loadConfiguredFace({ name: "x", kind: { protocol: "pure-raft" } }, pluginDirectory);
    assert.ok(plugin.ok && plugin.face.id === "acme-lines");
  });
});
