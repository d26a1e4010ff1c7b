import { assert, assertUint, type Signer } from "../vocabulary/index.js";
import {
  formatSignedNote,
  type NoteSignature,
  noteSignatureType,
  type SignedNote,
  signatureTypeOf,
  signNote,
  verifyCosignature,
  verifyNoteSignature,
} from "./note.js";

/**
 * Checkpoints: the C2SP tlog-checkpoint text over the Merkle tree of block hashes, signed by
 * the leader (Ed25519 note signature) and cosigned by witnesses (cosignature/v1).
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** SHA-256 RFC 9162 root of the first `size` block hashes. */
  readonly root: Uint8Array;
}

export function checkpointText(checkpoint: Checkpoint): string {
  assertUint(checkpoint.size, "checkpoint size");
  assert(checkpoint.root.length === 32, "a root hash is 32 bytes");
  const root = Buffer.from(checkpoint.root).toString("base64");
  return `${checkpoint.origin}\n${checkpoint.size}\n${root}\n`;
}

/**
 * The tree size a checkpoint note (or its text) names on its second line, without checking
 * anything else; null when that line is not a size.
 */
export function checkpointNoteSize(note: string): number | null {
  const size = Number(note.split("\n")[1]);
  return Number.isSafeInteger(size) && size >= 0 ? size : null;
}

/** Parses the checkpoint text (exactly three lines: revoada writes no extension lines). */
export function parseCheckpointText(text: string): Checkpoint | undefined {
  const lines = text.split("\n");
  if (lines.length !== 4 || lines[3] !== "") return undefined;
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0 || !/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) return undefined;
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return undefined;
  const root = Buffer.from(rootText, "base64");
  if (root.length !== 32 || root.toString("base64") !== rootText) return undefined;
  return { origin, size, root: new Uint8Array(root) };
}

/** The leader's signed checkpoint note (no cosignatures yet). */
export function signCheckpoint(checkpoint: Checkpoint, signer: Signer): SignedNote {
  const text = checkpointText(checkpoint);
  return { text, signatures: [signNote(text, signer)] };
}

/** Adds cosignatures, keeping one line per key name (first wins) and the leader's line first. */
export function withCosignatures(note: SignedNote, cosignatures: readonly NoteSignature[]): SignedNote {
  const names = new Set(note.signatures.map((signature) => `${signature.name}/${signature.keyId}`));
  const added = cosignatures.filter((signature) => !names.has(`${signature.name}/${signature.keyId}`));
  return { text: note.text, signatures: [...note.signatures, ...added] };
}

export function formatCheckpointNote(note: SignedNote): string {
  return formatSignedNote(note);
}

/** The default witness quorum: a Raft majority of the control plane, minus the signing leader. */
export function defaultCosignaturesMin(controlPlaneCount: number): number {
  assertUint(controlPlaneCount, "control-plane count");
  return Math.floor(controlPlaneCount / 2);
}

export type CheckpointProblem =
  | "checkpoint-signer-not-member"
  | "checkpoint-signature-missing"
  | "checkpoint-signature-invalid"
  | "cosignature-invalid"
  | "cosignatures-insufficient";

export type CheckpointCheck =
  | {
      readonly ok: true;
      readonly signer: string;
      readonly cosigners: readonly string[];
    }
  | { readonly ok: false; readonly problem: CheckpointProblem; readonly message: string };

/**
 * Checks a checkpoint's signatures against the control-plane members at its tree size:
 * one valid leader signature by a member, and at least `cosignaturesMin` valid
 * cosignatures by other members. Lines by other keys are ignored, as the note spec says,
 * but a known key's bad signature rejects the note.
 */
export function checkCheckpointSignatures(
  note: SignedNote,
  members: ReadonlySet<string>,
  cosignaturesMin: number,
): CheckpointCheck {
  let signer: string | undefined;
  let nonMemberSigner: string | undefined;
  const cosigners = new Set<string>();
  for (const signature of note.signatures) {
    const type = signatureTypeOf(signature);
    if (type === undefined) continue;
    if (!members.has(signature.name)) {
      if (type === noteSignatureType.ed25519) nonMemberSigner ??= signature.name;
      continue;
    }
    if (type === noteSignatureType.ed25519) {
      if (!verifyNoteSignature(note.text, signature, signature.name, signature.name)) {
        return {
          ok: false,
          problem: "checkpoint-signature-invalid",
          message: `bad signature by ${signature.name}`,
        };
      }
      signer ??= signature.name;
    } else {
      if (verifyCosignature(note.text, signature, signature.name, signature.name) === undefined) {
        return { ok: false, problem: "cosignature-invalid", message: `bad cosignature by ${signature.name}` };
      }
      cosigners.add(signature.name);
    }
  }
  if (signer === undefined) {
    if (nonMemberSigner !== undefined) {
      return {
        ok: false,
        problem: "checkpoint-signer-not-member",
        message: `checkpoint signed by ${nonMemberSigner}, not a control-plane member at this size`,
      };
    }
    return {
      ok: false,
      problem: "checkpoint-signature-missing",
      message: "no signature by a control-plane member",
    };
  }
  cosigners.delete(signer);
  if (cosigners.size < cosignaturesMin) {
    return {
      ok: false,
      problem: "cosignatures-insufficient",
      message: `${cosigners.size} cosignature(s) by other members, ${cosignaturesMin} required`,
    };
  }
  return { ok: true, signer, cosigners: [...cosigners].sort() };
}
