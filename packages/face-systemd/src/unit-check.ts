import type { FaceFile } from "@revoada/fabric-core/face";
import type { FabricIssue } from "@revoada/fabric-core/vocabulary";
import { parseUnitFile, type UnitEntry, type UnitFile } from "./unit-syntax.js";
import { isWordError, parseExecLine, splitWords } from "./unit-values.js";

/**
 * Checks on rendered unit files that `systemd-analyze verify` does not make (or makes only
 * with a full system tree): every key is one systemd documents for its section, values of
 * enumerated keys are valid, `ExecStart=` names an absolute program, and every unit named in
 * `Wants=`/`Requires=`/`After=`/`Before=`/`PartOf=`/`BindsTo=`/`WantedBy=` exists beside
 * the unit or is a well-known system unit. verify passes dangling references with
 * `--recursive-errors=no`, so this is where they are caught.
 */

export type SectionKeys = Readonly<Record<string, ReadonlySet<string>>>;

export const unitSectionKeys = new Set([
  "Description",
  "Documentation",
  "Wants",
  "Requires",
  "Requisite",
  "BindsTo",
  "PartOf",
  "Upholds",
  "Conflicts",
  "Before",
  "After",
  "OnFailure",
  "StartLimitIntervalSec",
  "StartLimitBurst",
  "ConditionPathExists",
  "AssertPathExists",
  "DefaultDependencies",
]);

export const serviceSectionKeys = new Set([
  "Type",
  "ExecStartPre",
  "ExecStart",
  "ExecStartPost",
  "ExecStop",
  "ExecStopPost",
  "ExecReload",
  "Restart",
  "RestartSec",
  "TimeoutStartSec",
  "TimeoutStopSec",
  "Environment",
  "EnvironmentFile",
  "User",
  "Group",
  "WorkingDirectory",
  "KillMode",
  "CPUQuota",
  "MemoryMax",
  "LimitNOFILE",
  "NotifyAccess",
]);

export const installSectionKeys = new Set([
  "WantedBy",
  "RequiredBy",
  "UpheldBy",
  "Alias",
  "Also",
  "DefaultInstance",
]);

/** Sections and keys allowed per unit type (by file suffix). `X-` keys are always allowed. */
export const systemdUnitKeys: Readonly<Record<string, SectionKeys>> = {
  ".service": { Unit: unitSectionKeys, Service: serviceSectionKeys, Install: installSectionKeys },
  ".target": { Unit: unitSectionKeys, Install: installSectionKeys },
};

/** Units outside the render that a reference may name. */
export const wellKnownUnits = new Set([
  "network-online.target",
  "network.target",
  "multi-user.target",
  "default.target",
  "local-fs.target",
  "remote-fs.target",
  "time-sync.target",
]);

const referenceKeys = new Set([
  "Wants",
  "Requires",
  "Requisite",
  "BindsTo",
  "PartOf",
  "Upholds",
  "Before",
  "After",
  "WantedBy",
  "RequiredBy",
  "UpheldBy",
  "OnFailure",
  "Conflicts",
]);

const restartValues = new Set([
  "no",
  "on-success",
  "on-failure",
  "on-abnormal",
  "on-watchdog",
  "on-abort",
  "always",
]);
const typeValues = new Set([
  "simple",
  "exec",
  "forking",
  "oneshot",
  "dbus",
  "notify",
  "notify-reload",
  "idle",
]);

export interface UnitCheckOptions {
  readonly unitKeys?: Readonly<Record<string, SectionKeys>>;
  /** Unit names a file provides besides its own (a Quadlet `x.container` provides `x.service`). */
  readonly provides?: (fileName: string) => readonly string[];
}

function issueAt(file: string, entry: UnitEntry | undefined, code: string, message: string): FabricIssue {
  return {
    code,
    message,
    path: entry === undefined ? [] : [entry.key],
    file,
    line: entry?.line ?? 1,
    column: entry?.column ?? 1,
  };
}

function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function checkEntry(
  file: string,
  section: string,
  entry: UnitEntry,
  allowed: ReadonlySet<string>,
): FabricIssue[] {
  if (entry.key.startsWith("X-")) return [];
  if (!allowed.has(entry.key))
    return [issueAt(file, entry, "unknown_key", `unknown key ${entry.key} in [${section}]`)];
  if (entry.key === "Restart" && !restartValues.has(entry.value)) {
    return [issueAt(file, entry, "invalid_value", `Restart=${entry.value} is not a restart specifier`)];
  }
  if (entry.key === "Type" && !typeValues.has(entry.value)) {
    return [issueAt(file, entry, "invalid_value", `Type=${entry.value} is not a service type`)];
  }
  if (section === "Service" && entry.key.startsWith("Exec") && entry.value !== "") {
    const argv = parseExecLine(entry.value);
    if (isWordError(argv)) return [issueAt(file, entry, "invalid_value", argv.message)];
    const program = (argv[0] ?? "").replace(/^[-@:+!]+/, "");
    if (!program.startsWith("/"))
      return [issueAt(file, entry, "invalid_value", `${entry.key} needs an absolute path`)];
  }
  return [];
}

function checkUnit(
  unit: UnitFile,
  suffix: string,
  keys: SectionKeys,
  names: ReadonlySet<string>,
): FabricIssue[] {
  const issues: FabricIssue[] = [];
  for (const section of unit.sections) {
    const allowed = keys[section.name];
    if (allowed === undefined) {
      issues.push({
        code: "unknown_section",
        message: `[${section.name}] in a ${suffix} unit`,
        path: [],
        file: unit.file,
        line: section.line,
        column: 1,
      });
      continue;
    }
    for (const entry of section.entries) {
      issues.push(...checkEntry(unit.file, section.name, entry, allowed));
      if (!referenceKeys.has(entry.key)) continue;
      const words = splitWords(entry.value);
      if (isWordError(words)) continue;
      for (const name of words) {
        if (!names.has(name) && !wellKnownUnits.has(name)) {
          issues.push(
            issueAt(
              unit.file,
              entry,
              "dangling_reference",
              `${entry.key}=${name}: no such unit beside this one`,
            ),
          );
        }
      }
    }
  }
  return issues;
}

/** Validates rendered unit files; an empty list means they are fine. */
export function checkUnitFiles(files: readonly FaceFile[], options: UnitCheckOptions = {}): FabricIssue[] {
  const unitKeys = options.unitKeys ?? systemdUnitKeys;
  const namesByDirectory = new Map<string, Set<string>>();
  for (const file of files) {
    const directory = directoryOf(file.path);
    const names = namesByDirectory.get(directory) ?? new Set<string>();
    names.add(baseName(file.path));
    for (const provided of options.provides?.(baseName(file.path)) ?? []) names.add(provided);
    namesByDirectory.set(directory, names);
  }
  const issues: FabricIssue[] = [];
  for (const file of files) {
    const suffix = Object.keys(unitKeys).find((candidate) => file.path.endsWith(candidate));
    if (suffix === undefined) continue;
    const unit = parseUnitFile(file.content, file.path);
    if (!unit.ok) {
      issues.push(...unit.issues);
      continue;
    }
    issues.push(
      ...checkUnit(unit.value, suffix, unitKeys[suffix]!, namesByDirectory.get(directoryOf(file.path))!),
    );
  }
  return issues;
}
