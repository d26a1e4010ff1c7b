import { compareText, nodeAddressKinds } from "@revoada/fabric-core/face";
import {
  type FabricIssue,
  failed,
  type NodeState,
  ok,
  type Result,
  type Workload,
} from "@revoada/fabric-core/vocabulary";
import { lastValue, listValues, type UnitEntry } from "./unit-syntax.js";
import { isWordError, joinWords, splitWords } from "./unit-values.js";

/**
 * The fabric facts a reader needs and systemd has no key for, carried in `X-Revoada-*`
 * keys. systemd accepts `X-` keys in any section and ignores them (systemd.unit(5),
 * "Unit file extensions"). Every value is a list of words quoted like `Exec*=` arguments,
 * so names with spaces, quotes or newlines survive. face-baremetal reuses these encoders.
 */

export type UnitEntries = [string, string][];

export const keys = {
  applied: "X-Revoada-Applied",
  component: "X-Revoada-Component",
  nodeId: "X-Revoada-Node-Id",
  nodeName: "X-Revoada-Node-Name",
  nodeRole: "X-Revoada-Node-Role",
  nodeAddress: "X-Revoada-Node-Address",
  nodeCapacity: "X-Revoada-Node-Capacity",
  nodeZone: "X-Revoada-Node-Zone",
  nodeRack: "X-Revoada-Node-Rack",
  nodeLabel: "X-Revoada-Node-Label",
  nodeVersion: "X-Revoada-Node-Version",
  nodeGeneration: "X-Revoada-Node-Generation",
  workload: "X-Revoada-Workload",
  replica: "X-Revoada-Replica",
  replicas: "X-Revoada-Replicas",
  port: "X-Revoada-Port",
  configBlob: "X-Revoada-Config-Blob",
  placementZone: "X-Revoada-Placement-Zone",
  placementLabel: "X-Revoada-Placement-Label",
  tolerateControlPlane: "X-Revoada-Tolerate-Control-Plane",
} as const;

/** Address kinds in code-unit order (the order the `X-Revoada-Node-Address=` lines take). */
const addressKinds = [...nodeAddressKinds].sort(compareText);

