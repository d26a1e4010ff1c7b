import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import {
  type BadSignature,
  blockSigningMessage,
  ChainWalk,
  type DeferredSignature,
  type VerifyOptions,
  type VerifyReport,
} from "@revoada/fabric-core/attest";
import { startModuleWorker } from "../worker-start.js";
import { checkSignatureBatch, type SignatureBatch, type SignatureBatchResult } from "./signature-batch.js";

/**
 * `verifyChain` with the block signatures checked on worker threads (docs/attestation.md,
 * "Verifying"; issue 14). The main thread walks the export as `verifyChain` does (decoding,
 * hashes, links, roles, checkpoints with their signatures, operator signatures) and hands
 * every block signature it would check to a pool of threads, in batches packed into
 * transferable buffers; when every thread has enough queued, it checks the next batch itself.
 * The report is the one `verifyChain` gives for the same text and options: the walk does not
 * depend on block signatures, so the first bad one is a failure exactly when no earlier line
 * failed (`ChainWalk.report`).
 */
export interface ParallelVerifyOptions extends VerifyOptions {
  /**
   * Threads checking signatures, the main thread included: 1 checks everything on the main
   * thread (no worker). Default: the machine's available parallelism.
   */
  readonly threads?: number;
  /** Called at most every `progressIntervalMs` (and once at the end) while the work runs. */
  readonly onProgress?: (progress: VerifyProgress) => void;
  readonly progressIntervalMs?: number;
}

export type { SignatureBatch, SignatureBatchResult } from "./signature-batch.js";

export interface VerifyProgress {
  /** Lines of the export walked, and in all. */
  readonly lines: number;
  readonly linesTotal: number;
  readonly blocks: number;
  /** Block signatures handed out, and checked so far. */
  readonly signaturesQueued: number;
  readonly signaturesChecked: number;
}

/**
 * Signatures per batch: ~25 ms of Ed25519 here, so that the main thread, which checks a batch
 * of its own between two turns of its event loop, answers a worker's reply before the worker
 * has run out of queued work.
 */
const batchSize = 256;
/** Batches queued on one worker while the walk goes on (one more in flight than it checks). */
const queuedPerWorker = 3;
/**
 * Batches walked and not yet handed out before the main thread stops walking to check one
 * itself: the walk is several times faster than the checks, so it stays this far ahead.
 */
const pendingAhead = 4;
/** Below this many bytes of export the workers start only when a batch is ready for them. */
const eagerStartBytes = 1 << 20;
const signingDomain = Buffer.from(blockSigningMessage(""));

/** What the main thread keeps of a batch it handed out, to name a bad signature. */
interface BatchOrigin {
  readonly lines: Int32Array;
  readonly sequences: Float64Array;
  readonly proposers: string[];
}

class BatchBuilder {
  private messages = Buffer.allocUnsafeSlow(batchSize * 1024);
  private offsets = new Uint32Array(batchSize + 1);
  private signatures = Buffer.allocUnsafeSlow(batchSize * 64);
  private keyIndex = new Uint16Array(batchSize);
  private keys: string[] = [];
  private keyOf = new Map<string, number>();
  private origin: BatchOrigin = newOrigin();
  count = 0;
  private bytes = 0;

  add(job: DeferredSignature): void {
    const room = signingDomain.length + 3 * job.bodyLine.length;
    if (this.bytes + room > this.messages.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.messages.length, this.bytes + room));
      this.messages.copy(grown, 0, 0, this.bytes);
      this.messages = grown;
    }
    const i = this.count;
    this.offsets[i] = this.bytes;
    this.bytes += signingDomain.copy(this.messages, this.bytes);
    this.bytes += this.messages.write(job.bodyLine, this.bytes, "utf8");
    this.signatures.write(job.signature, 64 * i, 64, "hex");
    let key = this.keyOf.get(job.proposer);
    if (key === undefined) {
      key = this.keys.length;
      this.keys.push(job.proposer);
      this.keyOf.set(job.proposer, key);
    }
    this.keyIndex[i] = key;
    this.origin.lines[i] = job.line;
    this.origin.sequences[i] = job.sequence;
    this.origin.proposers.push(job.proposer);
    this.count += 1;
  }

  take(id: number): { batch: SignatureBatch; origin: BatchOrigin } {
    this.offsets[this.count] = this.bytes;
    const batch: SignatureBatch = {
      id,
      count: this.count,
      messages: this.messages.buffer.slice(0, this.bytes) as ArrayBuffer,
      offsets: this.offsets.buffer as ArrayBuffer,
      signatures: this.signatures.buffer as ArrayBuffer,
      keyIndex: this.keyIndex.buffer as ArrayBuffer,
      keys: this.keys,
    };
    const origin = this.origin;
    this.offsets = new Uint32Array(batchSize + 1);
    this.signatures = Buffer.allocUnsafeSlow(batchSize * 64);
    this.keyIndex = new Uint16Array(batchSize);
    this.keys = [];
    this.keyOf = new Map();
    this.origin = newOrigin();
    this.count = 0;
    this.bytes = 0;
    return { batch, origin };
  }
}

function newOrigin(): BatchOrigin {
  return { lines: new Int32Array(batchSize), sequences: new Float64Array(batchSize), proposers: [] };
}

interface PoolWorker {
  readonly worker: Worker;
  queued: number;
}

interface PackedBatch {
  readonly batch: SignatureBatch;
  readonly origin: BatchOrigin;
}

