import type { Workload } from "@revoada/fabric-core/vocabulary";
import { failed, ok, type Result } from "@revoada/fabric-core/vocabulary";
import { entryIssue, keys, readWorkloadFacts, type UnitEntries, workloadFactEntries } from "./fabric-keys.js";
import { compareText, nodeTargetName } from "./layout.js";
import { lastValue, listValues, sectionEntries, type UnitEntry, type UnitFile } from "./unit-syntax.js";
import type { UnitReading } from "./unit-tree-reader.js";
import { escapeSpecifiers, formatEnvironment, isWordError, parseEnvironment } from "./unit-values.js";

/**
 * Workload keys both unit faces write the same way (resources in `[Service]`, environment as
 * `Environment=`), and the classification of a unit that both readers share: a control-plane
 * component, a workload replica (facts from `X-Revoada-*`, the container fields from the
 * face's own keys), or something this face did not write.
 */

/** `CPUQuota=` in percent of one CPU (1000 millis = 100%), one decimal place. */
export function cpuQuota(millis: number): string {
  const tenths = millis % 10;
  return `${Math.trunc(millis / 10)}${tenths === 0 ? "" : `.${tenths}`}%`;
}

export function parseCpuQuota(text: string): number | undefined {
  const match = /^(\d{1,9})(?:\.(\d))?%$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * 10 + Number(match[2] ?? "0");
}

export function resourceEntries(workload: Workload): UnitEntries {
  const entries: UnitEntries = [];
  if (workload.resources.cpu_millis > 0) entries.push(["CPUQuota", cpuQuota(workload.resources.cpu_millis)]);
  if (workload.resources.memory_bytes > 0)
    entries.push(["MemoryMax", String(workload.resources.memory_bytes)]);
  return entries;
}

export function environmentEntries(workload: Workload): UnitEntries {
  return Object.keys(workload.env)
    .sort(compareText)
    .map((name) => ["Environment", formatEnvironment(name, workload.env[name]!)]);
}

/**
 * The `[Unit]` section of a replica unit: description, network ordering, node target, fabric
 * facts. A user unit (`user`) orders after nothing: a user manager has no `network-online.target`.
 */
function replicaDescription(namespace: string, name: string, replica: number): string {
  return escapeSpecifiers(`revoada workload ${namespace}/${name} replica ${replica}`);
}

/**
 * The marks every replica unit of a units-on-nodes face has (`ReplicaMarks`): its
 * `Description=` and `X-Revoada-Replica=` lines, as `replicaUnitEntries` writes them.
 */
export function replicaUnitMarks(
  namespace: string,
  name: string,
  replica: number,
): { readonly text: string; readonly whole: boolean }[] {
  return [
    { text: `Description=${replicaDescription(namespace, name, replica)}`, whole: true },
    { text: `X-Revoada-Replica=${replica}`, whole: true },
  ];
}

export function replicaUnitEntries(workload: Workload, replica: number, user = false): UnitEntries {
  const network: UnitEntries = user
    ? []
    : [
        ["Wants", "network-online.target"],
        ["After", "network-online.target"],
      ];
  return [
    ["Description", replicaDescription(workload.namespace, workload.name, replica)],
    ...network,
    ["PartOf", nodeTargetName],
    ...workloadFactEntries(workload, replica),
  ];
}

export function readEnvironment(entries: readonly UnitEntry[], path: string): Result<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const entry of listValues(entries, "Environment")) {
    const pairs = parseEnvironment(entry.value);
    if (isWordError(pairs)) return failed([entryIssue(entry, path, pairs.message, pairs.offset)]);
    for (const [name, value] of pairs) env[name] = value;
  }
  return ok(env);
}

export function readResources(
  entries: readonly UnitEntry[],
  path: string,
): Result<{ cpu_millis: number; memory_bytes: number }> {
  const quota = lastValue(entries, "CPUQuota");
  const memory = lastValue(entries, "MemoryMax");
  const cpu_millis = quota === undefined || quota.value === "" ? 0 : parseCpuQuota(quota.value);
  if (cpu_millis === undefined && quota !== undefined)
    return failed([entryIssue(quota, path, "CPUQuota is not N[.N]%")]);
  const memoryText = memory?.value ?? "";
  if (memoryText !== "" && !/^\d{1,16}$/.test(memoryText) && memory !== undefined) {
    return failed([entryIssue(memory, path, "MemoryMax is not a byte count")]);
  }
  return ok({ cpu_millis: cpu_millis ?? 0, memory_bytes: memoryText === "" ? 0 : Number(memoryText) });
}

export interface ContainerFields {
  readonly image: string;
  readonly command: string[];
  readonly args: string[];
  readonly env: Record<string, string>;
}

export function classifyReplicaUnit(
  unit: UnitFile,
  path: string,
  readContainer: (unit: UnitFile, path: string) => Result<ContainerFields>,
): Result<UnitReading> {
  const unitEntries = sectionEntries(unit, "Unit");
  if (lastValue(unitEntries, keys.component) !== undefined) return ok({ kind: "component" });
  if (lastValue(unitEntries, keys.workload) === undefined) {
    return ok({ kind: "unknown", reason: "a unit without X-Revoada-Workload or X-Revoada-Component" });
  }
  const facts = readWorkloadFacts(unitEntries, path);
  if (!facts.ok) return facts;
  const container = readContainer(unit, path);
  if (!container.ok) return container;
  const resources = readResources(sectionEntries(unit, "Service"), path);
  if (!resources.ok) return resources;
  const { replica, ...rest } = facts.value;
  const workload = { ...rest, ...container.value, resources: resources.value };
  return ok({ kind: "replica", key: `${rest.namespace}/${rest.name}`, replica, workload });
}
