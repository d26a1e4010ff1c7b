import type { z } from "zod";
import { safeJson } from "../api/http-server.js";
import { type ApiExchange, apiExchange, responseOf } from "../api/https-fetch.js";
import { CliError, type ExitCode, exitCodes } from "../cli/exit-codes.js";

/**
 * How to reach a node's API: the bearer token sent with every request, and the cluster CA
 * when the API is HTTPS (docs/join.md). A node reaches its peers with its own.
 */
export interface ApiAccess {
  readonly token: string | undefined;
  /** The cluster CA certificate (PEM): HTTPS trusting only it; undefined: plain HTTP. */
  readonly caPem: string | undefined;
}

export function apiClientFor(address: string, access: ApiAccess, timeoutMs?: number): ApiClient {
  return new ApiClient(address, access.token, timeoutMs, access.caPem);
}

/**
 * A client for a node's HTTP API that validates every reply against the server's own
 * schema, and maps failures to CLI exit codes (unreachable 5, refused 1, invalid 3).
 */
export class ApiClient {
  constructor(
    readonly address: string,
    private readonly token?: string,
    private readonly timeoutMs = 5000,
    /** The cluster CA (PEM): the API is HTTPS and its chain must lead to this CA. */
    private readonly caPem?: string,
  ) {}

  /** The same access (token, CA, timeout) to another node. */
  at(address: string): ApiClient {
    return new ApiClient(address, this.token, this.timeoutMs, this.caPem);
  }

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
    const reply = await this.exchange("GET", path);
    const text = reply.body.toString("utf8");
    if (!isOk(reply.status)) {
      // An error body is not the text asked for (a 401 is not an empty chain).
      const message = describeError(safeJson(text)) ?? `HTTP ${reply.status}`;
      throw new CliError(`${this.address}${path}: ${message}`, exitCodeOfStatus(reply.status));
    }
    return text;
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    const reply = await this.exchange(method, path, body);
    const payload = safeJson(reply.body.toString("utf8"));
    if (!isOk(reply.status)) {
      const message = describeError(payload) ?? `HTTP ${reply.status}`;
      throw new CliError(`${this.address}${path}: ${message}`, exitCodeOfStatus(reply.status));
    }
    const parsed = schema.safeParse(payload);
    if (!parsed.success)
      throw new CliError(`${this.address}${path}: unexpected reply shape`, exitCodes.failed);
    return parsed.data;
  }

  /** The reply read whole, whatever its status (unreachable is a CliError, exit 5). */
  private async exchange(method: string, path: string, body?: unknown): Promise<ApiExchange> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const scheme = this.caPem === undefined ? "http" : "https";
    try {
      return await apiExchange(`${scheme}://${this.address}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        caPem: this.caPem,
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CliError(`cannot reach node at ${this.address}: ${reason}`, exitCodes.unavailable);
    }
  }

  /**
   * The raw reply, whatever its status (unreachable is still a CliError, exit 5): the same
   * exchange as every other request (pooled connections, bounded reply), as a `Response`.
   */
  async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    return responseOf(await this.exchange(method, path, body));
  }
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The exit code of a refused request: 404 not found (4), 400 invalid input (3), else failed (1). */
export function exitCodeOfStatus(status: number): ExitCode {
  if (status === 404) return exitCodes.notFound;
  return status === 400 ? exitCodes.invalidInput : exitCodes.failed;
}

function describeError(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== "object") return undefined;
  const record = payload as Record<string, unknown>;
  const parts = [record.error, record.rule === undefined ? undefined : `rule: ${String(record.rule)}`];
  const text = parts.filter((p) => p !== undefined).join(" ");
  return text.length > 0 ? text : undefined;
}
