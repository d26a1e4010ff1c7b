// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Nomad runtime interpolations are what these tests are about
/**
 * Goal: the Nomad face's parts behave as documented: HCL -> IR -> API JSON is consistent,
 * runtime interpolations pass through while other `${`/`%{` are escaped, durations convert
 * exactly, control-plane roles become server agents, and bad input gets located issues.
 * Method: the mesh example state and small hand-written jobspecs, read back through hcl2json.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FaceFile } from "@revoada/fabric-core/face";
import { arbitraryFabricState, exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { FabricState, formatIssue, type Workload } from "@revoada/fabric-core/vocabulary";
import fc from "fast-check";
import { apiToJob, jobToApi } from "./api-json.js";
import { formatDuration, parseDuration } from "./duration.js";
import { parseCanonicalHcl } from "./hcl-canonical.js";
import { escapeTemplate } from "./hcl-printer.js";
import { parseHclWithHcl2json, readJobHcl } from "./hcl-read.js";
import { nomadFace } from "./index.js";
import { readNomadChecked } from "./reader.js";

const mesh = exampleFabricStates.mesh!;
const cluster = { kind: "cluster" } as const;

function fileText(state: FabricState, path: string): string {
  const file = nomadFace.writer.write(state, cluster).files.find((candidate) => candidate.path === path);
  assert.ok(file, `${path} is written`);
  return file.content;
}

/** The mesh's cluster render with the file at `path` changed by `edit`. */
function meshFilesWith(path: string, edit: (content: string) => string): FaceFile[] {
  return nomadFace.writer
    .write(mesh, cluster)
    .files.map((file) => (file.path === path ? { ...file, content: edit(file.content) } : file));
}

describe("HCL -> IR -> JSON", () => {
  it("every jobspec of the mesh reads back to the IR its API JSON encodes", async () => {
    const files = nomadFace.writer.write(mesh, cluster).files;
    const jobs = files.filter((file) => file.path.endsWith(".nomad.hcl"));
    assert.equal(jobs.length, 4);
    for (const file of jobs) {
      const read = await readJobHcl(file.path, file.content);
      assert.ok(read.ok, file.path);
      const json = files.find((candidate) => candidate.path === file.path.replace(".nomad.hcl", ".json"))!;
      assert.deepEqual(
        JSON.parse(JSON.stringify(jobToApi(read.value.job))),
        JSON.parse(json.content),
        file.path,
      );
      assert.deepEqual(apiToJob(JSON.parse(json.content)), read.value.job);
    }
  });

  it("a hand-written jobspec with affinity, spread targets and durations converts to ns", async () => {
    const text = [
      'job "api" {',
      '  datacenters = ["dc1"]',
      "  affinity {",
      '    attribute = "${node.class}"',
      '    value = "fast"',
      "    weight = 70",
      "  }",
      "  spread {",
      '    attribute = "${meta.rack}"',
      '    target "r1" {',
      "      percent = 60",
      "    }",
      "  }",
      '  group "g" {',
      "    restart {",
      "      attempts = 3",
      '      interval = "1h30m"',
      '      delay = "250ms"',
      '      mode = "delay"',
      "    }",
      '    task "t" {',
      '      driver = "docker"',
      "      config {",
      '        image = "nginx"',
      "      }",
      "    }",
      "  }",
      "}",
      "",
    ].join("\n");
    const read = await readJobHcl("api.nomad.hcl", text);
    assert.ok(read.ok);
    const api = jobToApi(read.value.job).Job;
    assert.deepEqual(api.Affinities, [
      { LTarget: "${node.class}", Operand: "=", RTarget: "fast", Weight: 70 },
    ]);
    assert.deepEqual(api.Spreads, [
      { Attribute: "${meta.rack}", Weight: 50, SpreadTarget: [{ Value: "r1", Percent: 60 }] },
    ]);
    const restart = api.TaskGroups[0]!.RestartPolicy;
    assert.deepEqual(restart, {
      Attempts: 3,
      Interval: 5_400_000_000_000,
      Delay: 250_000_000,
      Mode: "delay",
    });
    assert.equal(api.Namespace, "default");
    assert.equal(api.TaskGroups[0]!.Count, 1);
  });
});

