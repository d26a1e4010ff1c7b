import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { FabricState, NodeId } from "../../vocabulary/index.js";
import type { Face, RenderScope } from "../contract.js";
import { arbitraryFabricState } from "./arbitraries.js";
import {
  checkByteStable,
  checkContainerEnvironments,
  checkFileShape,
  checkLossReport,
  checkNoTimestamps,
  checkParametersChangeOutput,
  checkRoundTrip,
  checkValidates,
  configuredFace,
} from "./checks.js";
import { exampleFabricStates } from "./examples.js";
import { isGoldenUpdate, readGoldenDirectory, writeGoldenDirectory } from "./golden-files.js";

export interface FaceConformanceOptions {
  /**
   * Absolute directory of golden files: `<goldenDir>/<example>/cluster/<path>` for the
   * cluster render and `<goldenDir>/<example>/node-<name>/<path>` for the first node's view.
   * `UPDATE_GOLDEN=1` rewrites them; review the diff like code.
   */
  readonly goldenDir: string;
  /** Named states to render into golden files. Default: `exampleFabricStates`. */
  readonly examples?: Readonly<Record<string, FabricState>>;
  /** Generated states for the property checks. Default: `arbitraryFabricState()`. */
  readonly arbitrary?: fc.Arbitrary<FabricState>;
  /** Property runs. Default 40 (or `FACE_CONFORMANCE_RUNS`). */
  readonly numRuns?: number;
  /** fast-check seed. Default fixed (or `FACE_CONFORMANCE_SEED`), so CI replays the same states. */
  readonly seed?: number;
}

const defaultSeed = 20_260_127;

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The node whose view gets a golden file: the first by name. */
function firstNode(state: FabricState): { id: NodeId; name: string } | undefined {
  const nodes = Object.values(state.nodes).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const node = nodes[0];
  return node === undefined ? undefined : { id: node.id, name: node.name };
}

function checkGolden(face: Face, state: FabricState, scope: RenderScope, directory: string): void {
  const written = face.writer.write(state, scope);
  const files = [...written.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (isGoldenUpdate()) writeGoldenDirectory(directory, files);
  const golden = readGoldenDirectory(directory);
  assert.deepEqual(
    files.map((file) => file.path),
    golden.map((file) => file.path),
    `${directory}: the rendered file list equals the golden one (UPDATE_GOLDEN=1 rewrites it)`,
  );
  for (const [index, file] of files.entries()) {
    assert.equal(
      file.content,
      golden[index]?.content,
      `${directory}/${file.path} differs from its golden file`,
    );
  }
}

function describeExample(face: Face, name: string, state: FabricState, goldenDir: string): void {
  const node = firstNode(state);
  const scopes: { label: string; scope: RenderScope }[] = [{ label: "cluster", scope: { kind: "cluster" } }];
  if (node !== undefined) scopes.push({ label: `node-${node.name}`, scope: { kind: "node", node: node.id } });
  describe(`example ${name}`, () => {
    for (const { label, scope } of scopes) {
      it(`${label}: matches the golden files`, () => {
        checkGolden(face, state, scope, join(goldenDir, name, label));
      });
      it(`${label}: is byte-stable and has no timestamps`, () => {
        const written = checkByteStable(face, state, scope);
        checkNoTimestamps(written.files);
      });
      it(`${label}: passes the face's validator`, async () => {
        await checkValidates(face, face.writer.write(state, scope).files);
      });
    }
    it("reads back to model(state)", async () => {
      await checkRoundTrip(face, state);
    });
    it("reports as lost exactly what the writer drops", () => {
      checkLossReport(face, state);
    });
    if (face.containerEnvironments !== undefined) {
      it("gives every written workload's containers the state's environment", async () => {
        await checkContainerEnvironments(face, state);
      });
    }
  });
}

/**
 * Face parameters: each one changes the output, and the face configured with each declared
 * value still validates, reads back to `model(state)` and says its loss, on every example.
 */
function describeParameters(face: Face, examples: Readonly<Record<string, FabricState>>): void {
  const parameters = face.parameters ?? [];
  if (parameters.length === 0 && face.configure === undefined) return;
  describe("parameters", () => {
    it("every parameter changes the output", () => {
      checkParametersChangeOutput(face, Object.values(examples));
    });
    for (const parameter of parameters) {
      for (const value of parameter.values) {
        it(`${parameter.name} = ${JSON.stringify(value)}: valid, reads back, loss said (every example)`, async () => {
          const configured = configuredFace(face, parameter.name, value);
          for (const state of Object.values(examples)) {
            await checkValidates(configured, checkByteStable(configured, state).files);
            await checkRoundTrip(configured, state);
            checkLossReport(configured, state);
            await checkContainerEnvironments(configured, state);
          }
        });
      }
    }
  });
}

/**
 * Registers the conformance suite for `face` with node:test. Call it at the top level of a
 * test file in the face package:
 *
 * ```ts
 * runFaceConformance(systemdFace, { goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)) });
 * ```
 */
export function runFaceConformance(face: Face, options: FaceConformanceOptions): void {
  const examples = options.examples ?? exampleFabricStates;
  const arbitrary = options.arbitrary ?? arbitraryFabricState();
  const numRuns = options.numRuns ?? envNumber("FACE_CONFORMANCE_RUNS") ?? 40;
  const seed = options.seed ?? envNumber("FACE_CONFORMANCE_SEED") ?? defaultSeed;
  describe(`face ${face.id} conformance`, () => {
    it("has the face shape", () => {
      assert.ok(face.id.length > 0, "id");
      assert.ok(face.description.length > 0, "description");
      assert.equal(typeof face.writer.write, "function");
      assert.equal(typeof face.reader.read, "function");
      assert.equal(typeof face.model, "function");
    });
    for (const [name, state] of Object.entries(examples))
      describeExample(face, name, state, options.goldenDir);
    describeParameters(face, examples);
    it(`property: read(write(s)) = model(s), loss said, same container environment, byte-stable, valid (${numRuns} runs, seed ${seed})`, async () => {
      const property = fc.asyncProperty(arbitrary, fc.nat(), async (state, pick) => {
        await checkRoundTrip(face, state);
        checkLossReport(face, state);
        await checkContainerEnvironments(face, state);
        const written = checkByteStable(face, state);
        await checkValidates(face, written.files);
        const nodeIds = Object.keys(state.nodes).sort() as NodeId[];
        const node = nodeIds[pick % Math.max(1, nodeIds.length)];
        if (node === undefined) return;
        const view = checkByteStable(face, state, { kind: "node", node });
        checkFileShape(view.files);
        await checkValidates(face, view.files);
      });
      await fc.assert(property, { numRuns, seed });
    });
  });
}
