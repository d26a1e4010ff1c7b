import {
  defaultKubernetesRelease,
  type FaceFile,
  type KubernetesRelease,
  provenByRendering,
  type ReadResult,
  type UnknownField,
} from "@revoada/fabric-core/face";
import {
  type FabricIssue,
  FabricState,
  failed,
  issuesFromZod,
  type NodeState,
  ok,
  type Result,
  type Workload,
  workloadKey,
} from "@revoada/fabric-core/vocabulary";
import { modelState } from "./model.js";
import { readNodePatch } from "./node-patch.js";
import { isProblem, type ObjectProblem } from "./problem.js";
import { type ConfigMap, type Deployment, FaceObject } from "./schemas.js";
import { configMapName } from "./workload-objects.js";
import { readPlacement, readWorkload } from "./workload-read.js";
import { renderKubernetesFiles } from "./writer.js";
import { parseCanonical } from "./yaml-canonical.js";
import { locate, type ParsedDocument, parseDocuments, unexpectedPaths } from "./yaml-documents.js";

/**
 * The Kubernetes reader: Node patches give the nodes, Deployments (with their ConfigMaps)
 * the workloads and placements. Static pods and Services are derived, so they are checked,
 * not read: the reader renders the state it read and reports every field of the input that
 * the rendering does not reproduce as `unknown`, with its line and column.
 */

const knownKinds = new Set(["Node", "Pod", "Deployment", "Service", "ConfigMap"]);

interface Source {
  readonly file: string;
  readonly document: ParsedDocument;
}

interface Collected {
  readonly nodes: Map<string, { node: NodeState; source: Source }>;
  readonly deployments: Map<string, { deployment: Deployment; source: Source }>;
  readonly configMaps: Map<string, ConfigMap>;
  readonly issues: FabricIssue[];
  readonly unknown: UnknownField[];
}

function issueAt(
  source: Source,
  path: readonly (string | number)[],
  code: string,
  message: string,
): FabricIssue {
  return { code, message, path: [...path], file: source.file, ...locate(source.document, path) };
}

function problemIssue(source: Source, found: ObjectProblem): FabricIssue {
  return issueAt(source, found.problem[0], "unreadable", found.problem[1]);
}

function kindOf(value: unknown): string | undefined {
  if (value === null || typeof value !== "object" || !("kind" in value)) return undefined;
  return typeof value.kind === "string" ? value.kind : undefined;
}

function collectDocument(collected: Collected, source: Source, checkShapes: boolean): void {
  const kind = kindOf(source.document.value);
  if (kind === undefined || !knownKinds.has(kind)) {
    const reason =
      kind === undefined ? "a document without a kind" : `kind ${kind} is not one this face writes`;
    collected.unknown.push({ file: source.file, path: [], ...locate(source.document, []), reason });
    return;
  }
  let object = source.document.value as FaceObject;
  if (checkShapes) {
    const parsed = FaceObject.safeParse(source.document.value);
    if (!parsed.success) {
      for (const issue of issuesFromZod(parsed.error)) {
        collected.issues.push(issueAt(source, issue.path, issue.code, issue.message));
      }
      return;
    }
    object = parsed.data;
  }
  if (object.kind === "Node") {
    const node = readNodePatch(object);
    if (isProblem(node)) collected.issues.push(problemIssue(source, node));
    else if (collected.nodes.has(node.id))
      collected.issues.push(issueAt(source, [], "duplicate", "node read twice"));
    else collected.nodes.set(node.id, { node, source });
  } else if (object.kind === "Deployment") {
    const key = `${object.metadata.namespace ?? "default"}/${object.metadata.name}`;
    if (collected.deployments.has(key))
      collected.issues.push(issueAt(source, [], "duplicate", `${key} read twice`));
    else collected.deployments.set(key, { deployment: object, source });
  } else if (object.kind === "ConfigMap") {
    collected.configMaps.set(`${object.metadata.namespace ?? "default"}/${object.metadata.name}`, object);
  }
}

interface Assembled {
  readonly nodes: Record<string, NodeState>;
  readonly workloads: Record<string, Workload>;
  readonly placements: Record<string, string[]>;
  readonly applied: { readonly term: 0; readonly index: 0 };
}

function emptyState(): Assembled {
  return { nodes: {}, workloads: {}, placements: {}, applied: { term: 0, index: 0 } };
}

/**
 * Adds what `collected` holds to `state` (a node or workload already there is a duplicate
 * issue); `sources` (when given) learns which document each entry came from.
 */
function assemble(collected: Collected, state: Assembled, sources?: Map<string, Source>): void {
  for (const [id, { node, source }] of collected.nodes) {
    if (Object.hasOwn(state.nodes, id)) {
      collected.issues.push(issueAt(source, [], "duplicate", "node read twice"));
      continue;
    }
    state.nodes[id] = node;
    sources?.set(`nodes/${id}`, source);
  }
  for (const [key, { deployment, source }] of collected.deployments) {
    const namespace = deployment.metadata.namespace ?? "default";
    const configMap = collected.configMaps.get(`${namespace}/${configMapName(deployment.metadata)}`);
    const workload = readWorkload(deployment, configMap);
    if (isProblem(workload)) {
      collected.issues.push(problemIssue(source, workload));
      continue;
    }
    if (Object.hasOwn(state.workloads, key)) {
      collected.issues.push(issueAt(source, [], "duplicate", `${key} read twice`));
      continue;
    }
    state.workloads[key] = workload;
    if (sources !== undefined) {
      sources.set(`workloads/${key}`, source);
      sources.set(`placements/${key}`, source);
    }
    const placement = readPlacement(deployment);
    if (placement !== undefined) state.placements[workloadKey(workload)] = placement;
  }
}

