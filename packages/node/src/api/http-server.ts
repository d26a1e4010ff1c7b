import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { canonicalJson, issuesFromZod } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { Logger } from "../daemon/log.js";

/**
 * A small typed HTTP layer: every route declares its request and response schemas (zod),
 * which validate input, and generate the OpenAPI document. Every route has an access level
 * (docs/join.md): `admin` (anything that changes state) needs `Authorization: Bearer <token>`
 * with the API token; `read` accepts the read token or the API token (or nothing, with
 * `openReads`); `open` needs nothing (the console's static files, the join exchange, which
 * carries its own proof).
 */
export type RouteAccess = "open" | "read" | "admin";

export interface Route<Body extends z.ZodType = z.ZodType, Reply extends z.ZodType = z.ZodType> {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** `/v1/workloads/{namespace}/{name}`: braces are path parameters. */
  readonly path: string;
  readonly summary: string;
  readonly mutates: boolean;
  /** Who may call it; default: `admin` when it mutates, else `read`. */
  readonly access?: RouteAccess;
  readonly body?: Body;
  readonly reply: Reply;
  /** Plain-text routes (metrics) return a string with this content type. */
  readonly contentType?: string;
  handle(request: RouteRequest<z.output<Body>>): Promise<RouteReply<z.input<Reply>>>;
}

export interface RouteRequest<Body> {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Body;
  /** The client's address, as the socket says (the join's attempt limit keys on it). */
  readonly remoteAddress?: string;
}

/**
 * A reply: the route's own shape, an error (any non-2xx status), plain text, or a handler
 * that takes the response over (the console's files and its event stream).
 */
export type RouteReply<T> =
  | { readonly status: number; readonly body: T | ErrorBody }
  | { readonly status: number; readonly text: string }
  | {
      readonly status: number;
      readonly stream: (response: ServerResponse, request: IncomingMessage) => void;
    };
export function route<Body extends z.ZodType, Reply extends z.ZodType>(
  definition: Route<Body, Reply>,
): Route {
  return definition as unknown as Route;
}

export const ErrorReply = z.object({
  error: z.string(),
  issues: z
    .array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() }))
    .optional(),
});

export type ErrorBody = z.input<typeof ErrorReply> & Readonly<Record<string, unknown>>;

/** Largest request body (documented in docs/daemon.md); checked on Content-Length first. */
export const bodyBytesMax = 5 * 1024 * 1024;

/**
 * How long a client may hold a connection without progress, and how many it may hold. An
 * infrastructure API answers in milliseconds, so a slow or idle client is cut off early
 * instead of keeping sockets for Node's defaults (60 s headers, 5 min request). A socket that
 * never sends a request is cut at the headers timeout (408); a response in progress (a large
 * export, an event stream) is not limited.
 */
export interface ApiServerLimits {
  /** Time to receive the request headers, from the connection (or the previous request). */
  readonly headersTimeoutMs: number;
  /** Time to receive the whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** An open connection with no request in progress is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections at once; more are closed as they arrive. */
  readonly connectionsMax: number;
}

export const defaultApiServerLimits: ApiServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionsMax: 256,
};

export interface ApiServerOptions {
  readonly routes: readonly Route[];
  readonly token: string;
  /** A token that may call `read` routes only. */
  readonly readToken?: string;
  /** `read` routes need no token (loopback only; api.open_reads). */
  readonly openReads?: boolean;
  /** Serve HTTPS with this certificate chain and key; absent: plain HTTP. */
  readonly tls?: { readonly certChainPem: string; readonly keyPem: string };
  readonly logger: Logger;
  readonly limits?: Partial<ApiServerLimits>;
}

