import { z } from "zod";
import type { Job } from "./ir.js";

/**
 * The JSON of Nomad's job API (`PUT /v1/jobs`, `nomad job run -output`): `{"Job": {...}}`
 * with Go field names, durations as integer nanoseconds, `Resources{CPU, MemoryMB}`, and the
 * driver `Config` keys left snake_case. The zod schema is what the reader and validator check;
 * field names follow nomad `api/jobs.go`, `api/tasks.go`, `api/constraint.go`, `api/services.go`.
 */

const Nanoseconds = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const StringMap = z.record(z.string(), z.string());

const ApiConstraint = z.strictObject({
  LTarget: z.string(),
  Operand: z.string().min(1),
  RTarget: z.string(),
});
const ApiAffinity = z.strictObject({
  LTarget: z.string(),
  Operand: z.string().min(1),
  RTarget: z.string(),
  Weight: z.int().min(-100).max(100),
});
const ApiSpread = z.strictObject({
  Attribute: z.string(),
  Weight: z.int().min(0).max(100),
  SpreadTarget: z.array(z.strictObject({ Value: z.string(), Percent: z.int().min(0).max(100) })).optional(),
});
const ApiPort = z.strictObject({ Label: z.string().min(1), To: z.int().min(0).max(65535) });
const ApiCheck = z.strictObject({
  Type: z.enum(["tcp", "http"]),
  Path: z.string().optional(),
  Interval: Nanoseconds,
  Timeout: Nanoseconds,
});
const ApiService = z.strictObject({
  Name: z.string().min(1).max(63),
  PortLabel: z.string().min(1),
  Provider: z.enum(["nomad", "consul"]),
  Tags: z.array(z.string()).optional(),
  Checks: z.array(ApiCheck).optional(),
});
const ApiTask = z.strictObject({
  Name: z.string().min(1),
  Driver: z.literal("docker"),
  Config: z.strictObject({
    image: z.string().min(1),
    entrypoint: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    ports: z.array(z.string()).optional(),
  }),
  Env: StringMap.optional(),
  Resources: z
    .strictObject({ CPU: z.int().min(0).optional(), MemoryMB: z.int().min(0).optional() })
    .optional(),
});
const ApiTaskGroup = z.strictObject({
  Name: z.string().min(1),
  Count: z.int().min(0),
  Networks: z
    .array(z.strictObject({ DynamicPorts: z.array(ApiPort) }))
    .max(1)
    .optional(),
  Services: z.array(ApiService).optional(),
  RestartPolicy: z.strictObject({
    Attempts: z.int().min(0),
    Interval: Nanoseconds,
    Delay: Nanoseconds,
    Mode: z.enum(["fail", "delay"]),
  }),
  Tasks: z.array(ApiTask).min(1),
});

export const ApiJob = z.strictObject({
  Job: z.strictObject({
    ID: z.string().min(1),
    Name: z.string().min(1),
    Namespace: z.string().min(1),
    Type: z.enum(["service", "batch", "system", "sysbatch"]),
    Datacenters: z.array(z.string()).min(1),
    Constraints: z.array(ApiConstraint).optional(),
    Affinities: z.array(ApiAffinity).optional(),
    Spreads: z.array(ApiSpread).optional(),
    Meta: StringMap.optional(),
    TaskGroups: z.array(ApiTaskGroup).min(1),
  }),
});
export type ApiJob = z.infer<typeof ApiJob>;

function nonEmpty<T>(values: readonly T[]): T[] | undefined {
  return values.length > 0 ? [...values] : undefined;
}

/** A copy with keys in code-unit order, or undefined when empty. */
function sortedMap(map: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const keys = Object.keys(map);
  if (keys.length === 0) return undefined;
  const sorted: Record<string, string> = {};
  for (const key of keys.sort()) sorted[key] = map[key]!;
  return sorted;
}

function taskToApi(task: Job["groups"][number]["tasks"][number]) {
  const { cpu, memory_mb: memory } = task.resources;
  return {
    Config: {
      args: nonEmpty(task.config.args),
      entrypoint: nonEmpty(task.config.entrypoint),
      image: task.config.image,
      ports: nonEmpty(task.config.ports),
    },
    Driver: task.driver,
    Env: sortedMap(task.env),
    Name: task.name,
    Resources:
      cpu > 0 || memory > 0
        ? { CPU: cpu > 0 ? cpu : undefined, MemoryMB: memory > 0 ? memory : undefined }
        : undefined,
  };
}

