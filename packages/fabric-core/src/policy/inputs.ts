import { z } from "zod";
import {
  DemoteCommand,
  FabricState,
  FabricStrategy,
  Formation,
  limits,
  Millis,
  NodeId,
  PromoteCommand,
  QuarantineCommand,
  RestoreCommand,
} from "../vocabulary/index.js";
import { PolicyConfigOverrides } from "./config.js";

/**
 * Everything one policy round looks at, gathered by the caller into one JSON-serializable
 * object (raft-autopilot's `nextStateInputs`): golden scenarios are these objects as files.
 * The engine does no IO and reads no clock; `now_ms` is the clock.
 */

export const MemberStatus = z.enum(["alive", "suspect", "dead", "left"]);
export type MemberStatus = z.infer<typeof MemberStatus>;

/** One member as this node's gossip layer sees it; the daemon adapts gossip's view to this. */
export const MemberView = z.strictObject({
  id: NodeId,
  status: MemberStatus,
  /** The phi-accrual suspicion level (0 = perfectly regular heartbeats). */
  phi: z.number().min(0).max(1e6),
  /**
   * When the member entered its current status, on the same clock as `now_ms`: for an alive
   * member, since when it has been alive without interruption (join or recovery); for a dead
   * one, since when it has been dead.
   */
  stable_since_ms: Millis,
  /** Measured round-trip p99 to this member, when latency is measured. */
  latency_p99_ms: z.number().min(0).max(600_000).optional(),
});
export type MemberView = z.infer<typeof MemberView>;

export const MembershipView = z.strictObject({
  members: z.array(MemberView).max(limits.nodesMax),
});
export type MembershipView = z.infer<typeof MembershipView>;

export const LearnerView = z.strictObject({
  id: NodeId,
  /** The learner's log is within the leader's catch-up threshold. */
  caught_up: z.boolean(),
});
export type LearnerView = z.infer<typeof LearnerView>;

/** The Raft facts of this node: its configuration, and whether it leads with a quorum. */
export const RaftView = z.strictObject({
  /** The leader this node knows of (itself when it leads), or null. */
  leader: NodeId.nullable(),
  /** Check-quorum: the leader heard from a majority of voters within an election timeout. */
  quorum_visible: z.boolean(),
  voters: z.array(NodeId).max(99),
  learners: z.array(LearnerView).max(limits.nodesMax),
});
export type RaftView = z.infer<typeof RaftView>;

/** A committed role shift, derived by the caller from the committed log. */
export const ShiftRecord = z.strictObject({
  node: NodeId,
  at_ms: Millis,
  type: z.enum(["promote", "demote", "quarantine", "restore"]),
});
export type ShiftRecord = z.infer<typeof ShiftRecord>;

/** One alive -> suspect/dead transition seen by gossip. */
export const FlapRecord = z.strictObject({ node: NodeId, at_ms: Millis });
export type FlapRecord = z.infer<typeof FlapRecord>;

/**
 * The small history the damper needs. The caller keeps entries younger than the longest
 * window (hysteresis or flap window); older entries change nothing.
 */
export const PolicyHistory = z.strictObject({
  recent_shifts: z.array(ShiftRecord).max(limits.nodesMax * 8),
  recent_flaps: z.array(FlapRecord).max(limits.nodesMax * 8),
  /** Nodes an operator quarantined: the engine never restores them by itself. */
  operator_holds: z.array(NodeId).max(limits.nodesMax),
});
export type PolicyHistory = z.infer<typeof PolicyHistory>;

/** An operator's role command waiting for the leader to judge it against the rules. */
export const OperatorRequest = z.strictObject({
  command: z.discriminatedUnion("type", [PromoteCommand, DemoteCommand, QuarantineCommand, RestoreCommand]),
  /** Break the policy's rules on purpose; the decision record names each rule broken. */
  force: z.boolean(),
});
export type OperatorRequest = z.infer<typeof OperatorRequest>;

export const PolicyInputs = z.strictObject({
  /** The clock of this round (the leader's), in ms. */
  now_ms: Millis,
  /** The node running the round. */
  self: NodeId,
  strategy: FabricStrategy,
  formation: Formation,
  /** Overrides of the defaults derived from the strategy. */
  config: PolicyConfigOverrides.optional(),
  /** The committed fabric state. */
  state: FabricState,
  membership: MembershipView,
  raft: RaftView,
  history: PolicyHistory,
  operator_requests: z.array(OperatorRequest).max(64),
});
export type PolicyInputs = z.infer<typeof PolicyInputs>;