describe("interpolation and escaping", () => {
  it("runtime interpolations pass through, other ${ and %{ are escaped", () => {
    assert.equal(escapeTemplate("${node.unique.name}"), "${node.unique.name}");
    assert.equal(escapeTemplate("id-${NOMAD_ALLOC_ID}"), "id-${NOMAD_ALLOC_ID}");
    assert.equal(escapeTemplate("${attr.unique.network.ip-address}"), "${attr.unique.network.ip-address}");
    assert.equal(escapeTemplate("${var.x}"), "$${var.x}");
    assert.equal(escapeTemplate("${foo bar}"), "$${foo bar}");
    assert.equal(escapeTemplate("100%{x}"), "100%%{x}");
    assert.equal(escapeTemplate('say "hi"\\\n'), 'say \\"hi\\"\\\\\\n');
    assert.equal(escapeTemplate("$${node.unique.name}"), "$$${node.unique.name}");
  });

  it("env values holding ${...} are dropped, said (Nomad would resolve them); args are escaped for Nomad's run time; other strings survive write -> hcl2json -> read", async () => {
    const env = {
      HOST: "${node.unique.name}",
      MIXED: "pre-${attr.kernel.name}-$${literal}-%{ if }-${var.not_runtime}",
      DOLLARS: "$ $$ $${ ${",
      QUOTES: 'a "b" \\c\\ \t',
    };
    const workload: Workload = {
      ...mesh.workloads["default/web"]!,
      env,
      args: ["${NOMAD_TASK_DIR}/x", "%{"],
    };
    const state: FabricState = { ...mesh, workloads: { "default/web": workload } };
    const written = nomadFace.writer.write(state, cluster);
    assert.deepEqual(
      written.dropped.filter((entry) => entry.path[2] === "env").map((entry) => entry.path.join(".")),
      ["workloads.default/web.env.HOST", "workloads.default/web.env.MIXED"],
    );
    const hcl = fileText(state, "jobs/default/web.nomad.hcl");
    assert.doesNotMatch(hcl, /"HOST" =/);
    assert.match(
      hcl,
      /"\$\$\$\{NOMAD_TASK_DIR\}\/x"/,
      "a literal ${ in args is escaped for Nomad's run time, then for HCL",
    );
    assert.match(hcl, /"%%%\{"/, "a literal %{ too");
    const json = JSON.parse(fileText(state, "jobs/default/web.json"));
    assert.deepEqual(json.Job.TaskGroups[0].Tasks[0].Config.args, ["$${NOMAD_TASK_DIR}/x", "%%{"]);
    assert.equal(json.Job.TaskGroups[0].Tasks[0].Env.HOST, undefined);
    assert.equal(json.Job.TaskGroups[0].Tasks[0].Env.DOLLARS, "$ $$ $${ ${");
    const read = await nomadFace.reader.read(written.files);
    assert.ok(read.ok);
    assert.deepEqual(read.value.state.workloads["default/web"]?.env, {
      DOLLARS: env.DOLLARS,
      QUOTES: env.QUOTES,
    });
    assert.deepEqual(read.value.state.workloads["default/web"]?.args, workload.args);
    const environments = await nomadFace.containerEnvironments!(written.files);
    assert.ok(environments.ok);
    assert.deepEqual(environments.value["default/web"], { DOLLARS: env.DOLLARS, QUOTES: env.QUOTES });
  });
});

