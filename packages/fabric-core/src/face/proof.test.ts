/**
 * Goal: `provenByRendering` accepts a state read on a reader's fast path only when the schema
 * passes and the state renders back to exactly every file given.
 * Method: the mesh example state with a toy renderer (one file per workload, its JSON), then
 * one byte changed, a file the state does not render, and a state the schema refuses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FabricState } from "../vocabulary/index.js";
import { exampleFabricStates } from "./conformance/index.js";
import type { FaceFile } from "./contract.js";
import { provenByRendering } from "./proof.js";

const mesh = exampleFabricStates.mesh!;

function renderer(state: FabricState): (path: string) => string | undefined {
  return (path) => {
    const workload = state.workloads[path];
    return workload === undefined ? undefined : `${JSON.stringify(workload)}\n`;
  };
}

const files: FaceFile[] = Object.keys(mesh.workloads).map((key) => ({
  path: key,
  content: renderer(mesh)(key)!,
}));

describe("provenByRendering", () => {
  it("gives the validated state when every file is what it renders", () => {
    assert.deepEqual(provenByRendering(mesh, files, renderer), mesh);
  });

  it("refuses a file that differs by one byte, a file the state does not render, and a state the schema refuses", () => {
    const changed = files.map((file, index) =>
      index === 0 ? { ...file, content: file.content.replace("}\n", "} \n") } : file,
    );
    assert.equal(provenByRendering(mesh, changed, renderer), undefined);
    assert.equal(provenByRendering(mesh, [...files, { path: "extra", content: "" }], renderer), undefined);
    const refused = { ...mesh, applied: { term: -1, index: 0 } };
    assert.equal(provenByRendering(refused, files, renderer), undefined);
  });
});
