import { Command, NodeId, NodeRole, Workload } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/** The HTTP API's shapes: the single source of truth for the server, the CLI client and OpenAPI. */

export const MemberStatus = z.enum(["alive", "suspect", "dead", "left"]);

export const MeshMember = z.object({
  id: z.string(),
  name: z.string(),
  status: MemberStatus,
  phi: z.number(),
  roles: z.array(z.string()),
  addresses: z.record(z.string(), z.string()),
  zone: z.string(),
});
export type MeshMember = z.infer<typeof MeshMember>;

export const RaftStatusReply = z.object({
  term: z.number(),
  state: z.string(),
  leader: z.string().nullable(),
  commit_index: z.number(),
  applied_index: z.number(),
  voters: z.array(z.string()),
  learners: z.array(z.string()),
});

export const NodeStatusReply = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(z.string()),
  raft: RaftStatusReply,
  members: z.object({ alive: z.number(), suspect: z.number(), dead: z.number() }),
  chain_height: z.number(),
  last_decision: z.string().nullable(),
  face: z.string(),
  uptime_ms: z.number(),
});
export type NodeStatusReply = z.infer<typeof NodeStatusReply>;

export const ShiftRequest = z.strictObject({
  action: z.enum(["promote", "demote", "quarantine", "restore"]),
  node: z.string().min(1).max(64),
  roles: z.array(NodeRole).max(8).optional(),
  force: z.boolean().default(false),
});
export type ShiftRequest = z.infer<typeof ShiftRequest>;

export const CommittedReply = z.object({
  index: z.number(),
  term: z.number(),
  command: Command,
});

export const WorkloadApplyRequest = Workload;

export const ProposalRefused = z.object({
  error: z.string(),
  rule: z.string().optional(),
  leader: z.string().nullable().optional(),
});

export const JoinRequest = z.strictObject({ id: NodeId, raft_address: z.string() });
