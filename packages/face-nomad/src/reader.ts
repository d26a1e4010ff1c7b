import { isDeepStrictEqual } from "node:util";
import {
  type FaceFile,
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
  parseSourceText,
  type Result,
  type Workload,
  workloadKey,
} from "@revoada/fabric-core/vocabulary";
import { agentToNode } from "./agent.js";
import { ApiJob, apiToJob } from "./api-json.js";
import { parseCanonicalHcl } from "./hcl-canonical.js";
import { parseHclText, readAgentHcl, readJobHcl } from "./hcl-read.js";
import { agentFromShape, jobFromShape } from "./hcl-trusted.js";
import type { Job } from "./ir.js";
import { jobProblems } from "./job-check.js";
import { defaultNomadProfile, type NomadProfile } from "./nomad-versions.js";
import { jobPlacement, jobToWorkload } from "./workload-job.js";
import { type RenderContext, renderContext, renderNomadFile } from "./writer.js";

/**
 * The Nomad reader: jobspecs give the workloads (the API JSON beside each must say the same),
 * agent configurations give the nodes. Errors carry hcl2json's `file:line,column`; schema
 * issues are located by walking the HCL text. Anything the reader's own rendering of what it
 * read does not reproduce is reported as `unknown`.
 */

export interface ReadFiles {
  readonly jobs: Map<string, { job: Job }>;
  readonly apiJobs: Map<string, Job>;
  readonly agents: Map<string, { node: NodeState | { problem: string } }>;
  /** API JSON beside a jobspec, left unparsed (reader only): checked once the state is known. */
  readonly twins: Map<string, FaceFile>;
  readonly issues: FabricIssue[];
  readonly unknown: UnknownField[];
}

function jobIssues(file: string, job: Job): FabricIssue[] {
  return jobProblems(job).map(([path, message]) => ({ code: "nomad", message, path, file }));
}

/** Job API JSON: `JSON.parse` and the schema; only a failure pays for the located parse. */
function readApiJson(file: FaceFile): Result<ApiJob> {
  try {
    const checked = ApiJob.safeParse(JSON.parse(file.content));
    if (checked.success) return ok(checked.data);
  } catch {
    // Not JSON: the located parse below names the line and column.
  }
  return parseSourceText(ApiJob, file.content, file.path);
}

/** Parses and checks every file on its own; shared by the reader and the validator. */
export async function readNomadFiles(files: readonly FaceFile[], deferTwins = false): Promise<ReadFiles> {
  const read = emptyRead();
  const paths = new Set(files.map((file) => file.path));
  for (const file of files) {
    if (deferTwins && file.path.endsWith(".json") && paths.has(hclSibling(file.path))) {
      read.twins.set(file.path, file);
      continue;
    }
    if (file.path.endsWith(".nomad.hcl")) {
      const job = await readJobHcl(file.path, file.content);
      if (!job.ok) read.issues.push(...job.issues);
      else {
        read.issues.push(...jobIssues(file.path, job.value.job));
        read.jobs.set(file.path, job.value);
      }
    } else if (file.path.endsWith(".json")) {
      const api = readApiJson(file);
      if (!api.ok) read.issues.push(...api.issues);
      else {
        read.issues.push(...jobIssues(file.path, apiToJob(api.value)));
        read.apiJobs.set(file.path, apiToJob(api.value));
      }
    } else if (file.path.endsWith("/agent.hcl")) {
      const agent = await readAgentHcl(file.path, file.content);
      if (!agent.ok) read.issues.push(...agent.issues);
      else read.agents.set(file.path, { node: agentToNode(agent.value.agent) });
    } else {
      read.unknown.push({ file: file.path, path: [], reason: "not a file the Nomad face writes" });
    }
  }
  for (const [path, { job }] of read.jobs) {
    const jsonPath = path.replace(/\.nomad\.hcl$/, ".json");
    const api = read.apiJobs.get(jsonPath);
    if (api !== undefined && !isDeepStrictEqual(api, job)) {
      const message = `the API JSON and ${path} describe different jobs`;
      read.issues.push({ code: "inconsistent", message, path: [], file: jsonPath, line: 1, column: 1 });
    }
  }
  return read;
}

