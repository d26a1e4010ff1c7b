// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Nomad interpolations are what these tests are about
/**
 * Goal: face-nomad's `version` gates the job fields that Nomad version accepts (native service
 * checks from 1.4, `datacenters = ["*"]` from 1.5, listed datacenters before), each version's
 * jobs read back to the same state, unsupported versions are refused; and a literal `${...}` or
 * `%{` in a workload's command or args reaches the container as written: escaped for Nomad's
 * run-time evaluation of the driver config, then for HCL, as HashiCorp's own HCL parser
 * (hcl2json) reads it. Method: the mesh example through the face configured per version.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Face } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { FabricState, Workload } from "@revoada/fabric-core/vocabulary";
import { parseHclWithHcl2json, readJobHcl } from "./hcl-read.js";
import { nomadFace, unescapeNomadRuntime } from "./index.js";
import { nomadMinors } from "./nomad-versions.js";

const mesh = exampleFabricStates.mesh!;
const cluster = { kind: "cluster" } as const;

function configured(version: string): Face {
  const face = nomadFace.configure?.({ version });
  assert.ok(face?.ok, `Nomad ${version} is supported`);
  return face.value;
}

function file(face: Face, state: FabricState, path: string): string {
  const found = face.writer.write(state, cluster).files.find((candidate) => candidate.path === path);
  assert.ok(found, `${path} is written`);
  return found.content;
}

/** The mesh with `default/web` spread over any datacenter (no zones). */
const anyZone: FabricState = {
  ...mesh,
  workloads: {
    ...mesh.workloads,
    "default/web": {
      ...mesh.workloads["default/web"]!,
      placement: { ...mesh.workloads["default/web"]!.placement, zones: [] },
    },
  },
};

describe("face-nomad version table", () => {
  it("gates each field at the version that accepts it", () => {
    const expected: Record<string, { checks: boolean; wildcard: boolean }> = {
      "1.3": { checks: false, wildcard: false },
      "1.4": { checks: true, wildcard: false },
      "1.5": { checks: true, wildcard: true },
      "1.8": { checks: true, wildcard: true },
      "1.10": { checks: true, wildcard: true },
    };
    for (const [version, row] of Object.entries(expected)) {
      const hcl = file(configured(version), anyZone, "jobs/default/web.nomad.hcl");
      assert.equal(/^\s+check \{$/m.test(hcl), row.checks, `${version}: service checks`);
      assert.match(hcl, /provider = "nomad"/, `${version}: Nomad's own service discovery`);
      if (row.wildcard) {
        assert.match(hcl, /datacenters = \[\n\s+"\*",\n\s+\]/, `${version}: any datacenter is "*"`);
        assert.doesNotMatch(hcl, /revoada\.any_datacenter/);
      } else {
        assert.doesNotMatch(hcl, /"\*"/, `${version}: no wildcard`);
        assert.match(hcl, /"revoada\.any_datacenter" = "true"/);
      }
    }
  });

  it("before 1.5, 'any datacenter' lists every datacenter the agents join (dc1 for a node without a zone)", async () => {
    const zoneless = Object.values(anyZone.nodes)[0]!;
    const state: FabricState = {
      ...anyZone,
      nodes: { ...anyZone.nodes, [zoneless.id]: { ...zoneless, zone: "" } },
    };
    const face = configured("1.4");
    const json = JSON.parse(file(face, state, "jobs/default/web.json"));
    const zones = new Set(Object.values(state.nodes).map((node) => node.zone || "dc1"));
    assert.deepEqual(json.Job.Datacenters, [...zones].sort());
    const read = await face.reader.read(face.writer.write(state, cluster).files);
    assert.ok(read.ok);
    assert.deepEqual(read.value.unknown, []);
    assert.deepEqual(
      read.value.state.workloads["default/web"]?.placement.zones,
      [],
      "read back as any datacenter",
    );
  });

  it("every supported version reads its own render back to the model", async () => {
    for (const version of nomadMinors) {
      const face = configured(version);
      const read = await face.reader.read(face.writer.write(anyZone, cluster).files);
      assert.ok(read.ok, version);
      assert.deepEqual(read.value.unknown, [], version);
      assert.deepEqual(read.value.state, face.model(anyZone), version);
    }
  });

  it("refuses an unsupported version, another type and an unknown parameter, naming the field", () => {
    for (const version of ["1.2", "1.11", "2.0", "one"]) {
      const refused = nomadFace.configure?.({ version });
      assert.equal(refused?.ok, false, version);
      assert.deepEqual(!refused?.ok && refused?.issues[0]?.path, ["version"]);
    }
    const old = nomadFace.configure?.({ version: "1.2" });
    assert.match((!old?.ok && old?.issues[0]?.message) || "", /supported: 1\.3, .*1\.10/);
    assert.equal(nomadFace.configure?.({ version: 1.1 }).ok, false);
    assert.equal(nomadFace.configure?.({ user_units: true }).ok, false);
    assert.equal(
      configured("1.8.4").writer.write(anyZone, cluster).files.length > 0,
      true,
      "a patch is accepted",
    );
  });
});

describe("literal ${...} and %{ in command and args", () => {
  const literal = [
    "${NOMAD_ALLOC_ID}",
    "$${x}",
    "%{ if true }y%{ endif }",
    "a$b",
    "${attr.kernel.name}-${var.z}",
  ];
  const workload: Workload = {
    ...mesh.workloads["default/web"]!,
    command: ["/bin/run", "${HOME}"],
    args: literal,
  };
  const state: FabricState = { ...mesh, workloads: { "default/web": workload } };

  it("the job HashiCorp's HCL parser reads holds them escaped for Nomad's run time, and they read back as written", async () => {
    const hcl = file(nomadFace, state, "jobs/default/web.nomad.hcl");
    const parsed = await parseHclWithHcl2json("web.nomad.hcl", hcl);
    assert.ok("value" in parsed, JSON.stringify(parsed));
    const job = await readJobHcl("web.nomad.hcl", hcl);
    assert.ok(job.ok);
    const config = job.value.job.groups[0]!.tasks[0]!.config;
    // What Nomad's driver-config evaluation reads: every ${ and %{ escaped, so nothing resolves.
    assert.deepEqual(config.args, [
      "$${NOMAD_ALLOC_ID}",
      "$$${x}",
      "%%{ if true }y%%{ endif }",
      "a$b",
      "$${attr.kernel.name}-$${var.z}",
    ]);
    assert.deepEqual(config.entrypoint, ["/bin/run", "$${HOME}"]);
    // Nomad's evaluation of an escaped template gives the literal back: the container's argv.
    assert.deepEqual(config.args.map(unescapeNomadRuntime), literal);
    const json = JSON.parse(file(nomadFace, state, "jobs/default/web.json"));
    assert.deepEqual(
      json.Job.TaskGroups[0].Tasks[0].Config.args,
      config.args,
      "the API JSON holds the same job",
    );
    const read = await nomadFace.reader.read(nomadFace.writer.write(state, cluster).files);
    assert.ok(read.ok);
    assert.deepEqual(read.value.unknown, []);
    assert.deepEqual(read.value.state.workloads["default/web"]?.args, literal);
    assert.deepEqual(read.value.state.workloads["default/web"]?.command, workload.command);
  });
});
