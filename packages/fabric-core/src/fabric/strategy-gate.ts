import { z } from "zod";
import { type AttestChain, type BlockCommand, strategyRecordOf } from "../attest/index.js";
import {
  FabricStrategy,
  isRoleCommand,
  type Proposal,
  proveLiveness,
  type RoleCommand,
} from "../vocabulary/index.js";
import type { Procedure } from "./procedure.js";

/**
 * What every node checks before it applies an entry that changes the strategy or carries an
 * operator's authority (docs/fabric-machine.md, "The committed strategy" and "Operator
 * signatures"). Deterministic: it reads the proposal, the committed strategy, the chain and
 * the open procedures only, so every node refuses the same entries; a refused entry changes
 * nothing (no state, no block, no history).
 */
export const CommittedStrategy = z.strictObject({
  strategy: FabricStrategy,
  /** The log entry that committed it. */
  index: z.int().min(1),
  term: z.int().min(0),
});
export type CommittedStrategy = z.infer<typeof CommittedStrategy>;

export interface GateContext {
  readonly chain: AttestChain | null;
  readonly committed: CommittedStrategy | null;
  readonly procedures: readonly Procedure[];
}

/** Why every node refuses this proposal, or null when it may apply. */
export function refusalOf(proposal: Proposal, context: GateContext): string | null {
  const command = proposal.command;
  if (command.type === "strategy") return strategyRefusal(proposal, command.strategy, context);
  let shift: RoleCommand | null = null;
  if (isRoleCommand(command)) shift = command as RoleCommand;
  else if (command.type === "shift-procedure" && command.step === "begin") shift = command.shift;
  if (shift === null) return null;
  if (proposal.origin !== "operator" && proposal.operator_signature === undefined) return null;
  const signature = proposal.operator_signature;
  if (command.type === "shift-procedure" && signature !== undefined) {
    if (context.procedures.some((procedure) => procedure.operator?.signature === signature)) {
      return "operator-signature-replayed: an open shift already carries this operator signature";
    }
  }
  return operatorRefusal(proposal, shift, context);
}

function strategyRefusal(proposal: Proposal, strategy: FabricStrategy, context: GateContext): string | null {
  if (proposal.origin === "policy" && context.committed !== null) {
    return "a strategy is committed already: a swap is an operator's (revoada strategy apply), not the leader's";
  }
  const proof = proveLiveness(strategy);
  if (!proof.live) {
    const reasons = proof.errors.map((error) => `${error.path.join(".")}: ${error.code}: ${error.message}`);
    return `strategy ${strategy.name} is not live: ${reasons.join("; ")}`;
  }
  const operators = strategy.attestation.operators ?? [];
  if (strategy.attestation.require_operator_signature && operators.length === 0) {
    return `strategy ${strategy.name} requires operator signatures but names no operator keys (attestation.operators): no operator shift could ever be signed`;
  }
  return operatorRefusal(proposal, strategyRecordOf(strategy), context);
}

function operatorRefusal(proposal: Proposal, command: BlockCommand, context: GateContext): string | null {
  const chain = context.chain;
  if (chain === null) return null;
  const check = chain.checkOperator({
    command,
    origin: proposal.origin,
    signature: proposal.operator_signature,
    after: proposal.operator_after,
  });
  return check.ok ? null : `${check.problem}: ${check.message}`;
}
