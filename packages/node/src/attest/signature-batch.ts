import { verifySignature } from "@revoada/fabric-core/vocabulary/signing";

/**
 * The work of `verifyChainParallel`'s threads, in a module of its own so that a signature
 * thread loads only this and node:crypto (through fabric-core's signing module alone), not
 * the chain walk and its schemas: a worker that imported `parallel-verify.ts` spent 0.45 s of
 * CPU starting from the build and 1.2-1.5 s from source (tsx), beside a ~6 s verification.
 */

/** One batch of block signatures, in buffers moved (not copied) to a worker. */
export interface SignatureBatch {
  readonly id: number;
  readonly count: number;
  /** The signed messages (`blockSigningMessage(bodyLine)`), back to back. */
  readonly messages: ArrayBuffer;
  /** count + 1 offsets into `messages` (Uint32). */
  readonly offsets: ArrayBuffer;
  /** count × 64 signature bytes. */
  readonly signatures: ArrayBuffer;
  /** count indexes into `keys` (Uint16). */
  readonly keyIndex: ArrayBuffer;
  /** The proposers' node ids (hex public keys) this batch uses. */
  readonly keys: readonly string[];
}

export interface SignatureBatchResult {
  readonly id: number;
  readonly count: number;
  /** Positions in the batch whose signature does not verify. */
  readonly bad: readonly number[];
}

/** Checks every signature of a batch (on whichever thread calls it). */
export function checkSignatureBatch(batch: SignatureBatch): SignatureBatchResult {
  const bad: number[] = [];
  const messages = new Uint8Array(batch.messages);
  const signatures = new Uint8Array(batch.signatures);
  const offsets = new Uint32Array(batch.offsets);
  const keyIndex = new Uint16Array(batch.keyIndex);
  for (let i = 0; i < batch.count; i += 1) {
    const message = messages.subarray(offsets[i]!, offsets[i + 1]!);
    const signature = signatures.subarray(64 * i, 64 * i + 64);
    if (!verifySignature(batch.keys[keyIndex[i]!]!, message, signature)) bad.push(i);
  }
  return { id: batch.id, count: batch.count, bad };
}
