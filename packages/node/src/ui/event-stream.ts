import type { IncomingMessage, ServerResponse } from "node:http";
import { canonicalJson } from "@revoada/fabric-core/vocabulary";
import type { ConsoleTopicName, ConsoleTopics } from "./console-topics.js";

/**
 * The server side of `/v1/events`: one hub per node, shared by every open console. While at
 * least one page listens, the hub samples the topics every `sampleMs` (one sampler, however
 * many pages), and pushes a topic only when its JSON changed since it was last pushed; a new
 * page gets every topic at once. Pages never poll. A comment line every `keepAliveMs` keeps
 * idle connections (and proxies) open. Nothing is sampled while no page listens.
 */
export interface EventHubOptions {
  /** Builds the topics; the hub calls it at most once at a time. */
  readonly sample: () => Promise<Partial<ConsoleTopics>>;
  readonly sampleMs: number;
  readonly keepAliveMs: number;
  /** Open streams allowed at once; one more is answered 503. */
  readonly subscribersMax: number;
}

interface Subscriber {
  readonly response: ServerResponse;
  /** Every topic is sent to it on the next sample, changed or not. */
  fresh: boolean;
}

export class EventHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly pushed = new Map<ConsoleTopicName, string>();
  private sampleTimer: NodeJS.Timeout | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private sampling = false;

  constructor(private readonly options: EventHubOptions) {}

  get listeners(): number {
    return this.subscribers.size;
  }

  /** Takes over the response as an event stream until the client goes away. */
  subscribe(request: IncomingMessage, response: ServerResponse): void {
    if (this.subscribers.size >= this.options.subscribersMax) {
      response.writeHead(503, { "content-type": "application/json" });
      response.end(canonicalJson({ error: "too many open event streams" }));
      return;
    }
    request.socket.setTimeout(0);
    request.socket.setNoDelay(true);
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    response.write(`retry: 1000\n\n`);
    const subscriber: Subscriber = { response, fresh: true };
    this.subscribers.add(subscriber);
    const drop = () => this.unsubscribe(subscriber);
    request.once("close", drop);
    response.once("close", drop);
    this.startTimers();
    void this.sampleOnce();
  }

  /** Ends every stream (the node is stopping). */
  close(): void {
    for (const subscriber of [...this.subscribers]) {
      subscriber.response.end();
      this.unsubscribe(subscriber);
    }
  }

  private unsubscribe(subscriber: Subscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    if (this.subscribers.size > 0) return;
    this.stopTimers();
    this.pushed.clear();
  }

  private startTimers(): void {
    if (this.sampleTimer !== null) return;
    this.sampleTimer = setInterval(() => void this.sampleOnce(), this.options.sampleMs);
    this.keepAliveTimer = setInterval(() => this.broadcast(": keep-alive\n\n"), this.options.keepAliveMs);
  }

  private stopTimers(): void {
    if (this.sampleTimer !== null) clearInterval(this.sampleTimer);
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer);
    this.sampleTimer = null;
    this.keepAliveTimer = null;
  }

  private async sampleOnce(): Promise<void> {
    if (this.sampling || this.subscribers.size === 0) return;
    this.sampling = true;
    try {
      const topics = await this.options.sample();
      this.push(topics);
    } catch {
      // A failed sample pushes nothing; the next one tries again.
    } finally {
      this.sampling = false;
    }
  }

  /** Sends changed topics to everyone and every topic to fresh subscribers. */
  private push(topics: Partial<ConsoleTopics>): void {
    const fresh = [...this.subscribers].filter((subscriber) => subscriber.fresh);
    for (const [name, value] of Object.entries(topics) as [ConsoleTopicName, unknown][]) {
      if (value === undefined) continue;
      const data = JSON.stringify(value);
      const frame = `event: ${name}\ndata: ${data}\n\n`;
      if (this.pushed.get(name) !== data) {
        this.pushed.set(name, data);
        this.broadcast(frame);
      } else {
        for (const subscriber of fresh) subscriber.response.write(frame);
      }
    }
    for (const subscriber of fresh) subscriber.fresh = false;
  }

  private broadcast(frame: string): void {
    for (const subscriber of this.subscribers) subscriber.response.write(frame);
  }
}
