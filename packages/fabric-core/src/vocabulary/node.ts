import { z } from "zod";
import { NodeId } from "./ids.js";
import { limits } from "./limits.js";

export const controlPlaneRoles = ["api-server", "etcd", "scheduler", "controller-manager"] as const;
export const ControlPlaneRole = z.enum(controlPlaneRoles);
export type ControlPlaneRole = z.infer<typeof ControlPlaneRole>;

export const NodeRole = z.enum([...controlPlaneRoles, "worker", "quarantined", "observer"]);
export type NodeRole = z.infer<typeof NodeRole>;

export function isControlPlaneRole(role: NodeRole): role is ControlPlaneRole {
  return (controlPlaneRoles as readonly string[]).includes(role);
}

export const ShiftReason = z.enum([
  "replacing-failed",
  "scaling-up",
  "scaling-down",
  "health-degraded",
  "operator",
  "rebalance",
]);
export type ShiftReason = z.infer<typeof ShiftReason>;

/** host:port, with IPv6 hosts in brackets. */
export const HostPort = z
  .string()
  .max(300)
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "an address is host:port");

export const NodeAddresses = z.strictObject({
  gossip: HostPort.optional(),
  raft: HostPort.optional(),
  content: HostPort.optional(),
  api: HostPort.optional(),
  /** Where this node's etcd member listens for peers and clients, when the fabric runs etcd here. */
  etcd_peer: HostPort.optional(),
  etcd_client: HostPort.optional(),
});
export type NodeAddresses = z.infer<typeof NodeAddresses>;

export const Capacity = z.strictObject({
  cpu_millis: z.int().min(0).max(100_000_000),
  memory_bytes: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  storage_bytes: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  pods: z.int().min(0).max(100_000),
});
export type Capacity = z.infer<typeof Capacity>;

const labelKey = z
  .string()
  .min(1)
  .max(limits.nameLengthMax)
  .regex(
    /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/,
    "a label key is alphanumeric with '-', '_', '.', '/'",
  );
export const Labels = z.record(labelKey, z.string().max(63));
export type Labels = z.infer<typeof Labels>;

/** What a node advertises about itself (through gossip, signed by its key). */
export const NodeState = z.strictObject({
  id: NodeId,
  name: z.string().min(1).max(63),
  addresses: NodeAddresses,
  roles: z.array(NodeRole).max(8),
  capacity: Capacity,
  zone: z.string().max(63),
  rack: z.string().max(63),
  labels: Labels,
  version: z.string().max(64),
  /** Bumped on every restart so a stale advertisement never wins over a fresh one. */
  generation: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
});
export type NodeState = z.infer<typeof NodeState>;
