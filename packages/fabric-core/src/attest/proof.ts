import { z } from "zod";
import { assert } from "../vocabulary/index.js";
import { BlockRecord, blockBodyLine, blockHashOf, fromHex, hex } from "./block.js";
import { parseCheckpointText } from "./checkpoint.js";
import type { ChainExport } from "./export.js";
import { MerkleTree, merkleLeafHash, verifyInclusion } from "./merkle.js";
import {
  noteSignatureType,
  parseSignedNote,
  signatureTypeOf,
  verifyCosignature,
  verifyNoteSignature,
} from "./note.js";

/**
 * An offline inclusion proof for one block: the block record, the RFC 9162 audit path and
 * the checkpoint note (with its cosignatures) whose root the path leads to. `chain prove`
 * prints it; `chain verify-proof` checks it with nothing else but the trusted keys.
 */
const base64Hash = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, "a hash is 32 bytes of base64")
  .refine((text) => Buffer.from(text, "base64").length === 32);

export const InclusionBundleSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal("revoada-inclusion-proof"),
  block: BlockRecord,
  leaf_index: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  tree_size: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  proof: z.array(base64Hash).max(64),
  checkpoint: z
    .string()
    .min(1)
    .max(64 * 1024),
});
export type InclusionBundle = z.infer<typeof InclusionBundleSchema>;

/** The proof of block `sequence` against the first checkpoint that covers it. */
export function makeInclusionBundle(chain: ChainExport, sequence: number): InclusionBundle | undefined {
  const block = chain.blocks[sequence];
  if (block === undefined) return undefined;
  const covering = chain.checkpoints
    .map((checkpoint) => ({ note: checkpoint.note, parsed: parseSignedNote(checkpoint.note) }))
    .map(({ note, parsed }) => ({
      note,
      size: parsed.ok ? (parseCheckpointText(parsed.note.text)?.size ?? 0) : 0,
    }))
    .filter(({ size }) => size > sequence && size <= chain.blocks.length)
    .sort((a, b) => a.size - b.size)[0];
  if (covering === undefined) return undefined;
  const tree = new MerkleTree();
  for (const record of chain.blocks.slice(0, covering.size)) tree.append(fromHex(record.hash));
  const proof = tree
    .inclusionProof(sequence, covering.size)
    .map((hash) => Buffer.from(hash).toString("base64"));
  assert(proof.length <= 64, "an audit path is at most the tree depth");
  return {
    v: 1,
    kind: "revoada-inclusion-proof",
    block,
    leaf_index: sequence,
    tree_size: covering.size,
    proof,
    checkpoint: covering.note,
  };
}

export type BundleCheck =
  | {
      readonly ok: true;
      readonly signers: readonly string[];
      readonly cosigners: readonly string[];
    }
  | {
      readonly ok: false;
      readonly reason:
        | "block-hash-mismatch"
        | "leaf-index-mismatch"
        | "checkpoint-malformed"
        | "tree-size-mismatch"
        | "inclusion-invalid"
        | "checkpoint-untrusted"
        | "cosignatures-insufficient";
      readonly message: string;
    };

/**
 * Checks the block's hash, the audit path against the checkpoint root, and (when
 * `trustedKeys` is non-empty) that a trusted key signed the checkpoint and at least
 * `cosignaturesMin` other trusted keys cosigned it.
 */
export function verifyInclusionBundle(
  bundle: InclusionBundle,
  trustedKeys: readonly string[],
  cosignaturesMin: number,
): BundleCheck {
  const hash = hex(blockHashOf(blockBodyLine(bundle.block.body), bundle.block.signature));
  if (hash !== bundle.block.hash)
    return { ok: false, reason: "block-hash-mismatch", message: `computed ${hash}` };
  if (bundle.block.body.sequence !== bundle.leaf_index) {
    return { ok: false, reason: "leaf-index-mismatch", message: `block ${bundle.block.body.sequence}` };
  }
  const note = parseSignedNote(bundle.checkpoint);
  const checkpoint = note.ok ? parseCheckpointText(note.note.text) : undefined;
  if (!note.ok || checkpoint === undefined)
    return { ok: false, reason: "checkpoint-malformed", message: "bad note" };
  if (checkpoint.size !== bundle.tree_size) {
    return { ok: false, reason: "tree-size-mismatch", message: `checkpoint size ${checkpoint.size}` };
  }
  const proof = bundle.proof.map((hashText) => new Uint8Array(Buffer.from(hashText, "base64")));
  const leaf = merkleLeafHash(fromHex(bundle.block.hash));
  if (!verifyInclusion(bundle.leaf_index, bundle.tree_size, leaf, proof, checkpoint.root)) {
    return {
      ok: false,
      reason: "inclusion-invalid",
      message: "the audit path does not lead to the checkpoint root",
    };
  }
  if (trustedKeys.length === 0) return { ok: true, signers: [], cosigners: [] };
  const trusted = new Set(trustedKeys);
  const signers: string[] = [];
  const cosigners: string[] = [];
  for (const signature of note.note.signatures) {
    if (!trusted.has(signature.name)) continue;
    const type = signatureTypeOf(signature);
    if (
      type === noteSignatureType.ed25519 &&
      verifyNoteSignature(note.note.text, signature, signature.name, signature.name)
    ) {
      signers.push(signature.name);
    }
    if (
      type === noteSignatureType.cosignatureV1 &&
      verifyCosignature(note.note.text, signature, signature.name, signature.name) !== undefined
    ) {
      cosigners.push(signature.name);
    }
  }
  if (signers.length === 0)
    return { ok: false, reason: "checkpoint-untrusted", message: "no trusted key signed the checkpoint" };
  const others = cosigners.filter((cosigner) => !signers.includes(cosigner));
  if (others.length < cosignaturesMin) {
    return {
      ok: false,
      reason: "cosignatures-insufficient",
      message: `${others.length} of ${cosignaturesMin} cosignatures`,
    };
  }
  return { ok: true, signers, cosigners: others };
}
