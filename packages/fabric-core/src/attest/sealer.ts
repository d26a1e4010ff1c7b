import { assert, assertUint, type Signer } from "../vocabulary/index.js";
import { signCheckpoint, withCosignatures } from "./checkpoint.js";
import type { MerkleTree } from "./merkle.js";
import {
  type NoteSignature,
  noteSignatureType,
  type SignedNote,
  signatureTypeOf,
  verifyCosignature,
} from "./note.js";

/**
 * The leader's side of sealing, tick-driven and pure: it decides when to cut a checkpoint
 * (once `blocksPerCheckpointMax` blocks wait, or once the oldest unsealed block has waited a
 * quarter of `sealIntervalMs`), collects witness cosignatures, and reports a checkpoint as
 * sealed when `cosignaturesMin` members other than the leader cosigned it. A block is sealed
 * when a sealed checkpoint covers it; `overdueMs` says when sealing waits past the interval.
 */
export interface SealerConfig {
  readonly origin: string;
  readonly cosignaturesMin: number;
  readonly sealIntervalMs: number;
  readonly blocksPerCheckpointMax: number;
}

interface OpenCheckpoint {
  readonly note: SignedNote;
  readonly size: number;
  readonly cosignatures: Map<string, NoteSignature>;
}

export class Sealer {
  private readonly open = new Map<number, OpenCheckpoint>();
  private checkpointedSize: number;
  private sealed: number;
  /** When the oldest block above `sealed` was first seen; null when all are sealed. */
  private unsealedSinceMs: number | null = null;
  private uncutSinceMs: number | null = null;

  constructor(
    private readonly config: SealerConfig,
    private readonly signer: Signer,
    sealedSize = 0,
  ) {
    assert(config.blocksPerCheckpointMax >= 1, "a checkpoint covers at least one new block");
    assert(config.sealIntervalMs >= 1, "the seal interval is positive");
    this.checkpointedSize = sealedSize;
    this.sealed = sealedSize;
  }

  get sealedSize(): number {
    return this.sealed;
  }

  /** A new checkpoint note for witnesses when one is due, else null. */
  maybeCheckpoint(tree: MerkleTree, nowMs: number): SignedNote | null {
    assertUint(nowMs, "now");
    const size = tree.size;
    if (size > this.sealed) this.unsealedSinceMs ??= nowMs;
    if (size > this.checkpointedSize) this.uncutSinceMs ??= nowMs;
    if (size <= this.checkpointedSize) return this.maybeRecut(tree, nowMs);
    const waitedMs = nowMs - (this.uncutSinceMs ?? nowMs);
    const full = size - this.checkpointedSize >= this.config.blocksPerCheckpointMax;
    if (!full && waitedMs < Math.max(1, Math.floor(this.config.sealIntervalMs / 4))) return null;
    return this.cut(tree, nowMs);
  }

  /** Records a witness's cosignature; returns the sealed note when this one completes the quorum. */
  addCosignature(size: number, cosignature: NoteSignature, members: ReadonlySet<string>): SignedNote | null {
    const open = this.open.get(size);
    if (open === undefined) return null;
    if (cosignature.name === this.signer.nodeId || !members.has(cosignature.name)) return null;
    if (signatureTypeOf(cosignature) !== noteSignatureType.cosignatureV1) return null;
    if (verifyCosignature(open.note.text, cosignature, cosignature.name, cosignature.name) === undefined)
      return null;
    open.cosignatures.set(cosignature.name, cosignature);
    if (open.cosignatures.size < this.config.cosignaturesMin) return null;
    const sealedNote = withCosignatures(open.note, [...open.cosignatures.values()]);
    this.markSealed(size);
    return sealedNote;
  }

  /** How long the oldest unsealed block has waited beyond the seal interval (0 when on time). */
  overdueMs(nowMs: number): number {
    if (this.unsealedSinceMs === null) return 0;
    return Math.max(0, nowMs - this.unsealedSinceMs - this.config.sealIntervalMs);
  }

  /** A checkpoint that gathered no quorum in half the interval is cut again at the current size. */
  private maybeRecut(tree: MerkleTree, nowMs: number): SignedNote | null {
    if (this.sealed >= tree.size || this.uncutSinceMs === null) return null;
    if (nowMs - this.uncutSinceMs < Math.max(1, Math.floor(this.config.sealIntervalMs / 2))) return null;
    return this.cut(tree, nowMs);
  }

  private cut(tree: MerkleTree, nowMs: number): SignedNote {
    const size = tree.size;
    const note = signCheckpoint({ origin: this.config.origin, size, root: tree.rootAt(size) }, this.signer);
    this.open.set(size, { note, size, cosignatures: new Map() });
    this.checkpointedSize = size;
    this.uncutSinceMs = nowMs;
    if (this.config.cosignaturesMin === 0) this.markSealed(size);
    return note;
  }

  private markSealed(size: number): void {
    assert(size >= this.sealed || this.sealed === 0, "sealing moves forward");
    this.sealed = Math.max(this.sealed, size);
    for (const openSize of [...this.open.keys()]) if (openSize <= this.sealed) this.open.delete(openSize);
    if (this.sealed >= this.checkpointedSize) {
      this.unsealedSinceMs = null;
      this.uncutSinceMs = null;
    }
  }
}
