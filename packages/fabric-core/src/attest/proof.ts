import { z } from "zod";
import { assert } from "../vocabulary/index.js";
import { BlockRecord, blockBodyLine, blockHashOf, fromHex, hex } from "./block.js";
import { parseCheckpointText } from "./checkpoint.js";
import type { ChainExport } from "./export.js";
import { MerkleTree, merkleLeafHash, verifyConsistency, verifyInclusion } from "./merkle.js";
import {
  noteSignatureType,
  parseSignedNote,
  type SignedNote,
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
  return checkNoteTrust(note.note, trustedKeys, cosignaturesMin);
}

type TrustCheck =
  | { readonly ok: true; readonly signers: readonly string[]; readonly cosigners: readonly string[] }
  | {
      readonly ok: false;
      readonly reason: "checkpoint-untrusted" | "cosignatures-insufficient";
      readonly message: string;
    };

/**
 * With no trusted keys, nothing is claimed about signatures. Otherwise a trusted key must
 * have signed the note (type 0x01) and `cosignaturesMin` other trusted keys cosigned it.
 */
function checkNoteTrust(
  note: SignedNote,
  trustedKeys: readonly string[],
  cosignaturesMin: number,
): TrustCheck {
  if (trustedKeys.length === 0) return { ok: true, signers: [], cosigners: [] };
  const trusted = new Set(trustedKeys);
  const signers: string[] = [];
  const cosigners: string[] = [];
  for (const signature of note.signatures) {
    if (!trusted.has(signature.name)) continue;
    const type = signatureTypeOf(signature);
    if (
      type === noteSignatureType.ed25519 &&
      verifyNoteSignature(note.text, signature, signature.name, signature.name)
    ) {
      signers.push(signature.name);
    }
    if (
      type === noteSignatureType.cosignatureV1 &&
      verifyCosignature(note.text, signature, signature.name, signature.name) !== undefined
    ) {
      cosigners.push(signature.name);
    }
  }
  if (signers.length === 0) {
    return { ok: false, reason: "checkpoint-untrusted", message: "no trusted key signed the checkpoint" };
  }
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

/**
 * A consistency proof between two checkpoints of the same log: both notes and the RFC 9162
 * proof that the older tree is a prefix of the newer one. `chain prove-consistency` prints it.
 */
export const ConsistencyBundleSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal("revoada-consistency-proof"),
  old_checkpoint: z
    .string()
    .min(1)
    .max(64 * 1024),
  new_checkpoint: z
    .string()
    .min(1)
    .max(64 * 1024),
  proof: z.array(base64Hash).max(128),
});
export type ConsistencyBundle = z.infer<typeof ConsistencyBundleSchema>;

/** The proof between the export's checkpoints of sizes `oldSize` and `newSize`. */
export function makeConsistencyBundle(
  chain: ChainExport,
  oldSize: number,
  newSize: number,
): ConsistencyBundle | undefined {
  const bySize = new Map<number, string>();
  for (const checkpoint of chain.checkpoints) {
    const parsed = parseSignedNote(checkpoint.note);
    const size = parsed.ok ? parseCheckpointText(parsed.note.text)?.size : undefined;
    if (size !== undefined && !bySize.has(size)) bySize.set(size, checkpoint.note);
  }
  const oldNote = bySize.get(oldSize);
  const newNote = bySize.get(newSize);
  if (oldNote === undefined || newNote === undefined || oldSize > newSize || newSize > chain.blocks.length) {
    return undefined;
  }
  const tree = new MerkleTree();
  for (const record of chain.blocks.slice(0, newSize)) tree.append(fromHex(record.hash));
  const proof = tree.consistencyProof(oldSize, newSize).map((hash) => Buffer.from(hash).toString("base64"));
  return { v: 1, kind: "revoada-consistency-proof", old_checkpoint: oldNote, new_checkpoint: newNote, proof };
}

export type ConsistencyCheck =
  | TrustCheck
  | {
      readonly ok: false;
      readonly reason: "checkpoint-malformed" | "origin-mismatch" | "consistency-invalid";
      readonly message: string;
    };

/** Checks both notes, that they name the same log, the proof, and trust as for inclusion. */
export function verifyConsistencyBundle(
  bundle: ConsistencyBundle,
  trustedKeys: readonly string[],
  cosignaturesMin: number,
): ConsistencyCheck {
  const oldNote = parseSignedNote(bundle.old_checkpoint);
  const newNote = parseSignedNote(bundle.new_checkpoint);
  const older = oldNote.ok ? parseCheckpointText(oldNote.note.text) : undefined;
  const newer = newNote.ok ? parseCheckpointText(newNote.note.text) : undefined;
  if (!oldNote.ok || !newNote.ok || older === undefined || newer === undefined) {
    return { ok: false, reason: "checkpoint-malformed", message: "a checkpoint does not parse" };
  }
  if (older.origin !== newer.origin)
    return { ok: false, reason: "origin-mismatch", message: `${older.origin} vs ${newer.origin}` };
  const proof = bundle.proof.map((hashText) => new Uint8Array(Buffer.from(hashText, "base64")));
  if (!verifyConsistency(older.size, newer.size, older.root, newer.root, proof)) {
    return {
      ok: false,
      reason: "consistency-invalid",
      message: `size ${older.size} is not a prefix of size ${newer.size}`,
    };
  }
  const oldTrust = checkNoteTrust(oldNote.note, trustedKeys, cosignaturesMin);
  if (!oldTrust.ok) return oldTrust;
  return checkNoteTrust(newNote.note, trustedKeys, cosignaturesMin);
}
