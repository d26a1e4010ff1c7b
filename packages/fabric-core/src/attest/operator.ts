import { operatorSshsigNamespace, type Proposal } from "../vocabulary/index.js";
import { type BlockCommand, type OperatorHead, operatorSignerOf } from "./block.js";

/**
 * Operator signatures (docs/attestation.md, "Operator signatures"): the rules in force, and
 * the one check the chain, the offline verifier and the fabric machine share.
 *
 * The rules come from genesis and then from each strategy block (a strategy swap sets the
 * operator keys and whether they are required for every later block). A signature is bound
 * to the chain head the operator saw (`operator_after` blocks, that head's hash): it counts
 * only for a block within `operatorWindowBlocks` of that head and only once, so it cannot be
 * replayed on another chain, later on this one, or twice.
 */
export interface OperatorRules {
  readonly operators: readonly string[];
  readonly require: boolean;
}

/** A signature counts only for a block at most this many blocks past the head it names. */
export const operatorWindowBlocks = 256;

export type OperatorProblem =
  | "operator-signature-missing"
  | "operator-signature-invalid"
  | "operator-signature-stale"
  | "operator-signature-replayed";

export type OperatorCheck =
  | { readonly ok: true; readonly signer: string | null }
  | { readonly ok: false; readonly problem: OperatorProblem; readonly message: string };

export interface OperatorClaim {
  readonly command: BlockCommand;
  readonly origin: Proposal["origin"];
  readonly signature?: string | undefined;
  readonly after?: number | undefined;
}

export interface ChainView {
  /** Blocks in the chain before the block being checked (its sequence). */
  readonly size: number;
  /** The head hash after `sequence` blocks (genesis hash for 0); undefined when not known. */
  hashAt(sequence: number): string | undefined;
  /** True when a block at or after `sequence` already carries `signature`. */
  usedSince(signature: string, sequence: number): boolean;
}

/**
 * Checks an operator claim against the rules and the chain: a signature present is always
 * verified (a bad one is never recorded as good); a missing one is a problem only when the
 * rules require it for an operator command.
 */
export function checkOperatorClaim(
  claim: OperatorClaim,
  rules: OperatorRules,
  chain: ChainView,
): OperatorCheck {
  if (claim.signature === undefined) {
    if (claim.origin === "operator" && rules.require) {
      return {
        ok: false,
        problem: "operator-signature-missing",
        message: `require_operator_signature is on: an operator ${claim.command.type} must be signed by an operator key (--sign-with KEYFILE)`,
      };
    }
    return { ok: true, signer: null };
  }
  const after = claim.after;
  if (after === undefined || after > chain.size) {
    return {
      ok: false,
      problem: "operator-signature-invalid",
      message: `the operator signature names chain position ${after ?? "none"}, beyond the chain's ${chain.size} blocks`,
    };
  }
  if (chain.size - after > operatorWindowBlocks) {
    return {
      ok: false,
      problem: "operator-signature-stale",
      message: `the operator signature was made ${chain.size - after} blocks ago (at most ${operatorWindowBlocks}); sign against the current head`,
    };
  }
  const hash = chain.hashAt(after);
  const head: OperatorHead | undefined = hash === undefined ? undefined : { sequence: after, hash };
  const signer =
    head === undefined ? null : operatorSignerOf(claim.command, head, claim.signature, rules.operators);
  if (signer === null) {
    return {
      ok: false,
      problem: "operator-signature-invalid",
      message:
        rules.operators.length === 0
          ? "the committed strategy names no operator keys, so no operator signature can verify"
          : `no operator key of the committed strategy signed this ${claim.command.type} against chain position ${after} (a detached SSH signature counts only over the exact message, made with ssh-keygen -Y sign -n ${operatorSshsigNamespace})`,
    };
  }
  if (chain.usedSince(claim.signature, after)) {
    return {
      ok: false,
      problem: "operator-signature-replayed",
      message: `this operator signature was already used by a block since chain position ${after}: a signature counts once`,
    };
  }
  return { ok: true, signer };
}
