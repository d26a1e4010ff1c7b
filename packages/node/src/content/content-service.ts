import { type FileHandle, open } from "node:fs/promises";
import {
  type ContentFrame,
  ContentRequest,
  decodeContentFrame,
  encodeContentFrame,
  type Holding,
  planContentResponse,
} from "@revoada/fabric-core/content";
import { type Blake3Hash, limits } from "@revoada/fabric-core/vocabulary";
import type { BlobStore } from "./blob-store.js";
import type { FrameLink } from "./frame-link.js";

/**
 * The provider side on a node: answers content requests on every link from the blob store,
 * and from downloads in progress (their durable groups), so fetchers of one blob serve each
 * other. Each link may have `limits.contentRequestsInflightPerPeerMax` requests being served;
 * more are refused as busy, and a link whose peer does not read is not fed further (the
 * response waits until the socket drains below `sendQueueBytesMax`).
 */

/** A download in progress that can serve what it has made durable. */
export interface PartialSource {
  holding(): Holding | null;
  readRange(offset: number, length: number): Promise<Uint8Array>;
}

const sendQueueBytesMax = 8 * 1024 * 1024;
const openBlobsMax = 16;
/** A stored blob nobody asked for this long has its file closed (reopened on the next ask). */
const idleCloseMsDefault = 5_000;
/** An evicted blob's file stays open this long for answers still reading it. */
const evictedCloseMs = 10_000;

export interface ContentServiceOptions {
  readonly idleCloseMs?: number;
}

interface OpenBlob {
  readonly size: number;
  readonly outboard: Uint8Array;
  readonly handle: FileHandle;
}

async function readAt(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(length);
  const { bytesRead } = await handle.read(buffer, 0, length, offset);
  return buffer.subarray(0, bytesRead);
}

/** Closes a blob's file once its opening settles; a failed or missing open has nothing to close. */
async function closeOpened(opening: Promise<OpenBlob | null>): Promise<void> {
  const blob = await opening.catch(() => null);
  await blob?.handle.close().catch(() => undefined);
}

export interface ServiceCounters {
  requests: number;
  uploadedBytes: number;
  refused: number;
}

export class ContentService {
  readonly counters: ServiceCounters = { requests: 0, uploadedBytes: 0, refused: 0 };
  private readonly partials = new Map<Blake3Hash, PartialSource>();
  /**
   * Stored blobs being served, kept open while in use (a deleted blob stays readable until
   * closed). Every file this service opens is closed by it: when idle, when evicted, or by
   * `close()`; never left to the garbage collector, even for a service dropped without
   * `close()` (the idle sweep still holds it and closes the files).
   */
  private readonly openBlobs = new Map<Blake3Hash, Promise<OpenBlob | null>>();
  private readonly lastUsedMs = new Map<Blake3Hash, number>();
  private readonly evicted = new Set<Promise<OpenBlob | null>>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly idleCloseMs: number;

  constructor(
    private readonly store: BlobStore,
    options: ContentServiceOptions = {},
  ) {
    this.idleCloseMs = options.idleCloseMs ?? idleCloseMsDefault;
  }

  /** Serves `link` until it closes. */
  serve(link: FrameLink): void {
    let inflight = 0;
    link.onFrame((bytes) => {
      const decoded = decodeContentFrame(bytes);
      if (!decoded.ok) return link.close();
      // A link may also carry responses to this node's own fetches: those are not ours.
      const request = ContentRequest.safeParse(decoded.value.message);
      if (!request.success) return;
      this.counters.requests += 1;
      if (inflight >= limits.contentRequestsInflightPerPeerMax) {
        this.counters.refused += 1;
        const { id, hash } = request.data;
        link.send(
          encodeContentFrame({
            message: { type: "refused", id, hash, reason: "busy" },
            payload: new Uint8Array(0),
          }),
        );
        return;
      }
      inflight += 1;
      this.answer(link, request.data)
        .catch(() => link.close())
        .finally(() => {
          inflight -= 1;
        });
    });
  }