export function createApiServer(options: ApiServerOptions): Server {
  const compiled = options.routes.map((r) => ({ route: r, pattern: compilePath(r.path) }));
  const tokenBytes = Buffer.from(options.token);
  const readTokenBytes = options.readToken === undefined ? undefined : Buffer.from(options.readToken);
  const limits = { ...defaultApiServerLimits, ...options.limits };
  const serverOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two request timeouts on this interval (30 s by default).
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    void dispatch(request, response).catch((error: unknown) => {
      options.logger.error("api handler failed", { error: error instanceof Error ? error : String(error) });
      if (!response.headersSent) send(response, 500, { error: "internal error" });
    });
  };
  const tls = options.tls;
  // An https.Server is an http.Server over TLS sockets (same requests, limits and close calls).
  const server: Server =
    tls === undefined
      ? createServer(serverOptions, handler)
      : (createHttpsServer(
          { ...serverOptions, cert: tls.certChainPem, key: tls.keyPem },
          handler,
        ) as unknown as Server);
  server.maxConnections = limits.connectionsMax;
  return server;

  async function dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const match = compiled.find(
      (c) => c.route.method === request.method && c.pattern.regex.test(url.pathname),
    );
    if (match === undefined) {
      const pathKnown = compiled.some((c) => c.pattern.regex.test(url.pathname));
      send(response, pathKnown ? 405 : 404, { error: pathKnown ? "method not allowed" : "not found" });
      return;
    }
    const refusal = accessRefusal(match.route, request.headers.authorization);
    if (refusal !== null) {
      send(response, refusal.status, { error: refusal.error });
      return;
    }
    const params = extractParams(match.pattern, url.pathname);
    if (params === undefined) {
      send(response, 400, { error: "malformed percent-encoding in the path" });
      return;
    }
    let body: unknown;
    if (match.route.body !== undefined) {
      if (!isJsonContentType(request.headers["content-type"])) {
        send(response, 415, { error: "the body must be JSON (content-type: application/json)" });
        return;
      }
      const declaredBytes = Number(request.headers["content-length"] ?? 0);
      const raw = declaredBytes > bodyBytesMax ? undefined : await readBody(request);
      if (raw === undefined) {
        response.setHeader("connection", "close");
        send(response, 413, { error: `request body exceeds ${bodyBytesMax} bytes` });
        return;
      }
      const json = safeJson(raw);
      if (json === undefined) {
        send(response, 400, { error: "body is not JSON" });
        return;
      }
      const parsed = match.route.body.safeParse(json);
      if (!parsed.success) {
        const issues = issuesFromZod(parsed.error).map((i) => ({ path: [...i.path], message: i.message }));
        send(response, 400, { error: "request body does not validate", issues });
        return;
      }
      body = parsed.data;
    }
    const remoteAddress = request.socket.remoteAddress ?? "";
    const reply = await match.route.handle({ params, query: url.searchParams, body, remoteAddress });
    if ("stream" in reply) {
      reply.stream(response, request);
      return;
    }
    if ("text" in reply) {
      response.writeHead(reply.status, {
        "content-type": match.route.contentType ?? "text/plain; charset=utf-8",
      });
      response.end(reply.text);
      return;
    }
    send(response, reply.status, reply.body);
  }

  /** The scope the bearer token grants (null: none, or a wrong token). */
  function scopeOf(header: string | undefined): "admin" | "read" | null {
    const presented = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
    if (presented.length === tokenBytes.length && timingSafeEqual(presented, tokenBytes)) return "admin";
    const read = readTokenBytes;
    if (read !== undefined && presented.length === read.length && timingSafeEqual(presented, read))
      return "read";
    return null;
  }

  function accessRefusal(r: Route, header: string | undefined): { status: number; error: string } | null {
    const access = routeAccess(r);
    if (access === "open" || (access === "read" && options.openReads === true)) return null;
    const scope = scopeOf(header);
    if (access === "admin") {
      if (scope === "admin") return null;
      return scope === "read"
        ? { status: 403, error: "the read token cannot change state; use the API token" }
        : { status: 401, error: "a valid bearer token is required for this endpoint" };
    }
    return scope === null
      ? { status: 401, error: "a bearer token (the read token or the API token) is required to read" }
      : null;
  }
}

export function routeAccess(r: Route): RouteAccess {
  return r.access ?? (r.mutates ? "admin" : "read");
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(canonicalJson(body));
}

/** `application/json` or a `+json` type, with any parameters (`; charset=utf-8`). */
function isJsonContentType(header: string | undefined): boolean {
  const type = header?.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** The parsed body, or undefined when it is not JSON (JSON itself has no undefined). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > bodyBytesMax) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

interface PathPattern {
  readonly regex: RegExp;
  readonly names: readonly string[];
}

function compilePath(path: string): PathPattern {
  const names: string[] = [];
  const source = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_match, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { regex: new RegExp(`^${source}$`), names };
}

function extractParams(pattern: PathPattern, pathname: string): Record<string, string> | undefined {
  const match = pattern.regex.exec(pathname);
  const params: Record<string, string> = {};
  try {
    pattern.names.forEach((name, i) => {
      params[name] = decodeURIComponent(match?.[i + 1] ?? "");
    });
  } catch {
    return undefined;
  }
  return params;
}

/** The OpenAPI 3.1 document, generated from the route schemas. */
export function openApiDocument(routes: readonly Route[], title: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const operation: Record<string, unknown> = {
      summary: r.summary,
      parameters,
      responses: {
        "200": {
          description: "success",
          content: { [r.contentType ?? "application/json"]: { schema: jsonSchema(r.reply) } },
        },
        "400": {
          description: "invalid request",
          content: { "application/json": { schema: jsonSchema(ErrorReply) } },
        },
        ...(routeAccess(r) === "open" ? {} : { "401": { description: "missing or wrong bearer token" } }),
        ...(routeAccess(r) === "admin"
          ? { "403": { description: "the read token cannot change state" } }
          : {}),
      },
    };
    if (r.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: jsonSchema(r.body) } },
      };
    }
    if (routeAccess(r) !== "open") operation.security = [{ bearer: [] }];
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: { title, version: "0.1.0" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}

function jsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { io: "output", unrepresentable: "any" });
}
