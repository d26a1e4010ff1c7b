// The load generator `pnpm bench raft --vs etcd` drives both systems with: closed-loop
// clients, each on its own keep-alive HTTP/1.1 connection, sending one request and waiting
// for its answer before the next. A minimal client (one write per request, a small response
// parser) so that the generator costs the same few microseconds per request whichever system
// it drives; node:http's client costs several times more per request.
import { connect, type Socket } from "node:net";

export interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
}

const headerEnd = Buffer.from("\r\n\r\n");
const maxResponseBytes = 1 << 20;

/** One keep-alive connection; one request in flight at a time. */
export class KeepAliveConnection {
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (answer: HttpAnswer) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly ready: Promise<void>;

  constructor(
    private readonly host: string,
    port: number,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.ready.catch(() => undefined); // reported by request()
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const fail = (error: Error) => {
      this.failure = error;
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.reject(error);
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail(new Error("connection closed")));
  }

  async request(method: string, path: string, body: Buffer, contentType: string): Promise<HttpAnswer> {
    await this.ready;
    if (this.failure !== null) throw this.failure;
    if (this.waiting !== null) throw new Error("one request at a time per connection");
    const head =
      `${method} ${path} HTTP/1.1\r\nhost: ${this.host}\r\ncontent-type: ${contentType}\r\n` +
      `content-length: ${body.length}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(Buffer.concat([Buffer.from(head, "latin1"), body]));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const parsed = parseResponse(this.buffered);
    if (parsed === "incomplete") {
      if (this.buffered.length > maxResponseBytes) this.socket.destroy(new Error("response too large"));
      return;
    }
    this.buffered = this.buffered.subarray(parsed.consumed);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve(parsed.answer);
  }
}

/** An HTTP/1.1 response with Content-Length or chunked encoding, or "incomplete". */
export function parseResponse(data: Buffer): { answer: HttpAnswer; consumed: number } | "incomplete" {
  const end = data.indexOf(headerEnd);
  if (end < 0) return "incomplete";
  const head = data.subarray(0, end).toString("latin1");
  const lines = head.split("\r\n");
  const status = Number(lines[0]?.split(" ")[1]);
  let length = -1;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") length = Number(value);
    if (name === "transfer-encoding" && value.toLowerCase().includes("chunked")) chunked = true;
  }
  const start = end + headerEnd.length;
  if (!chunked) {
    if (length < 0) throw new Error("response without content-length or chunked encoding");
    if (data.length < start + length) return "incomplete";
    return { answer: { status, body: data.subarray(start, start + length) }, consumed: start + length };
  }
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at, "latin1");
    if (lineEnd < 0) return "incomplete";
    const size = Number.parseInt(data.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("bad chunk size");
    const chunkStart = lineEnd + 2;
    if (data.length < chunkStart + size + 2) return "incomplete";
    if (size === 0) {
      return { answer: { status, body: Buffer.concat(parts) }, consumed: chunkStart + 2 };
    }
    parts.push(data.subarray(chunkStart, chunkStart + size));
    at = chunkStart + size + 2;
  }
}

export interface LoadTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly contentType: string;
  /** The body of the sequence-th request (sequence counts from 0 across all clients). */
  body(sequence: number): Buffer;
}

export interface LoadResult {
  readonly commits: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  /** Requests answered with a status other than 200, or failed connections. */
  readonly failures: number;
  /** This process's CPU time (user + system) during the run: the generator's share. */
  readonly clientCpuMs: number;
}

/**
 * `concurrency` closed-loop clients for `durationMs`, each on its own connection. A non-200
 * answer counts as a failure; `onFailure` may pick another target (a new leader) for the
 * next requests.
 */
export async function runLoad(
  target: () => LoadTarget,
  concurrency: number,
  durationMs: number,
  onFailure?: (answer: HttpAnswer | null) => Promise<void>,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let failures = 0;
  let sequence = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + durationMs;
  const client = async () => {
    let current = target();
    let connection = new KeepAliveConnection(current.host, current.port);
    try {
      while (performance.now() < deadline) {
        const body = current.body(sequence);
        sequence += 1;
        const sent = performance.now();
        let answer: HttpAnswer | null = null;
        try {
          answer = await connection.request("POST", current.path, body, current.contentType);
        } catch {
          answer = null;
        }
        if (answer?.status === 200) {
          latenciesMs.push(performance.now() - sent);
          continue;
        }
        failures += 1;
        connection.close();
        if (onFailure !== undefined) await onFailure(answer);
        else await new Promise((resolve) => setTimeout(resolve, 10));
        current = target();
        connection = new KeepAliveConnection(current.host, current.port);
      }
    } finally {
      connection.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    commits: latenciesMs.length,
    seconds,
    latenciesMs,
    failures,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}
