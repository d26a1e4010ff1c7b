/**
 * Goal: a face is found at run time by name, and a face from a package the core has never
 * heard of is selected by its bare name once installed (project `node_modules`, a plugin
 * directory, a faces config entry) — no core change; `revoada face new` scaffolds a package
 * that passes the conformance kit and renders by bare name as it is.
 * Method: write tiny face packages (package.json + index.js, plain ESM, declaring the face by
 * the `revoada.face` field or by keyword) into a temp directory, load them by path, package
 * name, discovered name and configured name, render with them; check that unknown names list
 * the known faces and that a module that is not a face is refused. Then run the CLI: scaffold
 * a face into a plugin directory, run the new package's own conformance test, and render and
 * read through it by its bare name.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { FaceFile } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { BuiltInFaceKind } from "@revoada/fabric-core/vocabulary";
import { parseEntrypoint } from "@revoada/face-baremetal";
import { isWordError, lastValue, parseExecLine, parseUnitFile, sectionEntries } from "@revoada/face-systemd";
import { parse as parseYaml } from "yaml";
import { runCli } from "../test/cli-harness.js";
import {
  faceOptionsFromEnvironment,
  listKnownFaces,
  loadConfiguredFace,
  loadFace,
  packageByProtocol,
} from "./faces.js";
import { fabricFaceFor } from "./mesh/mesh-setup.js";
import { renderToDirectory } from "./render/render-directory.js";

const run = promisify(execFile);
const stateFile = fileURLToPath(new URL("../../../examples/fabric-state.yaml", import.meta.url));
const fabricCoreDirectory = fileURLToPath(new URL("../../fabric-core", import.meta.url));

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
  const modules = join(root, "node_modules");
  await writePackage(
    join(modules, "@acme", "face-rows"),
    "@acme/face-rows",
    { revoada: { face: "rows" } },
    "acme-rows",
  );
  await writePackage(
    join(modules, "revoada-face-tally"),
    "revoada-face-tally",
    { keywords: ["revoada-face"] },
    "tally",
  );
  await writePackage(join(modules, "face-bad"), "face-bad", { revoada: { face: "Bad Name" } }, "bad");
  await writePackage(join(root, "plugins", "face-far"), "face-far", { revoada: { face: "far" } }, "far");
  await writePackage(join(root, "plugins", "@acme", "face-remote"), "@acme/face-remote", {}, "remote");
});

/** A face package at `directory` that declares itself through `declaration` (package.json fields). */
async function writePackage(directory: string, name: string, declaration: object, id: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  const manifest = { name, version: "1.0.0", type: "module", exports: "./index.js", ...declaration };
  await writeFile(join(directory, "package.json"), JSON.stringify(manifest));
  await writeFile(join(directory, "index.js"), pluginSource.replace('id: "acme-lines"', `id: "${id}"`));
}

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
    const listed = (await listKnownFaces({ configured, baseDirectory: join(root, "plugins") })).faces;
    assert.deepEqual(
      listed.map((face) => face.name),
      ["baremetal", "kubernetes", "nomad", "pureraft", "systemd", "lines", "rows", "tally"],
    );
    assert.deepEqual(listed[5], {
      name: "lines",
      package: pluginDirectory,
      protocol: "pure-raft",
      description: "one line per node (test plugin)",
      available: true,
      from: "config (options)",
    });
  });

  it("finds installed face packages by bare name: the revoada.face field, the keyword, plugin directories", async () => {
    const rows = await loadFace("rows", { baseDirectory: join(root, "plugins") });
    assert.ok(rows.ok, JSON.stringify(rows));
    assert.equal(rows.face.id, "acme-rows");
    const tally = await loadFace("tally", { baseDirectory: root });
    assert.ok(tally.ok && tally.face.id === "tally", JSON.stringify(tally));
    const hidden = await loadFace("far", { baseDirectory: root });
    assert.equal(hidden.ok, false, "a plugin directory is searched only when configured");
    const plugins = [join(root, "plugins")];
    const far = await loadFace("far", { baseDirectory: root, pluginDirectories: plugins });
    assert.ok(far.ok && far.face.id === "far", JSON.stringify(far));
    const byPackage = await loadFace("@acme/face-remote", {
      baseDirectory: root,
      pluginDirectories: plugins,
    });
    assert.ok(
      byPackage.ok && byPackage.face.id === "remote",
      "a package name is looked up in plugin directories too",
    );
    const listing = await listKnownFaces({ baseDirectory: root, pluginDirectories: plugins });
    const from = Object.fromEntries(listing.faces.map((face) => [face.name, face.from]));
    assert.equal(from.rows, `installed ${join(root, "node_modules")}`);
    assert.equal(from.far, `plugin directory ${join(root, "plugins")}`);
    assert.equal(from.systemd, "built-in");
    assert.ok(listing.faces.every((face) => face.available));
    assert.deepEqual(
      listing.issues.map((issue) => [issue.file, issue.path.join(".")]),
      [[join(root, "node_modules", "face-bad", "package.json"), "revoada.face"]],
      "a package that declares a face badly is reported with its file and field",
    );
  });

  it("the faces config maps names and plugin directories relative to itself; REVOADA_FACE_PATH adds directories", async () => {
    const directory = join(root, "conf");
    await mkdir(directory, { recursive: true });
    const config = "faces:\n  lines: ../node_modules/@acme/face-lines\nplugin_directories:\n  - ../plugins\n";
    await writeFile(join(directory, "revoada-faces.yaml"), config);
    const options = await faceOptionsFromEnvironment(directory, {});
    assert.ok(options.ok, JSON.stringify(options));
    assert.ok((await loadFace("lines", options.value)).ok);
    assert.ok((await loadFace("far", options.value)).ok);
    const listed = await listKnownFaces(options.value);
    assert.equal(
      listed.faces.find((face) => face.name === "lines")?.from,
      `config ${join(directory, "revoada-faces.yaml")}`,
    );
    const fromPath = await faceOptionsFromEnvironment(root, { REVOADA_FACE_PATH: "plugins" });
    assert.ok(fromPath.ok && (await loadFace("far", fromPath.value)).ok);
    await writeFile(join(directory, "bad.yaml"), "faces:\n  Bad Name: ./x\n");
    const bad = await faceOptionsFromEnvironment(directory, { REVOADA_FACES_CONFIG: "bad.yaml" });
    assert.equal(bad.ok, false);
    if (bad.ok) return;
    assert.equal(bad.issues[0]?.line, 2, JSON.stringify(bad.issues));
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

  it("applies the face kind's parameters: Kubernetes version, systemd user_units; refuses what the face cannot take", async () => {
    const mesh = exampleFabricStates.mesh!;
    const old = await loadConfiguredFace({ name: "k", kind: { protocol: "kubernetes", version: "1.28" } });
    assert.ok(old.ok);
    const apiServer = old.face.writer
      .write(mesh, { kind: "cluster" })
      .files.find((file) => file.path === "nodes/cp-1/manifests/kube-apiserver.yaml");
    assert.match(apiServer?.content ?? "", /image: registry\.k8s\.io\/kube-apiserver:v1\.28\.0/);
    const user = await loadConfiguredFace({ name: "s", kind: { protocol: "systemd", user_units: true } });
    assert.ok(user.ok);
    const paths = user.face.writer.write(mesh, { kind: "cluster" }).files.map((file) => file.path);
    assert.ok(paths.includes("nodes/cp-1/.config/systemd/user/revoada-node.target"), paths.join(" "));
    const unsupported = await loadConfiguredFace({
      name: "k",
      kind: { protocol: "kubernetes", version: "1.27" },
    });
    assert.equal(unsupported.ok, false);
    if (unsupported.ok) return;
    assert.equal(unsupported.kind, "config");
    assert.deepEqual(unsupported.issues[0]?.path, ["face", "kind", "version"]);
    assert.match(
      unsupported.issues[0]?.message ?? "",
      /^face\.kind\.version: Kubernetes 1\.27 is not supported/,
    );
    const nomad = await loadConfiguredFace({ name: "n", kind: { protocol: "nomad", version: "1.4" } });
    assert.ok(nomad.ok);
    const job = nomad.face.writer
      .write(mesh, { kind: "cluster" })
      .files.find((file) => file.path.endsWith(".nomad.hcl"));
    assert.doesNotMatch(job?.content ?? "", /"\*"/, "Nomad 1.4 has no datacenter wildcard");
  });

  it("every parameter a built-in face kind declares is one its face takes (none is parsed and dropped)", async () => {
    for (const kind of BuiltInFaceKind.options) {
      const protocol = kind.shape.protocol.value;
      // certified_cncf stays in the schema only to refuse it with the migration (docs/faces.md).
      const fields = Object.keys(kind.shape).filter((key) => key !== "protocol" && key !== "certified_cncf");
      const loaded = await loadFace(packageByProtocol[protocol]);
      assert.ok(loaded.ok, protocol);
      assert.deepEqual(
        (loaded.face.parameters ?? []).map((parameter) => parameter.name).sort(),
        fields.sort(),
        `${protocol}: the face declares exactly the kind's parameters`,
      );
    }
  });

  it("loads the face a node config names by protocol or module", async () => {
    const face = await loadConfiguredFace({
      name: "systemd",
      kind: { protocol: "systemd", user_units: false },
    });
    assert.ok(face.ok && face.face.id === "systemd");
    const plugin = await loadConfiguredFace({ name: "x", kind: { protocol: "pure-raft" } }, pluginDirectory);
    assert.ok(plugin.ok && plugin.face.id === "acme-lines");
    process.env.REVOADA_FACE_PATH = join(root, "plugins");
    try {
      const byName = await loadConfiguredFace({ name: "x", kind: { protocol: "pure-raft" } }, "far");
      assert.ok(
        byName.ok && byName.face.id === "far",
        "face_module may be a face found in a plugin directory",
      );
    } finally {
      delete process.env.REVOADA_FACE_PATH;
    }
  });
});