describe("the fast HCL reader", () => {
  async function assertSameAsHcl2json(path: string, text: string): Promise<void> {
    const fast = parseCanonicalHcl(text);
    assert.ok(fast !== undefined, `${path} is in the printer's subset`);
    const reference = await parseHclWithHcl2json(path, text);
    assert.ok("value" in reference, path);
    assert.deepEqual(fast, reference.value, path);
  }

  it("reads every file the writer produces exactly as hcl2json does (generated states)", async () => {
    const tricky: Workload = {
      ...mesh.workloads["default/web"]!,
      env: { A: "${node.unique.name}-$${x}-%%{y}-${var.z}", B: 'q"\\\t\n\u0001 \\u0041' },
      args: ["$", "$$", "%", "%{", "${NOMAD_ALLOC_ID}"],
    };
    const states = [mesh, { ...mesh, workloads: { "default/web": tricky } }];
    fc.sample(arbitraryFabricState({ nodesMax: 2, workloadsMax: 3 }), { numRuns: 6, seed: 7 }).forEach(
      (state) => {
        states.push(state);
      },
    );
    for (const state of states) {
      for (const file of nomadFace.writer.write(state, cluster).files) {
        if (file.path.endsWith(".hcl")) await assertSameAsHcl2json(file.path, file.content);
      }
    }
  });

  it("leaves anything outside the subset to hcl2json", () => {
    assert.equal(parseCanonicalHcl('job "a" {\n  # a comment\n}\n'), undefined);
    assert.equal(parseCanonicalHcl('x = "${var.y}"\n'), undefined);
    assert.equal(parseCanonicalHcl("x = 1 + 2\n"), undefined);
    assert.equal(parseCanonicalHcl("x = <<EOF\nhi\nEOF\n"), undefined);
    assert.equal(parseCanonicalHcl("a { b = 1 c = 2 }\n"), undefined);
    assert.deepEqual(parseCanonicalHcl('a "l" {\n  b = [\n    "x",\n  ]\n}\n'), { a: { l: [{ b: ["x"] }] } });
  });

  it("leaves to hcl2json what it would not read as hcl2json does", () => {
    const outside = {
      "an attribute and a block of one name": 'a = ["x",]\na {\n}\n',
      "a block, then an attribute of its name": 'a "l" {\n}\na = {\n}\n',
      "a labelled and an unlabelled block of one type": 'a "l" {\n}\na {\n}\n',
      "a __proto__ map key": 'm = {\n  "__proto__" = "x"\n}\n',
      "a __proto__ label": 'a "__proto__" {\n}\n',
      "a tab indent": "a {\n\tb = 1\n}\n",
      "a trailing space": "a {\n  b = 1 \n}\n",
      "an escape in a label": 'a "\\u0041" {\n}\n',
      "a string running past its line": 'a = "x\ny"\n',
    };
    for (const [what, text] of Object.entries(outside))
      assert.equal(parseCanonicalHcl(text), undefined, what);
  });

  it("reads labels with spaces and strings of every escape as hcl2json does", async () => {
    const text =
      'a "two words" "" {\n  b = "q\\"\\\\\\n\\u0001$x%y$${z}%%{w}${NOMAD_ALLOC_ID}"\n  c = -7\n}\n';
    const reference = await parseHclWithHcl2json("labels.hcl", text);
    assert.ok("value" in reference);
    assert.deepEqual(parseCanonicalHcl(text), reference.value);
  });
});

describe("durations", () => {
  it("convert exactly both ways and refuse fractions", () => {
    assert.equal(parseDuration("30m"), 1_800_000_000_000);
    assert.equal(parseDuration("1h30m15s"), 5_415_000_000_000);
    assert.equal(parseDuration("1.5s"), undefined);
    assert.equal(parseDuration("10"), undefined);
    for (const ns of [0, 1, 1_000, 2_000_000_000, 5_415_000_000_000, 90_061_001_001_001]) {
      assert.equal(parseDuration(formatDuration(ns)), ns);
    }
  });
});

