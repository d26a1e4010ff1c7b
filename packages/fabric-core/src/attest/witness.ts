import { assert, type Signer } from "../vocabulary/index.js";
import { type Checkpoint, parseCheckpointText } from "./checkpoint.js";
import { verifyConsistency } from "./merkle.js";
import {
  cosignNote,
  type NoteSignature,
  noteSignatureType,
  parseSignedNote,
  signatureTypeOf,
  verifyNoteSignature,
} from "./note.js";

/**
 * A witness: a control-plane member that cosigns checkpoints (c2sp.org/tlog-witness shape).
 * It remembers the largest checkpoint it cosigned and cosigns a new one only when a
 * consistency proof shows the old tree is a prefix of the new one, so a leader cannot show
 * two different histories to different witnesses (split-view defence). The driver must
 * persist `state` (fsync) before it sends the returned cosignature.
 */
export interface WitnessState {
  readonly origin: string;
  readonly size: number;
  /** Base64 root hash, as in the checkpoint text. */
  readonly root: string;
}

export interface CosignRequest {
  /** The leader-signed checkpoint note. */
  readonly note: string;
  /** The tree size the leader believes this witness last cosigned (0 for none). */
  readonly oldSize: number;
  /** RFC 9162 consistency proof from `oldSize` to the checkpoint's size. */
  readonly proof: readonly Uint8Array[];
}

/** Refusals mirror tlog-witness: `conflict` is HTTP 409 (wrong old size), `bad-proof` 422. */
export type CosignRefusal = "malformed" | "wrong-origin" | "unsigned" | "conflict" | "bad-proof" | "fork";

export type CosignOutcome =
  | { readonly ok: true; readonly cosignature: NoteSignature; readonly state: WitnessState }
  | { readonly ok: false; readonly refusal: CosignRefusal; readonly message: string; readonly size: number };

export class Witness {
  private current: WitnessState | null;

  constructor(
    private readonly signer: Signer,
    private readonly origin: string,
    stored: WitnessState | null,
  ) {
    assert(stored === null || stored.origin === origin, "witness state belongs to this log");
    this.current = stored;
  }

  get state(): WitnessState | null {
    return this.current;
  }

  get nodeId(): string {
    return this.signer.nodeId;
  }

  /**
   * Cosigns when the note is signed by one of `signers` (the control-plane members the
   * witness's own chain names) and is consistent with everything cosigned before.
   */
  cosign(request: CosignRequest, signers: ReadonlySet<string>, nowMs: number): CosignOutcome {
    const size = this.current?.size ?? 0;
    const parsed = parseSignedNote(request.note);
    if (!parsed.ok) return refuse("malformed", parsed.reason, size);
    const checkpoint = parseCheckpointText(parsed.note.text);
    if (checkpoint === undefined) return refuse("malformed", "not a checkpoint", size);
    if (checkpoint.origin !== this.origin) return refuse("wrong-origin", checkpoint.origin, size);
    const signed = parsed.note.signatures.some(
      (signature) =>
        signers.has(signature.name) &&
        signatureTypeOf(signature) === noteSignatureType.ed25519 &&
        verifyNoteSignature(parsed.note.text, signature, signature.name, signature.name),
    );
    if (!signed) return refuse("unsigned", "no valid signature by a control-plane member", size);
    const consistency = this.checkConsistency(checkpoint, request);
    if (consistency !== undefined) return consistency;
    const cosignature = cosignNote(parsed.note.text, this.signer, Math.floor(nowMs / 1000));
    const state = {
      origin: this.origin,
      size: checkpoint.size,
      root: Buffer.from(checkpoint.root).toString("base64"),
    };
    this.current = state;
    assert(this.current.size >= size, "a witness never moves backwards");
    return { ok: true, cosignature, state };
  }

  private checkConsistency(checkpoint: Checkpoint, request: CosignRequest): CosignOutcome | undefined {
    const stored = this.current;
    if (stored === null) return undefined;
    if (request.oldSize !== stored.size) {
      return refuse(
        "conflict",
        `witness last cosigned size ${stored.size}, not ${request.oldSize}`,
        stored.size,
      );
    }
    const oldRoot = Buffer.from(stored.root, "base64");
    if (checkpoint.size < stored.size) {
      return refuse(
        "conflict",
        `checkpoint size ${checkpoint.size} is older than ${stored.size}`,
        stored.size,
      );
    }
    if (checkpoint.size === stored.size && !oldRoot.equals(checkpoint.root)) {
      return refuse("fork", `a different root for size ${stored.size} was already cosigned`, stored.size);
    }
    if (!verifyConsistency(stored.size, checkpoint.size, oldRoot, checkpoint.root, request.proof)) {
      return refuse(
        "bad-proof",
        `no consistency from size ${stored.size} to ${checkpoint.size}`,
        stored.size,
      );
    }
    return undefined;
  }
}

function refuse(refusal: CosignRefusal, message: string, size: number): CosignOutcome {
  return { ok: false, refusal, message, size };
}
