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

export interface ServiceCounters {
  requests: number;
  uploadedBytes: number;
  refused: number;
}

export class ContentService {
  readonly counters: ServiceCounters = { requests: 0, uploadedBytes: 0, refused: 0 };
  private readonly partials = new Map<Blake3Hash, PartialSource>();
  /** Stored blobs being served, kept open (a deleted blob stays readable until evicted). */
  private readonly openBlobs = new Map<Blake3Hash, Promise<OpenBlob | null>>();

  constructor(private readonly store: BlobStore) {}

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
    const existing = this.openBlobs.get(hash);
    if (existing !== undefined) return existing;
    const opening = this.openBlob(hash);
    if (this.openBlobs.size >= openBlobsMax) {
      const [oldest, evicted] = this.openBlobs.entries().next().value!;
      this.openBlobs.delete(oldest);
      // Answers in progress may still read it: close a little later.
      setTimeout(() => void evicted.then((blob) => blob?.handle.close()), 10_000);
    }
    this.openBlobs.set(hash, opening);
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
    return { size: stored.size, outboard: await this.store.outboard(hash, stored.size), handle };
  }

  /** Closes the files of the blobs being served. */
  async close(): Promise<void> {
    for (const blob of this.openBlobs.values()) await (await blob)?.handle.close();
    this.openBlobs.clear();
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
