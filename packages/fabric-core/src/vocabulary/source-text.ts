import { Document, isNode, LineCounter, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { type FabricIssue, failed, issuesFromZod, ok, type Result } from "./issue.js";

/** Longest source text `parseSourceText` accepts unless the caller sets its own cap (32 MiB). */
export const sourceTextCharsMax = 32 * 1024 * 1024;
/** Issues reported at most; a pathological file cannot make the error list itself huge. */
const issuesMax = 50;
/** Aliases resolved at most, so an alias bomb ("billion laughs") is refused, not expanded. */
const aliasCountMax = 100;

export interface SourceTextOptions<T> {
  /**
   * Longest text accepted, in UTF-16 code units (bytes, for ASCII); longer text is refused
   * before it is parsed, because parsing costs about 13 times the text in memory.
   */
  readonly charsMax?: number;
  /**
   * Checks beyond the schema on the parsed value (e.g. liveness); the issues it returns carry
   * a field path and are located in the file like schema issues.
   */
  readonly check?: (value: T) => readonly FabricIssue[];
}

/**
 * Parses YAML (or JSON, which is YAML) text and validates it against a schema. Every issue
 * carries the file name and the 1-based line and column of the offending node, so an
 * operator can jump straight to it. Hostile text (oversized, an alias bomb, deep nesting)
 * is an issue too: this function does not throw on any input.
 */
export function parseSourceText<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  options: SourceTextOptions<z.output<S>> = {},
): Result<z.output<S>> {
  const charsMax = options.charsMax ?? sourceTextCharsMax;
  if (text.length > charsMax) {
    return failed([
      {
        code: "too-large",
        message: `input is ${text.length} characters, over the limit of ${charsMax}`,
        path: [],
        file,
        line: 1,
        column: 1,
      },
    ]);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    version: "1.2",
  });
  if (document.errors.length > 0) {
    return failed(
      document.errors.slice(0, issuesMax).map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        const message = error.message.split("\n")[0] ?? error.message;
        return { code: "syntax", message, path: [], file, line, column: col };
      }),
    );
  }
  const plain = toPlainValue(document);
  if (!plain.ok) return failed([{ ...plain.issue, file }]);
  const parsed = schema.safeParse(plain.value);
  const locate = (issue: FabricIssue) => locateIssue(issue, document, lineCounter, file);
  if (!parsed.success) return failed(issuesFromZod(parsed.error).slice(0, issuesMax).map(locate));
  const checked = options.check?.(parsed.data) ?? [];
  if (checked.length > 0) return failed(checked.slice(0, issuesMax).map(locate));
  return ok(parsed.data);
}

/** The document as plain data; `toJS` throws when aliases expand past the limit. */
function toPlainValue(
  document: ReturnType<typeof parseDocument>,
): { ok: true; value: unknown } | { ok: false; issue: FabricIssue } {
  try {
    return { ok: true, value: document.toJS({ maxAliasCount: aliasCountMax }) };
  } catch (error) {
    // Only resource limits throw here (alias count, and stack depth on absurd nesting).
    const reason = error instanceof Error ? error.message : String(error);
    const aliases = /alias/i.test(reason);
    const message = aliases
      ? `YAML aliases expand past the limit of ${aliasCountMax} (${reason})`
      : `the document cannot be read: ${reason}`;
    return {
      ok: false,
      issue: { code: aliases ? "alias-limit" : "too-complex", message, path: [], line: 1, column: 1 },
    };
  }
}

function locateIssue(
  issue: FabricIssue,
  document: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  file: string,
): FabricIssue {
  if (issue.file !== undefined) return issue;
  // Walk up the path until a node exists: a missing key is reported at its parent object.
  for (let depth = issue.path.length; depth >= 0; depth -= 1) {
    const node = depth === 0 ? document.contents : document.getIn(issue.path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const { line, col } = lineCounter.linePos(node.range[0]);
      return { ...issue, file, line, column: col };
    }
  }
  return { ...issue, file, line: 1, column: 1 };
}

/** Recursively sorts object keys so encodings are byte-stable. Arrays keep their order. */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const child = (value as Record<string, unknown>)[key];
      if (child !== undefined) sorted[key] = sortKeysDeep(child);
    }
    return sorted;
  }
  return value;
}

/** Canonical JSON: sorted keys, no whitespace variance, trailing newline. */
export function canonicalJson(value: unknown, indent = 2): string {
  return `${JSON.stringify(sortKeysDeep(value), null, indent)}\n`;
}

export interface YamlOptions {
  /** Keep the caller's key order instead of sorting (e.g. apiVersion, kind first). */
  readonly keepKeyOrder?: boolean;
}

/**
 * YAML that Go's YAML 1.1 parsers read back as written: `on`, `yes`, `no`, `0777` and
 * `1.20` are quoted. Keys are sorted unless the caller keeps its own order.
 */
export function stringifyYaml(value: unknown, options: YamlOptions = {}): string {
  const data = options.keepKeyOrder === true ? value : sortKeysDeep(value);
  const document = new Document(data, { version: "1.1", aliasDuplicateObjects: false });
  // YAML 1.1 mode quotes what 1.1 parsers would read as non-strings; a YAML 1.2 parser
  // (Go's yaml.v3) also reads `0o17` as a number, so quote those too.
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && yaml12OnlyNumber.test(node.value)) node.type = "QUOTE_DOUBLE";
    },
  });
  return document.toString({ lineWidth: 0 });
}

const yaml12OnlyNumber = /^[-+]?0o[0-7]+$/;
