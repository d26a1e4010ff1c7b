import { createConnection, createServer, type Server, type Socket } from "node:net";
import { assert, limits, type NodeId, type Signer } from "@revoada/fabric-core/vocabulary";
import { type Logger, silentLogger } from "../daemon/log.js";
import { TransportSetupError } from "../errors.js";
import { isPeerBlocked } from "../faults.js";
import { type ClusterKeys, type KeySet, keySetOf } from "../keys/key-set.js";
import type { MessageCodec } from "./codec.js";
import { Connection, type ConnectionEvents, type ConnectionSettings } from "./connection.js";
import { type FrameProtection, frameTagBytes } from "./handshake.js";

/**
 * Authenticated, encrypted node-to-node TCP (docs/transport.md), generic over the message type: a
 * `MessageCodec<M>` turns messages into frame payloads and validates them on the way in.
 *
 * Each configured peer gets one outbound link that this node dials and keeps dialing (with
 * exponential backoff) while the transport runs; `send(peer, message)` writes to it, or
 * queues (bounded) while it reconnects. Inbound connections deliver to `onMessage`; they
 * also carry replies to a peer this node has no address for. Nothing that arrives from the
 * network throws: a refused handshake, a frame that fails to open or an oversized frame closes
 * that connection (counted in `refusals()`), an undecodable payload is dropped; each is logged.
 */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TransportOptions<M> {
  readonly signer: Signer;
  /**
   * The shared cluster secret: one 32-byte key, or a live `KeySet` (the daemon's, rotated by
   * `revoada keys rotate`; retiring a key closes the sessions it authenticated).
   */
  readonly clusterKey: ClusterKeys;
  /**
   * `aead` (default): frames encrypted; `mac`: authenticated only, for benchmarks (handshake.ts).
   * The default is `mac` only when `REVOADA_BENCH_UNENCRYPTED_FRAMES=1` is set (the benchmarks'
   * "without encryption" runs), and a transport that runs so says it in a warning.
   */
  readonly frameProtection?: FrameProtection;
  readonly codec: MessageCodec<M>;
  readonly onMessage: (from: NodeId, message: M) => void;
  /** Which authenticated NodeIds may connect in (default: any holder of the cluster key). */
  readonly isPeerAllowed?: (peer: NodeId) => boolean;
  readonly logger?: Logger;
  /** Largest frame accepted or sent (default `limits.frameBytesMax`). */
  readonly frameBytesMax?: number;
  /** Messages queued per peer while its link reconnects (default 4096). */
  readonly queueMessagesMax?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Called when a link to a peer opens or closes (metrics, tests). */
  readonly onPeerState?: (peer: NodeId, connected: boolean) => void;
  /**
   * Dial a peer only when there is first something to send it that no open connection can
   * carry, not when its address is given. Raft learns every gossip member's address, but
   * talks only to the members of its configuration: in a mesh of N nodes eager dialing
   * meant N x (N - 1) authenticated connections, and handshake storms at N = 50.
   */
  readonly dialOnDemand?: boolean;
}

/**
 * Why connections were closed against this node's will: a frame that failed to open or was
 * oversized (after the handshake), or a refused handshake by verdict. The process-wide sum
 * over every transport is `transportRefusals()` (the daemon's `/metrics`).
 */
export type RefusalCounts = Record<string, number>;
const processRefusals: RefusalCounts = {};

export function transportRefusals(): Readonly<RefusalCounts> {
  return { ...processRefusals };
}

/** The counter key of a close reason, or null when the close is not a refusal. */
function refusalOf(reason: string, authenticated: boolean): string | null {
  if (reason.startsWith("oversized")) return "oversized-frame";
  if (authenticated) return reason.startsWith("frame") ? "frame-open-failed" : null;
  if (reason.startsWith("authentication failed: ")) return reason.slice(23).split(" ")[0] ?? "authentication";
  if (
    reason === "peer not allowed" ||
    reason === "unexpected peer identity" ||
    reason.startsWith("malformed")
  )
    return reason.replaceAll(" ", "-");
  return null;
}

interface OutboundLink {
  readonly peer: NodeId;
  address: PeerAddress;
  /** Dialed at least once (with `dialOnDemand`, not before the first send that needs it). */
  started: boolean;
  connection: Connection | null;
  queue: Uint8Array[];
  backoffMs: number;
  timer: NodeJS.Timeout | null;
}

