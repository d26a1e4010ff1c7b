import { z } from "zod";
import { Command, ControlPlaneRole, limits, Millis, NodeId } from "../vocabulary/index.js";

/**
 * What a round returns: the commands to propose (each ready to be wrapped in a `Proposal`),
 * the workers to keep as warm-standby learners, and a record of every decision, including
 * every decision not to act, with the rule that made it and the inputs that mattered.
 */

/** The rules, as stable codes (like zod issue codes): tests and dashboards match on them. */
export const RuleCode = z.enum([
  // Authority: only a leader that sees a majority acts.
  "not-leader",
  "minority-partition",
  // Shape.
  "shape-satisfied",
  "replace-failed",
  "scale-up",
  "scale-down",
  "no-candidate",
  "min-workers",
  // Autopilot safety.
  "promotions-first",
  "removal-cap",
  "quorum-floor",
  "self-demotion",
  // Capacity: what an operator shift would leave behind.
  "control-plane-target",
  "no-workload-host",
  "stabilization",
  "odd-voters",
  // Damper.
  "hysteresis",
  "flapping",
  "quarantined-node",
  "restore-stable",
  "quarantine-held",
  "operator-hold",
  "assign-worker",
  "standby",
  // Operator overrides.
  "operator-request",
  "operator-round",
  "unknown-node",
  "no-op",
  // Placement.
  "placement-stable",
  "placement-new",
  "placement-replace",
  "placement-policy",
  "placement-trim",
  "placement-short",
  "placement-stacked",
]);
export type RuleCode = z.infer<typeof RuleCode>;

export const DecisionAction = z.enum([
  "promote",
  "demote",
  "quarantine",
  "restore",
  "place",
  "standby",
  "none",
]);
export type DecisionAction = z.infer<typeof DecisionAction>;

/**
 * `proposed`: a command is in `commands`. `held`: the engine wanted to act and a rule stopped
 * it (it will retry). `refused`: an operator request broke a rule without `force`. `forced`: it
 * broke a rule with `force` and is proposed. `noted`: nothing to do, and why.
 */
export const DecisionOutcome = z.enum(["proposed", "held", "refused", "forced", "noted"]);
export type DecisionOutcome = z.infer<typeof DecisionOutcome>;

export const FactValue = z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]);
export type FactValue = z.infer<typeof FactValue>;

export const DecisionRecord = z.strictObject({
  action: DecisionAction,
  outcome: DecisionOutcome,
  rule: RuleCode,
  /** A NodeId, a workload key, or "cluster". */
  subject: z.string().max(256),
  message: z.string().max(4096),
  /** The inputs that mattered, by name. */
  facts: z.record(z.string().max(64), FactValue),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

/** A command and how to wrap it: the caller adds proposer, clock and signature. */
export const ProposedCommand = z.strictObject({
  command: Command,
  origin: z.enum(["policy", "operator"]),
  force: z.boolean(),
});
export type ProposedCommand = z.infer<typeof ProposedCommand>;

export const TargetShape = z.strictObject({
  /**
   * The nodes the formation is applied to: not left, not quarantined, not flapping, and not
   * dead for longer than the dead grace period.
   */
  eligible: z.int().min(0).max(limits.nodesMax),
  /** Raft voters (the etcd holders): always odd when eligible > 0. */
  voters: z.int().min(0).max(99),
  roles: z.record(ControlPlaneRole, z.int().min(0).max(99)),
  workers_min: z.int().min(0).max(limits.nodesMax),
  standbys: z.int().min(0).max(16),
});
export type TargetShape = z.infer<typeof TargetShape>;

export const Decision = z.strictObject({
  now_ms: Millis,
  self: NodeId,
  /** False when this node may not act (not the leader, or on the minority side). */
  acting: z.boolean(),
  target: TargetShape,
  commands: z.array(ProposedCommand),
  /** Workers the daemon keeps as Raft learners (warm standbys); other learners may go. */
  standbys: z.array(NodeId).max(16),
  records: z.array(DecisionRecord),
});
export type Decision = z.infer<typeof Decision>;
