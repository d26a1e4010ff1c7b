import type { FaceFile, ReadResult, UnknownField } from "@revoada/fabric-core/face";
import {
  emptyFabricState,
  type FabricIssue,
  FabricState,
  failed,
  ok,
  type Result,
} from "@revoada/fabric-core/vocabulary";
import { readApplied, readNodeFacts } from "./fabric-keys.js";
import { compareText, fabricTargetName, nodesDirectory, nodeTargetName } from "./layout.js";
import { parseUnitFile, sectionEntries, type UnitFile } from "./unit-syntax.js";

/**
 * Reads a cluster render of a units-on-nodes face back into a fabric state: the fabric
 * target gives the applied position, each `nodes/<dir>/revoada-node.target` a node, and each
 * other unit is classified by the face (a workload replica, a control-plane component the
 * node's roles account for, or something unknown). Shared by face-systemd and face-baremetal.
 */

export type UnitReading =
  | { readonly kind: "replica"; readonly key: string; readonly replica: number; readonly workload: unknown }
  | { readonly kind: "component" }
  | { readonly kind: "unknown"; readonly reason: string };

export type ClassifyUnit = (unit: UnitFile, path: string) => Result<UnitReading>;

/**
 * The lines of a replica unit that name its replica index, as the face writes them: `whole`
 * marks are whole lines, the others the start of a line. Outside them, two replicas of one
 * workload are the same text, and the classifier reads nothing in them but the
 * `X-Revoada-Replica=` value. With it, `readUnitTree` classifies (parses, reads and builds)
 * each workload once: a later replica whose text equals the first's outside the marks is that
 * workload's replica without being parsed again; any other text is read in full.
 */
export type ReplicaMarks = (
  namespace: string,
  name: string,
  replica: number,
) => readonly { readonly text: string; readonly whole: boolean }[];

interface ReplicaSeen {
  readonly file: string;
  readonly workload: unknown;
  readonly slots: (string | undefined)[];
  /** The first replica's text with its marks blanked (null: not comparable). */
  readonly template: string | null;
}

function locateStateIssue(issue: FabricIssue, origins: Map<string, string>): FabricIssue {
  const [area, key] = issue.path;
  const file = origins.get(`${String(area)}/${String(key)}`) ?? fabricTargetName;
  return { ...issue, file, line: 1, column: 1 };
}

/** Reads a cluster render whose node folders hold their units under `unitDirectory` ("" or `userUnitDirectory`). */
export async function readUnitTree(
  files: readonly FaceFile[],
  unitSuffixes: readonly string[],
  classify: ClassifyUnit,
  unitDirectory = "",
  replicaMarks?: ReplicaMarks,
): Promise<Result<ReadResult>> {
  const state = emptyFabricState();
  const raw = state as { nodes: Record<string, unknown>; workloads: Record<string, unknown> };
  const unknown: UnknownField[] = [];
  const issues: FabricIssue[] = [];
  const origins = new Map<string, string>();
  const replicas = new Map<string, ReplicaSeen>();
  const byDirectory = new Map<string, FaceFile[]>();
  const nodeFile = new RegExp(`^${nodesDirectory}/([^/]+)/${unitDirectory.replace(/\./g, "\\.")}[^/]+$`);
  for (const file of [...files].sort((a, b) => compareText(a.path, b.path))) {
    const parts = file.path.split("/");
    const inNode = nodeFile.exec(file.path);
    if (parts.length === 1 && file.path === fabricTargetName) {
      const unit = parseUnitFile(file.content, file.path);
      if (!unit.ok) return unit;
      const applied = readApplied(sectionEntries(unit.value, "Unit"), file.path);
      if (!applied.ok) return applied;
      state.applied = applied.value;
    } else if (inNode !== null) {
      const list = byDirectory.get(inNode[1]!) ?? [];
      list.push(file);
      byDirectory.set(inNode[1]!, list);
    } else unknown.push({ file: file.path, path: [], reason: "not a file this face writes" });
  }
  for (const [directory, directoryFiles] of byDirectory) {
    const targetPath = `${nodesDirectory}/${directory}/${unitDirectory}${nodeTargetName}`;
    const target = directoryFiles.find((file) => file.path === targetPath);
    if (target === undefined) {
      issues.push({ code: "missing_file", message: `no ${nodeTargetName}`, path: [], file: targetPath });
      continue;
    }
    const targetUnit = parseUnitFile(target.content, target.path);
    if (!targetUnit.ok) return targetUnit;
    const node = readNodeFacts(sectionEntries(targetUnit.value, "Unit"), target.path);
    if (!node.ok) return node;
    const nodeId = String(node.value.id);
    if (raw.nodes[nodeId] !== undefined) {
      issues.push({
        code: "duplicate",
        message: `node ${nodeId} appears twice`,
        path: [],
        file: target.path,
      });
    }
    raw.nodes[nodeId] = node.value;
    origins.set(`nodes/${nodeId}`, target.path);
    for (const file of directoryFiles) {
      if (file === target) continue;
      if (!unitSuffixes.some((suffix) => file.path.endsWith(suffix))) {
        unknown.push({ file: file.path, path: [], reason: "not a unit this face writes" });
        continue;
      }
      const again = replicaMarks === undefined ? null : knownReplica(file.content, replicas, replicaMarks);
      if (again !== null) {
        const issue = recordReplica(replicas, again, file.path, nodeId, null);
        if (issue !== undefined) issues.push(issue);
        continue;
      }
      const unit = parseUnitFile(file.content, file.path);
      if (!unit.ok) return unit;
      const reading = classify(unit.value, file.path);
      if (!reading.ok) return reading;
      if (reading.value.kind === "unknown") {
        unknown.push({ file: file.path, path: [], reason: reading.value.reason });
        continue;
      }
      if (reading.value.kind === "component") continue;
      const template =
        replicaMarks === undefined ? null : replicaTemplate(file.content, reading.value, replicaMarks);
      const issue = recordReplica(replicas, reading.value, file.path, nodeId, template);
      if (issue !== undefined) issues.push(issue);
    }
  }
  for (const [key, seen] of replicas) {
    raw.workloads[key] = seen.workload;
    origins.set(`workloads/${key}`, seen.file);
    origins.set(`placements/${key}`, seen.file);
    const gap = seen.slots.indexOf(undefined);
    if (gap >= 0) {
      issues.push({ code: "gap", message: `${key}: no unit for replica ${gap}`, path: [], file: seen.file });
    }
    (state.placements as Record<string, string[]>)[key] = seen.slots.map((slot) => slot ?? "");
  }
  if (issues.length > 0) return failed(issues);
  const parsed = FabricState.safeParse(state);
  if (!parsed.success) {
    return failed(
      parsed.error.issues.map((issue) =>
        locateStateIssue(
          { code: issue.code, message: issue.message, path: issue.path.map((part) => String(part)) },
          origins,
        ),
      ),
    );
  }
  return ok({ state: parsed.data, unknown });
}

