import { isDeepStrictEqual } from "node:util";
import type { FabricIssue, Result } from "@revoada/fabric-core/vocabulary";
import { failed, ok, sortKeysDeep, stringifyYaml } from "@revoada/fabric-core/vocabulary";
import { Document, isNode, LineCounter, parseAllDocuments, visit } from "yaml";

/**
 * Multi-document YAML with positions: the writer's encoder and the reader's parser, plus the
 * structural diff the reader and validator use to name fields they did not expect.
 */

export type PathPart = string | number;

export interface ParsedDocument {
  readonly value: unknown;
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
}

/**
 * A plain scalar that YAML 1.2 reads as a number but YAML 1.1 as a string (`0o17`); the 1.1
 * stringifier leaves it unquoted, so such documents are re-encoded with it quoted.
 */
const yaml12OnlyNumber = /^0o[0-7]+$/;
const unquotedYaml12OnlyNumber = /(?:^|[ :-])0o[0-7]+$/m;

function encodeDocument(object: unknown): string {
  const text = stringifyYaml(object);
  if (!unquotedYaml12OnlyNumber.test(text)) return text;
  const document = new Document(sortKeysDeep(object), { version: "1.1" });
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && yaml12OnlyNumber.test(node.value)) node.type = "QUOTE_DOUBLE";
    },
  });
  return document.toString({ lineWidth: 0 });
}

/**
 * One YAML document per object, keys sorted, scalars that any YAML 1.1 or 1.2 parser could
 * read as something else (`on`, `yes`, `0777`, `1.20`, `0o17`) quoted.
 */
export function encodeDocuments(objects: readonly unknown[]): string {
  return objects.map(encodeDocument).join("---\n");
}

/**
 * Parses every document of `text`; syntax errors come back with `file:line:column`. YAML 1.1
 * by default, because that is how the Go parsers in Kubernetes read it.
 */
export function parseDocuments(
  text: string,
  file: string,
  version: "1.1" | "1.2" = "1.1",
): Result<ParsedDocument[]> {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, version });
  const list = Array.isArray(documents) ? documents : [];
  const issues: FabricIssue[] = [];
  for (const document of list) {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      const message = error.message.split("\n")[0] ?? error.message;
      issues.push({ code: "syntax", message, path: [], file, line, column: col });
    }
  }
  if (issues.length > 0) return failed(issues);
  const parsed = list
    .filter((document) => document.contents !== null)
    .map((document) => ({ value: document.toJS({ maxAliasCount: 100 }) as unknown, document, lineCounter }));
  return ok(parsed);
}

/** The 1-based line and column of the deepest node on `path` that exists. */
export function locate(parsed: ParsedDocument, path: readonly PathPart[]): { line: number; column: number } {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = depth === 0 ? parsed.document.contents : parsed.document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const { line, col } = parsed.lineCounter.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return { line: 1, column: 1 };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Paths present in `actual` that `expected` lacks or holds with another value: what a reader
 * that re-renders `expected` from its own understanding did not understand. Bounded by the
 * size of `actual` (an explicit stack, no recursion).
 */
export function unexpectedPaths(actual: unknown, expected: unknown): PathPart[][] {
  const found: PathPart[][] = [];
  const pending: { actual: unknown; expected: unknown; path: PathPart[] }[] = [
    { actual, expected, path: [] },
  ];
  while (pending.length > 0) {
    const item = pending.pop()!;
    if (isPlainObject(item.actual) && isPlainObject(item.expected)) {
      for (const key of Object.keys(item.actual)) {
        if (!(key in item.expected)) found.push([...item.path, key]);
        else
          pending.push({ actual: item.actual[key], expected: item.expected[key], path: [...item.path, key] });
      }
    } else if (Array.isArray(item.actual) && Array.isArray(item.expected)) {
      for (const [index, child] of item.actual.entries()) {
        if (index >= item.expected.length) found.push([...item.path, index]);
        else pending.push({ actual: child, expected: item.expected[index], path: [...item.path, index] });
      }
    } else if (!isDeepStrictEqual(item.actual, item.expected)) {
      found.push(item.path);
    }
  }
  return found.sort((a, b) => (a.join("\0") < b.join("\0") ? -1 : 1));
}
