import { isDeepStrictEqual } from "node:util";
import type { FabricIssue, Result } from "@revoada/fabric-core/vocabulary";
import { failed, ok } from "@revoada/fabric-core/vocabulary";
import { type Document, isNode, LineCounter, parseAllDocuments } from "yaml";
import { emitCanonical, parseCanonical } from "./yaml-canonical.js";

/**
 * Multi-document YAML with positions: the writer's encoder and the reader's parser, plus the
 * structural diff the reader and validator use to name fields they did not expect.
 */

export type PathPart = string | number;

/** The `yaml` package's view of one document, for positions. */
interface FullDocument {
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
}

/** A parsed document; its positions are worked out only when something needs locating. */
export interface ParsedDocument {
  readonly value: unknown;
  /** Read by the fast path: the text is in the face's canonical YAML subset. */
  readonly canonical: boolean;
  readonly full: () => FullDocument | undefined;
}

/** One YAML document per object: the face's canonical encoding (see yaml-canonical.ts). */
export function encodeDocuments(objects: readonly Record<string, unknown>[]): string {
  return objects.map(emitCanonical).join("---\n");
}

function parseFull(text: string, version: "1.1" | "1.2") {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, version });
  const list = (Array.isArray(documents) ? documents : []).filter((document) => document.contents !== null);
  return { list, lineCounter };
}

/**
 * Parses every document of `text`. Files in the face's canonical subset take the fast path;
 * anything else goes through the `yaml` package, whose syntax errors come back with
 * `file:line:column`. YAML 1.1 by default, because that is how the Go parsers in Kubernetes
 * read it.
 */
export function parseDocuments(
  text: string,
  file: string,
  version: "1.1" | "1.2" = "1.1",
): Result<ParsedDocument[]> {
  const canonical = parseCanonical(text);
  if (canonical !== undefined) {
    let full: ReturnType<typeof parseFull> | undefined;
    const lazy = (index: number) => (): FullDocument | undefined => {
      full ??= parseFull(text, version);
      const document = full.list[index];
      return document === undefined ? undefined : { document, lineCounter: full.lineCounter };
    };
    return ok(canonical.map((value, index) => ({ value, canonical: true, full: lazy(index) })));
  }
  const { list, lineCounter } = parseFull(text, version);
  const issues: FabricIssue[] = [];
  for (const document of list) {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      const message = error.message.split("\n")[0] ?? error.message;
      issues.push({ code: "syntax", message, path: [], file, line, column: col });
    }
  }
  if (issues.length > 0) return failed(issues);
  return ok(
    list.map((document) => ({
      value: document.toJS({ maxAliasCount: 100 }) as unknown,
      canonical: false,
      full: () => ({ document, lineCounter }),
    })),
  );
}

/** The 1-based line and column of the deepest node on `path` that exists. */
export function locate(parsed: ParsedDocument, path: readonly PathPart[]): { line: number; column: number } {
  const full = parsed.full();
  if (full === undefined) return { line: 1, column: 1 };
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = depth === 0 ? full.document.contents : full.document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const { line, col } = full.lineCounter.linePos(node.range[0]);
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