function sortedEntries<T>(record: Readonly<Record<string, T>>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function nodeFactEntries(node: NodeState): UnitEntries {
  const entries: UnitEntries = [
    [keys.nodeId, node.id],
    [keys.nodeName, joinWords([node.name])],
  ];
  for (const role of node.roles) entries.push([keys.nodeRole, role]);
  for (const kind of addressKinds) {
    const address = node.addresses[kind];
    if (address !== undefined) entries.push([keys.nodeAddress, joinWords([kind, address])]);
  }
  const capacity = node.capacity;
  entries.push([
    keys.nodeCapacity,
    joinWords(
      [capacity.cpu_millis, capacity.memory_bytes, capacity.storage_bytes, capacity.pods].map(String),
    ),
  ]);
  entries.push([keys.nodeZone, joinWords([node.zone])], [keys.nodeRack, joinWords([node.rack])]);
  for (const [key, value] of sortedEntries(node.labels))
    entries.push([keys.nodeLabel, joinWords([key, value])]);
  entries.push([keys.nodeVersion, joinWords([node.version])], [keys.nodeGeneration, String(node.generation)]);
  return entries;
}

/** Reads the words of an entry, with the issue pointing at the value's line and column. */
export function entryWords(entry: UnitEntry, file: string, count?: number): Result<string[]> {
  const words = splitWords(entry.value);
  if (isWordError(words)) {
    return failed([entryIssue(entry, file, words.message, words.offset)]);
  }
  if (count !== undefined && words.length !== count) {
    return failed([entryIssue(entry, file, `${entry.key} takes ${count} word(s), found ${words.length}`)]);
  }
  return ok(words);
}

export function entryIssue(entry: UnitEntry, file: string, message: string, offset = 0): FabricIssue {
  return {
    code: "invalid_value",
    message,
    path: [entry.key],
    file,
    line: entry.line,
    column: entry.column + offset,
  };
}

export function missingKeyIssue(file: string, key: string): FabricIssue {
  return { code: "missing_key", message: `missing ${key}=`, path: [key], file, line: 1, column: 1 };
}

/** One word; an absent key is an issue unless `fallback` is given. */
export function singleWord(
  entries: readonly UnitEntry[],
  key: string,
  file: string,
  fallback?: string,
): Result<string> {
  const entry = lastValue(entries, key);
  if (entry === undefined)
    return fallback === undefined ? failed([missingKeyIssue(file, key)]) : ok(fallback);
  const words = entryWords(entry, file, 1);
  return words.ok ? ok(words.value[0]!) : words;
}

export function integerWord(entry: UnitEntry, word: string, file: string): Result<number> {
  if (!/^\d{1,16}$/.test(word) || !Number.isSafeInteger(Number(word))) {
    return failed([entryIssue(entry, file, `not a non-negative integer: ${word}`)]);
  }
  return ok(Number(word));
}

/** Collects issues from a list of results; returns the values when all succeeded. */
export function collect<T>(results: readonly Result<T>[]): Result<T[]> {
  const issues = results.flatMap((result) => (result.ok ? [] : result.issues));
  if (issues.length > 0) return failed(issues);
  return ok(results.map((result) => (result.ok ? result.value : (undefined as never))));
}

/** Node facts back from a node target's `[Unit]` entries (schema validation comes later). */
export function readNodeFacts(entries: readonly UnitEntry[], file: string): Result<Record<string, unknown>> {
  const issues: FabricIssue[] = [];
  const take = <T>(result: Result<T>, fallback: T): T => {
    if (result.ok) return result.value;
    issues.push(...result.issues);
    return fallback;
  };
  const id = take(singleWord(entries, keys.nodeId, file), "");
  const name = take(singleWord(entries, keys.nodeName, file), "");
  const roles = listValues(entries, keys.nodeRole).map((entry) => take(entryWords(entry, file, 1), [""])[0]!);
  const addresses: Record<string, string> = {};
  for (const entry of listValues(entries, keys.nodeAddress)) {
    const [kind, address] = take(entryWords(entry, file, 2), ["", ""]);
    if (kind !== undefined && address !== undefined) addresses[kind] = address;
  }
  const capacityEntry = lastValue(entries, keys.nodeCapacity);
  const capacity: number[] = [];
  if (capacityEntry === undefined) issues.push(missingKeyIssue(file, keys.nodeCapacity));
  else {
    for (const word of take(entryWords(capacityEntry, file, 4), [])) {
      capacity.push(take(integerWord(capacityEntry, word, file), 0));
    }
  }
  const labels: Record<string, string> = {};
  for (const entry of listValues(entries, keys.nodeLabel)) {
    const [key, value] = take(entryWords(entry, file, 2), ["", ""]);
    if (key !== undefined && value !== undefined) labels[key] = value;
  }
  const generationEntry = lastValue(entries, keys.nodeGeneration);
  let generation = 0;
  if (generationEntry === undefined) issues.push(missingKeyIssue(file, keys.nodeGeneration));
  else generation = take(integerWord(generationEntry, generationEntry.value, file), 0);
  const node = {
    id,
    name,
    addresses,
    roles,
    capacity: {
      cpu_millis: capacity[0] ?? 0,
      memory_bytes: capacity[1] ?? 0,
      storage_bytes: capacity[2] ?? 0,
      pods: capacity[3] ?? 0,
    },
    zone: take(singleWord(entries, keys.nodeZone, file), ""),
    rack: take(singleWord(entries, keys.nodeRack, file), ""),
    labels,
    version: take(singleWord(entries, keys.nodeVersion, file), ""),
    generation,
  };
  return issues.length > 0 ? failed(issues) : ok(node);
}

/** The facts of a workload replica that no real key carries. */
export function workloadFactEntries(workload: Workload, replica: number): UnitEntries {
  const entries: UnitEntries = [
    [keys.workload, joinWords([workload.namespace, workload.name])],
    [keys.replica, String(replica)],
    [keys.replicas, String(workload.replicas)],
  ];
  for (const port of workload.ports) {
    entries.push([keys.port, joinWords([port.name, String(port.container_port), port.protocol])]);
  }
  for (const blob of workload.config_blobs) {
    entries.push([keys.configBlob, joinWords([blob.name, blob.hash, blob.mount_path])]);
  }
  for (const zone of workload.placement.zones) entries.push([keys.placementZone, joinWords([zone])]);
  for (const [key, value] of sortedEntries(workload.placement.labels)) {
    entries.push([keys.placementLabel, joinWords([key, value])]);
  }
  entries.push([keys.tolerateControlPlane, workload.placement.tolerate_control_plane ? "yes" : "no"]);
  return entries;
}

export interface WorkloadFacts {
  readonly namespace: string;
  readonly name: string;
  readonly replica: number;
  readonly replicas: number;
  readonly ports: { name: string; container_port: number; protocol: string }[];
  readonly config_blobs: { name: string; hash: string; mount_path: string }[];
  readonly placement: { zones: string[]; labels: Record<string, string>; tolerate_control_plane: boolean };
}

export function readWorkloadFacts(entries: readonly UnitEntry[], file: string): Result<WorkloadFacts> {
  const issues: FabricIssue[] = [];
  const take = <T>(result: Result<T>, fallback: T): T => {
    if (result.ok) return result.value;
    issues.push(...result.issues);
    return fallback;
  };
  const identity = lastValue(entries, keys.workload);
  const [namespace, name] = identity === undefined ? ["", ""] : take(entryWords(identity, file, 2), ["", ""]);
  if (identity === undefined) issues.push(missingKeyIssue(file, keys.workload));
  const number = (key: string): number => {
    const entry = lastValue(entries, key);
    if (entry === undefined) {
      issues.push(missingKeyIssue(file, key));
      return 0;
    }
    return take(integerWord(entry, entry.value, file), 0);
  };
  const replica = number(keys.replica);
  const replicas = number(keys.replicas);
  const ports = listValues(entries, keys.port).map((entry) => {
    const [portName = "", port = "0", protocol = ""] = take(entryWords(entry, file, 3), []);
    return { name: portName, container_port: take(integerWord(entry, port, file), 0), protocol };
  });
  const config_blobs = listValues(entries, keys.configBlob).map((entry) => {
    const [blobName = "", hash = "", mount_path = ""] = take(entryWords(entry, file, 3), []);
    return { name: blobName, hash, mount_path };
  });
  const zones = listValues(entries, keys.placementZone).map(
    (entry) => take(entryWords(entry, file, 1), [""])[0]!,
  );
  const labels: Record<string, string> = {};
  for (const entry of listValues(entries, keys.placementLabel)) {
    const [key = "", value = ""] = take(entryWords(entry, file, 2), []);
    labels[key] = value;
  }
  const tolerate = lastValue(entries, keys.tolerateControlPlane);
  if (tolerate !== undefined && tolerate.value !== "yes" && tolerate.value !== "no") {
    issues.push(entryIssue(tolerate, file, "expected yes or no"));
  }
  if (issues.length > 0) return failed(issues);
  return ok({
    namespace: namespace ?? "",
    name: name ?? "",
    replica,
    replicas,
    ports,
    config_blobs,
    placement: { zones, labels, tolerate_control_plane: tolerate?.value === "yes" },
  });
}

export function appliedEntries(applied: { term: number; index: number }): UnitEntries {
  return [[keys.applied, `${applied.term} ${applied.index}`]];
}

export function readApplied(
  entries: readonly UnitEntry[],
  file: string,
): Result<{ term: number; index: number }> {
  const entry = lastValue(entries, keys.applied);
  if (entry === undefined) return failed([missingKeyIssue(file, keys.applied)]);
  const words = entryWords(entry, file, 2);
  if (!words.ok) return words;
  const term = integerWord(entry, words.value[0]!, file);
  const index = integerWord(entry, words.value[1]!, file);
  if (!term.ok) return term;
  if (!index.ok) return index;
  return ok({ term: term.value, index: index.value });
}
