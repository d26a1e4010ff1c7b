import type { z } from "zod";

/**
 * One problem with input, as data. `path` names the field (zod style); `file`, `line`
 * and `column` (1-based) are present when the input came from a file.
 */
export interface FabricIssue {
  readonly code: string;
  readonly message: string;
  readonly path: readonly (string | number)[];
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly FabricIssue[] };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function failed<T>(issues: readonly FabricIssue[]): Result<T> {
  return { ok: false, issues };
}

export function issuesFromZod(error: z.ZodError): FabricIssue[] {
  return error.issues.map((issue) => ({
    code: issue.code,
    message: issue.message,
    path: issue.path.map((part) => (typeof part === "symbol" ? String(part) : part)),
  }));
}

/** Validates `input` against `schema`, returning issues instead of throwing. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): Result<z.output<S>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  return failed(issuesFromZod(parsed.error));
}

/** `file:line:column: path: message`, the shape compilers and linters print. */
export function formatIssue(issue: FabricIssue): string {
  const position = issue.line === undefined ? "" : `:${issue.line}:${issue.column ?? 1}`;
  const where = issue.file === undefined ? "" : `${issue.file}${position}: `;
  const path = issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
  return `${where}${path}${issue.message}`;
}
