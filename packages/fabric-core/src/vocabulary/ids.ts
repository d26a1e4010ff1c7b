import { z } from "zod";

/** A NodeId is the node's ed25519 public key, as 64 lowercase hex characters. */
export const NodeId = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "a node id is an ed25519 public key: 64 lowercase hex characters")
  .brand<"NodeId">();
export type NodeId = z.infer<typeof NodeId>;

const nodeIdPattern = /^[0-9a-f]{64}$/;

/** The guard at the seams where ids arrive as plain strings (Raft peers, gossip members). */
export function isNodeId(value: string): value is NodeId {
  return nodeIdPattern.test(value);
}

/** The short display form, like git's abbreviated hashes: the first 8 hex characters. */
export function shortNodeId(id: NodeId | string): string {
  return id.slice(0, 8);
}

/** A BLAKE3 digest as 64 lowercase hex characters. */
export const Blake3Hash = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "a BLAKE3 hash is 64 lowercase hex characters")
  .brand<"Blake3Hash">();
export type Blake3Hash = z.infer<typeof Blake3Hash>;

/** DNS-1123 label: what Kubernetes, systemd unit names and Nomad job ids all accept. */
export const DnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label: lowercase letters, digits and '-'");
export type DnsLabel = z.infer<typeof DnsLabel>;

export const Millis = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export type Millis = z.infer<typeof Millis>;