describe("revoada face new", () => {
  it("scaffolds a face that passes the conformance kit, is found by bare name and renders", async () => {
    const plugins = join(root, "scaffolded");
    await mkdir(plugins, { recursive: true });
    const created = await runCli(["face", "new", "compose", "--dir", plugins]);
    assert.equal(created.code, 0, created.stderr);
    const directory = join(plugins, "face-compose");
    const manifest = JSON.parse(await readFile(join(directory, "package.json"), "utf8")) as {
      revoada: { face: string };
    };
    assert.equal(manifest.revoada.face, "compose");
    // Outside the workspace the package depends on fabric-core by file: link; link it as an install would.
    await mkdir(join(directory, "node_modules", "@revoada"), { recursive: true });
    await symlink(fabricCoreDirectory, join(directory, "node_modules", "@revoada", "fabric-core"));
    await symlink(
      await realpath(join(fabricCoreDirectory, "node_modules", "zod")),
      join(directory, "node_modules", "zod"),
    );
    const tsx = import.meta.resolve("tsx");
    const conformance = await run(
      process.execPath,
      ["--conditions=source", "--import", tsx, "--test", "--test-reporter=tap", "src/conformance.test.ts"],
      // Without NODE_TEST_CONTEXT the child reports as a top-level run (TAP on stdout).
      { cwd: directory, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    );
    assert.match(conformance.stdout, /^# fail 0$/m);
    assert.match(conformance.stdout, /^# pass [1-9]\d*$/m);
    assert.equal(
      (await runCli(["face", "new", "compose", "--dir", plugins])).code,
      1,
      "an existing package is refused",
    );
    assert.equal((await runCli(["face", "new", "Compose", "--dir", plugins])).code, 2);

    process.env.REVOADA_FACE_PATH = plugins;
    try {
      const listed = await runCli(["face", "list", "-o", "json"]);
      const faces = JSON.parse(listed.stdout) as { name: string; protocol: string; from: string }[];
      assert.deepEqual(
        faces.find((face) => face.name === "compose"),
        {
          available: true,
          description: "the fabric state as one small JSON file per node and per workload",
          from: `plugin directory ${plugins}`,
          name: "compose",
          package: "face-compose",
          protocol: "compose",
        },
      );
      const out = join(root, "compose-out");
      const rendered = await runCli(["render", "--face", "compose", "--state", stateFile, "--out", out]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const node = JSON.parse(await readFile(join(out, "nodes", "cp-1", "node.json"), "utf8")) as {
        name: string;
      };
      assert.equal(node.name, "cp-1");
      const read = await runCli(["read", "--face", "compose", out, "-o", "json"]);
      assert.equal(read.code, 0, read.stderr);
      assert.match(read.stdout, /"cp-1"/);
      // A node config names the add-on face by its protocol, with no face_module.
      const configured = await loadConfiguredFace({ name: "compose", kind: { protocol: "compose" } });
      assert.ok(configured.ok, JSON.stringify(configured));
      assert.equal(configured.ok && configured.face.id, "compose");
      // `revoada up --face compose` lays out nodes that name it the same way.
      assert.deepEqual(await fabricFaceFor("compose"), { name: "compose", kind: { protocol: "compose" } });
      const unknown = await runCli(["up", "--face", "no-such-face", "--dir", join(root, "no-mesh")]);
      assert.equal(unknown.code, 4, unknown.stderr);
      assert.match(unknown.stderr, /unknown face no-such-face/);
    } finally {
      delete process.env.REVOADA_FACE_PATH;
    }
  });
});

/** `nodes/<node>/<component>` -> command line, from each face's control-plane files. */
type CommandLines = Map<string, readonly string[]>;

function unitValue(file: FaceFile, section: string, key: string): string {
  const unit = parseUnitFile(file.content, file.path);
  assert.ok(unit.ok, file.path);
  const entry = lastValue(sectionEntries(unit.value, section), key);
  assert.ok(entry !== undefined, `${file.path}: ${key}=`);
  return entry.value;
}

function words(text: string): string[] {
  const parsed = parseExecLine(text);
  assert.ok(!isWordError(parsed), text);
  return parsed;
}

function commandLines(
  files: readonly FaceFile[],
  pattern: RegExp,
  read: (file: FaceFile) => string[],
): CommandLines {
  const lines: CommandLines = new Map();
  for (const file of files) {
    const match = pattern.exec(file.path);
    if (match !== null && !file.content.includes("X-Revoada-Workload"))
      lines.set(`${match[1]}/${match[2]}`, read(file));
  }
  return lines;
}

describe("the control plane in every face", () => {
  it("Kubernetes static pods, systemd units and Quadlet containers start each component with the same command line", async () => {
    const options = { baseDirectory: root, configured: {} };
    const [kubernetes, systemd, baremetal] = await Promise.all(
      ["kubernetes", "systemd", "baremetal"].map((name) => loadFace(name, options)),
    );
    assert.ok(kubernetes?.ok && systemd?.ok && baremetal?.ok);
    const mesh = exampleFabricStates.mesh!;
    const cluster = { kind: "cluster" } as const;
    const pods = commandLines(
      kubernetes.face.writer.write(mesh, cluster).files,
      /^nodes\/([^/]+)\/manifests\/(etcd|kube-[a-z-]+)\.yaml$/,
      (file) =>
        (parseYaml(file.content) as { spec: { containers: { command: string[] }[] } }).spec.containers[0]!
          .command,
    );
    const services = commandLines(
      systemd.face.writer.write(mesh, cluster).files,
      /^nodes\/([^/]+)\/revoada-(etcd|kube-[a-z-]+)\.service$/,
      (file) => {
        const [program, ...flags] = words(unitValue(file, "Service", "ExecStart"));
        return [program!.slice(program!.lastIndexOf("/") + 1), ...flags];
      },
    );
    const containers = commandLines(
      baremetal.face.writer.write(mesh, cluster).files,
      /^nodes\/([^/]+)\/revoada-(etcd|kube-[a-z-]+)\.container$/,
      (file) => {
        const entrypoint = parseEntrypoint(unitValue(file, "Container", "Entrypoint"));
        assert.ok(Array.isArray(entrypoint));
        return [...entrypoint, ...words(unitValue(file, "Container", "Exec"))];
      },
    );
    assert.equal(pods.size, 9, "the mesh's components: all four on cp-1 and cp-2, etcd on cp-3");
    assert.deepEqual([...services.keys()].sort(), [...pods.keys()].sort());
    assert.deepEqual([...containers.keys()].sort(), [...pods.keys()].sort());
    for (const [key, command] of pods) {
      assert.deepEqual(services.get(key), command, `${key}: systemd runs what the static pod runs`);
      assert.deepEqual(containers.get(key), command, `${key}: Quadlet runs what the static pod runs`);
    }
    const etcdStates = [...pods]
      .filter(([key]) => key.endsWith("/etcd"))
      .map(([, command]) => command.find((word) => word.startsWith("--initial-cluster-state=")));
    assert.deepEqual(etcdStates.sort(), [
      "--initial-cluster-state=existing",
      "--initial-cluster-state=existing",
      "--initial-cluster-state=new",
    ]);
  });

  it("with the committed etcd members in the render context, every face starts a joining member as existing with them", async () => {
    const options = { baseDirectory: root, configured: {} };
    const [kubernetes, systemd, baremetal] = await Promise.all(
      ["kubernetes", "systemd", "baremetal"].map((name) => loadFace(name, options)),
    );
    assert.ok(kubernetes?.ok && systemd?.ok && baremetal?.ok);
    const mesh = exampleFabricStates.mesh!;
    const byName = (name: string) => Object.values(mesh.nodes).find((node) => node.name === name)!;
    // cp-3 sorts last, so the founding rule alone would also say existing: record cp-3 and cp-2,
    // and cp-1 (the founder by name) is the one joining.
    const context = {
      etcdMembers: [
        { node: byName("cp-2").id, learner: false },
        { node: byName("cp-3").id, learner: false },
      ],
    };
    const cluster = { kind: "cluster" } as const;
    const etcdOf = (
      files: readonly FaceFile[],
      path: string,
      read: (file: FaceFile) => string[],
    ): string[] => {
      const file = files.find((candidate) => candidate.path === path);
      assert.ok(file, path);
      return read(file);
    };
    const commands = [
      etcdOf(
        kubernetes.face.writer.write(mesh, cluster, context).files,
        "nodes/cp-1/manifests/etcd.yaml",
        (file) =>
          (parseYaml(file.content) as { spec: { containers: { command: string[] }[] } }).spec.containers[0]!
            .command,
      ),
      etcdOf(
        systemd.face.writer.write(mesh, cluster, context).files,
        "nodes/cp-1/revoada-etcd.service",
        (file) => words(unitValue(file, "Service", "ExecStart")).slice(1),
      ),
      etcdOf(
        baremetal.face.writer.write(mesh, cluster, context).files,
        "nodes/cp-1/revoada-etcd.container",
        (file) => words(unitValue(file, "Container", "Exec")),
      ),
    ];
    for (const command of commands) {
      assert.ok(command.includes("--initial-cluster-state=existing"), command.join(" "));
      const list = command
        .find((word) => word.startsWith("--initial-cluster="))
        ?.split("=")
        .slice(1)
        .join("=");
      assert.deepEqual(
        list?.split(",").map((entry) => entry.split("=")[0]),
        ["cp-1", "cp-2", "cp-3"],
      );
    }
  });
});

describe("revoada render --param", () => {
  it("renders and reads with a face parameter (an unsupported value: loadConfiguredFace above)", async () => {
    const out = join(root, "k8s-1.29");
    const rendered = await runCli([
      "render",
      "--face",
      "kubernetes",
      "--param",
      "version=1.29",
      "--state",
      stateFile,
      "--out",
      out,
    ]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const pod = await readFile(join(out, "nodes", "cp-1", "manifests", "kube-apiserver.yaml"), "utf8");
    assert.match(pod, /image: registry\.k8s\.io\/kube-apiserver:v1\.29\.0/);
    const read = await runCli(["read", "--face", "kubernetes", "--param", "version=1.29", out, "-o", "json"]);
    assert.equal(read.code, 0, read.stderr);
    assert.doesNotMatch(read.stderr, /^ignored:/m, "read with the same version understands every file");
  });
});

describe("revoada read says what the face cannot represent", () => {
  it("kubernetes: lost fields are absent (not zeros), listed on stderr, in YAML comments and in JSON", async () => {
    const out = join(root, "k8s-loss");
    const rendered = await runCli(["render", "--face", "kubernetes", "--state", stateFile, "--out", out]);
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.match(rendered.stderr, /^dropped: nodes\.[0-9a-f]{64}\.capacity: /m);
    const json = await runCli(["read", "--face", "kubernetes", out, "-o", "json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.match(
      json.stderr,
      /^lost: nodes\.\*\.capacity \(5 fields, absent\): node capacity is reported by the kubelet$/m,
    );
    assert.match(json.stderr, /^lost: applied \(1 field, absent\): /m);
    const document = JSON.parse(json.stdout) as {
      state: { nodes: Record<string, Record<string, unknown>>; applied?: unknown };
      lost: { path: string[]; reason: string }[];
      ignored: unknown[];
    };
    const nodes = Object.values(document.state.nodes);
    assert.equal(nodes.length, 5);
    for (const node of nodes) {
      assert.equal(typeof node.name, "string", "what the face carries is there");
      assert.ok(
        !("capacity" in node) && !("version" in node) && !("generation" in node),
        "lost fields are absent",
      );
    }
    assert.ok(!("applied" in document.state));
    assert.equal(document.lost.length, 5 * 3 + 1);
    assert.deepEqual(document.lost.at(-1), {
      path: ["applied"],
      reason: "no Kubernetes object holds the Raft log position",
    });
    assert.deepEqual(document.ignored, []);
    const yaml = await runCli(["read", "--face", "kubernetes", out, "-o", "yaml"]);
    assert.match(yaml.stdout, /^# lost: nodes\.\*\.version \(5 fields, absent\): /m);
    assert.doesNotMatch(yaml.stdout, /capacity:|generation:|applied:/);
  });

  it("systemd carries every node field: nothing is reported lost", async () => {
    const out = join(root, "systemd-loss");
    assert.equal((await runCli(["render", "--face", "systemd", "--state", stateFile, "--out", out])).code, 0);
    const read = await runCli(["read", "--face", "systemd", out, "-o", "json"]);
    assert.equal(read.code, 0, read.stderr);
    assert.doesNotMatch(read.stderr, /lost:/);
    const document = JSON.parse(read.stdout) as { state: { applied: { index: number } }; lost: unknown[] };
    assert.deepEqual(document.lost, []);
    assert.equal(document.state.applied.index, 1042);
  });
});

describe("a faces config that does not parse", () => {
  it("render exits 3 naming file:line:column, face list too", async () => {
    const config = join(root, "broken-faces.yaml");
    await writeFile(config, "faces:\n  compose: ./x\nplugin_directories: nope\n");
    process.env.REVOADA_FACES_CONFIG = config;
    try {
      const render = await runCli([
        "render",
        "--face",
        "compose",
        "--state",
        stateFile,
        "--out",
        join(root, "z"),
      ]);
      assert.equal(render.code, 3, render.stderr);
      assert.match(render.stderr, /broken-faces\.yaml:3:\d+: plugin_directories/);
      const list = await runCli(["face", "list"]);
      assert.equal(list.code, 3, list.stderr);
      assert.match(list.stderr, /broken-faces\.yaml:3:\d+/);
    } finally {
      delete process.env.REVOADA_FACES_CONFIG;
    }
  });
});
