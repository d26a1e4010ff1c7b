// Goal: the strategy vocabulary accepts exactly the strategies it should, proves liveness with
// every violated rule named, and survives YAML/JSON round trips unchanged. Method: example cases
// for each rule and bound, and fast-check properties over generated valid strategies.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { parseWith } from "./issue.js";
import { limits } from "./limits.js";
import { canonicalJson, parseSourceText, stringifyYaml } from "./source-text.js";
import {
  FabricStrategy,
  homelabStrategy,
  type LivenessError,
  livenessIssues,
  prescribedStrategies,
  proveLiveness,
} from "./strategy.js";

function withChanges(
  changes: (draft: FabricStrategy) => void,
  base: FabricStrategy = homelabStrategy,
): FabricStrategy {
  const draft = structuredClone(base);
  changes(draft);
  return draft;
}

function livenessErrors(strategy: FabricStrategy): readonly LivenessError[] {
  const proof = proveLiveness(strategy);
  assert.equal(proof.live, false, "expected the strategy not to be live");
  return proof.live ? [] : proof.errors;
}

describe("proveLiveness", () => {
  it("proves the prescribed homelab strategy live, with a one-line summary", () => {
    const proof = proveLiveness(homelabStrategy);
    assert.equal(proof.live, true);
    if (!proof.live) return;
    assert.match(proof.summary, /homelab-3node is live/);
    assert.match(proof.summary, /3 voters tolerate 1 failure;/);
    assert.ok(!proof.summary.includes("\n"));
  });

  it("rejects a zero reconciliation cadence", () => {
    const errors = livenessErrors(
      withChanges((s) => {
        s.reconciliation.millis = 0;
      }),
    );
    assert.deepEqual(
      errors.map((e) => e.code),
      ["zero-reconciliation-cadence"],
    );
    assert.match(errors[0]!.message, /0 ms/);
  });

  it("rejects a failure detector that is not faster than reconciliation, naming both values", () => {
    for (const detector of [500, 700]) {
      const errors = livenessErrors(
        withChanges((s) => {
          s.membership.failure_detector_timeout_ms = detector;
        }),
      );
      assert.equal(errors.length, 1);
      const error = errors[0]!;
      assert.equal(error.code, "detector-not-faster-than-reconciliation");
      if (error.code !== "detector-not-faster-than-reconciliation") return;
      assert.equal(error.failureDetectorTimeoutMs, detector);
      assert.equal(error.reconciliationMs, 500);
      assert.match(error.message, new RegExp(`\\(${detector} ms\\)`));
      assert.match(error.message, /\(500 ms\)/);
    }
    assert.equal(
      proveLiveness(
        withChanges((s) => {
          s.membership.failure_detector_timeout_ms = 499;
        }),
      ).live,
      true,
    );
  });

  it("rejects an even quorum, naming it", () => {
    const errors = livenessErrors(
      withChanges((s) => {
        s.consensus.kind.quorum_size = 4;
      }),
    );
    assert.deepEqual(
      errors.map((e) => e.code),
      ["even-quorum"],
    );
    const error = errors[0]!;
    assert.ok(error.code === "even-quorum" && error.quorumSize === 4);
    assert.match(error.message, /quorum size 4 is even/);
  });

  it("rejects a quorum below 3, naming it", () => {
    const errors = livenessErrors(
      withChanges((s) => {
        s.consensus.kind.quorum_size = 1;
      }),
    );
    assert.deepEqual(
      errors.map((e) => e.code),
      ["quorum-too-small"],
    );
    assert.match(errors[0]!.message, /quorum size 1 is below 3/);
  });

  it("reports every violated rule at once", () => {
    const errors = livenessErrors(
      withChanges((s) => {
        s.consensus.kind.quorum_size = 2;
        s.membership.failure_detector_timeout_ms = 900;
      }),
    );
    assert.deepEqual(
      errors.map((e) => e.code),
      ["detector-not-faster-than-reconciliation", "even-quorum", "quorum-too-small"],
    );
    const zeroAndEven = livenessErrors(
      withChanges((s) => {
        s.reconciliation.millis = 0;
        s.consensus.kind.quorum_size = 6;
      }),
    );
    assert.deepEqual(
      zeroAndEven.map((e) => e.code),
      ["zero-reconciliation-cadence", "even-quorum"],
    );
  });

  it("names the field of every rule, located at its line:column in a file", () => {
    // The README promises field path and file:line:column for exit 3; liveness is exit 3 too.
    const text = stringifyYaml(
      withChanges((s) => {
        s.reconciliation.millis = 0;
        s.consensus.kind.quorum_size = 2;
      }),
    );
    const lineOf = (key: string) =>
      text.split("\n").findIndex((line) => line.trimStart().startsWith(`${key}:`)) + 1;
    const result = parseSourceText(FabricStrategy, text, "live.yaml", { check: livenessIssues });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.issues.map((issue) => [issue.code, issue.path.join("."), issue.file, issue.line]),
      [
        ["zero-reconciliation-cadence", "reconciliation.millis", "live.yaml", lineOf("millis")],
        ["even-quorum", "consensus.kind.quorum_size", "live.yaml", lineOf("quorum_size")],
        ["quorum-too-small", "consensus.kind.quorum_size", "live.yaml", lineOf("quorum_size")],
      ],
    );
    const slow = withChanges((s) => {
      s.membership.failure_detector_timeout_ms = 900;
    });
    assert.deepEqual(livenessIssues(slow)[0]?.path, ["membership", "failure_detector_timeout_ms"]);
    assert.deepEqual(livenessIssues(homelabStrategy), []);
  });

  it("accepts any odd quorum >= 3 with a faster detector", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 49 }), fc.integer({ min: 2, max: 10_000 }), (half, reconcile) => {
        const strategy = withChanges((s) => {
          s.consensus.kind.quorum_size = 2 * half + 1;
          s.reconciliation.millis = reconcile;
          s.membership.failure_detector_timeout_ms = reconcile - 1;
        });
        return proveLiveness(strategy).live;
      }),
    );
  });
});

