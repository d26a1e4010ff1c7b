import { z } from "zod";
import { Blake3Hash, Millis, NodeId } from "./ids.js";
import { failed, parseWith, type Result } from "./issue.js";
import { NodeRole, NodeState, ShiftReason } from "./node.js";
import { canonicalJson } from "./source-text.js";
import { FabricStrategy } from "./strategy.js";
import { Workload } from "./workload.js";

/** The commands carried by the consensus log, discriminated by `type`. */
export const PromoteCommand = z.strictObject({
  type: z.literal("promote"),
  node: NodeId,
  roles: z.array(NodeRole).min(1).max(8),
  reason: ShiftReason,
});
export const DemoteCommand = z.strictObject({
  type: z.literal("demote"),
  node: NodeId,
  roles: z.array(NodeRole).min(1).max(8),
  reason: ShiftReason,
});
export const QuarantineCommand = z.strictObject({
  type: z.literal("quarantine"),
  node: NodeId,
  reason: ShiftReason,
});
export const RestoreCommand = z.strictObject({ type: z.literal("restore"), node: NodeId });
export const NodeJoinCommand = z.strictObject({ type: z.literal("node-join"), state: NodeState });
export const NodeRemoveCommand = z.strictObject({ type: z.literal("node-remove"), node: NodeId });
export const WorkloadUpsertCommand = z.strictObject({
  type: z.literal("workload-upsert"),
  workload: Workload,
});
export const WorkloadDeleteCommand = z.strictObject({
  type: z.literal("workload-delete"),
  namespace: z.string().max(63),
  name: z.string().max(63),
});
/** Replica i of the workload runs on `nodes[i]`; an empty list unplaces it. */
export const PlacementCommand = z.strictObject({
  type: z.literal("placement"),
  workload: z.string().max(128),
  nodes: z.array(NodeId).max(10_000),
});

/**
 * A sealed attestation checkpoint (C2SP-style signed note with witness cosignatures),
 * carried through the log so every node's chain holds the same checkpoints. It changes no
 * fabric state.
 */
export const AttestCheckpointCommand = z.strictObject({
  type: z.literal("attest-checkpoint"),
  size: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  note: z.string().min(1).max(65_536),
});

/** The four role commands: the ones the attestation chain records one block for. */
export const RoleCommandSchema = z.discriminatedUnion("type", [
  PromoteCommand,
  DemoteCommand,
  QuarantineCommand,
  RestoreCommand,
]);

/**
 * Opens or abandons a role shift's procedure (fabric/execute.ts). A shift that touches the
 * Raft voters takes several committed steps (learner, voter, then the role command; or the
 * role command, then leaving the voters); the committed `begin` is the intent any later
 * leader resumes from, `abort` closes it without the shift.
 */
export const ShiftProcedureCommand = z.strictObject({
  type: z.literal("shift-procedure"),
  step: z.enum(["begin", "abort"]),
  shift: RoleCommandSchema,
  /** Why an abort was committed (the procedure could not finish). */
  reason: z.string().max(256).optional(),
  /** The fabric manages a real etcd: the shift also adds (learner, promote) or removes the etcd member. */
  etcd: z.boolean().optional(),
});

/**
 * The TLS credential the leader issued for a new etcd member: a content blob holding the
 * certificate and its private key sealed to the member's node (docs/control-plane.md), and
 * the certificate's serial, so status and revocation name it. Only the node it was sealed
 * to can open the key; the blob travels like any other. An adopted member (the founder's,
 * which issued its own certificate) has no blob: its serial is the one its etcd presented.
 */
export const EtcdCredential = z.strictObject({
  blob: Blake3Hash.optional(),
  serial: z.string().regex(/^[0-9a-f]{1,40}$/),
});
export type EtcdCredential = z.infer<typeof EtcdCredential>;

/**
 * What the leader did to the live etcd cluster's membership, committed after etcd answered
 * (`member add --learner`, `member promote`, `member remove`), so every node knows the etcd
 * members and any later leader resumes the procedure from there.
 */
export const EtcdMemberCommand = z.strictObject({
  type: z.literal("etcd-member"),
  node: NodeId,
  event: z.enum(["added", "promoted", "removed"]),
  /** etcd's member id: a uint64 as lowercase hex (never a JS number). */
  member_id: z.string().regex(/^[0-9a-f]{1,16}$/),
  credential: EtcdCredential.optional(),
});

/**
 * A member's alive -> suspect/dead transition as the leader's gossip saw it: the damper's
 * flap history is replicated, so a new leader does not start counting afresh.
 */
export const MemberFlapCommand = z.strictObject({
  type: z.literal("member-flap"),
  node: NodeId,
  at_ms: Millis,
});

