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
 * through a `PrecomputedGroupHasher`. The payload is copied into a slot of a buffer shared
 * with the thread (reused: no allocation per frame), and before the core sees the values the
 * main thread checks that the frame still holds the bytes of the slot, so the values are of
 * exactly the bytes the core then accepts.
 */

export interface GroupHashJob {
  readonly id: number;
  /** Where the payload is in the shared buffer. */
  readonly offset: number;
  readonly length: number;
  /** The group index of the payload's first 16 KiB. */
  readonly firstGroup: number;
}

export interface GroupHashResult {
  readonly id: number;
  /** 32 bytes per 16 KiB of the payload, or null when the thread could not hash them. */
  readonly values: Uint8Array | null;
}

/** A payload hashed on the thread, its slot held until `release`. */
export interface HashedGroups {
  /** The slot's copy of the payload that was hashed. */
  readonly hashed: Uint8Array;
  readonly values: Uint8Array;
  /** Frees the slot (once the values have been matched to the received bytes, or dropped). */
  release(): void;
}

/** A range response's payload: 64 groups (`defaultFetchConfig.groupsPerRequest`). */
const slotBytes = 64 * chunkGroupBytes;
/** Slots: more than the requests a fetch keeps in flight at one provider (8). */
const slotCount = 16;

/** One worker thread shared by the process's fetches, started on first use. */
export class GroupHashThread {
  private worker: Worker | null = null;
  private slots: SharedArrayBuffer | null = null;
  private freeSlots: number[] = [];
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (values: Uint8Array | null) => void>();

  /**
   * The chaining values of `payload`'s 16 KiB pieces, groups `firstGroup` on, computed on the
   * thread from a copy; null when it cannot take the job (too large, every slot busy, or the
   * thread unusable): the caller's core then hashes on its own thread.
   */
  async hashGroups(firstGroup: number, payload: Uint8Array): Promise<HashedGroups | null> {
    if (payload.length === 0 || payload.length > slotBytes) return null;
    const worker = this.start();
    const slot = this.freeSlots.pop();
    if (worker === null || slot === undefined) return null;
    const hashed = new Uint8Array(this.slots!, slot * slotBytes, payload.length);
    hashed.set(payload);
    const id = this.nextId;
    this.nextId += 1;
    if (this.waiting.size === 0) worker.ref();
    const values = await new Promise<Uint8Array | null>((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({
        id,
        offset: slot * slotBytes,
        length: payload.length,
        firstGroup,
      } satisfies GroupHashJob);
    });
    let held = true;
    const release = (): void => {
      if (held) this.freeSlots.push(slot);
      held = false;
    };
    if (values === null) {
      release();
      return null;
    }
    return { hashed, values, release };
  }

  /** Starts the thread ahead of its first job (a fetch that may need it is starting). */
  warm(): void {
    this.start();
  }

  private start(): Worker | null {
    if (this.failed) return null;
    if (this.worker !== null) return this.worker;
    const slots = new SharedArrayBuffer(slotCount * slotBytes);
    const worker = startModuleWorker(import.meta.url, "group-hash-worker", slots);
    this.slots = slots;
    this.freeSlots = Array.from({ length: slotCount }, (_, slot) => slot);
    worker.on("message", (result: GroupHashResult) => {
      const resolve = this.waiting.get(result.id);
      this.waiting.delete(result.id);
      if (this.waiting.size === 0) worker.unref();
      resolve?.(result.values);
    });
    const fail = (): void => {
      this.failed = true;
      this.worker = null;
      // The thread reads no slot any more: each job's slot is freed as its caller hears null.
      for (const resolve of this.waiting.values()) resolve(null);
      this.waiting.clear();
    };
    worker.on("error", fail);
    worker.on("exit", fail);
    // Idle, it must not keep the process alive (after the listeners: adding one refs it).
    worker.unref();
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