/** What the state read renders to, by path. */
function renderedFiles(state: FabricState, release: KubernetesRelease): Map<string, string> {
  const files = renderKubernetesFiles(modelState(state), { kind: "cluster" }, release);
  return new Map(files.map((file) => [file.path, file.content]));
}

/** A schema issue in the assembled state, pointed at the document it came from. */
function locateStateIssue(issue: FabricIssue, sources: Map<string, Source>): FabricIssue {
  const source = sources.get(`${issue.path[0]}/${issue.path[1]}`);
  if (source === undefined) return issue;
  return { ...issue, file: source.file, ...locate(source.document, []) };
}

function reportUnexpected(
  parsedFiles: Map<string, ParsedDocument[]>,
  files: readonly FaceFile[],
  state: FabricState,
  release: KubernetesRelease,
): UnknownField[] {
  const expected = renderedFiles(state, release);
  const unknown: UnknownField[] = [];
  for (const file of files) {
    const documents = parsedFiles.get(file.path);
    const content = expected.get(file.path);
    if (documents === undefined || content === file.content) continue;
    if (content === undefined) {
      unknown.push({ file: file.path, path: [], reason: "the state read renders no file of this name" });
      continue;
    }
    const rendered = parseDocuments(content, file.path);
    const renderedDocuments = rendered.ok ? rendered.value : [];
    for (const [index, document] of documents.entries()) {
      const paths = unexpectedPaths(document.value, renderedDocuments[index]?.value);
      for (const path of paths) {
        const reason = `document ${index + 1}: not understood (the state read renders it differently)`;
        unknown.push({ file: file.path, path, ...locate(document, path), reason });
      }
    }
  }
  return unknown;
}

function emptyCollected(): Collected {
  return { nodes: new Map(), deployments: new Map(), configMaps: new Map(), issues: [], unknown: [] };
}

/**
 * The fast path: read each file's documents without checking their shapes (file by file, so
 * the parsed documents die young), then prove the result right by rendering the state read
 * back to exactly the bytes given (`provenByRendering`). Equal bytes mean every document is what the writer emits
 * for a schema-valid state, so the skipped checks could not have found anything. Anything
 * else (a difference, a file outside the canonical subset, a throw on a malformed document)
 * returns undefined and the caller reads again with every check on.
 */
function readTrusted(files: readonly FaceFile[], release: KubernetesRelease): FabricState | undefined {
  try {
    const state = emptyState();
    for (const file of files) {
      const documents = file.path.endsWith(".yaml") ? parseCanonical(file.content) : undefined;
      if (documents === undefined) return undefined;
      const collected = emptyCollected();
      for (const value of documents) {
        const document = { value, canonical: true, full: () => undefined };
        collectDocument(collected, { file: file.path, document }, false);
      }
      assemble(collected, state);
      if (collected.issues.length > 0 || collected.unknown.length > 0) return undefined;
    }
    return provenByRendering(state, files, (read) => {
      const expected = renderedFiles(read, release);
      return (path) => expected.get(path);
    });
  } catch {
    return undefined;
  }
}

/** Parses every file; YAML syntax errors are collected as issues, other files as unknown. */
function parseFiles(files: readonly FaceFile[]): {
  collected: Collected;
  parsedFiles: Map<string, ParsedDocument[]>;
} {
  const collected = emptyCollected();
  const parsedFiles = new Map<string, ParsedDocument[]>();
  for (const file of files) {
    if (!file.path.endsWith(".yaml")) {
      collected.unknown.push({ file: file.path, path: [], reason: "not a YAML file" });
      continue;
    }
    const parsed = parseDocuments(file.content, file.path);
    if (!parsed.ok) collected.issues.push(...parsed.issues);
    else parsedFiles.set(file.path, parsed.value);
  }
  return { collected, parsedFiles };
}

/** Reads a cluster render of Kubernetes `release` (what differs from its render is `unknown`). */
export async function readKubernetes(
  files: readonly FaceFile[],
  release: KubernetesRelease = defaultKubernetesRelease,
): Promise<Result<ReadResult>> {
  const trusted = readTrusted(files, release);
  if (trusted !== undefined) return ok({ state: trusted, unknown: [] });
  return readKubernetesChecked(files, release);
}

/** The reader with every check on (schemas, located issues, unknown fields): no fast path. */
export async function readKubernetesChecked(
  files: readonly FaceFile[],
  release: KubernetesRelease = defaultKubernetesRelease,
): Promise<Result<ReadResult>> {
  const { collected, parsedFiles } = parseFiles(files);
  if (collected.issues.length > 0) return failed(collected.issues);
  return readChecked(collected, parsedFiles, files, release);
}

function readChecked(
  collected: Collected,
  parsedFiles: Map<string, ParsedDocument[]>,
  files: readonly FaceFile[],
  release: KubernetesRelease,
): Result<ReadResult> {
  for (const [file, documents] of parsedFiles) {
    for (const document of documents) collectDocument(collected, { file, document }, true);
  }
  const state = emptyState();
  const sources = new Map<string, Source>();
  assemble(collected, state, sources);
  if (collected.issues.length > 0) return failed(collected.issues);
  const checked = FabricState.safeParse(state);
  if (!checked.success) {
    return failed(issuesFromZod(checked.error).map((issue) => locateStateIssue(issue, sources)));
  }
  const unknown = [...collected.unknown, ...reportUnexpected(parsedFiles, files, checked.data, release)];
  return ok({ state: checked.data, unknown });
}