export class Transport<M> {
  private readonly options: TransportOptions<M>;
  private readonly logger: Logger;
  private readonly frameBytesMax: number;
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly inbound = new Map<NodeId, Connection>();
  private readonly connections = new Set<Connection>();
  private server: Server | null = null;
  private closed = false;
  private readonly clusterKeys: KeySet;
  private readonly refused: RefusalCounts = {};
  private readonly frameProtection: FrameProtection;

  constructor(options: TransportOptions<M>) {
    this.options = options;
    this.clusterKeys = keySetOf(options.clusterKey);
    this.logger = options.logger ?? silentLogger;
    this.frameProtection =
      options.frameProtection ?? (process.env.REVOADA_BENCH_UNENCRYPTED_FRAMES === "1" ? "mac" : "aead");
    if (this.frameProtection === "mac")
      this.logger.warn("transport frames are authenticated but NOT encrypted (benchmark mode)", {});
    this.frameBytesMax = options.frameBytesMax ?? limits.frameBytesMax;
    assert(this.frameBytesMax > frameTagBytes, "frames hold more than their tag");
    // A retired key no longer vouches for anyone: sessions it opened are closed and redialed.
    this.clusterKeys.onRetire((id) => {
      for (const connection of [...this.connections]) {
        if (connection.peerKeyId === id) connection.close(`cluster key ${id} retired`);
      }
    });
  }

  /** Connections this transport closed as refusals, by reason (see `RefusalCounts`). */
  refusals(): Readonly<RefusalCounts> {
    return { ...this.refused };
  }

  get nodeId(): NodeId {
    return this.options.signer.nodeId;
  }

