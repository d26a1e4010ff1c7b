import { assert, type FabricIssue, failed, ok, type Result } from "@revoada/fabric-core/vocabulary";

/**
 * systemd.syntax(7), read and written exactly, because INI libraries get it wrong:
 * - `[Section]` headers, then `Key=Value` assignments; whitespace around the key and before
 *   the value is dropped;
 * - a line whose first non-blank character is `#` or `;` is a comment; `#` or `;` later in a
 *   line is part of the value (no inline comments);
 * - a line ending in `\` continues on the next one, the backslash becoming a space; comment
 *   lines inside a continuation are skipped;
 * - repeated keys are kept in order (`listValues` accumulates them, an empty assignment
 *   resets the list; `lastValue` gives single-valued keys their last assignment).
 *
 * Values stay raw here: quoting, C escapes and `%`/`$` escaping live in `unit-values.ts`,
 * because which of them apply depends on the key.
 */

export interface UnitEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line of the key. */
  readonly line: number;
  /** 1-based column where the value starts. */
  readonly column: number;
}

export interface UnitSection {
  readonly name: string;
  readonly line: number;
  readonly entries: readonly UnitEntry[];
}

export interface UnitFile {
  readonly file: string;
  readonly sections: readonly UnitSection[];
}

/** Longest logical line we accept (systemd's LONG_LINE_MAX is 1 MiB). */
export const unitLineBytesMax = 1024 * 1024;
const linesMax = 1_000_000;

const sectionPattern = /^\[([^[\]]+)\]$/;
const keyPattern = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

function syntaxIssue(file: string, line: number, column: number, message: string): FabricIssue {
  return { code: "syntax", message, path: [], file, line, column };
}

/** Parses unit file text. Errors carry the file, line and column. */
export function parseUnitFile(text: string, file: string): Result<UnitFile> {
  const lines = text.split("\n");
  if (lines.length > linesMax) return failed([syntaxIssue(file, linesMax, 1, "too many lines")]);
  const sections: { name: string; line: number; entries: UnitEntry[] }[] = [];
  let index = 0;
  while (index < lines.length) {
    const startLine = index + 1;
    const line = lines[index]!;
    const raw = line.endsWith("\r") ? line.slice(0, -1) : line;
    index += 1;
    const indent = raw.length - raw.trimStart().length;
    const trimmed = raw.trim();
    const first = trimmed.charCodeAt(0);
    if (trimmed === "" || first === 35 || first === 59) continue;
    let logical = trimmed;
    while (logical.endsWith("\\") && index < lines.length) {
      const next = lines[index]!.replace(/\r$/, "").trim();
      index += 1;
      if (next.startsWith("#") || next.startsWith(";")) continue;
      logical = `${logical.slice(0, -1)} ${next}`;
      if (logical.length > unitLineBytesMax)
        return failed([syntaxIssue(file, startLine, 1, "line too long")]);
    }
    if (logical.endsWith("\\")) logical = logical.slice(0, -1).trimEnd();
    const header = logical.startsWith("[") ? sectionPattern.exec(logical) : null;
    if (header !== null) {
      sections.push({ name: header[1]!, line: startLine, entries: [] });
      continue;
    }
    if (logical.startsWith("["))
      return failed([syntaxIssue(file, startLine, indent + 1, "malformed section header")]);
    const equals = logical.indexOf("=");
    if (equals < 0) return failed([syntaxIssue(file, startLine, indent + 1, "expected Key=Value")]);
    const key = logical.slice(0, equals).trimEnd();
    if (!keyPattern.test(key))
      return failed([syntaxIssue(file, startLine, indent + 1, `invalid key '${key}'`)]);
    const current = sections.at(-1);
    if (current === undefined) {
      return failed([syntaxIssue(file, startLine, indent + 1, "assignment outside of a section")]);
    }
    const afterEquals = logical.slice(equals + 1);
    const value = afterEquals.trimStart();
    const column = indent + equals + 2 + (afterEquals.length - value.length);
    current.entries.push({ key, value, line: startLine, column });
  }
  return ok({ file, sections });
}

/** A unit file to write: sections in order, each a list of `[key, value]` pairs. */
export interface UnitDocument {
  readonly comment?: readonly string[];
  readonly sections: readonly {
    readonly name: string;
    readonly entries: readonly (readonly [string, string])[];
  }[];
}

/**
 * Writes a unit file. Values must already be encoded for their key (see `unit-values.ts`):
 * no newline, no leading or trailing whitespace, no trailing backslash.
 */
export function stringifyUnitFile(document: UnitDocument): string {
  const blocks: string[] = [];
  if (document.comment !== undefined && document.comment.length > 0) {
    blocks.push(document.comment.map((line) => (line === "" ? "#" : `# ${line}`)).join("\n"));
  }
  for (const section of document.sections) {
    assert(sectionPattern.test(`[${section.name}]`), "section name");
    const lines = [`[${section.name}]`];
    for (const [key, value] of section.entries) {
      assert(keyPattern.test(key), "unit key");
      assert(!value.includes("\n") && !value.includes("\r"), "a unit value is one line");
      assert(value === value.trim(), "a unit value has no surrounding whitespace");
      assert(!value.endsWith("\\"), "a unit value does not end in a backslash");
      lines.push(`${key}=${value}`);
    }
    blocks.push(lines.join("\n"));
  }
  return `${blocks.join("\n\n")}\n`;
}

/** The entries of every section named `name` (a section may appear more than once). */
export function sectionEntries(unit: UnitFile, name: string): readonly UnitEntry[] {
  let found: readonly UnitEntry[] | undefined;
  let merged: UnitEntry[] | undefined;
  for (const section of unit.sections) {
    if (section.name !== name) continue;
    if (found === undefined) found = section.entries;
    else merged = [...(merged ?? found), ...section.entries];
  }
  return merged ?? found ?? [];
}

/** Repeated assignments accumulate; an empty assignment resets the list. */
export function listValues(entries: readonly UnitEntry[], key: string): UnitEntry[] {
  let values: UnitEntry[] = [];
  for (const entry of entries) {
    if (entry.key !== key) continue;
    if (entry.value === "") values = [];
    else values.push(entry);
  }
  return values;
}

/** A single-valued key: the last assignment wins. */
export function lastValue(entries: readonly UnitEntry[], key: string): UnitEntry | undefined {
  let found: UnitEntry | undefined;
  for (const entry of entries) if (entry.key === key) found = entry;
  return found;
}
