import { type FileHandle, open } from "node:fs/promises";
import {
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
  private readonly openBlobs = new Map<Blake3Hash, OpenBlob>();

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

  private async openStored(hash: Blake3Hash): Promise<OpenBlob | null> {
    const stored = await this.store.stat(hash);
    if (stored === null) return null;
    const handle = await open(this.store.blobPath(hash), "r").catch(() => null);
    if (handle === null) return null;
    const blob = { size: stored.size, outboard: await this.store.outboard(hash, stored.size), handle };
    if (this.openBlobs.size >= openBlobsMax) {
      const [oldest, evicted] = this.openBlobs.entries().next().value!;
      this.openBlobs.delete(oldest);
      setTimeout(() => void evicted.handle.close(), 10_000);
    }
    this.openBlobs.set(hash, blob);
    return blob;
  }

  /** Closes the files of the blobs being served. */
  async close(): Promise<void> {
    for (const blob of this.openBlobs.values()) await blob.handle.close();
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
    const source = await this.sourceOf(request.hash);
    const plan = planContentResponse(request, source?.holding ?? null, this.partials.has(request.hash));
    let payload = plan.payload;
    if (plan.read !== null && source !== null) {
      payload = await source.read(plan.read.offset, plan.read.length);
      if (payload.length !== plan.read.length) throw new Error("short read of a stored blob");
    }
    for (let wait = 0; link.queuedBytes() > sendQueueBytesMax && wait < 10_000; wait += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    this.counters.uploadedBytes += plan.read === null ? 0 : payload.length;
    link.send(encodeContentFrame({ message: plan.message, payload }));
  }

  private async sourceOf(
    hash: Blake3Hash,
  ): Promise<{ holding: Holding; read: (offset: number, length: number) => Promise<Uint8Array> } | null> {
    const open = this.openBlobs.get(hash) ?? (await this.openStored(hash));
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