  /** Starts accepting connections; port 0 picks a free one. Resolves to the bound address. */
  async listen(address: PeerAddress): Promise<PeerAddress> {
    assert(this.server === null, "listen once");
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error) =>
        reject(new TransportSetupError(`${address.host}:${address.port}`, "cannot listen", { cause: error })),
      );
      server.listen(address.port, address.host, () => resolve());
    });
    server.on("error", (error) => this.logger.warn("transport server error", { error }));
    const bound = server.address();
    assert(bound !== null && typeof bound === "object", "a TCP server has an address");
    return { host: bound.address, port: bound.port };
  }

  /** Adds or moves a peer; its link starts dialing at once. */
  setPeer(peer: NodeId, address: PeerAddress): void {
    if (peer === this.nodeId || this.closed) return;
    const existing = this.links.get(peer);
    if (existing !== undefined) {
      if (existing.address.host === address.host && existing.address.port === address.port) return;
      existing.address = address;
      existing.connection?.close("peer address changed");
      return;
    }
    const link: OutboundLink = {
      peer,
      address,
      started: this.options.dialOnDemand !== true,
      connection: null,
      queue: [],
      backoffMs: this.options.backoffMinMs ?? 10,
      timer: null,
    };
    this.links.set(peer, link);
    if (link.started) this.dial(link);
  }

  removePeer(peer: NodeId): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    this.links.delete(peer);
    if (link.timer !== null) clearTimeout(link.timer);
    link.connection?.close("peer removed");
  }

  /**
   * Sends (or queues while reconnecting). False when the message is dropped: no route to
   * the peer, its queue is full, or the message is over the frame limit. Raft and gossip
   * treat a drop as a lost packet.
   */
  send(peer: NodeId, message: M): boolean {
    if (this.closed || isPeerBlocked(peer)) return false;
    const payload = this.options.codec.encode(message);
    if (payload.length + frameTagBytes > this.frameBytesMax) {
      this.logger.warn("message over the frame limit not sent", { peer, bytes: payload.length });
      return false;
    }
    const link = this.links.get(peer);
    if (link === undefined) return this.inbound.get(peer)?.write(payload) ?? false;
    if (link.connection?.isOpen === true) return link.connection.write(payload);
    // The peer's own connection is up while ours redials (it restarted and dialed first):
    // answer over it rather than after the redial.
    const inbound = this.inbound.get(peer);
    if (inbound?.isOpen === true) return inbound.write(payload);
    if (link.queue.length >= (this.options.queueMessagesMax ?? 4096)) return false;
    link.queue.push(payload);
    if (!link.started) {
      link.started = true;
      this.dial(link);
    }
    return true;
  }

  /**
   * Hands every written frame to the kernel now instead of at the end of this tick: a
   * Raft leader flushes its appends before it blocks on its own fsync, so followers write
   * in parallel with it.
   */
  flush(): void {
    for (const connection of this.connections) connection.flush();
  }

  isConnected(peer: NodeId): boolean {
    return this.links.get(peer)?.connection?.isOpen === true || this.inbound.get(peer)?.isOpen === true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) {
      if (link.timer !== null) clearTimeout(link.timer);
    }
    for (const connection of [...this.connections]) connection.close("transport closed");
    this.links.clear();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private settings(expectedPeer: NodeId | null): ConnectionSettings {
    return {
      signer: this.options.signer,
      clusterKeys: this.clusterKeys,
      protection: this.frameProtection,
      frameBytesMax: this.frameBytesMax,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 5000,
      expectedPeer,
      isPeerAllowed: this.options.isPeerAllowed ?? (() => true),
    };
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const connection = new Connection("acceptor", socket, this.settings(null), this.events(null));
    this.connections.add(connection);
  }

  private dial(link: OutboundLink): void {
    link.timer = null;
    if (this.closed || this.links.get(link.peer) !== link) return;
    const socket = createConnection({ host: link.address.host, port: link.address.port });
    const connection = new Connection("dialer", socket, this.settings(link.peer), this.events(link));
    link.connection = connection;
    this.connections.add(connection);
    socket.once("connect", () => connection.start());
  }

  private events(link: OutboundLink | null): ConnectionEvents {
    return {
      onOpen: (connection) => this.opened(connection, link),
      onPayload: (connection, payload) => this.deliver(connection, payload),
      onClose: (connection, reason, authenticated) =>
        this.closedConnection(connection, link, reason, authenticated),
    };
  }

  private opened(connection: Connection, link: OutboundLink | null): void {
    const peer = connection.peer!;
    if (link === null) {
      this.inbound.get(peer)?.close("replaced by a newer connection");
      this.inbound.set(peer, connection);
      // The peer is back: a link of ours waiting out its backoff redials now.
      const outbound = this.links.get(peer);
      if (outbound !== undefined && outbound.connection === null && outbound.timer !== null) {
        clearTimeout(outbound.timer);
        outbound.backoffMs = this.options.backoffMinMs ?? 10;
        this.dial(outbound);
      }
    } else {
      link.backoffMs = this.options.backoffMinMs ?? 10;
      const queued = link.queue;
      link.queue = [];
      for (const payload of queued) connection.write(payload);
    }
    this.logger.debug("peer connected", { peer, role: connection.role, remote: connection.remoteAddress });
    this.options.onPeerState?.(peer, true);
  }

  private deliver(connection: Connection, payload: Buffer): void {
    const peer = connection.peer!;
    const decoded = this.options.codec.decode(payload);
    if (!decoded.ok) {
      this.logger.warn("undecodable frame dropped", {
        peer,
        bytes: payload.length,
        issues: decoded.issues.slice(0, 3).map((issue) => `${issue.path.join(".")}: ${issue.message}`),
      });
      return;
    }
    if (isPeerBlocked(peer)) return;
    try {
      this.options.onMessage(peer, decoded.value);
    } catch (error) {
      // The handler's bug must not tear down the link or the process: log it, keep going.
      this.logger.warn("message handler threw", { peer, error });
    }
  }

  private closedConnection(
    connection: Connection,
    link: OutboundLink | null,
    reason: string,
    authenticated: boolean,
  ): void {
    this.connections.delete(connection);
    const refusal = refusalOf(reason, authenticated);
    if (refusal !== null) {
      this.refused[refusal] = (this.refused[refusal] ?? 0) + 1;
      processRefusals[refusal] = (processRefusals[refusal] ?? 0) + 1;
    }
    const peer = connection.peer ?? link?.peer ?? null;
    if (authenticated) {
      const faulty = reason.startsWith("oversized") || reason.startsWith("frame");
      const fields = { peer, reason, role: connection.role };
      if (faulty) this.logger.warn("connection closed on a bad frame", fields);
      else this.logger.debug("peer disconnected", fields);
      if (peer !== null) this.options.onPeerState?.(peer, false);
    } else if (!reason.startsWith("socket error") && reason !== "transport closed") {
      this.logger.warn("connection refused", {
        reason,
        role: connection.role,
        remote: connection.remoteAddress,
      });
    }
    if (link === null) {
      for (const [inboundPeer, inbound] of this.inbound) {
        if (inbound === connection) this.inbound.delete(inboundPeer);
      }
      return;
    }
    if (link.connection === connection) link.connection = null;
    if (this.closed || this.links.get(link.peer) !== link) return;
    const delay = link.backoffMs * (0.5 + Math.random() / 2);
    link.backoffMs = Math.min(link.backoffMs * 2, this.options.backoffMaxMs ?? 1000);
    link.timer = setTimeout(() => this.dial(link), delay);
  }
}