export async function verifyChainParallel(
  text: string,
  options: ParallelVerifyOptions = {},
): Promise<VerifyReport> {
  const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
  const origins = new Map<number, BatchOrigin>();
  /** Packed batches not yet handed to a thread. */
  const pending: PackedBatch[] = [];
  const pool: PoolWorker[] = [];
  let nextId = 0;
  let queued = 0;
  let checked = 0;
  // Set from worker callbacks: fields of an object, so that the checks below are not narrowed away.
  const found: { firstBad: BadSignature | null; workerFailure: Error | null; wake: (() => void) | null } = {
    firstBad: null,
    workerFailure: null,
    wake: null,
  };

  const settle = (result: SignatureBatchResult): void => {
    const origin = origins.get(result.id)!;
    origins.delete(result.id);
    checked += result.count;
    for (const position of result.bad) {
      const line = origin.lines[position]!;
      if (found.firstBad === null || line < found.firstBad.line) {
        found.firstBad = {
          line,
          sequence: origin.sequences[position]!,
          proposer: origin.proposers[position]!,
        };
      }
    }
  };
  /** Checks a packed batch on this thread. */
  const checkHere = ({ batch }: PackedBatch): void => settle(checkSignatureBatch(batch));
  const startWorker = (): PoolWorker => {
    const entry: PoolWorker = {
      worker: startModuleWorker(import.meta.url, "verify-worker", null),
      queued: 0,
    };
    entry.worker.on("message", (result: SignatureBatchResult) => {
      entry.queued -= 1;
      settle(result);
      // Refilled here, not at the main thread's next turn: the reply is seen between two of
      // the main thread's own steps, and the worker gets its next batch at once.
      feed();
      found.wake?.();
    });
    entry.worker.on("error", (error) => {
      found.workerFailure = error;
      found.wake?.();
    });
    entry.worker.on("exit", (code) => {
      if (entry.queued > 0 && found.workerFailure === null) {
        found.workerFailure = new Error(`a signature worker exited with code ${code} with batches queued`);
        found.wake?.();
      }
    });
    pool.push(entry);
    return entry;
  };
  // The pool starts before the walk (splitting a large export into lines takes a while), so
  // that the workers have loaded by the time the first batch is packed.
  if (text.length >= eagerStartBytes) while (pool.length < threads - 1) startWorker();
  const builder = new BatchBuilder();
  const walk = new ChainWalk(text, options, (job) => builder.add(job));
  /** Packs the builder's signatures into a batch waiting for a thread. */
  const pack = (): void => {
    if (builder.count === 0) return;
    const packed = builder.take(nextId);
    nextId += 1;
    origins.set(packed.batch.id, packed.origin);
    queued += packed.batch.count;
    pending.push(packed);
  };
  /**
   * Hands pending batches to workers with room, starting workers up to `threads - 1`. Once the
   * walk is over a worker holds one batch at most, so that the main thread, checking the
   * rest, does not end up waiting for a long queue.
   */
  function feed(): void {
    const depth = walk.done ? 1 : queuedPerWorker;
    while (pending.length > 0) {
      if (walk.done && pool.length === 0 && pending.length === 1 && pending[0]!.batch.count < batchSize) {
        // A small remainder and no worker yet: starting one would cost more than the checks.
        return;
      }
      let target: PoolWorker | undefined;
      for (const entry of pool) if (target === undefined || entry.queued < target.queued) target = entry;
      if ((target === undefined || target.queued >= depth) && pool.length < threads - 1)
        target = startWorker();
      if (target === undefined || target.queued >= depth) return;
      const { batch } = pending.shift()!;
      target.queued += 1;
      target.worker.postMessage(batch, [batch.messages, batch.offsets, batch.signatures, batch.keyIndex]);
    }
  }
  const intervalMs = options.progressIntervalMs ?? 1000;
  let lastProgress = Date.now();
  const progress = (force: boolean): void => {
    if (options.onProgress === undefined) return;
    const now = Date.now();
    if (!force && now - lastProgress < intervalMs) return;
    lastProgress = now;
    options.onProgress({
      lines: walk.linesDone,
      linesTotal: walk.lineCount,
      blocks: walk.blocksDone,
      signaturesQueued: queued,
      signaturesChecked: checked,
    });
  };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  try {
    // One step per turn of the event loop (workers' replies refill them between two steps):
    // walk up to the next full batch while few are pending, else check a pending batch here.
    while (!walk.done) {
      if (found.workerFailure !== null) throw found.workerFailure;
      // A bad signature on a line the walk has passed decides the report (`ChainWalk.report`),
      // once every signature before it is checked: the ones walked are, below.
      if (found.firstBad !== null && found.firstBad.line <= walk.linesDone) break;
      if (pending.length < pendingAhead) {
        const over = walk.advance(batchSize - builder.count);
        if (builder.count >= batchSize || over) pack();
        feed();
      } else {
        checkHere(pending.pop()!);
      }
      await turn();
      progress(false);
    }
    pack();
    feed();
    while (origins.size > 0) {
      if (found.workerFailure !== null) throw found.workerFailure;
      const next = pending.pop();
      if (next !== undefined) {
        checkHere(next);
        await turn();
      } else {
        await new Promise<void>((resolve) => {
          found.wake = resolve;
        });
        found.wake = null;
      }
      progress(false);
    }
    if (found.workerFailure !== null) throw found.workerFailure;
    progress(true);
    return walk.report(found.firstBad);
  } finally {
    await Promise.all(pool.map(({ worker }) => worker.terminate()));
  }
}
