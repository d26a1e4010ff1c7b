/**
 * Goal: the conformance kit accepts a correct face and rejects broken ones.
 * Method: a minimal canonical-JSON face runs the whole kit; deliberately broken variants
 * (lossy reader, unstable writer, timestamped output) make the individual checks throw.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { canonicalJson, FabricState, failed, ok } from "../../vocabulary/index.js";
import type { Face } from "../contract.js";
import { arbitraryFabricState } from "./arbitraries.js";
import { checkByteStable, checkNoTimestamps, checkParametersChangeOutput, checkRoundTrip } from "./checks.js";
import { exampleFabricStates } from "./examples.js";
import { runFaceConformance } from "./run.js";

const jsonFace: Face = {
  id: "test-json",
  protocol: "pure-raft",
  description: "the state as canonical JSON (kit self-test)",
  writer: {
    write: (state) => ({ files: [{ path: "state.json", content: canonicalJson(state) }], dropped: [] }),
  },
  reader: {
    read: async (files) =>
      ok({ state: FabricState.parse(JSON.parse(files[0]?.content ?? "{}")), unknown: [] }),
  },
  model: (state) => state,
};

runFaceConformance(jsonFace, {
  goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)),
  numRuns: 25,
});

/** The JSON face with an `indent` parameter; `honoured: false` parses it and renders the same bytes. */
function indentedFace(honoured: boolean, indent = 0): Face {
  return {
    ...jsonFace,
    writer: {
      write: (state) => ({
        files: [{ path: "state.json", content: canonicalJson(state, honoured ? indent : 0) }],
        dropped: [],
      }),
    },
    parameters: [{ name: "indent", description: "spaces per JSON level", default: 0, values: [0, 2] }],
    configure: (parameters) => {
      const unknown = Object.keys(parameters).find((name) => name !== "indent");
      if (unknown !== undefined)
        return failed([{ code: "unknown", message: `no parameter ${unknown}`, path: [unknown] }]);
      const value = parameters.indent ?? indent;
      return typeof value === "number"
        ? ok(indentedFace(honoured, value))
        : failed([{ code: "type", message: "a number", path: ["indent"] }]);
    },
  };
}

describe("conformance kit rejects broken faces", () => {
  const mesh = exampleFabricStates.mesh!;

  it("a parameter that changes nothing fails the kit; one that changes the files passes", () => {
    const states = Object.values(exampleFabricStates);
    assert.throws(
      () => checkParametersChangeOutput(indentedFace(false), states),
      /indent = 2 renders the same files as 0/,
    );
    checkParametersChangeOutput(indentedFace(true), states);
  });

  it("a face that accepts any parameter name fails the kit", () => {
    const lax: Face = { ...indentedFace(true), configure: () => ok(indentedFace(true)) };
    assert.throws(
      () => checkParametersChangeOutput(lax, Object.values(exampleFabricStates)),
      /refuses a parameter/,
    );
  });

  it("a reader that loses data fails the round trip", async () => {
    const lossy: Face = {
      ...jsonFace,
      reader: {
        read: async (files) => {
          const state = FabricState.parse(JSON.parse(files[0]?.content ?? "{}"));
          return ok({ state: { ...state, applied: { term: 0, index: 0 } }, unknown: [] });
        },
      },
    };
    await assert.rejects(checkRoundTrip(lossy, mesh), /model\(state\)/);
  });

  it("a writer that follows key insertion order is not byte-stable", () => {
    const unstable: Face = {
      ...jsonFace,
      writer: {
        write: (state) => ({ files: [{ path: "s.json", content: JSON.stringify(state) }], dropped: [] }),
      },
    };
    assert.throws(() => checkByteStable(unstable, mesh), /key insertion order/);
  });

  it("a timestamp in the output is caught", () => {
    assert.throws(() => checkNoTimestamps([{ path: "x", content: "# rendered 2026-11-27T08:00:00Z\n" }]));
  });

  it("generated states are schema-valid and internally consistent", () => {
    fc.assert(
      fc.property(arbitraryFabricState(), (state) => {
        assert.ok(FabricState.safeParse(state).success);
        const names = Object.values(state.nodes).map((node) => node.name);
        assert.equal(new Set(names).size, names.length, "node names are unique");
        for (const [key, workload] of Object.entries(state.workloads)) {
          assert.equal(key, `${workload.namespace}/${workload.name}`);
          assert.equal(state.placements[key]?.length, workload.replicas);
          for (const node of state.placements[key] ?? []) assert.ok(node in state.nodes);
        }
      }),
      { numRuns: 100, seed: 1 },
    );
  });
});