function groupToApi(group: Job["groups"][number]) {
  return {
    Count: group.count,
    Name: group.name,
    Networks:
      group.ports.length > 0
        ? [{ DynamicPorts: group.ports.map((port) => ({ Label: port.label, To: port.to })) }]
        : undefined,
    RestartPolicy: {
      Attempts: group.restart.attempts,
      Delay: group.restart.delay,
      Interval: group.restart.interval,
      Mode: group.restart.mode,
    },
    Services: nonEmpty(
      group.services.map((service) => ({
        Checks: nonEmpty(
          service.checks.map((check) => ({
            Interval: check.interval,
            Path: check.path,
            Timeout: check.timeout,
            Type: check.type,
          })),
        ),
        Name: service.name,
        PortLabel: service.port,
        Provider: service.provider,
        Tags: nonEmpty(service.tags),
      })),
    ),
    Tasks: group.tasks.map(taskToApi),
  };
}

/**
 * Objects are built with their keys already in code-unit order (and maps copied sorted), so
 * plain `JSON.stringify` gives canonical, byte-stable text (`apiJobText`).
 */
export function jobToApi(job: Job): ApiJob {
  return {
    Job: {
      Affinities: nonEmpty(
        job.affinities.map((a) => ({
          LTarget: a.attribute,
          Operand: a.operator,
          RTarget: a.value,
          Weight: a.weight,
        })),
      ),
      Constraints: nonEmpty(
        job.constraints.map((c) => ({ LTarget: c.attribute, Operand: c.operator, RTarget: c.value })),
      ),
      Datacenters: [...job.datacenters],
      ID: job.id,
      Meta: sortedMap(job.meta),
      Name: job.id,
      Namespace: job.namespace,
      Spreads: nonEmpty(
        job.spreads.map((s) => ({
          Attribute: s.attribute,
          SpreadTarget: nonEmpty(s.targets.map((t) => ({ Percent: t.percent, Value: t.value }))),
          Weight: s.weight,
        })),
      ),
      TaskGroups: job.groups.map(groupToApi),
      Type: job.type,
    },
  };
}

/** The API JSON text of a job: two-space indent, keys sorted, trailing newline. */
export function apiJobText(job: Job): string {
  return `${JSON.stringify(jobToApi(job), null, 2)}\n`;
}

export function apiToJob(api: ApiJob): Job {
  const job = api.Job;
  return {
    id: job.ID,
    namespace: job.Namespace,
    type: job.Type,
    datacenters: job.Datacenters,
    constraints: (job.Constraints ?? []).map((c) => ({
      attribute: c.LTarget,
      operator: c.Operand,
      value: c.RTarget,
    })),
    affinities: (job.Affinities ?? []).map((a) => ({
      attribute: a.LTarget,
      operator: a.Operand,
      value: a.RTarget,
      weight: a.Weight,
    })),
    spreads: (job.Spreads ?? []).map((s) => ({
      attribute: s.Attribute,
      weight: s.Weight,
      targets: (s.SpreadTarget ?? []).map((t) => ({ value: t.Value, percent: t.Percent })),
    })),
    meta: job.Meta ?? {},
    groups: job.TaskGroups.map((group) => ({
      name: group.Name,
      count: group.Count,
      ports: (group.Networks?.[0]?.DynamicPorts ?? []).map((port) => ({ label: port.Label, to: port.To })),
      services: (group.Services ?? []).map((service) => ({
        name: service.Name,
        port: service.PortLabel,
        provider: service.Provider,
        tags: service.Tags ?? [],
        checks: (service.Checks ?? []).map((check) => ({
          type: check.Type,
          ...(check.Path === undefined ? {} : { path: check.Path }),
          interval: check.Interval,
          timeout: check.Timeout,
        })),
      })),
      restart: {
        attempts: group.RestartPolicy.Attempts,
        interval: group.RestartPolicy.Interval,
        delay: group.RestartPolicy.Delay,
        mode: group.RestartPolicy.Mode,
      },
      tasks: group.Tasks.map((task) => ({
        name: task.Name,
        driver: task.Driver,
        config: {
          image: task.Config.image,
          entrypoint: task.Config.entrypoint ?? [],
          args: task.Config.args ?? [],
          ports: task.Config.ports ?? [],
        },
        env: task.Env ?? {},
        resources: { cpu: task.Resources?.CPU ?? 0, memory_mb: task.Resources?.MemoryMB ?? 0 },
      })),
    })),
  };
}