/** The state being read, job by job and agent by agent; `sources` learns each entry's file. */
class StateAssembly {
  readonly nodes: Record<string, NodeState> = {};
  readonly workloads: Record<string, Workload> = {};
  readonly placements: Record<string, string[]> = {};

  constructor(
    readonly issues: FabricIssue[],
    readonly sources?: Map<string, string>,
  ) {}

  addNode(file: string, node: NodeState | { problem: string }): void {
    if ("problem" in node) this.issues.push({ code: "unreadable", message: node.problem, path: [], file });
    else if (this.nodes[node.id] !== undefined)
      this.issues.push({ code: "duplicate", message: "node twice", path: [], file });
    else {
      this.nodes[node.id] = node;
      this.sources?.set(`nodes/${node.id}`, file);
    }
  }

  addJob(file: string, job: Job): void {
    if (job.groups.length !== 1 || job.groups[0]!.tasks.length !== 1) {
      const message = "the Nomad face reads jobs of one group with one task";
      this.issues.push({ code: "unsupported", message, path: [], file });
      return;
    }
    const workload = jobToWorkload(job);
    const key = workloadKey(workload);
    this.workloads[key] = workload;
    if (this.sources !== undefined)
      for (const part of ["workloads", "placements"]) this.sources.set(`${part}/${key}`, file);
    const placement = jobPlacement(job);
    if (placement !== undefined) this.placements[key] = placement;
  }

  state(): unknown {
    const { nodes, workloads, placements } = this;
    return { nodes, workloads, placements, applied: { term: 0, index: 0 } };
  }
}

/** The state the files describe; `sources` learns which file each entry came from. */
function assemble(read: ReadFiles, sources: Map<string, string>): unknown {
  const assembly = new StateAssembly(read.issues, sources);
  for (const [file, { node }] of read.agents) assembly.addNode(file, node);
  for (const [file, { job }] of read.jobs) assembly.addJob(file, job);
  for (const [file, job] of read.apiJobs) if (!read.jobs.has(hclSibling(file))) assembly.addJob(file, job);
  return assembly.state();
}

function flatPaths(
  actual: unknown,
  expected: unknown,
  path: (string | number)[],
  out: (string | number)[][],
): void {
  if (isDeepStrictEqual(actual, expected)) return;
  const bothObjects =
    actual !== null && typeof actual === "object" && expected !== null && typeof expected === "object";
  if (!bothObjects) {
    out.push(path);
    return;
  }
  const actualRecord = actual as Record<string, unknown>;
  const expectedRecord = expected as Record<string, unknown>;
  for (const key of Object.keys(actualRecord)) {
    const part = Array.isArray(actual) ? Number(key) : key;
    if (!(key in expectedRecord)) out.push([...path, part]);
    else flatPaths(actualRecord[key], expectedRecord[key], [...path, part], out);
  }
}

/**
 * Files whose text is not what the state read renders: each differing path of their parsed
 * shape is `unknown`. A job's API JSON is compared only when it stands alone: beside a
 * jobspec it was already checked to encode the same job, and its strict schema refuses
 * fields it does not know.
 */
async function reportUnexpected(
  read: ReadFiles,
  files: readonly FaceFile[],
  state: FabricState,
  context: RenderContext,
): Promise<UnknownField[]> {
  const unknown: UnknownField[] = [];
  for (const file of files) {
    const hcl = read.jobs.has(file.path) || read.agents.has(file.path);
    const standaloneJson = read.apiJobs.has(file.path) && !read.jobs.has(hclSibling(file.path));
    if (!hcl && !standaloneJson) continue;
    const content = renderNomadFile(state, file.path, context);
    if (content === file.content) continue;
    if (content === undefined) {
      unknown.push({ file: file.path, path: [], reason: "the state read renders no file of this name" });
      continue;
    }
    // Shapes are parsed again here, for the few files that differ, rather than kept for all.
    const actual = hcl
      ? await parseHclText(file.path, file.content)
      : { value: JSON.parse(file.content) as unknown };
    const rendered = hcl ? await parseHclText(file.path, content) : { value: JSON.parse(content) as unknown };
    const paths: (string | number)[][] = [];
    const shape = (parsed: { value: unknown } | { error: string }): unknown =>
      "value" in parsed ? parsed.value : undefined;
    flatPaths(shape(actual), shape(rendered), [], paths);
    for (const path of paths) {
      unknown.push({
        file: file.path,
        path,
        reason: "not understood (the state read renders it differently)",
      });
    }
  }
  return unknown;
}

