import { type NodeId, ok, type Signer } from "@revoada/fabric-core/vocabulary";
import type { Logger } from "../daemon/log.js";
import type { ClusterKeys } from "../keys/key-set.js";
import { type MessageCodec, type PeerAddress, Transport } from "../transport/index.js";
import { addListener, type FrameLink } from "./frame-link.js";

/**
 * Content links over the node's authenticated transport (cluster-key HMAC + ed25519
 * handshake, MAC-tagged frames): one `FrameLink` per peer NodeId, carrying both this node's
 * requests to the peer and the peer's requests to this node (responses and requests are told
 * apart by their `type`). A link is never closed by a disconnect: the transport redials, and
 * the fetch's timeouts decide when a peer is gone.
 */

const bytesCodec: MessageCodec<Uint8Array> = {
  encode: (message) => message,
  decode: (bytes) => ok(bytes),
};

export interface TransportLinksOptions {
  readonly signer: Signer;
  readonly clusterKey: ClusterKeys;
  /**
   * A link to a peer was created (this node dialed it to fetch, or it sent its first frame):
   * serve it. Every link is served, whichever side spoke first, or a peer this node once
   * fetched from would never be answered when it asks in turn.
   */
  readonly onNewPeer: (link: FrameLink) => void;
  readonly logger?: Logger;
}

export class TransportContentLinks {
  readonly transport: Transport<Uint8Array>;
  private readonly links = new Map<NodeId, PeerLink>();

  constructor(private readonly options: TransportLinksOptions) {
    this.transport = new Transport<Uint8Array>({
      signer: options.signer,
      clusterKey: options.clusterKey,
      codec: bytesCodec,
      onMessage: (from, bytes) => this.deliver(from, bytes),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }

  get nodeId(): NodeId {
    return this.transport.nodeId;
  }

  listen(address: PeerAddress): Promise<PeerAddress> {
    return this.transport.listen(address);
  }

  /** The link to `peer`, dialing it at `address`. */
  linkTo(peer: NodeId, address: PeerAddress): FrameLink {
    this.transport.setPeer(peer, address);
    const { link, created } = this.linkOf(peer);
    if (created) this.options.onNewPeer(link);
    return link;
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private linkOf(peer: NodeId): { link: PeerLink; created: boolean } {
    const existing = this.links.get(peer);
    if (existing !== undefined) return { link: existing, created: false };
    const link = new PeerLink(peer, this.transport);
    this.links.set(peer, link);
    return { link, created: true };
  }

  private deliver(from: NodeId, bytes: Uint8Array): void {
    const { link, created } = this.linkOf(from);
    if (created) this.options.onNewPeer(link);
    link.deliver(bytes);
  }
}

class PeerLink implements FrameLink {
  private readonly frameListeners: ((frame: Uint8Array) => void)[] = [];

  constructor(
    readonly remote: NodeId,
    private readonly transport: Transport<Uint8Array>,
  ) {}

  send(parts: readonly Uint8Array[]): void {
    // A refused send (queue full, link down) is a lost frame: the fetch's timeout covers it.
    this.transport.send(
      this.remote,
      Buffer.concat(parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.length))),
    );
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    return addListener(this.frameListeners, listener);
  }

  onClose(_listener: (reason: string) => void): () => void {
    // The transport redials a lost peer; this link outlives connections.
    return () => undefined;
  }

  close(): void {
    // Shared by fetches and the service; the transport owns the connections.
  }

  queuedBytes(): number {
    return 0;
  }

  deliver(frame: Uint8Array): void {
    for (const listener of [...this.frameListeners]) listener(frame);
  }
}
