// Goal: a bad file points the operator at the exact line and column and field, and what we
// write reads back the same in YAML 1.1 parsers and byte for byte on every run. Method: fixed
// files with known mistakes, and the quoting and ordering of stringifyYaml/canonicalJson.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { formatIssue } from "./issue.js";
import { canonicalJson, parseSourceText, sortKeysDeep, stringifyYaml } from "./source-text.js";
import { FabricStrategy, homelabStrategy } from "./strategy.js";

const badStrategy = [
  "name: homelab-3node", // 1
  "consensus:", // 2
  "  kind:", // 3
  "    algorithm: open-raft", // 4
  "    quorum_size: -3", // 5
  "    election_timeout_ms: 150", // 6
  "    snapshot_interval_entries: 1000", // 7
  "membership:", // 8
  "  phi_threshold: .nan", // 9
  "  gossip_cadence_ms: 100", // 10
  "  failure_detector_timeout_ms: 300", // 11
  "content:", // 12
  "  sync_cadence_ms: 200", // 13
  "  gc_retention_ms: 60000", // 14
  "attestation:", // 15
  "  seal_interval_ms: 1000", // 16
  "  require_operator_signature: false", // 17
  "placement:", // 18
  "  kind: zone-aware", // 19
  "  min_zones: 1", // 20
  "reconciliation:", // 21
  "  millis: 500", // 22
  "",
].join("\n");

describe("parseSourceText", () => {
  it("reports each bad field with its path and line:column", () => {
    const result = parseSourceText(FabricStrategy, badStrategy, "bad.yaml");
    assert.equal(result.ok, false);
    if (result.ok) return;
    const located = result.issues.map((issue) => ({
      path: issue.path.join("."),
      line: issue.line,
      column: issue.column,
      file: issue.file,
    }));
    assert.deepEqual(located, [
      { path: "consensus.kind.quorum_size", line: 5, column: 18, file: "bad.yaml" },
      { path: "membership.phi_threshold", line: 9, column: 18, file: "bad.yaml" },
    ]);
    assert.match(formatIssue(result.issues[0]!), /^bad\.yaml:5:18: consensus\.kind\.quorum_size: /);
  });

  it("reports a missing field at its parent object", () => {
    const text = badStrategy
      .replace("    quorum_size: -3\n", "")
      .replace("  phi_threshold: .nan", "  phi_threshold: 8");
    const result = parseSourceText(FabricStrategy, text, "missing.yaml");
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.issues.length, 1);
    assert.deepEqual(result.issues[0]!.path, ["consensus", "kind", "quorum_size"]);
    assert.equal(result.issues[0]!.line, 4);
    assert.equal(result.issues[0]!.column, 5);
  });

  it("reports syntax errors with positions", () => {
    const text = "name: x\nconsensus:\n  kind: [open-raft\nmembership: {}\n";
    const result = parseSourceText(FabricStrategy, text, "broken.yaml");
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.issues.length >= 1);
    for (const issue of result.issues) {
      assert.equal(issue.code, "syntax");
      assert.equal(issue.file, "broken.yaml");
      assert.ok((issue.line ?? 0) >= 3, `line ${issue.line}`);
      assert.ok((issue.column ?? 0) >= 1);
    }
  });

  it("reports a duplicate key as a syntax error on its line", () => {
    const text = "name: a\nname: b\n";
    const result = parseSourceText(FabricStrategy, text, "dup.yaml");
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.issues[0]!.code, "syntax");
    assert.equal(result.issues[0]!.line, 2);
  });

  it("reads JSON too, with positions", () => {
    const json = canonicalJson({ ...homelabStrategy, reconciliation: { millis: -1 } });
    const result = parseSourceText(FabricStrategy, json, "s.json");
    assert.equal(result.ok, false);
    if (result.ok) return;
    const expectedLine = json.split("\n").findIndex((line) => line.includes('"millis"')) + 1;
    assert.deepEqual(result.issues[0]!.path, ["reconciliation", "millis"]);
    assert.equal(result.issues[0]!.line, expectedLine);
  });
});

