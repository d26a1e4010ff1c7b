import { type FabricIssue, failed, ok, parseSourceText, type Result } from "@revoada/fabric-core/vocabulary";
import type { z } from "zod";

/**
 * Parses JSON against a schema. The fast path is `JSON.parse`; only when that or the schema
 * rejects the text is it re-parsed through the YAML 1.2 parser (JSON is YAML), which knows
 * the line and column of every node, so issues name `file:line:column`.
 */
export function parseJsonFile<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
): Result<z.output<S>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return locate(schema, text, file);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return ok(parsed.data);
  return locate(schema, text, file);
}

function locate<S extends z.ZodType>(schema: S, text: string, file: string): Result<z.output<S>> {
  const located = parseSourceText(schema, text, file);
  if (!located.ok) return located;
  // JSON.parse rejected what YAML accepted (e.g. a comment): still not JSON.
  const issue: FabricIssue = {
    code: "syntax",
    message: "not valid JSON",
    path: [],
    file,
    line: 1,
    column: 1,
  };
  return failed([issue]);
}
