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

export interface ServiceCounters {
  requests: number;
  uploadedBytes: number;
  refused: number;
}

export class ContentService {
  readonly counters: ServiceCounters = { requests: 0, uploadedBytes: 0, refused: 0 };
  private readonly partials = new Map<Blake3Hash, PartialSource>();
  private readonly outboards = new Map<Blake3Hash, { size: number; outboard: Uint8Array }>();

  constructor(private readonly store: BlobStore) {}

  /** Serves `link` until it closes. */
  serve(link: FrameLink): void {
    let inflight = 0;
    link.onFrame((bytes) => {
      const decoded = decodeContentFrame(bytes);
      if (!decoded.ok) return link.close();
      const request = ContentRequest.safeParse(decoded.value.message);
      if (!request.success) return link.close();
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

  addPartial(hash: Blake3Hash, source: PartialSource): void {
    this.partials.set(hash, source);
  }

  removePartial(hash: Blake3Hash): void {
    this.partials.delete(hash);
  }

  private async answer(link: FrameLink, request: ContentRequest): Promise<void> {
    const source = await this.sourceOf(request.hash);
    const plan = planContentResponse(request, source?.holding ?? null);
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
    const stored = await this.store.stat(hash);
    if (stored !== null) {
      let tree = this.outboards.get(hash);
      if (tree === undefined) {
        tree = { size: stored.size, outboard: await this.store.outboard(hash, stored.size) };
        if (this.outboards.size >= 64) this.outboards.clear();
        this.outboards.set(hash, tree);
      }
      return {
        holding: { hash, size: tree.size, outboard: tree.outboard, durable: null },
        read: (offset, length) => this.store.readRange(hash, offset, length),
      };
    }
    const partial = this.partials.get(hash);
    const holding = partial?.holding() ?? null;
    if (partial === undefined || holding === null) return null;
    return { holding, read: (offset, length) => partial.readRange(offset, length) };
  }
}
