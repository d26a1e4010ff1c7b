import type { DroppedField, Face, FaceFile, ReadResult, UnknownField } from "@revoada/fabric-core/face";
import {
  canonicalJson,
  type FabricIssue,
  FabricState,
  failed,
  ok,
  type Result,
} from "@revoada/fabric-core/vocabulary";
import { parseJsonFile } from "./json-text.js";
import { fabricStateJsonSchema, raftRpcJsonSchema } from "./raft-rpc-schema.js";

/**
 * face-pureraft: the raw Raft state machine, no orchestrator translation. `state.json` is the
 * whole committed `FabricState` (nodes, roles, workloads, placements, applied log position)
 * as canonical JSON; beside it, the JSON Schemas of the state and of the Raft RPCs for
 * tooling. Every Raft member holds the whole state machine, so a node's view is the same
 * files as the cluster's. Nothing is dropped: the round trip is lossless.
 */

export const statePath = "state.json";
export const stateSchemaPath = "fabric-state.schema.json";
export const rpcSchemaPath = "raft-rpc.schema.json";

function renderFiles(state: FabricState): FaceFile[] {
  return [
    { path: stateSchemaPath, content: canonicalJson(fabricStateJsonSchema()) },
    { path: rpcSchemaPath, content: canonicalJson(raftRpcJsonSchema()) },
    { path: statePath, content: canonicalJson(state) },
  ];
}

const noDrops: readonly DroppedField[] = [];

async function read(files: readonly FaceFile[]): Promise<Result<ReadResult>> {
  const unknown: UnknownField[] = [];
  let state: FabricState | undefined;
  for (const file of files) {
    if (file.path === statePath) {
      const parsed = parseJsonFile(FabricState, file.content, file.path);
      if (!parsed.ok) return parsed;
      state = parsed.value;
    } else if (file.path === stateSchemaPath || file.path === rpcSchemaPath) {
      const expected = file.path === stateSchemaPath ? fabricStateJsonSchema() : raftRpcJsonSchema();
      if (file.content !== canonicalJson(expected)) {
        unknown.push({ file: file.path, path: [], reason: "schema differs from this revoada version's" });
      }
    } else {
      unknown.push({ file: file.path, path: [], reason: "not a pureraft file" });
    }
  }
  if (state === undefined) {
    return failed([
      { code: "missing_file", message: `no ${statePath} among the files`, path: [], file: statePath },
    ]);
  }
  return ok({ state, unknown });
}

/** The state machine's own rules: schema, keys matching contents, placements referencing known things. */
export function checkStateIntegrity(state: FabricState, file: string): FabricIssue[] {
  const issues: FabricIssue[] = [];
  const issue = (path: (string | number)[], message: string): void => {
    issues.push({ code: "integrity", message, path, file });
  };
  for (const [id, node] of Object.entries(state.nodes)) {
    if (node.id !== id) issue(["nodes", id, "id"], "node keyed by a different id");
  }
  for (const [key, workload] of Object.entries(state.workloads)) {
    if (key !== `${workload.namespace}/${workload.name}`)
      issue(["workloads", key], "key is not namespace/name");
  }
  for (const [key, nodes] of Object.entries(state.placements)) {
    const workload = state.workloads[key];
    if (workload === undefined) issue(["placements", key], "placement of an unknown workload");
    if (workload !== undefined && nodes.length > workload.replicas) {
      issue(["placements", key], "more placements than replicas");
    }
    nodes.forEach((node, index) => {
      if (state.nodes[node] === undefined) issue(["placements", key, index], "placed on an unknown node");
    });
  }
  return issues;
}

async function validate(files: readonly FaceFile[]): Promise<readonly FabricIssue[]> {
  const stateFile = files.find((file) => file.path === statePath);
  if (stateFile === undefined) return [{ code: "missing_file", message: `no ${statePath}`, path: [] }];
  const parsed = parseJsonFile(FabricState, stateFile.content, stateFile.path);
  if (!parsed.ok) return parsed.issues;
  const issues = checkStateIntegrity(parsed.value, stateFile.path);
  if (stateFile.content !== canonicalJson(parsed.value)) {
    issues.push({
      code: "not_canonical",
      message: "state.json is not canonical JSON",
      path: [],
      file: statePath,
    });
  }
  return issues;
}

export const pureraftFace: Face = {
  id: "pureraft",
  protocol: "pure-raft",
  description:
    "The raw Raft state machine as canonical JSON, with JSON Schemas of the state and the Raft RPCs",
  writer: { write: (state) => ({ files: renderFiles(state), dropped: noDrops }) },
  reader: { read },
  model: (state) => state,
  validate,
};