function hclSibling(jsonPath: string): string {
  return jsonPath.replace(/\.json$/, ".nomad.hcl");
}

/**
 * API JSON beside a jobspec: when its text is what the state read renders it is consistent by
 * construction; otherwise it is parsed, checked and compared with the jobspec's job.
 */
function checkTwins(read: ReadFiles, state: FabricState, context: RenderContext): FabricIssue[] {
  const issues: FabricIssue[] = [];
  for (const [path, file] of read.twins) {
    if (renderNomadFile(state, path, context) === file.content) continue;
    const api = readApiJson(file);
    if (!api.ok) {
      issues.push(...api.issues);
      continue;
    }
    const job = apiToJob(api.value);
    issues.push(...jobIssues(path, job));
    read.apiJobs.set(path, job);
    if (!isDeepStrictEqual(job, read.jobs.get(hclSibling(path))?.job)) {
      const message = `the API JSON and ${hclSibling(path)} describe different jobs`;
      issues.push({ code: "inconsistent", message, path: [], file: path, line: 1, column: 1 });
    }
  }
  return issues;
}

function emptyRead(): ReadFiles {
  return {
    jobs: new Map(),
    apiJobs: new Map(),
    agents: new Map(),
    twins: new Map(),
    issues: [],
    unknown: [],
  };
}

/**
 * The fast path: files in the printer's own HCL subset go straight to the IR (no schemas,
 * `hcl-trusted.ts`), and the result is trusted only if the state read renders to exactly the
 * bytes given, every file (`provenByRendering`). Anything else returns undefined and the
 * caller reads again with every check on.
 */
function readTrusted(files: readonly FaceFile[], profile: NomadProfile): FabricState | undefined {
  const issues: FabricIssue[] = [];
  const assembly = new StateAssembly(issues);
  try {
    // File by file, straight into the state: each shape and job dies young.
    for (const file of files) {
      if (file.path.endsWith(".json")) continue;
      const shape = parseCanonicalHcl(file.content);
      if (shape === undefined) return undefined;
      if (file.path.endsWith(".nomad.hcl")) {
        const job = jobFromShape(shape);
        if (jobProblems(job).length > 0) return undefined;
        assembly.addJob(file.path, job);
      } else if (file.path.endsWith("/agent.hcl"))
        assembly.addNode(file.path, agentToNode(agentFromShape(shape)));
      else return undefined;
      if (issues.length > 0) return undefined;
    }
    return provenByRendering(assembly.state(), files, (state) => {
      const context = renderContext(state, profile);
      return (path) => renderNomadFile(state, path, context);
    });
  } catch {
    return undefined;
  }
}

/** Reads a cluster render for Nomad `profile` (what differs from its render is `unknown`). */
export async function readNomad(
  files: readonly FaceFile[],
  profile: NomadProfile = defaultNomadProfile,
): Promise<Result<ReadResult>> {
  const trusted = readTrusted(files, profile);
  if (trusted !== undefined) return ok({ state: trusted, unknown: [] });
  return readNomadChecked(files, profile);
}

/** The reader with every check on (schemas, located issues, unknown fields): no fast path. */
export async function readNomadChecked(
  files: readonly FaceFile[],
  profile: NomadProfile = defaultNomadProfile,
): Promise<Result<ReadResult>> {
  const read = await readNomadFiles(files, true);
  const sources = new Map<string, string>();
  const state = assemble(read, sources);
  if (read.issues.length > 0) return failed(read.issues);
  const checked = FabricState.safeParse(state);
  if (!checked.success) {
    const issues = issuesFromZod(checked.error).map((issue) => {
      const file = sources.get(`${issue.path[0]}/${issue.path[1]}`);
      return file === undefined ? issue : { ...issue, file };
    });
    return failed(issues);
  }
  const context = renderContext(checked.data, profile);
  const twinIssues = checkTwins(read, checked.data, context);
  if (twinIssues.length > 0) return failed(twinIssues);
  const unknown = [...read.unknown, ...(await reportUnexpected(read, files, checked.data, context))];
  return ok({ state: checked.data, unknown });
}
