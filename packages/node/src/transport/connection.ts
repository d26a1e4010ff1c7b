import type { Socket } from "node:net";
import { assert, type NodeId, type Signer } from "@revoada/fabric-core/vocabulary";
import { FrameDecoder, frameHeaderBytes } from "./frame.js";
import {
  authBytes,
  decodeHello,
  encodeAuth,
  encodeHello,
  frameTag,
  frameTagBytes,
  freshNonce,
  type HandshakeRole,
  type Hello,
  helloBytes,
  sessionKeys,
  tagsEqual,
  transcriptOf,
  verifyAuth,
} from "./handshake.js";

/**
 * One TCP connection: the handshake (handshake.ts), then MAC-tagged data frames in both
 * directions. Knows nothing about messages: it hands verified payloads to `onPayload`.
 * Every failure ends in `onClose(reason)` exactly once and destroys the socket.
 */
export interface ConnectionSettings {
  readonly signer: Signer;
  readonly clusterKey: Uint8Array;
  readonly frameBytesMax: number;
  readonly handshakeTimeoutMs: number;
  /** The dialer knows whom it called; a different NodeId is refused. */
  readonly expectedPeer: NodeId | null;
  /** The acceptor asks whether this NodeId may join at all. */
  readonly isPeerAllowed: (peer: NodeId) => boolean;
}

export interface ConnectionEvents {
  onOpen(connection: Connection): void;
  onPayload(connection: Connection, payload: Buffer): void;
  onClose(connection: Connection, reason: string, authenticated: boolean): void;
}

type Phase = "hello" | "auth" | "open" | "closed";

/** Handshake frames are small; a bigger length before authentication closes the link. */
const handshakeFrameBytesMax = Math.max(helloBytes, authBytes);
/** Bytes queued in the socket past which `write` refuses (the peer is not reading). */
export const socketQueueBytesMax = 64 * 1024 * 1024;

export class Connection {
  readonly role: HandshakeRole;
  readonly socket: Socket;
  readonly remoteAddress: string;
  private readonly settings: ConnectionSettings;
  private readonly events: ConnectionEvents;
  private readonly decoder: FrameDecoder;
  private readonly localHello: Hello;
  private phase: Phase = "hello";
  private remoteHello: Hello | null = null;
  private transcript: Buffer | null = null;
  private sendKey: Buffer | null = null;
  private receiveKey: Buffer | null = null;
  private sendSequence = 0;
  private receiveSequence = 0;
  private corked = false;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(role: HandshakeRole, socket: Socket, settings: ConnectionSettings, events: ConnectionEvents) {
    this.role = role;
    this.socket = socket;
    this.settings = settings;
    this.events = events;
    this.remoteAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.decoder = new FrameDecoder(handshakeFrameBytesMax);
    this.localHello = { nodeId: settings.signer.nodeId, nonce: freshNonce() };
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => this.close(`socket error: ${error.message}`));
    socket.on("close", () => this.close("closed by peer"));
    this.handshakeTimer = setTimeout(() => this.close("handshake timed out"), settings.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  /** The dialer speaks first, once connected. */
  start(): void {
    assert(this.role === "dialer", "only the dialer starts the handshake");
    this.writeRaw(encodeHello(this.localHello));
  }

  get peer(): NodeId | null {
    return this.phase === "open" ? (this.remoteHello?.nodeId ?? null) : null;
  }

  get isOpen(): boolean {
    return this.phase === "open";
  }

  /** Queues one MAC-tagged frame; false when closed or when the peer stopped reading. */
  write(payload: Uint8Array): boolean {
    if (this.phase !== "open") return false;
    if (this.socket.writableLength > socketQueueBytesMax) return false;
    assert(payload.length + frameTagBytes <= this.settings.frameBytesMax, "payload fits a frame");
    const header = Buffer.allocUnsafe(frameHeaderBytes);
    header.writeUInt32BE(payload.length + frameTagBytes, 0);
    const tag = frameTag(this.sendKey!, this.sendSequence, payload);
    this.sendSequence += 1;
    if (!this.corked) {
      // Frames written in one turn of the event loop leave in one syscall.
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => this.flush());
    }
    this.socket.write(header);
    this.socket.write(payload);
    this.socket.write(tag);
    return true;
  }

