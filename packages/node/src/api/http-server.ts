import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { canonicalJson, issuesFromZod } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { Logger } from "../daemon/log.js";

/**
 * A small typed HTTP layer: every route declares its request and response schemas (zod),
 * which validate input, and generate the OpenAPI document. Routes that change state need
 * `Authorization: Bearer <token>`.
 */
export interface Route<Body extends z.ZodType = z.ZodType, Reply extends z.ZodType = z.ZodType> {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** `/v1/workloads/{namespace}/{name}`: braces are path parameters. */
  readonly path: string;
  readonly summary: string;
  readonly mutates: boolean;
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
}

/** A reply: the route's own shape, an error (any non-2xx status), or plain text. */
export type RouteReply<T> =
  | { readonly status: number; readonly body: T | ErrorBody }
  | { readonly status: number; readonly text: string };
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

const bodyBytesMax = 5 * 1024 * 1024;

export interface ApiServerOptions {
  readonly routes: readonly Route[];
  readonly token: string;
  readonly logger: Logger;
}

export function createApiServer(options: ApiServerOptions): Server {
  const compiled = options.routes.map((r) => ({ route: r, pattern: compilePath(r.path) }));
  const tokenBytes = Buffer.from(options.token);
  return createServer((request, response) => {
    void dispatch(request, response).catch((error: unknown) => {
      options.logger.error("api handler failed", { error: error instanceof Error ? error : String(error) });
      if (!response.headersSent) send(response, 500, { error: "internal error" });
    });
  });

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
    if (match.route.mutates && !authorized(request.headers.authorization)) {
      send(response, 401, { error: "a valid bearer token is required for this endpoint" });
      return;
    }
    const params = extractParams(match.pattern, url.pathname);
    if (params === undefined) {
      send(response, 400, { error: "malformed percent-encoding in the path" });
      return;
    }
    let body: unknown;
    if (match.route.body !== undefined) {
      const raw = await readBody(request);
      if (raw === undefined) {
        send(response, 413, { error: `request body exceeds ${bodyBytesMax} bytes` });
        return;
      }
      const json = safeJson(raw);
      const parsed = match.route.body.safeParse(json);
      if (!parsed.success) {
        const issues = issuesFromZod(parsed.error).map((i) => ({ path: [...i.path], message: i.message }));
        send(response, 400, { error: "request body does not validate", issues });
        return;
      }
      body = parsed.data;
    }
    const reply = await match.route.handle({ params, query: url.searchParams, body });
    if ("text" in reply) {
      response.writeHead(reply.status, {
        "content-type": match.route.contentType ?? "text/plain; charset=utf-8",
      });
      response.end(reply.text);
      return;
    }
    send(response, reply.status, reply.body);
  }

  function authorized(header: string | undefined): boolean {
    const presented = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
    return presented.length === tokenBytes.length && timingSafeEqual(presented, tokenBytes);
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(canonicalJson(body));
}

function safeJson(text: string): unknown {
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
        ...(r.mutates ? { "401": { description: "missing or wrong bearer token" } } : {}),
      },
    };
    if (r.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: jsonSchema(r.body) } },
      };
    }
    if (r.mutates) operation.security = [{ bearer: [] }];
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
