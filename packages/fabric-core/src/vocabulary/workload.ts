import { z } from "zod";
import { Blake3Hash, DnsLabel } from "./ids.js";
import { limits } from "./limits.js";
import { Labels } from "./node.js";

/** A face-agnostic workload; each face translates it into its own shape. */
export const WorkloadPort = z.strictObject({
  name: DnsLabel.max(15),
  container_port: z.int().min(1).max(65535),
  protocol: z.enum(["tcp", "udp"]),
});
export type WorkloadPort = z.infer<typeof WorkloadPort>;

export const ConfigBlobRef = z.strictObject({
  name: DnsLabel,
  hash: Blake3Hash,
  mount_path: z
    .string()
    .regex(/^\/[^\0]*$/, "an absolute path")
    .max(4096),
});
export type ConfigBlobRef = z.infer<typeof ConfigBlobRef>;

export const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name");

export const WorkloadPlacement = z.strictObject({
  zones: z.array(z.string().max(63)).max(64),
  labels: Labels,
  tolerate_control_plane: z.boolean(),
});
export type WorkloadPlacement = z.infer<typeof WorkloadPlacement>;

export const Workload = z.strictObject({
  name: DnsLabel,
  namespace: DnsLabel,
  image: z.string().min(1).max(512).regex(/^\S+$/, "an image reference has no spaces"),
  command: z.array(z.string().max(4096)).max(256),
  args: z.array(z.string().max(4096)).max(256),
  env: z.record(EnvName, z.string().max(32_768)),
  ports: z.array(WorkloadPort).max(64),
  replicas: z.int().min(0).max(limits.replicasMax),
  resources: z.strictObject({
    cpu_millis: z.int().min(0).max(1_000_000),
    memory_bytes: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  }),
  config_blobs: z.array(ConfigBlobRef).max(64),
  placement: WorkloadPlacement,
});
export type Workload = z.infer<typeof Workload>;

/** `namespace/name`: the key of a workload everywhere (state maps, commands, files). */
export function workloadKey(workload: { namespace: string; name: string }): string {
  return `${workload.namespace}/${workload.name}`;
}