const identityLine = /\nX-Revoada-Workload=([A-Za-z0-9][A-Za-z0-9_.-]*) ([A-Za-z0-9][A-Za-z0-9_.-]*)\n/;
const replicaLine = /\nX-Revoada-Replica=(0|[1-9][0-9]{0,5})\n/;

/** `text` with each mark blanked; null unless every mark is where it belongs, exactly once. */
function blankMarks(text: string, marks: ReturnType<ReplicaMarks>): string | null {
  let blanked = text;
  for (const mark of marks) {
    const at = blanked.indexOf(`\n${mark.text}`);
    if (at < 0 || blanked.indexOf(`\n${mark.text}`, at + 1) >= 0) return null;
    const end = at + 1 + mark.text.length;
    if (mark.whole && blanked[end] !== "\n") return null;
    blanked = `${blanked.slice(0, at + 1)}\u0000${blanked.slice(end)}`;
  }
  return blanked;
}

function onlyOnce(text: string, needle: string): boolean {
  const at = text.indexOf(needle);
  return at >= 0 && text.indexOf(needle, at + 1) < 0;
}

/** The first replica's text with its marks blanked, for `knownReplica`. */
function replicaTemplate(
  text: string,
  reading: { readonly key: string; readonly replica: number },
  replicaMarks: ReplicaMarks,
): string | null {
  const [namespace = "", name = ""] = reading.key.split("/");
  return blankMarks(text, replicaMarks(namespace, name, reading.replica));
}

/**
 * A later replica of a workload already read: its text is the first replica's outside the
 * marks (so it parses and classifies to the same workload), and its one `X-Revoada-Replica=`
 * line gives the index. Null when it is not certainly that: the caller then reads it in full.
 */
function knownReplica(
  text: string,
  replicas: ReadonlyMap<string, ReplicaSeen>,
  replicaMarks: ReplicaMarks,
): { key: string; replica: number; workload: unknown } | null {
  if (!onlyOnce(text, "\nX-Revoada-Workload=") || !onlyOnce(text, "\nX-Revoada-Replica=")) return null;
  const identity = identityLine.exec(text);
  const index = replicaLine.exec(text);
  if (identity === null || index === null) return null;
  const [, namespace = "", name = ""] = identity;
  const key = `${namespace}/${name}`;
  const seen = replicas.get(key);
  if (seen === undefined || seen.template === null) return null;
  const replica = Number(index[1]);
  if (blankMarks(text, replicaMarks(namespace, name, replica)) !== seen.template) return null;
  return { key, replica, workload: seen.workload };
}

/** Deep equality of JSON-shaped data (what classifiers build): cheaper than util.isDeepStrictEqual. */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(right, key) || !sameData(left[key], right[key])) return false;
  }
  return true;
}

function recordReplica(
  replicas: Map<string, ReplicaSeen>,
  reading: { key: string; replica: number; workload: unknown },
  file: string,
  nodeId: string,
  template: string | null,
): FabricIssue | undefined {
  let seen = replicas.get(reading.key);
  if (seen === undefined) {
    seen = { file, workload: reading.workload, slots: [], template };
    replicas.set(reading.key, seen);
  } else if (!sameData(seen.workload, reading.workload)) {
    return {
      code: "conflict",
      message: `${reading.key}: replicas disagree with ${seen.file}`,
      path: [],
      file,
    };
  }
  if (reading.replica > 100_000)
    return { code: "invalid_value", message: "replica index too large", path: [], file };
  if (seen.slots[reading.replica] !== undefined) {
    return { code: "duplicate", message: `${reading.key}: replica ${reading.replica} twice`, path: [], file };
  }
  for (let slot = seen.slots.length; slot < reading.replica; slot += 1) seen.slots[slot] = undefined;
  seen.slots[reading.replica] = nodeId;
  return undefined;
}
