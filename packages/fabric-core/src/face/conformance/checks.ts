import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { FabricState, formatIssue } from "../../vocabulary/index.js";
import type {
  Face,
  FaceFile,
  FaceParameter,
  FaceParameterValue,
  RenderScope,
  WriteResult,
} from "../contract.js";
import { lostFields, matchesLostPattern } from "../loss.js";

/**
 * The individual conformance checks. Each throws an `AssertionError` naming what broke;
 * `runFaceConformance` wires them into node:test, and a face may call them directly.
 */

const cluster: RenderScope = { kind: "cluster" };

/** Looks like a wall-clock timestamp (ISO 8601 or RFC 3339 date-time). */
const timestampPattern = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/** Rendered files have relative POSIX paths, unique, with no `.`/`..` segments or empty parts. */
export function checkFileShape(files: readonly FaceFile[]): void {
  const seen = new Set<string>();
  for (const file of files) {
    assert.equal(typeof file.path, "string", "a file path is a string");
    assert.equal(typeof file.content, "string", `${file.path}: content is a string`);
    assert.ok(file.path.length > 0, "a file path is not empty");
    assert.ok(!file.path.startsWith("/"), `${file.path}: a file path is relative`);
    assert.ok(!file.path.includes("\\"), `${file.path}: a file path uses '/'`);
    for (const segment of file.path.split("/")) {
      assert.ok(segment !== "" && segment !== "." && segment !== "..", `${file.path}: bad path segment`);
    }
    assert.ok(!seen.has(file.path), `${file.path}: written twice`);
    seen.add(file.path);
  }
}

/** `dropped` is a list of `{ path: (string|number)[], reason: string }`. */
export function checkDropped(result: WriteResult): void {
  assert.ok(Array.isArray(result.dropped), "dropped is an array");
  for (const entry of result.dropped) {
    assert.ok(Array.isArray(entry.path) && entry.path.length > 0, "a dropped entry has a non-empty path");
    for (const part of entry.path) {
      assert.ok(
        typeof part === "string" || typeof part === "number",
        "a dropped path part is a string or number",
      );
    }
    assert.ok(typeof entry.reason === "string" && entry.reason.length > 0, "a dropped entry has a reason");
  }
}

/** A deep copy with every object's keys inserted in reverse order (arrays keep their order). */
export function reverseKeyOrder<T>(value: T): T {
  const text = JSON.stringify(value, (_key, child: unknown) => {
    if (child === null || typeof child !== "object" || Array.isArray(child)) return child;
    const reversed: Record<string, unknown> = {};
    for (const key of Object.keys(child).reverse()) reversed[key] = (child as Record<string, unknown>)[key];
    return reversed;
  });
  return JSON.parse(text) as T;
}

/**
 * Same state, same bytes: writing twice gives identical files in identical order, and so
 * does writing a copy whose maps were built in a different key order.
 */
export function checkByteStable(face: Face, state: FabricState, scope: RenderScope = cluster): WriteResult {
  const first = face.writer.write(state, scope);
  const second = face.writer.write(state, scope);
  assert.deepEqual(second.files, first.files, "writing the same state twice gives the same files");
  assert.deepEqual(second.dropped, first.dropped, "writing the same state twice drops the same things");
  const shuffled = face.writer.write(reverseKeyOrder(state), scope);
  assert.deepEqual(
    shuffled.files.map((file) => file.path),
    first.files.map((file) => file.path),
    "file order does not depend on map key insertion order",
  );
  assert.deepEqual(shuffled.files, first.files, "bytes do not depend on map key insertion order");
  checkFileShape(first.files);
  checkDropped(first);
  return first;
}

/** No file contains something that looks like a wall-clock timestamp. */
export function checkNoTimestamps(files: readonly FaceFile[]): void {
  for (const file of files) {
    const match = timestampPattern.exec(file.content);
    assert.equal(match, null, `${file.path}: looks like a timestamp: ${match?.[0] ?? ""}`);
  }
}

/** The face's own validator accepts the files. */
export async function checkValidates(face: Face, files: readonly FaceFile[]): Promise<void> {
  if (face.validate === undefined) return;
  const issues = await face.validate(files);
  assert.deepEqual(issues.map(formatIssue), [], "the face's validator accepts what its writer produced");
}

/**
 * `read(write(state)).state` equals `model(state)`, the reader understood every file the
 * writer produced (`unknown` is empty), and `model` is idempotent and schema-valid.
 */
export async function checkRoundTrip(face: Face, state: FabricState): Promise<void> {
  const modelled = face.model(state);
  const parsed = FabricState.safeParse(modelled);
  assert.ok(parsed.success, `model(state) is a valid FabricState: ${parsed.error?.message ?? ""}`);
  assert.deepEqual(face.model(modelled), modelled, "model is idempotent");
  const written = face.writer.write(state, cluster);
  const read = await face.reader.read(written.files);
  if (!read.ok)
    assert.fail(`the reader rejected the writer's output:\n${read.issues.map(formatIssue).join("\n")}`);
  assert.deepEqual(read.value.unknown, [], "the reader understands everything the writer produced");
  assert.deepEqual(read.value.state, modelled, "read(write(state)).state equals model(state)");
}

/**
 * One state, one environment: where the face says how its orchestrator reads the files at run
 * time (`containerEnvironments`), every workload the writer wrote gets exactly its modelled
 * `env`, whatever `$`, `%`, quotes or backslashes the values hold. `checkLossReport` holds the
 * model to the state: a variable the face cannot pass on is reported dropped, never changed.
 */
