import { z } from "zod";
import type { ConfState } from "../raft/index.js";
import { Millis, type RoleCommand, RoleCommandSchema } from "../vocabulary/index.js";

/**
 * A role shift that touches the Raft voters is a procedure of several committed steps. Its
 * state lives in the replicated `FabricMachine` (and so in every snapshot), which is what
 * lets any leader resume it where the last one stopped:
 *
 *   promote with etcd:   begin -> [add-learner] -> add-voter (joint, left by the core)
 *                        -> [etcd: member add --learner -> member promote] -> Promote
 *   demote etcd/quarantine of a voter: begin -> the role command -> learner (alive) / remove (dead)
 *                        -> [etcd: member remove]
 *   any other shift:     begin -> the role command
 *
 * The etcd steps (in brackets) are there when the fabric manages a real etcd (`etcd: true`
 * in the begin record): the leader does the etcd call, then commits what etcd answered.
 * The phase moves only when an entry applies, so it is the same on every node at the same
 * applied index. `fabric/execute.ts` reads it to decide the next step.
 */
export const ProcedurePhase = z.enum([
  /** The node becomes a Raft voter before its Promote commits. */
  "join-voters",
  /** The node becomes an etcd learner member (`member add --learner`). */
  "etcd-add",
  /** The etcd learner is promoted to a voting member once in sync. */
  "etcd-promote",
  /** The role command (signed, attested) is next. */
  "command",
  /** The role command committed; the node leaves the voters next. */
  "leave-voters",
  /** The node's etcd member is removed. */
  "etcd-remove",
]);
export type ProcedurePhase = z.infer<typeof ProcedurePhase>;

export const Procedure = z.strictObject({
  shift: RoleCommandSchema,
  origin: z.enum(["policy", "operator"]),
  force: z.boolean(),
  /** Where the `begin` record committed, and the leader's clock in it. */
  begun_term: z.int().min(0),
  begun_index: z.int().min(1),
  begun_at_ms: Millis,
  phase: ProcedurePhase,
  /** The leader's clock in the record that moved the procedure into `phase` (absent before it moved). */
  phase_at_ms: Millis.optional(),
  /** The shift also changes the live etcd cluster's membership. */
  etcd: z.boolean(),
  /**
   * The operator's signature of the shift (and the chain position it is bound to), carried
   * from the `begin` record to the role command, whose block records it.
   */
  operator: z
    .strictObject({
      after: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
      signature: z.string().regex(/^[0-9a-f]{128}$/),
    })
    .optional(),
});
export type Procedure = z.infer<typeof Procedure>;

export type ProcedureEvent =
  | { readonly type: "opened"; readonly procedure: Procedure }
  | { readonly type: "advanced"; readonly procedure: Procedure }
  | {
      readonly type: "closed";
      readonly procedure: Procedure;
      readonly outcome: "completed" | "aborted";
      readonly reason: string;
    };

/** A promotion that adds `etcd` needs the node among the Raft voters first. */
export function joinsVoters(shift: RoleCommand): boolean {
  return shift.type === "promote" && shift.roles.includes("etcd");
}

/** A demotion of `etcd` or a quarantine takes the node out of the voters after the command. */
export function leavesVoters(shift: RoleCommand): boolean {
  return (shift.type === "demote" && shift.roles.includes("etcd")) || shift.type === "quarantine";
}

export function isVoterIn(conf: ConfState, node: string): boolean {
  return conf.voters.includes(node) || conf.votersOutgoing.includes(node);
}

/** A settled (not joint) configuration in which `node` votes. */
export function isSettledVoter(conf: ConfState, node: string): boolean {
  return conf.votersOutgoing.length === 0 && conf.voters.includes(node);
}

/** The phase a procedure opens in, given the configuration when its `begin` commits. */
export function openingPhase(shift: RoleCommand, conf: ConfState, etcd: boolean): ProcedurePhase {
  if (!joinsVoters(shift)) return "command";
  if (!isSettledVoter(conf, shift.node)) return "join-voters";
  return etcd ? "etcd-add" : "command";
}

/** The node became a settled Raft voter: the etcd member next, or the command. */
export function phaseAfterJoiningVoters(procedure: Procedure): ProcedurePhase {
  return procedure.etcd ? "etcd-add" : "command";
}

/** After its role command commits: leave the voters, or done (null). */
export function phaseAfterCommand(shift: RoleCommand, conf: ConfState): ProcedurePhase | null {
  return leavesVoters(shift) && isVoterIn(conf, shift.node) ? "leave-voters" : null;
}

/** After the node left the Raft voters: remove its etcd member, or done (null). */
export function phaseAfterLeavingVoters(procedure: Procedure): ProcedurePhase | null {
  return procedure.etcd ? "etcd-remove" : null;
}
