import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * Length-prefixed frames: a u32 big-endian body length, then the body. The decoder never
 * trusts a length: one above `frameBytesMax` is reported before a single body byte is
 * buffered, and the caller closes the connection.
 */
export const frameHeaderBytes = 4;

export function encodeFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, frameHeaderBytes);
  return frame;
}

export type FrameOutcome =
  | { readonly type: "frame"; readonly frame: Buffer }
  | { readonly type: "incomplete" }
  | { readonly type: "oversized"; readonly length: number };

export class FrameDecoder {
  private frameBytesMax: number;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(frameBytesMax: number) {
    assert(Number.isSafeInteger(frameBytesMax) && frameBytesMax > 0, "frame limit is a positive integer");
    assert(frameBytesMax < 2 ** 32, "frame limit fits the u32 length");
    this.frameBytesMax = frameBytesMax;
  }

  /** Buffers bytes from the socket; take frames with `next`. */
  push(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /**
   * The next complete frame body. One at a time, so a caller can change the limit between
   * frames (the handshake's small limit ends with the frame that completes it).
   */
  next(): FrameOutcome {
    if (this.bufferedBytes < frameHeaderBytes) return { type: "incomplete" };
    const length = this.contiguous(frameHeaderBytes).readUInt32BE(0);
    if (length > this.frameBytesMax) return { type: "oversized", length };
    if (this.bufferedBytes < frameHeaderBytes + length) return { type: "incomplete" };
    const whole = this.contiguous(frameHeaderBytes + length);
    const frame = whole.subarray(frameHeaderBytes, frameHeaderBytes + length);
    this.consume(frameHeaderBytes + length);
    return { type: "frame", frame };
  }

  /** Raises or lowers the limit (the handshake runs with a small one). */
  setLimit(frameBytesMax: number): void {
    assert(Number.isSafeInteger(frameBytesMax) && frameBytesMax > 0, "frame limit is a positive integer");
    assert(frameBytesMax < 2 ** 32, "frame limit fits the u32 length");
    this.frameBytesMax = frameBytesMax;
  }

  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** The first `bytes` buffered bytes as one buffer (joins chunks only when a frame spans them). */
  private contiguous(bytes: number): Buffer {
    const first = this.buffered[0]!;
    if (first.length >= bytes) return first;
    const joined = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [joined];
    return joined;
  }

  private consume(bytes: number): void {
    const first = this.buffered[0]!;
    assert(first.length >= bytes, "consume within the first chunk");
    if (first.length === bytes) this.buffered.shift();
    else this.buffered[0] = first.subarray(bytes);
    this.bufferedBytes -= bytes;
  }
}
