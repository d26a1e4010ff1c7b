import type { Worker } from "node:worker_threads";
import {
  type BlobHasher,
  chainingValueBytes,
  chunkGroupBytes,
  type GroupHasher,
} from "@revoada/fabric-core/content";
import { startModuleWorker } from "../worker-start.js";

/**
 * Hashing a received blob's groups off the fetcher's event loop (issue 14: a verified transfer
 * within 0.9x of a raw copy). The fetcher's main thread receives frames, writes verified
 * groups and runs the fetch core; one worker thread computes the chaining values of each range
 * response's groups, and the core then checks them against the verified outboard as before,
 * through a `PrecomputedGroupHasher`. The bytes are moved to the thread and back, never shared,
 * so the values are of exactly the bytes the core then accepts and the driver writes.
 */

export interface GroupHashJob {
  readonly id: number;
  /** The bytes (a range response's payload, or a frame holding it), owned by the job until they come back. */
  readonly frame: ArrayBuffer;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** The group index of the payload's first 16 KiB. */
  readonly firstGroup: number;
}

export interface GroupHashResult {
  readonly id: number;
  readonly frame: ArrayBuffer;
  /** 32 bytes per 16 KiB slice of the payload, or null when the thread could not hash them. */
  readonly values: Uint8Array | null;
}

/** One worker thread shared by the process's fetches, started on first use. */
export class GroupHashThread {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (result: GroupHashResult | null) => void>();

  /**
   * Moves `frame` to the thread and resolves with it back and the payload's chaining values,
   * or with null when the thread is unusable (the caller then hashes on its own thread, from
   * bytes of its own: `frame` is gone once the thread took it).
   */
  hashGroups(job: Omit<GroupHashJob, "id">): Promise<GroupHashResult | null> {
    const worker = this.start();
    if (worker === null) return Promise.resolve(null);
    const id = this.nextId;
    this.nextId += 1;
    if (this.waiting.size === 0) worker.ref();
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ ...job, id } satisfies GroupHashJob, [job.frame]);
    });
  }

  /** Starts the thread ahead of its first job (a fetch that may need it is starting). */
  warm(): void {
    this.start();
  }

  private start(): Worker | null {
    if (this.failed) return null;
    if (this.worker !== null) return this.worker;
    const worker = startModuleWorker(import.meta.url, "group-hash-worker", null);
    // Idle, it must not keep the process alive.
    worker.unref();
    worker.on("message", (result: GroupHashResult) => {
      const resolve = this.waiting.get(result.id);
      this.waiting.delete(result.id);
      if (this.waiting.size === 0) worker.unref();
      resolve?.(result);
    });
    const fail = (): void => {
      this.failed = true;
      this.worker = null;
      for (const resolve of this.waiting.values()) resolve(null);
      this.waiting.clear();
    };
    worker.on("error", fail);
    worker.on("exit", fail);
    this.worker = worker;
    return worker;
  }
}

/** The process's hashing thread (fetches share it: it is the second core's work). */
export const groupHashThread = new GroupHashThread();

/**
 * A `GroupHasher` for `BlobFetch` that answers with chaining values computed elsewhere for
 * the very bytes asked about (same buffer, offset and length), and hashes anything else
 * itself. `expect` is called just before the core receives a frame and `forget` right after,
 * so no value outlives the bytes it was computed over.
 */
export class PrecomputedGroupHasher implements GroupHasher {
  private expected = new Map<number, { data: Uint8Array; value: Uint8Array }>();

  constructor(private readonly inner: BlobHasher) {}

  /** The chaining values of `payload`'s 16 KiB slices, groups `firstGroup` on. */
  expect(firstGroup: number, payload: Uint8Array, values: Uint8Array): void {
    const groups = Math.ceil(payload.length / chunkGroupBytes);
    if (values.length !== groups * chainingValueBytes) return;
    for (let i = 0; i < groups; i += 1) {
      this.expected.set(firstGroup + i, {
        data: payload.subarray(i * chunkGroupBytes, (i + 1) * chunkGroupBytes),
        value: values.subarray(i * chainingValueBytes, (i + 1) * chainingValueBytes),
      });
    }
  }

  forget(): void {
    if (this.expected.size > 0) this.expected = new Map();
  }

  hash(data: Uint8Array): Uint8Array {
    return this.inner.hash(data);
  }

  groupChainingValue(groupIndex: number, data: Uint8Array): Uint8Array {
    const known = this.expected.get(groupIndex);
    if (
      known !== undefined &&
      known.data.buffer === data.buffer &&
      known.data.byteOffset === data.byteOffset &&
      known.data.length === data.length
    ) {
      return known.value;
    }
    return this.inner.groupChainingValue(groupIndex, data);
  }
}
