import type {
  DroppedField,
  Face,
  FaceFile,
  ReadResult,
  RenderScope,
  UnknownField,
  WriteResult,
} from "@revoada/fabric-core/face";
import { compareText, nodeDirectories } from "@revoada/fabric-core/face";
import {
  canonicalJson,
  type FabricIssue,
  FabricState,
  failed,
  NodeId,
  NodeState,
  ok,
  parseSourceText,
  type Result,
  Workload,
  workloadKey,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * A starting point for a new face (`revoada face new NAME` copies this file). It writes the
 * fabric state as small canonical JSON files, one per thing, so each part of the contract is
 * visible: a per-node layout, a node's own view, what cannot be written (`dropped`), a reader
 * that names `file:line:column` and lists files it does not understand, and a validator.
 * Replace the file format with your orchestrator's and keep the shape.
 *
 * Cluster render:
 *   fabric.json                        the applied log position
 *   nodes/<dir>/node.json              each node (`<dir>` from `nodeDirectories`)
 *   workloads/<namespace>/<name>.json  each workload and, when it has one, its placement
 * One node's view: `node.json` and the workloads with a replica on that node.
 */

const fabricPath = "fabric.json";
const nodePattern = /^nodes\/[^/]+\/node\.json$/;
const workloadPattern = /^workloads\/[^/]+\/[^/]+\.json$/;

const FabricFile = z.strictObject({ applied: FabricState.shape.applied });
const WorkloadFile = z.strictObject({
  workload: Workload,
  placement: z.array(NodeId).optional(),
});
type WorkloadFile = z.infer<typeof WorkloadFile>;

/** The subset this face carries: placements of workloads it does not write are lost. */
function model(state: FabricState): FabricState {
  const placements: FabricState["placements"] = {};
  for (const [key, nodes] of Object.entries(state.placements)) {
    if (isWritten(state, key)) placements[key] = nodes;
  }
  const workloads: FabricState["workloads"] = {};
  for (const [key, workload] of Object.entries(state.workloads)) {
    if (key === workloadKey(workload)) workloads[key] = workload;
  }
  return { nodes: state.nodes, workloads, placements, applied: state.applied };
}

function isWritten(state: FabricState, key: string): boolean {
  const workload = state.workloads[key];
  return workload !== undefined && key === workloadKey(workload);
}

/** Everything `model` removes, as data: `revoada render` prints these as `dropped:` lines. */
function droppedFields(state: FabricState): DroppedField[] {
  const dropped: DroppedField[] = [];
  for (const key of Object.keys(state.workloads).sort(compareText)) {
    if (!isWritten(state, key))
      dropped.push({ path: ["workloads", key], reason: "key is not namespace/name" });
  }
  for (const key of Object.keys(state.placements).sort(compareText)) {
    if (!isWritten(state, key)) dropped.push({ path: ["placements", key], reason: "no such workload" });
  }
  return dropped;
}

function workloadFile(state: FabricState, key: string): FaceFile {
  const workload = state.workloads[key]!;
  const placement = state.placements[key];
  const content: WorkloadFile = placement === undefined ? { workload } : { workload, placement };
  return { path: `workloads/${workload.namespace}/${workload.name}.json`, content: canonicalJson(content) };
}

function writeCluster(state: FabricState): FaceFile[] {
  const files: FaceFile[] = [{ path: fabricPath, content: canonicalJson({ applied: state.applied }) }];
  for (const [id, directory] of nodeDirectories(state)) {
    files.push({ path: `nodes/${directory}/node.json`, content: canonicalJson(state.nodes[id]) });
  }
  for (const key of Object.keys(state.workloads)) {
    if (isWritten(state, key)) files.push(workloadFile(state, key));
  }
  return files.sort((a, b) => compareText(a.path, b.path));
}

function writeNode(state: FabricState, id: NodeId): FaceFile[] {
  const node = state.nodes[id];
  if (node === undefined) return [];
  const files: FaceFile[] = [{ path: "node.json", content: canonicalJson(node) }];
  for (const [key, nodes] of Object.entries(state.placements)) {
    if (isWritten(state, key) && nodes.includes(id)) files.push(workloadFile(state, key));
  }
  return files.sort((a, b) => compareText(a.path, b.path));
}

function write(state: FabricState, scope: RenderScope): WriteResult {
  const files = scope.kind === "cluster" ? writeCluster(state) : writeNode(state, scope.node);
  return { files, dropped: droppedFields(state) };
}

type ParsedFile =
  | { readonly kind: "fabric"; readonly value: z.infer<typeof FabricFile> }
  | { readonly kind: "node"; readonly value: NodeState }
  | { readonly kind: "workload"; readonly value: WorkloadFile }
  | { readonly kind: "unknown" };

/** One file by its path; bad content is issues with `file:line:column`, never thrown. */
function parseFile(file: FaceFile): Result<ParsedFile> {
  const { path, content } = file;
  if (path === fabricPath) return tagged("fabric", parseSourceText(FabricFile, content, path));
  if (path === "node.json" || nodePattern.test(path))
    return tagged("node", parseSourceText(NodeState, content, path));
  if (workloadPattern.test(path)) return tagged("workload", parseSourceText(WorkloadFile, content, path));
  return ok({ kind: "unknown" });
}

function tagged<K extends "fabric" | "node" | "workload", T>(kind: K, parsed: Result<T>): Result<ParsedFile> {
  return parsed.ok ? ok({ kind, value: parsed.value } as ParsedFile) : parsed;
}

/** Reads a cluster render back, listing files it does not understand in `unknown`. */
async function read(files: readonly FaceFile[]): Promise<Result<ReadResult>> {
  const state: FabricState = { nodes: {}, workloads: {}, placements: {}, applied: { term: 0, index: 0 } };
  const unknown: UnknownField[] = [];
  const issues: FabricIssue[] = [];
  let sawFabric = false;
  for (const file of files) {
    const parsed = parseFile(file);
    if (!parsed.ok) issues.push(...parsed.issues);
    else if (parsed.value.kind === "fabric") {
      state.applied = parsed.value.value.applied;
      sawFabric = true;
    } else if (parsed.value.kind === "node" && file.path !== "node.json") {
      state.nodes[parsed.value.value.id] = parsed.value.value;
    } else if (parsed.value.kind === "workload") addWorkload(state, parsed.value.value);
    else unknown.push({ file: file.path, path: [], reason: "not a file of this face's cluster render" });
  }
  if (!sawFabric)
    issues.push({ code: "missing_file", message: `no ${fabricPath}`, path: [], file: fabricPath });
  if (issues.length > 0) return failed(issues);
  return ok({ state, unknown });
}

function addWorkload(state: FabricState, file: WorkloadFile): void {
  const key = workloadKey(file.workload);
  state.workloads[key] = file.workload;
  if (file.placement !== undefined) state.placements[key] = file.placement;
}

/**
 * The target's own rules; here: every file is one this face writes and parses, a workload
 * file sits at its own `namespace/name` path, and placements name nodes written beside them.
 */
async function validate(files: readonly FaceFile[]): Promise<readonly FabricIssue[]> {
  const issues: FabricIssue[] = [];
  const nodes = new Set<string>();
  const placements: { file: string; nodes: readonly string[] }[] = [];
  for (const file of files) {
    const parsed = parseFile(file);
    if (!parsed.ok) issues.push(...parsed.issues);
    else if (parsed.value.kind === "unknown") {
      issues.push({
        code: "unknown_file",
        message: "not a file this face writes",
        path: [],
        file: file.path,
      });
    } else if (parsed.value.kind === "node") nodes.add(parsed.value.value.id);
    else if (parsed.value.kind === "workload") {
      const { workload, placement } = parsed.value.value;
      if (file.path !== `workloads/${workload.namespace}/${workload.name}.json`) {
        issues.push({
          code: "misplaced",
          message: "not at workloads/<namespace>/<name>.json",
          path: [],
          file: file.path,
        });
      }
      placements.push({ file: file.path, nodes: placement ?? [] });
    }
  }
  const clusterRender = files.some((file) => file.path === fabricPath);
  for (const placement of clusterRender ? placements : []) {
    placement.nodes.forEach((node, index) => {
      if (!nodes.has(node)) {
        issues.push({
          code: "unknown_node",
          message: "placed on an unknown node",
          path: ["placement", index],
          file: placement.file,
        });
      }
    });
  }
  return issues;
}

export const templateFace: Face = {
  id: "template",
  protocol: "template",
  description: "the fabric state as one small JSON file per node and per workload",
  writer: { write },
  reader: { read },
  model,
  validate,
};
