import { parseDuration } from "./duration.js";
import { unescapeTemplate } from "./hcl-printer.js";
import type { Agent, Job, Port, Service, Task, TaskGroup } from "./ir.js";

/**
 * The reader's fast path from hcl2json's shape to the IR, without the zod schemas: plain
 * checked accessors that throw `Unexpected` on anything the printer would not write. It is
 * only ever trusted together with proof: the reader renders the state it read and requires
 * the very bytes it was given, and otherwise reads again through the schemas (`hcl-read.ts`),
 * which give located issues. A mistake here can make reading slower, never wrong.
 */

export class Unexpected extends Error {}

type Shape = Record<string, unknown>;

function record(value: unknown): Shape {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Unexpected();
  return value as Shape;
}

function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Unexpected();
  return value;
}

function text(value: unknown): string {
  if (typeof value !== "string") throw new Unexpected();
  return unescapeTemplate(value);
}

function integer(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new Unexpected();
  return value;
}

function duration(value: unknown): number {
  const ns = parseDuration(text(value));
  if (ns === undefined) throw new Unexpected();
  return ns;
}

function texts(value: unknown): string[] {
  return value === undefined ? [] : list(value).map(text);
}

function textMap(value: unknown): Record<string, string> {
  const map: Record<string, string> = {};
  if (value !== undefined) for (const [key, child] of Object.entries(record(value))) map[key] = text(child);
  return map;
}

/** The one body of an unlabelled block, or undefined when the block is absent. */
function single(value: unknown): Shape | undefined {
  if (value === undefined) return undefined;
  const bodies = list(value);
  if (bodies.length !== 1) throw new Unexpected();
  return record(bodies[0]);
}

/** `[label, body]` pairs of a labelled block, one body per label. */
function labelled(value: unknown): [string, Shape][] {
  return Object.entries(record(value)).map(([label, bodies]) => [label, single(bodies)!]);
}

function service(body: unknown): Service {
  const shape = record(body);
  const provider = text(shape.provider);
  if (provider !== "nomad" && provider !== "consul") throw new Unexpected();
  return {
    name: text(shape.name),
    port: text(shape.port),
    provider,
    tags: texts(shape.tags),
    checks: (shape.check === undefined ? [] : list(shape.check)).map((check) => {
      const fields = record(check);
      const type = text(fields.type);
      if (type !== "tcp" && type !== "http") throw new Unexpected();
      const path = fields.path === undefined ? {} : { path: text(fields.path) };
      return { type, ...path, interval: duration(fields.interval), timeout: duration(fields.timeout) };
    }),
  };
}

function task(name: string, body: Shape): Task {
  if (body.driver !== "docker") throw new Unexpected();
  const config = single(body.config)!;
  const resources = single(body.resources);
  return {
    name,
    driver: "docker",
    config: {
      image: text(config.image),
      entrypoint: texts(config.entrypoint),
      args: texts(config.args),
      ports: texts(config.ports),
    },
    env: textMap(body.env),
    resources: {
      cpu: resources?.cpu === undefined ? 0 : integer(resources.cpu),
      memory_mb: resources?.memory === undefined ? 0 : integer(resources.memory),
    },
  };
}

function group(name: string, body: Shape): TaskGroup {
  const restart = single(body.restart)!;
  const mode = text(restart.mode);
  if (mode !== "fail" && mode !== "delay") throw new Unexpected();
  const tasks = labelled(body.task).map(([taskName, taskBody]) => task(taskName, taskBody));
  const network = single(body.network);
  const declared = network?.port === undefined ? [] : labelled(network.port);
  const order = tasks[0]?.config.ports ?? [];
  const ports: Port[] = order.map((label) => {
    const found = declared.find(([candidate]) => candidate === label);
    if (found === undefined) throw new Unexpected();
    return { label, to: integer(found[1].to) };
  });
  if (ports.length !== declared.length) throw new Unexpected();
  return {
    name,
    count: integer(body.count),
    ports,
    services: (body.service === undefined ? [] : list(body.service)).map(service),
    restart: {
      attempts: integer(restart.attempts),
      interval: duration(restart.interval),
      delay: duration(restart.delay),
      mode,
    },
    tasks,
  };
}

function rules(value: unknown): { attribute: string; operator: string; value: string; weight?: number }[] {
  return (value === undefined ? [] : list(value)).map((rule) => {
    const fields = record(rule);
    const weight = fields.weight === undefined ? {} : { weight: integer(fields.weight) };
    return {
      attribute: text(fields.attribute),
      operator: text(fields.operator),
      value: text(fields.value),
      ...weight,
    };
  });
}

export function jobFromShape(shape: unknown): Job {
  const jobs = labelled(record(shape).job);
  if (jobs.length !== 1) throw new Unexpected();
  const [id, body] = jobs[0]!;
  const type = text(body.type);
  if (type !== "service") throw new Unexpected();
  return {
    id,
    namespace: text(body.namespace),
    type,
    datacenters: texts(body.datacenters),
    constraints: rules(body.constraint).map(({ attribute, operator, value }) => ({
      attribute,
      operator,
      value,
    })),
    affinities: rules(body.affinity).map((rule) => ({ ...rule, weight: rule.weight ?? 50 })),
    spreads: (body.spread === undefined ? [] : list(body.spread)).map((spread) => {
      const fields = record(spread);
      const targets = fields.target === undefined ? [] : labelled(fields.target);
      return {
        attribute: text(fields.attribute),
        weight: integer(fields.weight),
        targets: targets.map(([value, target]) => ({ value, percent: integer(target.percent) })),
      };
    }),
    meta: textMap(body.meta),
    groups: labelled(body.group).map(([name, groupBody]) => group(name, groupBody)),
  };
}

export function agentFromShape(shape: unknown): Agent {
  const body = record(shape);
  const server = single(body.server);
  const client = single(body.client)!;
  if (typeof client.enabled !== "boolean") throw new Unexpected();
  const datacenter = body.datacenter === undefined ? {} : { datacenter: text(body.datacenter) };
  return {
    name: text(body.name),
    ...datacenter,
    data_dir: text(body.data_dir),
    ...(server === undefined
      ? {}
      : {
          server: {
            enabled: server.enabled === true,
            bootstrap_expect: integer(server.bootstrap_expect),
            ...serverJoinFromShape(server.server_join),
          },
        }),
    client: {
      enabled: client.enabled,
      meta: textMap(client.meta),
      ...serverJoinFromShape(client.server_join),
    },
  };
}

function serverJoinFromShape(value: unknown): { server_join?: { retry_join: string[] } } {
  const join = single(value);
  if (join === undefined) return {};
  return { server_join: { retry_join: list(join.retry_join).map(text) } };
}