describe("the prescribed homelab strategy", () => {
  it("has exactly the prescribed values", () => {
    assert.deepEqual(homelabStrategy, {
      name: "homelab-3node",
      consensus: {
        kind: {
          algorithm: "open-raft",
          quorum_size: 3,
          election_timeout_ms: 150,
          snapshot_interval_entries: 1000,
        },
      },
      membership: { phi_threshold: 8, gossip_cadence_ms: 100, failure_detector_timeout_ms: 300 },
      content: { sync_cadence_ms: 200, gc_retention_ms: 60_000 },
      attestation: { seal_interval_ms: 1000, require_operator_signature: false },
      placement: { kind: "zone-aware", min_zones: 1 },
      reconciliation: { millis: 500 },
    });
    assert.equal(prescribedStrategies.homelab, homelabStrategy);
  });
});

describe("parse-time bounds", () => {
  const json = (s: unknown) => JSON.parse(JSON.stringify(s)) as Record<string, Record<string, unknown>>;
  const cases: readonly { field: readonly (string | number)[]; value: unknown }[] = [
    { field: ["consensus", "kind", "quorum_size"], value: Number.NaN },
    { field: ["consensus", "kind", "quorum_size"], value: -3 },
    { field: ["consensus", "kind", "quorum_size"], value: 1_000_001 },
    { field: ["consensus", "kind", "election_timeout_ms"], value: 2.5 },
    { field: ["membership", "phi_threshold"], value: Number.NaN },
    { field: ["membership", "phi_threshold"], value: -8 },
    { field: ["membership", "phi_threshold"], value: Number.POSITIVE_INFINITY },
    { field: ["membership", "gossip_cadence_ms"], value: 0 },
    { field: ["membership", "failure_detector_timeout_ms"], value: limits.durationMsMax + 1 },
    { field: ["content", "gc_retention_ms"], value: -1 },
    { field: ["content", "sync_cadence_ms"], value: "200" },
    { field: ["attestation", "seal_interval_ms"], value: 1e12 },
    { field: ["reconciliation", "millis"], value: -500 },
    { field: ["reconciliation", "millis"], value: Number.NaN },
  ];
  for (const { field, value } of cases) {
    it(`rejects ${field.join(".")} = ${String(value)} with the field path`, () => {
      const input = json(homelabStrategy);
      let cursor: Record<string, unknown> = input;
      for (const key of field.slice(0, -1)) cursor = cursor[key as string] as Record<string, unknown>;
      cursor[field.at(-1) as string] = value;
      const result = parseWith(FabricStrategy, input);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.deepEqual(result.issues[0]!.path, field);
    });
  }

  it("rejects unknown fields (a typo is not silently ignored)", () => {
    const input = json(homelabStrategy);
    input.membership!.phi_treshold = 8;
    const result = parseWith(FabricStrategy, input);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.issues[0]!.path, ["membership"]);
    assert.equal(result.issues[0]!.code, "unrecognized_keys");
  });
});

