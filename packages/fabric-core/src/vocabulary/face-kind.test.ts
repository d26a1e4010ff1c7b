// Goal: every face kind survives YAML and JSON unchanged in its `kind.protocol`-tagged shape, and
// the prescribed face is the one the design names. Method: round trips of the examples (one per
// kind) and of generated faces.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { exampleFaces, FabricFace, type FaceProtocol, isBuiltInFaceKind, k8sV134Face } from "./face-kind.js";
import { parseWith } from "./issue.js";
import { canonicalJson, parseSourceText, stringifyYaml } from "./source-text.js";

const allProtocols: readonly FaceProtocol[] = [
  "kubernetes",
  "nomad",
  "systemd",
  "pure-raft",
  "bare-metal-supervisor",
];

describe("face kinds", () => {
  it("has one example of every kind", () => {
    assert.deepEqual(exampleFaces.map((face) => face.kind.protocol).sort(), [...allProtocols].sort());
  });

  for (const face of exampleFaces) {
    it(`round-trips ${face.kind.protocol} through YAML and JSON`, () => {
      const yaml = stringifyYaml(face);
      const tagged = parseYaml(yaml) as { kind: { protocol: string } };
      assert.equal(tagged.kind.protocol, face.kind.protocol);
      const fromYaml = parseSourceText(FabricFace, yaml, "face.yaml");
      assert.ok(fromYaml.ok);
      assert.deepEqual(fromYaml.value, face);
      const fromJson = parseSourceText(FabricFace, canonicalJson(face), "face.json");
      assert.ok(fromJson.ok);
      assert.deepEqual(fromJson.value, face);
    });
  }

  it("round-trips generated faces of every kind", () => {
    const version = fc
      .tuple(fc.nat(99), fc.nat(99), fc.option(fc.nat(99)))
      .map(([a, b, c]) => (c === null ? `${a}.${b}` : `${a}.${b}.${c}`));
    const kind = fc.oneof(
      fc.record({ protocol: fc.constant("kubernetes" as const), version }),
      fc.record({ protocol: fc.constant("nomad" as const), version }),
      fc.record(
        { protocol: fc.constant("systemd" as const), user_units: fc.boolean(), kubernetes_version: version },
        { requiredKeys: ["protocol", "user_units"] },
      ),
      fc.record({ protocol: fc.constant("pure-raft" as const) }),
      fc.record({ protocol: fc.constant("bare-metal-supervisor" as const) }),
    );
    fc.assert(
      fc.property(fc.record({ name: fc.string({ minLength: 1, maxLength: 30 }), kind }), (generated) => {
        const face = JSON.parse(JSON.stringify(generated)) as FabricFace;
        const fromYaml = parseSourceText(FabricFace, stringifyYaml(face), "f.yaml");
        assert.ok(fromYaml.ok, JSON.stringify(fromYaml));
        assert.deepEqual(fromYaml.value, face);
        const fromJson = parseSourceText(FabricFace, canonicalJson(face), "f.json");
        assert.ok(fromJson.ok);
        assert.deepEqual(fromJson.value, face);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps the Kubernetes version a string (1.20 is not the number 1.2)", () => {
    const face = FabricFace.parse({
      name: "k8s-old",
      kind: { protocol: "kubernetes", version: "1.20" },
    });
    const back = parseSourceText(FabricFace, stringifyYaml(face), "f.yaml");
    assert.ok(back.ok);
    const kind = back.ok ? back.value.kind : undefined;
    assert.equal(
      kind !== undefined && isBuiltInFaceKind(kind) && kind.protocol === "kubernetes" && kind.version,
      "1.20",
    );
  });

  it("takes an add-on face by name, with options of its own, but not a built-in protocol without its parameters", () => {
    const compose = FabricFace.safeParse({
      name: "compose",
      kind: { protocol: "compose", options: { version: "3.9" } },
    });
    assert.ok(compose.success);
    assert.equal(compose.success && isBuiltInFaceKind(compose.data.kind), false);
    const bare = FabricFace.safeParse({ name: "k", kind: { protocol: "kubernetes" } });
    assert.equal(bare.success, false, "kubernetes needs its version");
    const badName = FabricFace.safeParse({ name: "x", kind: { protocol: "Compose Face" } });
    assert.equal(badName.success, false);
  });

  it("is the prescribed face k8s-v1.34", () => {
    assert.deepEqual(k8sV134Face, {
      name: "k8s-v1.34",
      kind: { protocol: "kubernetes", version: "1.34" },
    });
  });

  it("refuses the removed certified_cncf, saying why and how to migrate, at its line", () => {
    const text = "name: k\nkind:\n  protocol: kubernetes\n  version: '1.30'\n  certified_cncf: true\n";
    const parsed = parseSourceText(FabricFace, text, "node.yaml");
    assert.equal(parsed.ok, false);
    const issue = parsed.ok ? undefined : parsed.issues[0];
    assert.deepEqual(issue?.path, ["kind", "certified_cncf"]);
    assert.equal(issue?.line, 5);
    assert.match(issue?.message ?? "", /certified_cncf was removed: .*delete the line/);
    const versionIssue = parseWith(FabricFace, {
      name: "k",
      kind: { protocol: "kubernetes", version: "v1" },
    });
    assert.deepEqual(!versionIssue.ok && versionIssue.issues.map((i) => i.path), [["kind", "version"]]);
  });

  it("takes an unknown protocol as an add-on face; rejects a bad name and a missing tag with the field path", () => {
    const addOn = parseWith(FabricFace, { name: "x", kind: { protocol: "swarm" } });
    assert.equal(addOn.ok, true, "protocols are open: an add-on face is found by name");
    const unknown = parseWith(FabricFace, { name: "x", kind: { protocol: "Swarm Mode" } });
    assert.equal(unknown.ok, false);
    assert.deepEqual(!unknown.ok && unknown.issues[0]!.path, ["kind", "protocol"]);
    const missing = parseWith(FabricFace, { name: "x", kind: { version: "1.34" } });
    assert.equal(missing.ok, false);
    const extra = parseWith(FabricFace, { name: "x", kind: { protocol: "pure-raft", version: "1" } });
    assert.equal(extra.ok, false);
  });
});
