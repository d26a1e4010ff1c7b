import assert from "node:assert/strict";
import { FabricState, formatIssue } from "../../vocabulary/index.js";
import type { Face, FaceFile, RenderScope, WriteResult } from "../contract.js";

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
 * time (`containerEnvironments`), every workload the writer wrote gets exactly the state's
 * `env`, whatever `$`, `%`, quotes or backslashes the values hold.
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
      state.workloads[key]?.env,
      `${key}: the container sees the state's environment`,
    );
  }
}
