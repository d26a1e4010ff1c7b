import { parse as hcl2jsonParse } from "@cdktn/hcl2json";
import type { FabricIssue, Result } from "@revoada/fabric-core/vocabulary";
import { failed, issuesFromZod, ok } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { parseDuration } from "./duration.js";
import { parseCanonicalHcl } from "./hcl-canonical.js";
import { unescapeTemplate } from "./hcl-printer.js";
import type { Agent, Job } from "./ir.js";

/**
 * Reading HCL: `@cdktn/hcl2json` (HashiCorp's HCL2 parser compiled to WASM) turns the text
 * into JSON, with real diagnostics (`job.nomad.hcl:3,3-7: Attribute redefined`); zod schemas
 * over that JSON shape (every block an array, labelled blocks keyed by label) check it and
 * produce the IR. hcl2json keeps template text as written, so strings are unescaped here.
 */

/**
 * HCL text as hcl2json's JSON shape, or the parser's message. Text in the printer's own
 * subset takes the fast path (`parseCanonicalHcl`); everything else goes through hcl2json.
 */
export async function parseHclText(
  file: string,
  text: string,
): Promise<{ value: unknown } | { error: string }> {
  const canonical = parseCanonicalHcl(text);
  if (canonical !== undefined) return { value: canonical };
  return parseHclWithHcl2json(file, text);
}

