import type { BlockRecord, GenesisRecord } from "./block.js";
import { AttestChain } from "./chain.js";

/** A chain as a machine holds it: its genesis and its blocks in sequence. */
export interface ChainBlocks {
  readonly genesis: GenesisRecord;
  readonly blocks: readonly BlockRecord[];
}

export type ChainExtension =
  /** `chain` is `trusted` plus the verified new blocks: its role table is who they hand over to. */
  | { readonly ok: true; readonly chain: AttestChain; readonly added: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Whether `candidate` (a chain someone else holds) is `trusted` (the chain this node verified
 * or derived itself) followed by blocks that each verify against the role table before them
 * (`AttestChain.extend`: hash, link, term and index, a control-plane member's signature,
 * operator rules). That walk is the chain of trust from the members `trusted` names to the
 * members the candidate names: every shift of the control plane since was signed by a member
 * of the table before it (docs/scale.md, "Trust across voter replacements").
 *
 * The trusted blocks are re-linked without their signatures being checked again (this node
 * holds them already); only the candidate's new blocks are verified, one signature each.
 */
export function verifyChainExtension(trusted: ChainBlocks, candidate: ChainBlocks): ChainExtension {
  if (candidate.genesis.hash !== trusted.genesis.hash)
    return { ok: false, reason: `the chain has another genesis (${candidate.genesis.hash.slice(0, 16)})` };
  const known = trusted.blocks.length;
  if (candidate.blocks.length < known)
    return { ok: false, reason: `the chain holds ${candidate.blocks.length} blocks, this node ${known}` };
  for (let sequence = 0; sequence < known; sequence += 1) {
    if (candidate.blocks[sequence]!.hash !== trusted.blocks[sequence]!.hash)
      return { ok: false, reason: `the chain forks from this node's at block ${sequence}` };
  }
  const chain = new AttestChain(trusted.genesis);
  for (const block of trusted.blocks) chain.append(block);
  for (const block of candidate.blocks.slice(known)) {
    const problem = chain.extend(block);
    if (problem !== null) return { ok: false, reason: `block ${block.body.sequence}: ${problem}` };
  }
  return { ok: true, chain, added: candidate.blocks.length - known };
}
