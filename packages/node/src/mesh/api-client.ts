import type { z } from "zod";
import { CliError, exitCodes } from "../cli/exit-codes.js";

/**
 * A client for a node's HTTP API that validates every reply against the server's own
 * schema, and maps failures to CLI exit codes (unreachable 5, refused 1, invalid 3).
 */
export class ApiClient {
  constructor(
    readonly address: string,
    private readonly token?: string,
    private readonly timeoutMs = 5000,
  ) {}

  async get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.request("GET", path, schema);
  }

  async post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    return this.request("POST", path, schema, body);
  }

  async delete<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.request("DELETE", path, schema);
  }

  async text(path: string): Promise<string> {
    const response = await this.fetch("GET", path);
    return response.text();
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    const response = await this.fetch(method, path, body);
    const payload: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const message = describeError(payload) ?? `HTTP ${response.status}`;
      const code =
        response.status === 404
          ? exitCodes.notFound
          : response.status === 400
            ? exitCodes.invalidInput
            : exitCodes.failed;
      throw new CliError(`${this.address}${path}: ${message}`, code);
    }
    const parsed = schema.safeParse(payload);
    if (!parsed.success)
      throw new CliError(`${this.address}${path}: unexpected reply shape`, exitCodes.failed);
    return parsed.data;
  }

  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(`http://${this.address}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CliError(`cannot reach node at ${this.address}: ${reason}`, exitCodes.unavailable);
    }
  }
}

function describeError(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== "object") return undefined;
  const record = payload as Record<string, unknown>;
  const parts = [record.error, record.rule === undefined ? undefined : `rule: ${String(record.rule)}`];
  const text = parts.filter((p) => p !== undefined).join(" ");
  return text.length > 0 ? text : undefined;
}