describe("parseSourceText on hostile input", () => {
  // Goal: no input makes the parser throw or expand without bound; each comes back as an
  // issue. Method: an alias bomb, text over the cap, a schema-valid value that a `check`
  // refuses, and nesting deep enough to exhaust the parser's stack.
  it("refuses an alias bomb as an issue instead of throwing", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [name, previous] of [
      ["b", "a"],
      ["c", "b"],
      ["d", "c"],
      ["e", "d"],
    ] as const) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const result = parseSourceText(FabricStrategy, `${levels.join("\n")}\n`, "bomb.yaml");
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.issues.length, 1);
    assert.equal(result.issues[0]!.code, "alias-limit");
    assert.match(formatIssue(result.issues[0]!), /^bomb\.yaml:1:1: YAML aliases expand past the limit/);
  });

  it("refuses text over the cap before parsing it", () => {
    const text = stringifyYaml(homelabStrategy);
    assert.ok(parseSourceText(FabricStrategy, text, "s.yaml", { charsMax: text.length }).ok);
    const result = parseSourceText(FabricStrategy, `${text}#`, "s.yaml", { charsMax: text.length });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.issues[0]!.code, "too-large");
    assert.match(result.issues[0]!.message, new RegExp(`over the limit of ${text.length}`));
  });

  it("locates the issues a check returns, like schema issues", () => {
    const text = stringifyYaml({ ...homelabStrategy, reconciliation: { millis: 0 } });
    const result = parseSourceText(FabricStrategy, text, "s.yaml", {
      check: (strategy) =>
        strategy.reconciliation.millis === 0
          ? [{ code: "zero", message: "zero", path: ["reconciliation", "millis"] }]
          : [],
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const expectedLine = text.split("\n").findIndex((line) => line.includes("millis")) + 1;
    assert.deepEqual(
      { line: result.issues[0]!.line, file: result.issues[0]!.file },
      { line: expectedLine, file: "s.yaml" },
    );
  });

  it("returns a bounded list of issues for pathological nesting", () => {
    const result = parseSourceText(FabricStrategy, "[".repeat(100_000), "deep.yaml");
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.issues.length >= 1);
    assert.ok(result.issues.length <= 50, `${result.issues.length} issues`);
  });
});

describe("stringifyYaml", () => {
  it("quotes scalars that YAML 1.1 readers would turn into booleans, octals or floats", () => {
    const value = {
      a: "on",
      b: "yes",
      c: "no",
      d: "0777",
      e: "1.20",
      f: "off",
      g: "y",
      h: "true",
      i: "0o17",
    };
    const text = stringifyYaml(value);
    for (const scalar of ["on", "yes", "no", "0777", "1.20", "off", "true", "0o17"]) {
      assert.ok(text.includes(`"${scalar}"`) || text.includes(`'${scalar}'`), `${scalar} unquoted:\n${text}`);
    }
    assert.deepEqual(parseYaml(text, { version: "1.1" }), value);
    assert.deepEqual(parseYaml(text), value);
  });

  it("sorts keys at every depth unless asked to keep them", () => {
    const value = { zeta: 1, alpha: { mu: 2, beta: [{ q: 1, p: 2 }] } };
    assert.equal(stringifyYaml(value), "alpha:\n  beta:\n    - p: 2\n      q: 1\n  mu: 2\nzeta: 1\n");
    assert.ok(stringifyYaml(value, { keepKeyOrder: true }).startsWith("zeta: 1\n"));
  });
});

describe("canonicalJson", () => {
  it("is byte-stable regardless of key insertion order", () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
    const b = { a: { c: "x", d: [3, { y: 2, z: 1 }] }, b: 1 };
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(canonicalJson(a), canonicalJson(JSON.parse(canonicalJson(a))));
    assert.ok(canonicalJson(a).endsWith("}\n"));
    assert.equal(canonicalJson(a, 0), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}\n');
  });

  it("drops undefined fields and keeps array order", () => {
    assert.deepEqual(sortKeysDeep({ b: undefined, a: [2, 1] }), { a: [2, 1] });
  });
});
