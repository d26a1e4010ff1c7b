import { createConnection, createServer, type Server, type Socket } from "node:net";
import { limits } from "@revoada/fabric-core/vocabulary";

/**
 * A bidirectional stream of length-prefixed frames (`[u32 length][bytes]`, at most
 * `limits.frameBytesMax`). The content protocol needs only this much of a transport; the
 * authenticated node transport (cluster key + ed25519 handshake) will provide the same shape,
 * and until it lands this plain TCP version (loopback tests, `blob get --peer`) stands in. A
 * length over the limit closes the link: decoders never trust lengths.
 */
export interface FrameLink {
  readonly remote: string;
  /** Sends one frame made of `parts` (written together, without copying them). */
  send(parts: readonly Uint8Array[]): void;
  /** Adds a frame listener; the returned function removes it (a finished fetch lets go of a shared link). */
  onFrame(listener: (frame: Uint8Array) => void): () => void;
  /** Adds a close listener; the returned function removes it. */
  onClose(listener: (reason: string) => void): () => void;
  close(): void;
  /** Bytes queued for sending and not yet taken by the kernel. */
  queuedBytes(): number;
}

/** Adds `listener` to `listeners`; the returned function removes it (once). */
export function addListener<T>(listeners: T[], listener: T): () => void {
  listeners.push(listener);
  return () => {
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  };
}

class SocketFrameLink implements FrameLink {
  private readonly frameListeners: ((frame: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    readonly remote: string,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.receive(data));
    socket.on("error", (error) => this.finish(error.message));
    socket.on("close", () => this.finish("closed"));
  }

  send(parts: readonly Uint8Array[]): void {
    if (this.closed) return;
    let length = 0;
    for (const part of parts) length += part.length;
    if (length > limits.frameBytesMax) throw new RangeError(`frame of ${length} bytes over the limit`);
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32BE(length, 0);
    this.socket.cork();
    this.socket.write(prefix);
    for (const part of parts) if (part.length > 0) this.socket.write(part);
    this.socket.uncork();
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    return addListener(this.frameListeners, listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    return addListener(this.closeListeners, listener);
  }

  close(): void {
    this.socket.end();
    this.socket.destroySoon();
  }

  queuedBytes(): number {
    return this.socket.writableLength;
  }

  private receive(data: Buffer): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    while (this.pendingBytes >= 4 && !this.closed) {
      const head = this.pending[0]!.length >= 4 ? this.pending[0]! : this.flatten();
      const length = head.readUInt32BE(0);
      if (length > limits.frameBytesMax) {
        this.socket.destroy();
        this.finish(`peer sent a frame of ${length} bytes`);
        return;
      }
      if (this.pendingBytes < 4 + length) return;
      const all = this.flatten();
      const frame = all.subarray(4, 4 + length);
      const rest = all.subarray(4 + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      for (const listener of [...this.frameListeners]) listener(frame);
    }
  }

  private flatten(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0]!;
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners) listener(reason);
  }
}

export function connectFrameLink(host: string, port: number): Promise<FrameLink> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(new SocketFrameLink(socket, `${host}:${port}`));
    });
    socket.once("error", reject);
  });
}

/** Listens on `host:port` (port 0 for an ephemeral one) and hands each connection over as a link. */
export function listenFrameLinks(
  host: string,
  port: number,
  onLink: (link: FrameLink) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    onLink(new SocketFrameLink(socket, `${socket.remoteAddress}:${socket.remotePort}`));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : port });
    });
  });
}

/** Two links joined in memory (tests of the protocol without sockets). */
export function memoryLinkPair(): [FrameLink, FrameLink] {
  const a = new MemoryLink("memory-b");
  const b = new MemoryLink("memory-a");
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryLink implements FrameLink {
  peer: MemoryLink | null = null;
  private readonly frameListeners: ((frame: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private closed = false;

  constructor(readonly remote: string) {}

  send(parts: readonly Uint8Array[]): void {
    if (this.closed) return;
    const frame = Buffer.concat(parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.length)));
    const peer = this.peer!;
    queueMicrotask(() => {
      if (!peer.closed) for (const listener of [...peer.frameListeners]) listener(frame);
    });
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    return addListener(this.frameListeners, listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    return addListener(this.closeListeners, listener);
  }

  close(): void {
    for (const link of [this, this.peer!]) {
      if (link.closed) continue;
      link.closed = true;
      for (const listener of link.closeListeners) listener("closed");
    }
  }

  queuedBytes(): number {
    return 0;
  }
}
