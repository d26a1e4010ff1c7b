import { randomInt } from "node:crypto";
import {
  BlobFetch,
  type BlobFetchConfig,
  type ContentFrame,
  chunkGroupBytes,
  decodeContentFrame,
  defaultFetchConfig,
  encodeContentFrame,
  type FetchEvent,
  type FetchReady,
  type FetchStatus,
  type GroupWrite,
  type Holding,
} from "@revoada/fabric-core/content";
import { SeededRandom } from "@revoada/fabric-core/sim/random";
import type { Blake3Hash } from "@revoada/fabric-core/vocabulary";
import type { BlobStore, PartialBlob, StoredBlob } from "./blob-store.js";
import type { ContentService } from "./content-service.js";
import type { FrameLink } from "./frame-link.js";
import { groupHashThread, type HashedGroups, PrecomputedGroupHasher } from "./group-hash-thread.js";

/**
 * The node driver of one `BlobFetch`: it feeds the core the frames from provider links and a
 * clock tick, and carries out each `ready()` in order: persist the verified outboard, write
 * the verified groups at their offsets and record them in the bitfield, send the requests,
 * then `advance`. When every group is written the partial file is fsynced and renamed into
 * the store. While it runs, the groups it has made durable are served to other fetchers
 * through the `ContentService`, if one is given.
 */

export interface FetchOptions {
  readonly store: BlobStore;
  readonly hash: Blake3Hash;
  /** Links to providers, by provider id; `complete` when known to hold the whole blob. */
  readonly providers: ReadonlyMap<string, { link: FrameLink; complete: boolean | null }>;
  readonly service?: ContentService;
  readonly config?: Partial<Omit<BlobFetchConfig, "hash">>;
  readonly tickMs?: number;
  /** Called after every batch with the core's status (progress bars). */
  readonly onProgress?: (status: FetchStatus, events: readonly FetchEvent[]) => void;
}

export class FetchFailedError extends Error {
  override readonly name = "FetchFailedError";
  constructor(
    readonly hash: Blake3Hash,
    readonly reason: string,
  ) {
    super(`fetch of ${hash} failed: ${reason}`);
  }
}

export async function fetchBlob(options: FetchOptions): Promise<StoredBlob> {
  const existing = await options.store.stat(options.hash);
  if (existing !== null) return existing;
  const partial = await options.store.openPartial(options.hash);
  let run: FetchRun | undefined;
  try {
    const hasher = new PrecomputedGroupHasher(options.store.hasher);
    const fetch = new BlobFetch(
      { hash: options.hash, ...defaultFetchConfig, ...options.config },
      hasher,
      new SeededRandom(randomInt(2 ** 31)),
      partial.resume,
    );
    run = new FetchRun(options, fetch, partial, hasher);
    return await run.start();
  } finally {
    run?.stop();
    await partial.close();
  }
}

/** A range payload at least this large is hashed on the worker thread. */
const hashOffThreadBytes = 4 * chunkGroupBytes;
/**
 * Only a blob at least this large starts the thread: a daemon's everyday fetches (credentials,
 * relay snapshots) are small, and a thread costs each daemon its start (~45 ms of CPU) and an
 * isolate's memory for as long as it lives.
 */
export const hashThreadBlobBytes = 8 * 1024 * 1024;

/**
 * What a provider link delivered, in its order: a frame for the core (whose groups' chaining
 * values may still be computing on the hashing thread), an undecodable frame, or the close.
 */
type Arrival = { readonly provider: string } & (
  | { kind: "frame"; frame: ContentFrame; hashed: HashedGroups | null; hashing: boolean }
  | { kind: "undecodable" }
  | { kind: "closed"; reason: string }
);

