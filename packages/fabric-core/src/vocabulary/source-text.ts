import { Document, isNode, LineCounter, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { type FabricIssue, failed, issuesFromZod, ok, type Result } from "./issue.js";

/**
 * Parses YAML (or JSON, which is YAML) text and validates it against a schema. Every issue
 * carries the file name and the 1-based line and column of the offending node, so an
 * operator can jump straight to it.
 */
export function parseSourceText<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
): Result<z.output<S>> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    version: "1.2",
  });
  if (document.errors.length > 0) {
    return failed(
      document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        const message = error.message.split("\n")[0] ?? error.message;
        return { code: "syntax", message, path: [], file, line, column: col };
      }),
    );
  }
  const parsed = schema.safeParse(document.toJS({ maxAliasCount: 100 }));
  if (parsed.success) return ok(parsed.data);
  return failed(issuesFromZod(parsed.error).map((issue) => locateIssue(issue, document, lineCounter, file)));
}

function locateIssue(
  issue: FabricIssue,
  document: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  file: string,
): FabricIssue {
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
