import type { Socket } from "node:net";
import { assert, type NodeId, type Signer } from "@revoada/fabric-core/vocabulary";
import type { KeySet } from "../keys/key-set.js";
import { FrameDecoder, frameHeaderBytes } from "./frame.js";
import {
  authBytes,
  decodeHello,
  encodeAuth,
  FrameCipher,
  type FrameProtection,
  frameTagBytes,
  freshHello,
  type HandshakeRole,
  type Hello,
  helloBytes,
  type LocalHello,
  peerKeyVerdict,
  sessionKeys,
  transcriptOf,
  verifyAuth,
} from "./handshake.js";

/**
 * One TCP connection: the handshake (handshake.ts), then AEAD-sealed data frames in both
 * directions. Knows nothing about messages: it hands verified payloads to `onPayload`.
 * Every failure ends in `onClose(reason)` exactly once and destroys the socket.
 */
export interface ConnectionSettings {
  readonly signer: Signer;
  /** The cluster keys this node proves itself with (the primary) and accepts (all held). */
  readonly clusterKeys: KeySet;
  readonly protection: FrameProtection;
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
  /** The dialer's is made at once; the acceptor's answers the dialer's (it may pick its key). */
  private localHello: LocalHello | null;
  private phase: Phase = "hello";
  private remoteHello: Hello | null = null;
  private transcript: Buffer | null = null;
  private sendCipher: FrameCipher | null = null;
  private receiveCipher: FrameCipher | null = null;
  private corked = false;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(role: HandshakeRole, socket: Socket, settings: ConnectionSettings, events: ConnectionEvents) {
    this.role = role;
    this.socket = socket;
    this.settings = settings;
    this.events = events;
    this.remoteAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.decoder = new FrameDecoder(handshakeFrameBytesMax);
    this.localHello =
      role === "dialer" ? freshHello(settings.signer.nodeId, settings.clusterKeys.primary.idBytes) : null;
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
    this.writeRaw(this.localHello!.bytes);
  }

  get peer(): NodeId | null {
    return this.phase === "open" ? (this.remoteHello?.nodeId ?? null) : null;
  }

  /** The id of the cluster key the peer authenticated with (hex), once known. */
  get peerKeyId(): string | null {
    return this.remoteHello?.keyId.toString("hex") ?? null;
  }

  get isOpen(): boolean {
    return this.phase === "open";
  }

  /** Queues one sealed frame; false when closed or when the peer stopped reading. */
  write(payload: Uint8Array): boolean {
    if (this.phase !== "open") return false;
    if (this.socket.writableLength > socketQueueBytesMax) return false;
    assert(payload.length + frameTagBytes <= this.settings.frameBytesMax, "payload fits a frame");
    const header = Buffer.allocUnsafe(frameHeaderBytes);
    const [body, tag] = this.sendCipher!.seal(payload);
    header.writeUInt32BE(body.length + frameTagBytes, 0);
    if (!this.corked) {
      // Frames written in one turn of the event loop leave in one syscall.
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => this.flush());
    }
    this.socket.write(header);
    this.socket.write(body);
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
      const protection = this.settings.protection;
      if (this.role === "acceptor") {
        // The key first: a peer without a cluster key learns nothing about who is a member.
        if (!this.acceptsPeerKey(hello)) return;
        if (!this.settings.isPeerAllowed(hello.nodeId)) {
          this.close("peer not allowed");
          return;
        }
        // Answer with the key the dialer proved itself with (held here, so not retired): a
        // peer that already dropped the key this node still sends with can connect mid-rotation.
        this.localHello = freshHello(this.settings.signer.nodeId, hello.keyId);
        this.transcript = transcriptOf(protection, hello, this.localHello);
        const ownKey = this.ownKey();
        if (ownKey === null) return;
        this.writeRaw(this.localHello.bytes);
        this.writeRaw(encodeAuth("acceptor", this.transcript, ownKey, this.settings.signer));
      } else {
        const expected = this.settings.expectedPeer;
        if (expected !== null && hello.nodeId !== expected) {
          this.close("unexpected peer identity");
          return;
        }
        if (!this.acceptsPeerKey(hello)) return;
        this.transcript = transcriptOf(protection, this.localHello!, hello);
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
      this.settings.clusterKeys,
      this.remoteHello!,
    );
    if (verdict !== "ok") {
      this.close(`authentication failed: ${verdict}${this.keyNote(verdict)}`);
      return;
    }
    if (this.role === "dialer") {
      const ownKey = this.ownKey();
      if (ownKey === null) return;
      this.writeRaw(encodeAuth("dialer", this.transcript!, ownKey, this.settings.signer));
    }
    this.open();
  }

  /** Refuses a peer whose hello names a cluster key this node does not hold (or retired). */
  private acceptsPeerKey(hello: Hello): boolean {
    const verdict = peerKeyVerdict(this.settings.clusterKeys, hello);
    if (verdict === "ok") return true;
    this.close(`authentication failed: ${verdict}${this.keyNote(verdict)}`);
    return false;
  }

  private keyNote(verdict: string): string {
    const id = this.remoteHello?.keyId.toString("hex") ?? "?";
    if (verdict === "retired-cluster-key") return ` (the peer's cluster key ${id} is retired here)`;
    if (verdict === "cluster-key")
      return ` (the peer's cluster key ${id} is not held here, or its proof is wrong)`;
    return "";
  }

  /** The key this side's hello named (its primary when the connection started). */
  private ownKey(): Buffer | null {
    const found = this.settings.clusterKeys.lookup(this.localHello!.keyId);
    if (found.type === "key") return found.entry.key;
    this.close("own cluster key retired during the handshake");
    return null;
  }

  private open(): void {
    const keys = sessionKeys(this.transcript!, this.localHello!, this.remoteHello!);
    if (keys === null) {
      this.close("authentication failed: malformed (unusable ephemeral key)");
      return;
    }
    const protection = this.settings.protection;
    const sendKey = this.role === "dialer" ? keys.dialerToAcceptor : keys.acceptorToDialer;
    const receiveKey = this.role === "dialer" ? keys.acceptorToDialer : keys.dialerToAcceptor;
    this.sendCipher = new FrameCipher(sendKey, protection);
    this.receiveCipher = new FrameCipher(receiveKey, protection);
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
    const payload = this.receiveCipher!.open(frame);
    // A frame that does not open was altered, injected, replayed or reordered: nothing after
    // it is trusted.
    if (payload === null) {
      this.close("frame failed to open");
      return;
    }
    this.events.onPayload(this, payload);
  }
}