/**
 * Join (bootstrap) tokens, committed so that a token works against any node of the cluster
 * (docs/join.md). `create` carries only the SHA-256 of the token's secret, never the secret;
 * the expiry is the proposal's `issued_at_ms` plus `ttl_ms`. `use` records that a host
 * (its NodeId and name) joined with the token: the machine refuses it when the token is
 * unknown, revoked, expired, single-use and already used, or the id or name is taken.
 */
export const JoinTokenCommand = z.discriminatedUnion("action", [
  z.strictObject({
    type: z.literal("join-token"),
    action: z.literal("create"),
    id: z.string().regex(/^[a-z0-9]{6}$/, "a join token id is 6 lowercase letters or digits"),
    secret_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    ttl_ms: z
      .int()
      .min(1_000)
      .max(366 * 86_400_000),
    single_use: z.boolean(),
    description: z.string().max(128),
  }),
  z.strictObject({
    type: z.literal("join-token"),
    action: z.literal("revoke"),
    id: z.string().regex(/^[a-z0-9]{6}$/),
  }),
  z.strictObject({
    type: z.literal("join-token"),
    action: z.literal("use"),
    id: z.string().regex(/^[a-z0-9]{6}$/),
    node: NodeId,
    name: z.string().max(63),
  }),
]);
export type JoinTokenCommand = z.infer<typeof JoinTokenCommand>;

/**
 * The fabric strategy every node runs: the founding leader commits its own first, and
 * `revoada strategy apply` (or a node's SIGHUP) proposes a new one. The machine applies it
 * only when it proves live (and, while the committed strategy requires operator signatures,
 * when an operator key of that strategy signed it); the chain records each one as a block.
 */
export const StrategyCommand = z.strictObject({
  type: z.literal("strategy"),
  strategy: FabricStrategy,
});

export const Command = z.discriminatedUnion("type", [
  PromoteCommand,
  DemoteCommand,
  QuarantineCommand,
  RestoreCommand,
  NodeJoinCommand,
  NodeRemoveCommand,
  WorkloadUpsertCommand,
  WorkloadDeleteCommand,
  PlacementCommand,
  AttestCheckpointCommand,
  ShiftProcedureCommand,
  MemberFlapCommand,
  EtcdMemberCommand,
  JoinTokenCommand,
  StrategyCommand,
]);
export type Command = z.infer<typeof Command>;
export type CommandType = Command["type"];

/** Role commands are the ones the attestation chain records one block for. */
export const roleCommandTypes = [
  "promote",
  "demote",
  "quarantine",
  "restore",
] as const satisfies readonly CommandType[];
export function isRoleCommand(command: Command): boolean {
  return (roleCommandTypes as readonly string[]).includes(command.type);
}

/**
 * Commands the attestation chain records a block for: the role commands, strategy swaps and
 * the steps on a managed etcd's membership.
 */
export function isAttestedCommand(command: Command): boolean {
  return isRoleCommand(command) || command.type === "strategy" || command.type === "etcd-member";
}

/**
 * A command as proposed: who proposed it, when (the leader's clock, carried in the log so
 * every node derives the same attestation block), and whether an operator forced it.
 */
export const Proposal = z.strictObject({
  command: Command,
  proposer: NodeId,
  issued_at_ms: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  origin: z.enum(["policy", "operator"]),
  force: z.boolean(),
  /**
   * ed25519 signature (hex) of an operator key over the command as the chain records it,
   * bound to the chain head `operator_after` (docs/attestation.md, "Operator signatures").
   */
  operator_signature: z
    .string()
    .regex(/^[0-9a-f]{128}$/)
    .optional(),
  /** The chain position (blocks so far) the operator signed against; set with `operator_signature`. */
  operator_after: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /**
   * ed25519 signature (hex) by `proposer` over the attestation block this entry produces
   * when committed (role commands only; exactly what is signed: docs/attestation.md).
   */
  leader_signature: z
    .string()
    .regex(/^[0-9a-f]{128}$/)
    .optional(),
});
export type Proposal = z.infer<typeof Proposal>;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** The bytes a node proposes (and the chain derives blocks from): canonical JSON of the proposal. */
export function encodeProposal(proposal: Proposal): Uint8Array {
  return new TextEncoder().encode(canonicalJson(proposal, 0));
}

/** Log entry bytes back to a Proposal; issues name what is wrong. */
export function decodeProposal(bytes: Uint8Array): Result<Proposal> {
  let json: unknown;
  try {
    json = JSON.parse(utf8Decoder.decode(bytes));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return failed([{ code: "invalid_json", message, path: [] }]);
  }
  return parseWith(Proposal, json);
}
