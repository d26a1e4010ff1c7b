import { z } from "zod";

/**
 * The Nomad intermediate representation: one job model that encodes to the HCL2 jobspec and
 * to the job API JSON, and that both readers decode into. Durations are integer nanoseconds
 * here (the API's unit); the HCL encoder turns them into Go duration strings.
 */

const Nanoseconds = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const StringMap = z.record(z.string(), z.string());

export const Constraint = z.strictObject({
  attribute: z.string(),
  operator: z.string().min(1),
  value: z.string(),
});
export type Constraint = z.infer<typeof Constraint>;

export const Affinity = z.strictObject({
  attribute: z.string(),
  operator: z.string().min(1),
  value: z.string(),
  weight: z.int().min(-100).max(100),
});
export type Affinity = z.infer<typeof Affinity>;

export const SpreadTarget = z.strictObject({ value: z.string(), percent: z.int().min(0).max(100) });

export const Spread = z.strictObject({
  attribute: z.string(),
  weight: z.int().min(0).max(100),
  targets: z.array(SpreadTarget),
});
export type Spread = z.infer<typeof Spread>;

export const Port = z.strictObject({
  label: z.string().min(1),
  to: z.int().min(0).max(65535),
});
export type Port = z.infer<typeof Port>;

export const Check = z.strictObject({
  type: z.enum(["tcp", "http"]),
  path: z.string().optional(),
  interval: Nanoseconds,
  timeout: Nanoseconds,
});
export type Check = z.infer<typeof Check>;

export const Service = z.strictObject({
  name: z.string().min(1).max(63),
  port: z.string().min(1),
  provider: z.enum(["nomad", "consul"]),
  tags: z.array(z.string()),
  checks: z.array(Check),
});
export type Service = z.infer<typeof Service>;

export const RestartPolicy = z.strictObject({
  attempts: z.int().min(0),
  interval: Nanoseconds,
  delay: Nanoseconds,
  mode: z.enum(["fail", "delay"]),
});
export type RestartPolicy = z.infer<typeof RestartPolicy>;

export const DockerConfig = z.strictObject({
  image: z.string().min(1),
  entrypoint: z.array(z.string()),
  args: z.array(z.string()),
  ports: z.array(z.string()),
});
export type DockerConfig = z.infer<typeof DockerConfig>;

export const Task = z.strictObject({
  name: z.string().min(1),
  driver: z.literal("docker"),
  config: DockerConfig,
  env: StringMap,
  resources: z.strictObject({ cpu: z.int().min(0), memory_mb: z.int().min(0) }),
});
export type Task = z.infer<typeof Task>;

export const TaskGroup = z.strictObject({
  name: z.string().min(1),
  count: z.int().min(0),
  ports: z.array(Port),
  services: z.array(Service),
  restart: RestartPolicy,
  tasks: z.array(Task).min(1),
});
export type TaskGroup = z.infer<typeof TaskGroup>;

export const Job = z.strictObject({
  id: z.string().min(1),
  namespace: z.string().min(1),
  type: z.enum(["service", "batch", "system", "sysbatch"]),
  datacenters: z.array(z.string()).min(1),
  constraints: z.array(Constraint),
  affinities: z.array(Affinity),
  spreads: z.array(Spread),
  meta: StringMap,
  groups: z.array(TaskGroup).min(1),
});
export type Job = z.infer<typeof Job>;

/** `server_join { retry_join = [...] }`: the addresses an agent joins (serf for servers, RPC for clients). */
export const ServerJoin = z.strictObject({ retry_join: z.array(z.string().min(1)).min(1) });
export type ServerJoin = z.infer<typeof ServerJoin>;

/** A Nomad agent's configuration: server on control-plane nodes, client elsewhere. */
export const Agent = z.strictObject({
  name: z.string().min(1),
  datacenter: z.string().optional(),
  data_dir: z.string().min(1),
  server: z
    .strictObject({
      enabled: z.boolean(),
      bootstrap_expect: z.int().min(1),
      server_join: ServerJoin.optional(),
    })
    .optional(),
  client: z.strictObject({ enabled: z.boolean(), meta: StringMap, server_join: ServerJoin.optional() }),
});
export type Agent = z.infer<typeof Agent>;