describe("agents", () => {
  it("control-plane nodes run servers expecting and joining every server; the others run clients joining them", () => {
    const files = nomadFace.writer.write(mesh, cluster).files;
    const agent = (name: string) => files.find((file) => file.path === `nodes/${name}/agent.hcl`)!.content;
    const serf = '"10.0.0.11:4648",\n      "10.0.0.12:4648",\n      "10.0.0.13:4648",';
    const rpc = '"10.0.0.11:4647",\n      "10.0.0.12:4647",\n      "10.0.0.13:4647",';
    for (const name of ["cp-1", "cp-2", "cp-3"]) {
      assert.ok(
        agent(name).includes(
          `server {\n  enabled = true\n  bootstrap_expect = 3\n  server_join {\n    retry_join = [\n      ${serf}\n    ]\n  }\n}`,
        ),
        `${name}: a server that expects and joins the three servers`,
      );
    }
    assert.match(agent("cp-1"), /client \{\n {2}enabled = false/);
    assert.match(agent("cp-3"), /client \{\n {2}enabled = true/, "cp-3 also holds the worker role");
    assert.doesNotMatch(agent("worker-1"), /server \{/);
    assert.ok(agent("worker-1").includes(`server_join {\n    retry_join = [\n      ${rpc}\n    ]\n  }`));
    assert.match(agent("worker-2"), /"revoada.quarantined" = "true"/);
  });
});

describe("bad input", () => {
  it("a syntax error names file, line and column", async () => {
    const read = await nomadFace.reader.read([
      { path: "jobs/a/b.nomad.hcl", content: 'job "b" {\n  type = \n}\n' },
    ]);
    assert.ok(!read.ok);
    assert.match(formatIssue(read.issues[0]!), /^jobs\/a\/b\.nomad\.hcl:2:\d+: /);
  });

  it("a schema error in a file of the printer's own subset names file, field and line", async () => {
    const files = meshFilesWith("jobs/default/web.nomad.hcl", (content) =>
      content.replace("    count = 3\n", "    count = -3\n"),
    );
    const text = files.find((file) => file.path === "jobs/default/web.nomad.hcl")!.content;
    assert.ok(parseCanonicalHcl(text) !== undefined, "still read by the fast parser");
    const read = await nomadFace.reader.read(files);
    assert.ok(!read.ok);
    assert.equal(read.issues.length, 1);
    const issue = read.issues[0]!;
    assert.equal(issue.file, "jobs/default/web.nomad.hcl");
    assert.equal(issue.path.at(-1), "count");
    assert.equal(issue.line, text.split("\n").indexOf("    count = -3") + 1);
  });

  it("a file outside the printer's subset (tab indents) reads as its canonical twin does", async () => {
    const files = nomadFace.writer.write(mesh, cluster).files;
    const tabbed = meshFilesWith("jobs/default/web.nomad.hcl", (content) =>
      content.replaceAll("\n  ", "\n\t"),
    );
    const canonical = await nomadFace.reader.read(files);
    const read = await nomadFace.reader.read(tabbed);
    assert.ok(canonical.ok && read.ok);
    assert.deepEqual(read.value.state, canonical.value.state);
    assert.deepEqual(read.value.unknown, []);
  });

  it("duplicate group names are refused with the group's line", async () => {
    const body =
      '  group "g" {\n    task "t" {\n      driver = "docker"\n      config {\n        image = "x"\n      }\n    }\n  }\n';
    const text = `job "j" {\n${body}${body}}\n`;
    const issues = await nomadFace.validate!([{ path: "jobs/a/j.nomad.hcl", content: text }]);
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /duplicate group name/);
    assert.equal(issues[0]!.line, 2);
  });

  it("a job API JSON that disagrees with its jobspec is an issue", async () => {
    const files = meshFilesWith("jobs/default/web.json", (content) =>
      content.replace('"Count": 3', '"Count": 4'),
    );
    const issues = await nomadFace.validate!(files);
    assert.deepEqual(
      issues.map((issue) => issue.code),
      ["inconsistent"],
    );
  });

  it("an attribute the face does not write is reported as unknown", async () => {
    const files = meshFilesWith("jobs/batch/idle.nomad.hcl", (content) =>
      content.replace('  type = "service"\n', '  type = "service"\n  priority = 70\n'),
    );
    const read = await nomadFace.reader.read(files);
    assert.ok(read.ok);
    assert.deepEqual(
      read.value.unknown.map((field) => [field.file, field.path]),
      [["jobs/batch/idle.nomad.hcl", ["job", "idle", 0, "priority"]]],
    );
  });
});

describe("the reader's fast path", () => {
  it("gives what the fully checked reader gives (generated states)", async () => {
    const states = fc.sample(arbitraryFabricState(), { numRuns: 12, seed: 11 });
    for (const state of [mesh, ...states]) {
      const written = nomadFace.writer.write(state, cluster).files;
      const fast = await nomadFace.reader.read(written);
      const checked = await readNomadChecked(written);
      assert.ok(fast.ok && checked.ok);
      assert.deepEqual(fast.value, checked.value);
    }
  });
});

describe("states outside the generator's comfort zone", () => {
  it("duplicate node names, revoada.* labels and odd memory still round-trip to the model", async () => {
    const [first, second] = Object.values(mesh.nodes);
    const web = mesh.workloads["default/web"]!;
    const odd: FabricState = FabricState.parse({
      ...mesh,
      nodes: {
        [first!.id]: { ...first!, name: "twin", labels: { "revoada.tier": "gold" } },
        [second!.id]: { ...second!, name: "twin" },
      },
      workloads: {
        "default/web": {
          ...web,
          resources: { cpu_millis: 1, memory_bytes: 1_000_001 },
          placement: { ...web.placement, labels: { "revoada.tier": "gold" } },
        },
      },
      placements: { "default/web": [first!.id] },
    });
    const written = nomadFace.writer.write(odd, cluster);
    const agents = written.files.map((file) => file.path).filter((path) => path.endsWith("agent.hcl"));
    assert.deepEqual(agents, [`nodes/${first!.id}/agent.hcl`, `nodes/${second!.id}/agent.hcl`]);
    const hcl = written.files.find((file) => file.path === "jobs/default/web.nomad.hcl")!.content;
    assert.match(hcl, /attribute = "\$\{meta\.revoada\.label\.revoada\.tier\}"/);
    assert.match(hcl, /memory = 1\n/);
    assert.ok(
      written.dropped.some(
        (entry) => entry.path.join(".") === "workloads.default/web.resources.memory_bytes",
      ),
    );
    assert.deepEqual(await nomadFace.validate!(written.files), []);
    const read = await nomadFace.reader.read(written.files);
    assert.ok(read.ok);
    assert.deepEqual(read.value.unknown, []);
    assert.deepEqual(read.value.state, nomadFace.model(odd));
    assert.equal(read.value.state.workloads["default/web"]!.resources.memory_bytes, 1_048_576);
  });
});