/** hcl2json, typed: the parsed body as plain JSON, or the parser's message. */
export async function parseHclWithHcl2json(
  file: string,
  text: string,
): Promise<{ value: unknown } | { error: string }> {
  try {
    const value: unknown = await hcl2jsonParse(file, text);
    return { value };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

const diagnostic = /([^\s[\]]+):(\d+),(\d+)(?:-\d+(?:,\d+)?)?: ([^\]]*)/g;

/** hcl2json's `parse config: [file:line,col-col: summary; detail]` as located issues. */
export function diagnosticIssues(file: string, message: string): FabricIssue[] {
  const issues: FabricIssue[] = [];
  for (const match of message.matchAll(diagnostic)) {
    issues.push({
      code: "syntax",
      message: match[4]!.trim(),
      path: [],
      file,
      line: Number(match[2]),
      column: Number(match[3]),
    });
  }
  if (issues.length > 0) return issues;
  return [{ code: "syntax", message, path: [], file, line: 1, column: 1 }];
}

/**
 * The 1-based line and column of the item a schema path names, found by walking the text:
 * each string segment is the next block type, label or attribute name at a deeper indent.
 * Numeric segments (hcl2json's block arrays) are skipped; a missing item points at its parent.
 */
export function locateInHcl(
  text: string,
  path: readonly (string | number)[],
): { line: number; column: number } {
  const lines = text.split("\n");
  let found = { line: 1, column: 1 };
  let from = 0;
  for (const segment of path) {
    if (typeof segment !== "string") continue;
    const quoted = JSON.stringify(segment);
    let hit = -1;
    for (let index = from; index < lines.length && hit < 0; index += 1) {
      const trimmed = lines[index]!.trimStart();
      const startsWith = (prefix: string): boolean =>
        trimmed.startsWith(`${prefix} `) || trimmed.startsWith(`${prefix}=`) || trimmed === prefix;
      if (startsWith(segment) || startsWith(quoted) || trimmed.includes(` ${quoted} `)) hit = index;
    }
    if (hit < 0) break;
    found = { line: hit + 1, column: lines[hit]!.length - lines[hit]!.trimStart().length + 1 };
    from = hit;
  }
  return found;
}

const HclString = z.string().transform(unescapeTemplate);
const HclMap = z.record(z.string(), HclString);
const Duration = HclString.transform((text, context) => {
  const ns = parseDuration(text);
  if (ns === undefined) {
    context.addIssue({ code: "custom", message: `not a duration: ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return ns;
});

/** A labelled block: `{label: [body]}`, one body per label (a repeated label is an error). */
function labelled<T extends z.ZodType>(body: T, what: string) {
  return z.record(z.string(), z.array(body).min(1).max(1, `duplicate ${what} name`));
}

function single<T extends z.ZodType>(body: T, what: string) {
  return z.array(body).max(1, `more than one ${what} block`);
}

const HclCheck = z.object({
  type: z.enum(["tcp", "http"]),
  path: HclString.optional(),
  interval: Duration,
  timeout: Duration,
});

const HclService = z.object({
  name: HclString,
  port: HclString,
  provider: z.enum(["nomad", "consul"]).default("consul"),
  tags: z.array(HclString).default([]),
  check: z.array(HclCheck).default([]),
});

const HclTask = z.object({
  driver: z.literal("docker"),
  config: single(
    z.object({
      image: HclString,
      entrypoint: z.array(HclString).default([]),
      args: z.array(HclString).default([]),
      ports: z.array(HclString).default([]),
    }),
    "config",
  ).min(1),
  env: HclMap.default({}),
  resources: single(
    z.object({ cpu: z.int().min(0).default(0), memory: z.int().min(0).default(0) }),
    "resources",
  ).default([]),
});

const HclGroup = z.object({
  count: z.int().min(0).default(1),
  network: single(
    z.object({ port: labelled(z.object({ to: z.int().min(0).max(65535) }), "port").default({}) }),
    "network",
  ).default([]),
  service: z.array(HclService).default([]),
  restart: single(
    z.object({
      attempts: z.int().min(0),
      interval: Duration,
      delay: Duration,
      mode: z.enum(["fail", "delay"]),
    }),
    "restart",
  ).default([]),
  task: labelled(HclTask, "task"),
});

const HclConstraint = z.object({ attribute: HclString, operator: HclString.default("="), value: HclString });

const HclJobBody = z.object({
  namespace: HclString.default("default"),
  type: z.enum(["service", "batch", "system", "sysbatch"]).default("service"),
  datacenters: z.array(HclString).min(1).default(["*"]),
  constraint: z.array(HclConstraint).default([]),
  affinity: z.array(HclConstraint.extend({ weight: z.int().min(-100).max(100).default(50) })).default([]),
  spread: z
    .array(
      z.object({
        attribute: HclString,
        weight: z.int().min(0).max(100).default(50),
        target: labelled(z.object({ percent: z.int().min(0).max(100) }), "spread target").default({}),
      }),
    )
    .default([]),
  meta: HclMap.default({}),
  group: labelled(HclGroup, "group"),
});

export const HclJobFile = z
  .object({ job: labelled(HclJobBody, "job") })
  .refine((file) => Object.keys(file.job).length === 1, "a jobspec file holds exactly one job");

const HclServerJoin = single(z.object({ retry_join: z.array(HclString).min(1) }), "server_join").default([]);

export const HclAgentFile = z.object({
  name: HclString,
  datacenter: HclString.optional(),
  data_dir: HclString,
  server: single(
    z.object({
      enabled: z.boolean(),
      bootstrap_expect: z.int().min(1),
      server_join: HclServerJoin,
    }),
    "server",
  ).default([]),
  client: single(
    z.object({ enabled: z.boolean(), meta: HclMap.default({}), server_join: HclServerJoin }),
    "client",
  ).min(1),
});

const nomadRestartDefaults = {
  attempts: 2,
  interval: 1_800_000_000_000,
  delay: 15_000_000_000,
  mode: "fail" as const,
};

/**
 * hcl2json returns labelled blocks as a JSON object, so `port` blocks come back sorted by
 * label; their written order is the first task's `config.ports` list, which is restored here.
 */
function portsInWrittenOrder(group: z.output<typeof HclGroup>): Job["groups"][number]["ports"] {
  const ports = Object.entries(group.network[0]?.port ?? {}).map(([label, [port]]) => ({
    label,
    to: port!.to,
  }));
  const firstTask = Object.values(group.task)[0]?.[0];
  const order = firstTask?.config[0]?.ports ?? [];
  const rank = (label: string): number => {
    const index = order.indexOf(label);
    return index < 0 ? order.length : index;
  };
  return ports.sort((a, b) => rank(a.label) - rank(b.label));
}

function groupToIr(name: string, group: z.output<typeof HclGroup>): Job["groups"][number] {
  return {
    name,
    count: group.count,
    ports: portsInWrittenOrder(group),
    services: group.service.map((service) => ({
      name: service.name,
      port: service.port,
      provider: service.provider,
      tags: service.tags,
      checks: service.check.map((check) => ({
        type: check.type,
        ...(check.path === undefined ? {} : { path: check.path }),
        interval: check.interval,
        timeout: check.timeout,
      })),
    })),
    restart: group.restart[0] ?? nomadRestartDefaults,
    tasks: Object.entries(group.task).map(([taskName, [task]]) => ({
      name: taskName,
      driver: task!.driver,
      config: task!.config[0]!,
      env: task!.env,
      resources: { cpu: task!.resources[0]?.cpu ?? 0, memory_mb: task!.resources[0]?.memory ?? 0 },
    })),
  };
}

function jobToIr(file: z.output<typeof HclJobFile>): Job {
  const [id, [body]] = Object.entries(file.job)[0]!;
  return {
    id,
    namespace: body!.namespace,
    type: body!.type,
    datacenters: body!.datacenters,
    constraints: body!.constraint,
    affinities: body!.affinity,
    spreads: body!.spread.map((spread) => ({
      attribute: spread.attribute,
      weight: spread.weight,
      targets: Object.entries(spread.target).map(([value, [target]]) => ({
        value,
        percent: target!.percent,
      })),
    })),
    meta: body!.meta,
    groups: Object.entries(body!.group).map(([name, [group]]) => groupToIr(name, group!)),
  };
}

function located(file: string, text: string, error: z.ZodError): FabricIssue[] {
  return issuesFromZod(error).map((issue) => ({ ...issue, file, ...locateInHcl(text, issue.path) }));
}

/** A jobspec's text as the IR. */
export async function readJobHcl(file: string, text: string): Promise<Result<{ job: Job }>> {
  const parsed = await parseHclText(file, text);
  if ("error" in parsed) return failed(diagnosticIssues(file, parsed.error));
  const checked = HclJobFile.safeParse(parsed.value);
  if (!checked.success) return failed(located(file, text, checked.error));
  return ok({ job: jobToIr(checked.data) });
}

export async function readAgentHcl(file: string, text: string): Promise<Result<{ agent: Agent }>> {
  const parsed = await parseHclText(file, text);
  if ("error" in parsed) return failed(diagnosticIssues(file, parsed.error));
  const checked = HclAgentFile.safeParse(parsed.value);
  if (!checked.success) return failed(located(file, text, checked.error));
  const body = checked.data;
  const server = body.server[0];
  const client = body.client[0]!;
  const join = (blocks: readonly { retry_join: string[] }[]) =>
    blocks[0] === undefined ? {} : { server_join: { retry_join: blocks[0].retry_join } };
  const agent: Agent = {
    name: body.name,
    ...(body.datacenter === undefined ? {} : { datacenter: body.datacenter }),
    data_dir: body.data_dir,
    ...(server === undefined
      ? {}
      : {
          server: {
            enabled: server.enabled,
            bootstrap_expect: server.bootstrap_expect,
            ...join(server.server_join),
          },
        }),
    client: { enabled: client.enabled, meta: client.meta, ...join(client.server_join) },
  };
  return ok({ agent });
}
