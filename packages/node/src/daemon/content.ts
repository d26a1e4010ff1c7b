import {
  type Blake3Hash,
  type FabricState,
  isNodeId,
  type NodeId,
  type Signer,
} from "@revoada/fabric-core/vocabulary";
import { BlobStore } from "../content/blob-store.js";
import { ContentService } from "../content/content-service.js";
import { ContentSync, type ProviderLinks } from "../content/content-sync.js";
import { TransportContentLinks } from "../content/transport-links.js";
import type { GossipDriver } from "../gossip/gossip-driver.js";
import { parseHostPort } from "../gossip/gossip-driver.js";
import type { ClusterKeys } from "../keys/key-set.js";
import type { Logger } from "./log.js";

/**
 * The content layer in the daemon: the blob store, serving peers over the authenticated
 * transport, announcing held blobs through gossip (one `blob/<hash>` key each, value = size),
 * and the background round that fetches every blob the committed state references.
 * Secrets travel this way only sealed to the node that needs them (an etcd member's key, see
 * docs/control-plane.md); everything else is configs and manifests, addressed by hash.
 */
export const blobKeyPrefix = "blob/";

export interface NodeContentOptions {
  readonly dataDirectory: string;
  readonly signer: Signer;
  readonly clusterKey: ClusterKeys;
  readonly listen: string;
  /** The committed strategy's `content` cadences, read at every round (a swap takes effect at once). */
  readonly cadence: () => { readonly syncCadenceMs: number; readonly gcRetentionMs: number };
  readonly gossip: () => GossipDriver;
  readonly fabricState: () => FabricState;
  /** Blobs to hold beside those of the workloads (etcd members' sealed credentials). */
  readonly extraPins?: () => Iterable<Blake3Hash>;
  readonly logger: Logger;
}

export class NodeContent {
  private announced = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    readonly store: BlobStore,
    readonly service: ContentService,
    private readonly links: TransportContentLinks,
    readonly sync: ContentSync,
    private readonly options: NodeContentOptions,
  ) {
    this.armAnnouncement();
  }

  /** Announces held blobs every `sync_cadence_ms` of the strategy in force. */
  private armAnnouncement(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.announce()
        .catch((error: unknown) =>
          this.options.logger.warn("blob announcement failed", {
            error: error instanceof Error ? error.message : String(error),
          }),
        )
        .finally(() => this.armAnnouncement());
    }, this.options.cadence().syncCadenceMs);
  }

  static async start(options: NodeContentOptions): Promise<NodeContent> {
    const store = await BlobStore.open(options.dataDirectory);
    const service = new ContentService(store);
    const links = new TransportContentLinks({
      signer: options.signer,
      clusterKey: options.clusterKey,
      onNewPeer: (link) => service.serve(link),
      logger: options.logger,
    });
    const address = parseHostPort(options.listen);
    if (address === null) throw new Error(`listen.content: not host:port: ${options.listen}`);
    await links.listen(address);
    const holder: { content?: NodeContent } = {};
    const sync = new ContentSync({
      store,
      service,
      cadence: options.cadence,
      fabricState: options.fabricState,
      ...(options.extraPins === undefined ? {} : { extraPins: options.extraPins }),
      providersOf: (hash) => holder.content?.providersOf(hash) ?? new Map(),
      onError: (hash, error) =>
        options.logger.warn("blob fetch failed", {
          hash,
          error: error instanceof Error ? error.message : String(error),
        }),
    });
    const content = new NodeContent(store, service, links, sync, options);
    holder.content = content;
    sync.start();
    await content.announce();
    return content;
  }

  /** Blobs referenced by workloads placed on `node` that this node does not hold yet. */
  async missingFor(state: FabricState, node: NodeId): Promise<Set<string>> {
    const missing = new Set<string>();
    for (const [key, workload] of Object.entries(state.workloads)) {
      if (!(state.placements[key] ?? []).includes(node)) continue;
      for (const blob of workload.config_blobs) {
        if (!(await this.store.has(blob.hash))) missing.add(key);
      }
    }
    return missing;
  }

  /** This node holds the blob, or a live peer announces it. */
  async available(hash: Blake3Hash): Promise<boolean> {
    return (await this.store.has(hash)) || this.providersOf(hash).size > 0;
  }

  /** Stores `bytes` and announces it at once (a blob a record is about to reference). */
  async publish(bytes: Uint8Array): Promise<Blake3Hash> {
    const stored = await this.store.put(bytes);
    await this.announce();
    return stored.hash;
  }

  /**
   * The blob's bytes, fetched now from the peers gossip says hold it when this node does not;
   * null while no provider is known yet (the background round keeps trying).
   */
  async fetchNow(hash: Blake3Hash, from?: string): Promise<Uint8Array | null> {
    if (!(await this.store.has(hash))) {
      const providers = this.providersOf(hash, from);
      if (providers.size === 0) return null;
      await this.sync.fetch(hash, providers);
    }
    return this.store.read(hash);
  }

  /**
   * Providers of `hash` from gossip: alive members announcing it, reached over the transport;
   * `also`: a member that said it holds it (the state relay's source), before gossip does.
   */
  private providersOf(hash: Blake3Hash, also?: string): ProviderLinks {
    const providers = new Map<
      string,
      { link: ReturnType<TransportContentLinks["linkTo"]>; complete: boolean | null }
    >();
    for (const member of this.options.gossip().membershipView().members) {
      const id = member.id;
      if (member.status !== "alive" || id === this.options.signer.nodeId || !isNodeId(id)) continue;
      if (member.keys[`${blobKeyPrefix}${hash}`] === undefined && id !== also) continue;
      const address = member.state?.addresses.content;
      const parsed = address === undefined ? null : parseHostPort(address);
      if (parsed === null) continue;
      providers.set(id, { link: this.links.linkTo(id, parsed), complete: true });
    }
    return providers;
  }

  /** Keeps the gossip announcements equal to the blobs held. */
  async announce(): Promise<void> {
    const held = new Map((await this.store.list()).map((blob) => [blob.hash as string, blob.size]));
    const gossip = this.options.gossip();
    for (const [hash, size] of held) {
      if (!this.announced.has(hash)) gossip.setState(`${blobKeyPrefix}${hash}`, String(size));
    }
    for (const hash of this.announced) {
      if (!held.has(hash)) gossip.setState(`${blobKeyPrefix}${hash}`, null);
    }
    this.announced = new Set(held.keys());
  }

  counters(): { servedBytes: number; requests: number } {
    return { servedBytes: this.service.counters.uploadedBytes, requests: this.service.counters.requests };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.sync.stop();
    await this.service.close();
    await this.links.close();
  }
}