class FetchRun {
  private pumping = false;
  /** Arrivals not yet given to the core, oldest first: the core sees them in link order. */
  private readonly arrivals: Arrival[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Monotonic: the core's clock never runs backwards, and a wall-clock jump must not move it. */
  private readonly startedMs = performance.now();
  private resolve!: (blob: StoredBlob) => void;
  private reject!: (error: Error) => void;
  private settled = false;
  /** Why each provider was dropped (the error names them when none is left). */
  private readonly dropped = new Map<string, string>();
  /** Removes this run's listeners from the provider links. */
  private readonly detach: (() => void)[] = [];

  constructor(
    private readonly options: FetchOptions,
    private readonly fetch: BlobFetch,
    private readonly partial: PartialBlob,
    private readonly hasher: PrecomputedGroupHasher,
  ) {}

  start(): Promise<StoredBlob> {
    const done = new Promise<StoredBlob>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.options.service?.addPartial(this.options.hash, {
      holding: () => this.holding(),
      readRange: (offset, length) => this.partial.readRange(offset, length),
    });
    for (const [id, { link, complete }] of this.options.providers) {
      this.detach.push(
        link.onFrame((bytes) => this.arrive(id, bytes)),
        link.onClose((reason) => {
          this.arrivals.push({ provider: id, kind: "closed", reason });
          this.deliver();
        }),
      );
      this.fetch.addProvider(id, complete);
    }
    this.timer = setInterval(() => {
      this.fetch.tick(Math.floor(performance.now() - this.startedMs));
      this.pump();
    }, this.options.tickMs ?? 100);
    this.pump();
    return done;
  }

  /**
   * A frame from a provider. A range response of a blob of several groups goes to the hashing
   * thread first; everything waits its turn in `arrivals`.
   */
  private arrive(provider: string, bytes: Uint8Array): void {
    const decoded = decodeContentFrame(bytes);
    if (!decoded.ok) {
      this.arrivals.push({ provider, kind: "undecodable" });
      this.deliver();
      return;
    }
    const frame = decoded.value;
    if (isRequest(frame.message.type)) return;
    const tree = this.fetch.verifiedTree();
    // Loading the thread's modules overlaps with the first ranges (hashed here meanwhile).
    if (tree !== null && tree.size >= hashThreadBlobBytes) groupHashThread.warm();
    const message = frame.message;
    const arrival: Arrival = { provider, kind: "frame", frame, hashed: null, hashing: false };
    this.arrivals.push(arrival);
    if (
      message.type !== "range" ||
      tree === null ||
      tree.size < hashThreadBlobBytes ||
      frame.payload.length < hashOffThreadBytes
    ) {
      this.deliver();
      return;
    }
    arrival.hashing = true;
    void groupHashThread.hashGroups(message.first_group, frame.payload).then((hashed) => {
      arrival.hashing = false;
      // Null: the thread could not take it, and the core hashes the payload here.
      arrival.hashed = hashed;
      if (this.settled) hashed?.release();
      else this.deliver();
    });
  }

  /** Gives the core every arrival up to the first still hashing, in order. */
  private deliver(): void {
    while (this.arrivals.length > 0 && !this.settled) {
      const arrival = this.arrivals[0]!;
      if (arrival.kind === "frame" && arrival.hashing) break;
      this.arrivals.shift();
      if (arrival.kind === "undecodable")
        this.fetch.removeProvider(arrival.provider, "sent an undecodable frame");
      else if (arrival.kind === "closed") this.fetch.removeProvider(arrival.provider, arrival.reason);
      else this.receive(arrival.provider, arrival.frame, arrival.hashed);
    }
    this.pump();
  }

  /**
   * The core receives a frame, with the values the thread computed when the frame still holds
   * the bytes they were computed over (checked here, just before: the core then compares them
   * with the outboard as if it had hashed those bytes itself).
   */
  private receive(provider: string, frame: ContentFrame, hashed: HashedGroups | null): void {
    if (hashed !== null) {
      if (frame.message.type === "range" && Buffer.compare(hashed.hashed, frame.payload) === 0) {
        this.hasher.expect(frame.message.first_group, frame.payload, hashed.values);
      }
      hashed.release();
    }
    try {
      this.fetch.receive(provider, frame);
    } finally {
      this.hasher.forget();
    }
  }

  stop(): void {
    for (const arrival of this.arrivals.splice(0)) if (arrival.kind === "frame") arrival.hashed?.release();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // Links to a peer are shared (the node transport keeps one per peer): a finished fetch
    // must not keep decoding every later frame from it.
    for (const release of this.detach.splice(0)) release();
    this.options.service?.removePartial(this.options.hash);
  }

  private holding(): Holding | null {
    const tree = this.fetch.verifiedTree();
    const durable = this.fetch.durableGroups();
    if (tree === null || durable === null) return null;
    return {
      hash: this.options.hash,
      size: tree.size,
      outboard: tree.outboard,
      durable,
      requested: this.fetch.requestedGroups(),
    };
  }

  /** Carries out ready batches one at a time, in order, until the core has nothing more. */
  private pump(): void {
    if (this.pumping || this.settled) return;
    this.pumping = true;
    void this.drain()
      .catch((error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.pumping = false;
        if (!this.settled && this.fetch.hasReady()) this.pump();
      });
  }

  private async drain(): Promise<void> {
    while (this.fetch.hasReady() && !this.settled) {
      const ready = this.fetch.ready();
      await this.persist(ready);
      for (const request of ready.requests) {
        const provider = this.options.providers.get(request.provider);
        provider?.link.send(encodeContentFrame({ message: request.message, payload: new Uint8Array(0) }));
      }
      this.fetch.advance(ready);
      if (ready.writes.length > 0) await this.partial.saveBits(this.fetch.durableGroups()!);
      this.options.onProgress?.(this.fetch.status(), ready.events);
      await this.react(ready.events);
    }
  }

  private async persist(ready: FetchReady): Promise<void> {
    if (ready.outboard !== null) await this.partial.saveTree(ready.outboard.size, ready.outboard.outboard);
    for (const run of contiguousRuns(ready.writes)) await this.partial.writeGroup(run.offset, run.data);
  }

  private async react(events: readonly FetchEvent[]): Promise<void> {
    for (const event of events) {
      if (event.type === "done") {
        const tree = this.fetch.verifiedTree()!;
        this.settled = true;
        // Keep answering as a partial holder until the blob is in the store: in between, a
        // peer asking would otherwise hear "not found" and drop this node.
        const stored = await this.partial.complete(tree.size, tree.outboard);
        this.stop();
        this.resolve(stored);
        return;
      }
      if (event.type === "provider-removed" || event.type === "provider-banned") {
        this.dropped.set(event.provider, event.reason);
      }
      if (event.type === "stalled") {
        const usable = this.fetch.status().providers.filter((p) => !p.banned);
        if (usable.length === 0) {
          // Say why each provider was given up: the operator's (and the test's) only clue.
          const why = [...this.dropped].map(([id, reason]) => `${id.slice(0, 8)}: ${reason}`).join("; ");
          this.fail(
            new FetchFailedError(
              this.options.hash,
              `no provider left that can serve it${why === "" ? "" : ` (${why})`}`,
            ),
          );
        }
      }
    }
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.stop();
    this.reject(error);
  }
}

/** Requests travel on the same links (a peer fetching from us): the service answers those. */
function isRequest(type: string): boolean {
  return type === "outboard-request" || type === "have-request" || type === "range-request";
}

/**
 * Joins writes that are adjacent on disk and in memory (the groups of one range response are
 * slices of one payload) so a 1 MiB response is one pwrite, not 64.
 */
export function contiguousRuns(writes: readonly GroupWrite[]): { offset: number; data: Uint8Array }[] {
  const runs: { offset: number; data: Uint8Array }[] = [];
  for (const write of [...writes].sort((a, b) => a.offset - b.offset)) {
    const last = runs.at(-1);
    const adjacent =
      last !== undefined &&
      last.offset + last.data.length === write.offset &&
      last.data.buffer === write.data.buffer &&
      last.data.byteOffset + last.data.length === write.data.byteOffset;
    if (adjacent) {
      last.data = new Uint8Array(
        last.data.buffer,
        last.data.byteOffset,
        last.data.length + write.data.length,
      );
    } else {
      runs.push({ offset: write.offset, data: write.data });
    }
  }
  return runs;
}