  /** Hands corked frames to the kernel now (before a blocking fsync, say). */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  isClosed(): boolean {
    return this.phase === "closed";
  }

  close(reason: string): void {
    if (this.phase === "closed") return;
    const authenticated = this.phase === "open";
    this.phase = "closed";
    clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.events.onClose(this, reason, authenticated);
  }

  private writeRaw(body: Buffer): void {
    const header = Buffer.allocUnsafe(frameHeaderBytes);
    header.writeUInt32BE(body.length, 0);
    this.socket.write(Buffer.concat([header, body]));
  }

  private receive(chunk: Buffer): void {
    if (this.phase === "closed") return;
    this.decoder.push(chunk);
    // Bounded by the bytes just buffered: every pass consumes a whole frame or stops.
    for (;;) {
      const outcome = this.decoder.next();
      if (outcome.type === "incomplete") return;
      if (outcome.type === "oversized") {
        this.close(`oversized frame of ${outcome.length} bytes`);
        return;
      }
      if (this.phase === "open") this.receiveData(outcome.frame);
      else this.receiveHandshake(outcome.frame);
      // A frame handler may have closed the connection; read the field afresh.
      if (this.isClosed()) return;
    }
  }

  private receiveHandshake(frame: Buffer): void {
    if (this.phase === "hello") {
      const hello = decodeHello(frame);
      if (hello === null) {
        this.close("malformed hello");
        return;
      }
      this.remoteHello = hello;
      if (this.role === "acceptor") {
        if (!this.settings.isPeerAllowed(hello.nodeId)) {
          this.close("peer not allowed");
          return;
        }
        this.transcript = transcriptOf(hello, this.localHello);
        this.writeRaw(encodeHello(this.localHello));
        this.writeRaw(
          encodeAuth("acceptor", this.transcript, this.settings.clusterKey, this.settings.signer),
        );
      } else {
        const expected = this.settings.expectedPeer;
        if (expected !== null && hello.nodeId !== expected) {
          this.close("unexpected peer identity");
          return;
        }
        this.transcript = transcriptOf(this.localHello, hello);
      }
      this.phase = "auth";
      return;
    }
    assert(this.phase === "auth", "handshake phase");
    const peerRole: HandshakeRole = this.role === "dialer" ? "acceptor" : "dialer";
    const verdict = verifyAuth(
      frame,
      peerRole,
      this.transcript!,
      this.settings.clusterKey,
      this.remoteHello!.nodeId,
    );
    if (verdict !== "ok") {
      this.close(`authentication failed: ${verdict}`);
      return;
    }
    if (this.role === "dialer") {
      this.writeRaw(encodeAuth("dialer", this.transcript!, this.settings.clusterKey, this.settings.signer));
    }
    this.open();
  }

  private open(): void {
    const keys = sessionKeys(this.transcript!, this.settings.clusterKey);
    this.sendKey = this.role === "dialer" ? keys.dialerToAcceptor : keys.acceptorToDialer;
    this.receiveKey = this.role === "dialer" ? keys.acceptorToDialer : keys.dialerToAcceptor;
    this.decoder.setLimit(this.settings.frameBytesMax);
    clearTimeout(this.handshakeTimer);
    this.phase = "open";
    this.events.onOpen(this);
  }

  private receiveData(frame: Buffer): void {
    if (frame.length < frameTagBytes) {
      this.close("frame shorter than its tag");
      return;
    }
    const payload = frame.subarray(0, frame.length - frameTagBytes);
    const tag = frame.subarray(frame.length - frameTagBytes);
    const expected = frameTag(this.receiveKey!, this.receiveSequence, payload);
    // A bad tag means the stream was altered or injected into: nothing after it is trusted.
    if (!tagsEqual(expected, tag)) {
      this.close("frame tag mismatch");
      return;
    }
    this.receiveSequence += 1;
    this.events.onPayload(this, payload);
  }
}