  private openStored(hash: Blake3Hash): Promise<OpenBlob | null> {
    this.lastUsedMs.set(hash, performance.now());
    const existing = this.openBlobs.get(hash);
    if (existing !== undefined) return existing;
    const opening = this.openBlob(hash);
    if (this.openBlobs.size >= openBlobsMax) {
      const [oldest, evicted] = this.openBlobs.entries().next().value!;
      this.openBlobs.delete(oldest);
      this.lastUsedMs.delete(oldest);
      // Answers in progress may still read it: close a little later.
      this.evicted.add(evicted);
      setTimeout(() => {
        this.evicted.delete(evicted);
        void closeOpened(evicted);
      }, evictedCloseMs).unref();
    }
    this.openBlobs.set(hash, opening);
    this.startSweep();
    // Not stored (yet): forget the miss, so the blob is found once it is.
    void opening.then((blob) => {
      if (blob === null && this.openBlobs.get(hash) === opening) this.openBlobs.delete(hash);
    });
    return opening;
  }

  private async openBlob(hash: Blake3Hash): Promise<OpenBlob | null> {
    const stored = await this.store.stat(hash);
    if (stored === null) return null;
    const handle = await open(this.store.blobPath(hash), "r").catch(() => null);
    if (handle === null) return null;
    try {
      return { size: stored.size, outboard: await this.store.outboard(hash, stored.size), handle };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Closes the files of blobs nobody asked for within `idleCloseMs`; stops when none is open. */
  private startSweep(): void {
    if (this.sweepTimer !== null) return;
    this.sweepTimer = setInterval(() => {
      const now = performance.now();
      for (const [hash, opening] of [...this.openBlobs]) {
        if (now - (this.lastUsedMs.get(hash) ?? 0) < this.idleCloseMs) continue;
        this.openBlobs.delete(hash);
        this.lastUsedMs.delete(hash);
        void closeOpened(opening);
      }
      if (this.openBlobs.size === 0) this.stopSweep();
    }, this.idleCloseMs).unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** Closes the files of the blobs being served (evicted ones too). */
  async close(): Promise<void> {
    this.stopSweep();
    const opened = [...this.openBlobs.values(), ...this.evicted];
    this.openBlobs.clear();
    this.lastUsedMs.clear();
    this.evicted.clear();
    for (const opening of opened) await closeOpened(opening);
  }

  /**
   * Says a download of `hash` is about to start here, so peers asking meanwhile hear
   * `unavailable` (ask again later) rather than `not-found` (drop this node).
   */
  expect(hash: Blake3Hash): void {
    if (this.partials.has(hash)) return;
    this.partials.set(hash, { holding: () => null, readRange: () => Promise.resolve(new Uint8Array(0)) });
  }

  addPartial(hash: Blake3Hash, source: PartialSource): void {
    this.partials.set(hash, source);
  }

  removePartial(hash: Blake3Hash): void {
    this.partials.delete(hash);
  }

  private async answer(link: FrameLink, request: ContentRequest): Promise<void> {
    const response = (await this.respond(request)) ?? (await this.respond(request));
    const { id, hash } = request;
    const frame = response ?? {
      message: { type: "refused", id, hash, reason: "unavailable" },
      payload: new Uint8Array(0),
    };
    for (let wait = 0; link.queuedBytes() > sendQueueBytesMax && wait < 10_000; wait += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (frame.message.type === "range") this.counters.uploadedBytes += frame.payload.length;
    link.send(encodeContentFrame(frame));
  }

  /**
   * The response to `request`, or null when reading failed: a download that completed (and
   * moved its file into the store) between the lookup and the read. The caller asks once more
   * and then refuses as `unavailable`; one failed read never closes the link.
   */
  private async respond(request: ContentRequest): Promise<ContentFrame | null> {
    const source = await this.sourceOf(request.hash);
    const plan = planContentResponse(request, source?.holding ?? null, this.partials.has(request.hash));
    if (plan.read === null || source === null) return { message: plan.message, payload: plan.payload };
    const payload = await source.read(plan.read.offset, plan.read.length).catch(() => null);
    if (payload === null || payload.length !== plan.read.length) return null;
    return { message: plan.message, payload };
  }

  private async sourceOf(
    hash: Blake3Hash,
  ): Promise<{ holding: Holding; read: (offset: number, length: number) => Promise<Uint8Array> } | null> {
    const open = await this.openStored(hash);
    if (open !== null) {
      return {
        holding: { hash, size: open.size, outboard: open.outboard, durable: null },
        read: (offset, length) => readAt(open.handle, offset, length),
      };
    }
    const partial = this.partials.get(hash);
    const holding = partial?.holding() ?? null;
    if (partial === undefined || holding === null) return null;
    return { holding, read: (offset, length) => partial.readRange(offset, length) };
  }
}
