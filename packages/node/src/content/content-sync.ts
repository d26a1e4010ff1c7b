import { pinnedBlobs } from "@revoada/fabric-core/content";
import type { Blake3Hash, FabricState } from "@revoada/fabric-core/vocabulary";
import { fetchBlob } from "./blob-fetcher.js";
import type { BlobStore, StoredBlob } from "./blob-store.js";
import type { ContentService } from "./content-service.js";
import type { FrameLink } from "./frame-link.js";

/**
 * The background content round, every `sync_cadence_ms`: fetch each blob the committed fabric
 * state references (workload config blobs) that this node does not hold, from the providers
 * membership knows of, and collect unreferenced blobs past `gc_retention_ms`. Fetches run on
 * their own; a round never starts a second fetch of the same blob, and rounds do not overlap.
 */

export type ProviderLinks = ReadonlyMap<string, { link: FrameLink; complete: boolean | null }>;

export interface ContentSyncOptions {
  readonly store: BlobStore;
  readonly service: ContentService;
  /** The committed strategy's `content` cadences, read at every round (a swap takes effect at once). */
  readonly cadence: () => { readonly syncCadenceMs: number; readonly gcRetentionMs: number };
  /** The committed fabric state, as of now. */
  readonly fabricState: () => FabricState;
  /** Who may hold `hash` (gossip announcements), as links. */
  readonly providersOf: (hash: Blake3Hash) => ProviderLinks;
  /** Blobs the committed state references outside workloads (etcd members' sealed credentials). */
  readonly extraPins?: () => Iterable<Blake3Hash>;
  readonly nowMs?: () => number;
  readonly onError?: (hash: Blake3Hash, error: unknown) => void;
}

export interface SyncRound {
  readonly started: readonly Blake3Hash[];
  readonly collected: readonly Blake3Hash[];
}

export class ContentSync {
  private readonly active = new Map<Blake3Hash, Promise<StoredBlob>>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private started = false;
  private running = false;

  constructor(private readonly options: ContentSyncOptions) {}

  /** Rounds every `syncCadenceMs`, re-armed when a strategy swap changes the cadence. */
  start(): void {
    if (this.timer !== null) return;
    const cadenceMs = this.options.cadence().syncCadenceMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round().finally(() => {
        if (this.started) this.start();
      });
    }, cadenceMs);
    this.started = true;
  }

  stop(): void {
    this.started = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Fetches in progress (tests, status). */
  fetching(): Blake3Hash[] {
    return [...this.active.keys()].sort();
  }

  /**
   * The one fetch of `hash` on this node: joins the fetch already running, else starts one
   * from `providers`. Two fetches of one blob would share its partial files and its request
   * ids on the shared peer links, and starve each other.
   */
  fetch(hash: Blake3Hash, providers: ProviderLinks): Promise<StoredBlob> {
    const running = this.active.get(hash);
    if (running !== undefined) return running;
    const fetch = fetchBlob({ store: this.options.store, hash, providers, service: this.options.service });
    this.active.set(hash, fetch);
    const forget = () => {
      if (this.active.get(hash) === fetch) this.active.delete(hash);
    };
    fetch.then(forget, forget);
    return fetch;
  }

  async round(): Promise<SyncRound> {
    if (this.running) return { started: [], collected: [] };
    this.running = true;
    try {
      const pins = pinnedBlobs(this.options.fabricState());
      for (const hash of this.options.extraPins?.() ?? []) pins.add(hash);
      const started: Blake3Hash[] = [];
      for (const hash of [...pins].sort()) {
        if (this.active.has(hash) || (await this.options.store.has(hash))) continue;
        const providers = this.options.providersOf(hash);
        if (providers.size === 0) continue;
        started.push(hash);
        this.fetch(hash, providers).catch((error: unknown) => this.options.onError?.(hash, error));
      }
      const now = this.options.nowMs?.() ?? Date.now();
      const collected = await this.options.store.collectGarbage(
        pins,
        now,
        this.options.cadence().gcRetentionMs,
      );
      return { started, collected };
    } finally {
      this.running = false;
    }
  }
}