const strategyArbitrary: fc.Arbitrary<FabricStrategy> = fc
  .record({
    name: fc.string({ minLength: 1, maxLength: 40 }),
    consensus: fc.record({
      kind: fc.record({
        algorithm: fc.constant("open-raft" as const),
        quorum_size: fc.integer({ min: 1, max: 99 }),
        election_timeout_ms: fc.integer({ min: 10, max: 60_000 }),
        snapshot_interval_entries: fc.integer({ min: 1, max: 100_000_000 }),
      }),
    }),
    membership: fc.record({
      phi_threshold: fc.double({ min: 0.5, max: 64, noNaN: true }),
      gossip_cadence_ms: fc.integer({ min: 1, max: limits.durationMsMax }),
      failure_detector_timeout_ms: fc.integer({ min: 1, max: limits.durationMsMax }),
    }),
    content: fc.record({
      sync_cadence_ms: fc.integer({ min: 1, max: limits.durationMsMax }),
      gc_retention_ms: fc.integer({ min: 0, max: limits.durationMsMax * 365 }),
    }),
    attestation: fc.record({
      seal_interval_ms: fc.integer({ min: 1, max: limits.durationMsMax }),
      require_operator_signature: fc.boolean(),
    }),
    placement: fc.oneof(
      fc.record({ kind: fc.constant("zone-aware" as const), min_zones: fc.integer({ min: 1, max: 64 }) }),
      fc.record({ kind: fc.constant("rack-aware" as const), min_racks: fc.integer({ min: 1, max: 1024 }) }),
      fc.record({
        kind: fc.constant("latency-aware" as const),
        max_p99_ms: fc.double({ min: 0.01, max: 60_000, noNaN: true }),
      }),
      fc.record({ kind: fc.constant("spread" as const) }),
      fc.record({ kind: fc.constant("none" as const) }),
    ),
    reconciliation: fc.record({ millis: fc.integer({ min: 0, max: limits.durationMsMax }) }),
  })
  // fast-check builds null-prototype records; a parsed file has plain objects.
  .map((strategy) => JSON.parse(JSON.stringify(strategy)) as FabricStrategy);

describe("round trips", () => {
  it("every generated strategy is valid and survives YAML and JSON unchanged", () => {
    fc.assert(
      fc.property(strategyArbitrary, (strategy) => {
        assert.ok(FabricStrategy.safeParse(strategy).success);
        const fromYaml = parseSourceText(FabricStrategy, stringifyYaml(strategy), "s.yaml");
        assert.ok(fromYaml.ok, JSON.stringify(fromYaml));
        assert.deepEqual(fromYaml.value, strategy);
        const fromJson = parseSourceText(FabricStrategy, canonicalJson(strategy), "s.json");
        assert.ok(fromJson.ok);
        assert.deepEqual(fromJson.value, strategy);
        assert.deepEqual(FabricStrategy.parse(JSON.parse(JSON.stringify(strategy))), strategy);
      }),
      { numRuns: 200 },
    );
  });

  it("writes the serde-compatible shape", () => {
    const yaml = parseYaml(stringifyYaml(homelabStrategy)) as Record<string, Record<string, unknown>>;
    assert.deepEqual(yaml.reconciliation, { millis: 500 });
    assert.deepEqual(yaml.placement, { kind: "zone-aware", min_zones: 1 });
    assert.equal((yaml.consensus!.kind as Record<string, unknown>).algorithm, "open-raft");
  });
});

describe("serde-compatible files", () => {
  it("loads a strategy file written in the original's serde shape", () => {
    const text = [
      "name: edge-5node",
      "consensus:",
      "  kind:",
      "    algorithm: open-raft",
      "    quorum_size: 5",
      "    election_timeout_ms: 300",
      "    snapshot_interval_entries: 5000",
      "membership:",
      "  phi_threshold: 10.5",
      "  gossip_cadence_ms: 200",
      "  failure_detector_timeout_ms: 600",
      "content:",
      "  sync_cadence_ms: 400",
      "  gc_retention_ms: 120000",
      "attestation:",
      "  seal_interval_ms: 2000",
      "  require_operator_signature: true",
      "placement:",
      "  kind: rack-aware",
      "  min_racks: 2",
      "reconciliation:",
      "  millis: 1000",
      "",
    ].join("\n");
    const result = parseSourceText(FabricStrategy, text, "edge.yaml");
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.consensus.kind.quorum_size, 5);
    assert.deepEqual(result.value.placement, { kind: "rack-aware", min_racks: 2 });
    assert.equal(result.value.reconciliation.millis, 1000);
    assert.equal(proveLiveness(result.value).live, true);
  });

  it("rejects camelCase field names the serde form never had", () => {
    const input = JSON.parse(JSON.stringify(homelabStrategy)) as Record<string, Record<string, unknown>>;
    input.content = { syncCadenceMs: 200, gcRetentionMs: 60_000 };
    const result = parseWith(FabricStrategy, input);
    assert.equal(result.ok, false);
  });
});