export async function checkContainerEnvironments(face: Face, state: FabricState): Promise<void> {
  if (face.containerEnvironments === undefined) return;
  const written = face.writer.write(state, cluster);
  const result = await face.containerEnvironments(written.files);
  if (!result.ok)
    assert.fail(
      `containerEnvironments rejected the writer's output:\n${result.issues.map(formatIssue).join("\n")}`,
    );
  const modelled = face.model(state);
  assert.deepEqual(
    Object.keys(result.value).sort(),
    Object.keys(modelled.workloads).sort(),
    "an environment for every workload written, and only those",
  );
  for (const [key, environment] of Object.entries(result.value)) {
    assert.deepEqual(
      environment,
      modelled.workloads[key]?.env,
      `${key}: the container sees the state's environment`,
    );
  }
}

type Path = readonly (string | number)[];

function valueAt(value: unknown, path: Path): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[String(key)];
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The shortest paths at which two values differ (a key on one side only, or unequal leaves). */
function differingPaths(before: unknown, after: unknown, path: Path = []): Path[] {
  if (!isRecord(before) || !isRecord(after)) return isDeepStrictEqual(before, after) ? [] : [path];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((key) =>
    Object.hasOwn(before, key) && Object.hasOwn(after, key)
      ? differingPaths(before[key], after[key], [...path, key])
      : [[...path, key]],
  );
}

function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((key, index) => String(key) === String(path[index]));
}

/**
 * Loss is said, and said the same way twice: what the face declares it cannot represent
 * (`face.lost`, what `revoada read` reports) agrees with what its writer reports dropped for
 * this state, and `model` changes nothing the writer did not report.
 *   - every dropped path is a declared loss, or an entry `model` removed altogether;
 *   - every declared loss whose value `model` changed is reported dropped;
 *   - every difference between the state and `model(state)` lies under a dropped path.
 */
export function checkLossReport(face: Face, state: FabricState): void {
  const lost = face.lost ?? [];
  for (const entry of lost) {
    assert.ok(entry.path.length > 0 && entry.reason.length > 0, "a lost entry has a path and a reason");
  }
  const dropped = face.writer.write(state, cluster).dropped;
  const modelled = face.model(state);
  for (const field of dropped) {
    const declared = lost.some((entry) => matchesLostPattern(entry.path, field.path));
    const removed = valueAt(modelled, field.path) === undefined;
    assert.ok(
      declared || removed,
      `dropped ${field.path.join(".")}: neither declared in face.lost nor removed by model`,
    );
  }
  for (const field of lostFields(state, lost)) {
    if (isDeepStrictEqual(valueAt(state, field.path), valueAt(modelled, field.path))) continue;
    assert.ok(
      dropped.some((entry) => isPrefix(entry.path, field.path)),
      `${field.path.join(".")} is lost (${field.reason}) but the writer does not report it dropped`,
    );
  }
  for (const path of differingPaths(state, modelled)) {
    assert.ok(
      dropped.some((entry) => isPrefix(entry.path, path)),
      `model changes ${path.join(".")} but the writer does not report it dropped`,
    );
  }
}

/** The face configured with one parameter set to `value`; fails naming the parameter when it cannot be. */
export function configuredFace(face: Face, name: string, value: FaceParameterValue): Face {
  assert.ok(face.configure !== undefined, `${face.id} declares parameters but has no configure()`);
  const configured = face.configure({ [name]: value });
  if (!configured.ok)
    assert.fail(
      `${face.id}: configure({ ${name}: ${JSON.stringify(value)} }) failed:\n${configured.issues.map(formatIssue).join("\n")}`,
    );
  return configured.value;
}

/** Everything a cluster render of every state holds, as one comparable text. */
function renderAll(face: Face, states: readonly FabricState[]): string {
  return JSON.stringify(states.map((state) => face.writer.write(state, cluster).files));
}

/**
 * Every parameter changes the output: a parameter declares at least two values, its default
 * among them, and the face configured with each value renders files that differ from every
 * other value's for at least one of `states` (cluster scope). A parameter that is parsed and
 * then changes nothing fails here. `configure` refuses a name the face does not declare.
 */
export function checkParametersChangeOutput(face: Face, states: readonly FabricState[]): void {
  const parameters: readonly FaceParameter[] = face.parameters ?? [];
  if (face.configure !== undefined) {
    const unknown = face.configure({ "no-such-parameter": true });
    assert.equal(unknown.ok, false, `${face.id}: configure() refuses a parameter it does not declare`);
  }
  for (const parameter of parameters) {
    assert.ok(parameter.description.length > 0, `${parameter.name}: has a description`);
    assert.ok(parameter.values.length >= 2, `${parameter.name}: declares at least two values to compare`);
    assert.ok(
      parameter.values.some((value) => value === parameter.default),
      `${parameter.name}: its default ${JSON.stringify(parameter.default)} is among its values`,
    );
    const seen = new Map<string, FaceParameterValue>();
    for (const value of parameter.values) {
      const rendered = renderAll(configuredFace(face, parameter.name, value), states);
      const same = seen.get(rendered);
      assert.ok(
        same === undefined,
        `${face.id}: parameter ${parameter.name} = ${JSON.stringify(value)} renders the same files as ${JSON.stringify(same)} for every example state: a parameter value that changes nothing`,
      );
      seen.set(rendered, value);
    }
  }
}
