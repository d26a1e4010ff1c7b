import { randomInt } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import type { Server } from "node:net";
import {
  defaultGossipConfig,
  type GossipConfig,
  type GossipEvent,
  GossipNode,
  type GossipTiming,
  gossipLimits,
  type MembershipSettings,
  type MembershipView,
  pickGossipTiming,
} from "@revoada/fabric-core/gossip";
import type { NodeState, Random, Signer } from "@revoada/fabric-core/vocabulary";
import { connectFrameLink, type FrameLink, listenFrameLinks } from "../content/frame-link.js";
import type { Logger } from "../daemon/log.js";
import { TransportSetupError } from "../errors.js";
import { faultInjectionEnabled, isAddressBlocked, isPeerBlocked } from "../faults.js";
import { envelopeBytes, type Keyring } from "./keyring.js";

/**
 * Binds the gossip core to sockets and a timer: UDP for probes and pushes (one datagram per
 * message), TCP for sync messages over one datagram (a one-frame connection each, framed by
 * the content layer's FrameLink; the authenticated node transport will replace it). Both
 * listen on the same port number. Every packet and frame is encrypted and authenticated with
 * the cluster keyring (AES-256-GCM, keyring.ts); anything short, unauthenticated, under a
 * retired key or oversized is counted and dropped, and anything
 * malformed inside a valid envelope is counted by the core. Nothing a peer sends can throw.
 */
export interface GossipDriverOptions {
  readonly signer: Signer;
  /** Host to bind and advertise (loopback in tests). */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly keyring: Keyring;
  readonly seeds: readonly string[];
  readonly membership: MembershipSettings;
  /** Bumped on every restart (persisted counter, or the boot time in ms). */
  readonly generation: number;
  readonly configure?: (config: GossipConfig) => GossipConfig;
  readonly onEvent?: (event: GossipEvent) => void;
  /** Where rejected packets are reported: one warn line per `rejectLogIntervalMs` at most. */
  readonly logger?: Logger;
  /** Defaults to `rejectLogIntervalMsDefault` (one minute). */
  readonly rejectLogIntervalMs?: number;
}

/**
 * Why a packet from the gossip port was thrown away. The first five are the keyring's
 * (`short`, `bad-magic`, `unknown-key`, `bad-mac`: not from this cluster; `retired-key`: from
 * a member that missed a key rotation, logged with the key's id), `oversized` is the
 * driver's size check, and the last three are the core's verdict on a packet that did open
 * with the cluster key (a peer with the key sending garbage or forgeries).
 */
export const rejectReasons = [
  "short",
  "bad-magic",
  "unknown-key",
  "retired-key",
  "bad-mac",
  "oversized",
  "malformed",
  "bad-signature",
  "state-over-limit",
] as const;
export type RejectReason = (typeof rejectReasons)[number];

export const rejectLogIntervalMsDefault = 60_000;

/**
 * Admits one report per interval and counts the ones it held back, so a flood of garbage
 * costs one log line per interval, and that line says how many it stands for.
 */
export class ReportThrottle {
  private nextReportAtMs = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(private readonly intervalMs: number) {
    if (!(intervalMs >= 0)) throw new RangeError("a report interval is a non-negative number of ms");
  }

  /** Whether to report at `nowMs`; `suppressed` counts the reports held back before this one. */
  admit(nowMs: number): { readonly report: true; readonly suppressed: number } | { readonly report: false } {
    if (nowMs < this.nextReportAtMs) {
      this.held += 1;
      return { report: false };
    }
    const suppressed = this.held;
    this.held = 0;
    this.nextReportAtMs = nowMs + this.intervalMs;
    return { report: true, suppressed };
  }
}

export interface GossipDriverCounters {
  datagramsReceived: number;
  datagramsSent: number;
  framesReceived: number;
  framesSent: number;
  /** Short, wrong magic, unknown or retired key, or a packet that fails to open. */
  unauthenticated: number;
  oversized: number;
  sendErrors: number;
  streamsRefused: number;
}

/**
 * Inbound sync connections at once. A frame is read whole before its MAC can be checked (the
 * FrameLink allows up to `limits.frameBytesMax`), so this bounds what unauthenticated peers
 * can make us buffer: 16 x 16 MiB.
 */
const streamConnectionsMax = 16;
/** Outbound sync connections in flight; more are dropped (anti-entropy retries next round). */
const streamSendsMax = 16;
const streamIdleMs = 10_000;
const timerMaxMs = 1_000;

const cryptoRandom: Random = {
  next: () => randomInt(2 ** 47) / 2 ** 47,
  int: (bound) => randomInt(bound),
};

export function parseHostPort(address: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(address);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return null;
  return { host: match[1] ?? match[2]!, port };
}

export class GossipDriver {
  readonly address: string;
  private readonly counters: GossipDriverCounters = {
    datagramsReceived: 0,
    datagramsSent: 0,
    framesReceived: 0,
    framesSent: 0,
    unauthenticated: 0,
    oversized: 0,
    sendErrors: 0,
    streamsRefused: 0,
  };
  private readonly rejected = Object.fromEntries(rejectReasons.map((reason) => [reason, 0])) as Record<
    RejectReason,
    number
  >;
  private readonly rejectLog: ReportThrottle;
  /** Packets under a retired key get their own line (a member missed a rotation: say which key). */
  private readonly retiredLog: ReportThrottle;
  private readonly links = new Set<FrameLink>();
  private timer: NodeJS.Timeout | null = null;
  private streamSends = 0;
  private lastMs = 0;
  private closed = false;

  private constructor(
    private readonly options: GossipDriverOptions,
    private readonly core: GossipNode,
    private readonly udp: UdpSocket,
    private readonly server: Server,
    address: string,
    private readonly datagramBytesMax: number,
  ) {
    this.address = address;
    this.rejectLog = new ReportThrottle(options.rejectLogIntervalMs ?? rejectLogIntervalMsDefault);
    this.retiredLog = new ReportThrottle(options.rejectLogIntervalMs ?? rejectLogIntervalMsDefault);
  }

  static async start(options: GossipDriverOptions): Promise<GossipDriver> {
    for (let attempt = 0; ; attempt += 1) {
      const pending: FrameLink[] = [];
      let driver: GossipDriver | null = null;
      const { server, port } = await listenFrameLinks(options.host, options.port, (link) =>
        driver === null ? pending.push(link) : driver.acceptLink(link),
      ).catch((error: unknown) => {
        throw new TransportSetupError(`${options.host}:${options.port}`, "gossip TCP listen failed", {
          cause: error,
        });
      });
      const udp = createSocket({ type: options.host.includes(":") ? "udp6" : "udp4" });
      const bound = await new Promise<Error | null>((resolve) => {
        udp.once("error", resolve);
        udp.bind(port, options.host, () => {
          udp.off("error", resolve);
          resolve(null);
        });
      });
      if (bound !== null) {
        server.close();
        udp.close();
        if (options.port === 0 && attempt < 5) continue;
        throw new TransportSetupError(`${options.host}:${port}`, "gossip UDP bind failed", { cause: bound });
      }
      driver = GossipDriver.create(options, udp, server, port);
      for (const link of pending) driver.acceptLink(link);
      return driver;
    }
  }

  private static create(
    options: GossipDriverOptions,
    udp: UdpSocket,
    server: Server,
    port: number,
  ): GossipDriver {
    const address = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
    let config = defaultGossipConfig(
      { id: options.signer.nodeId, address, generation: options.generation },
      options.membership,
    );
    if (options.configure !== undefined) config = options.configure(config);
    const created = GossipNode.create(config, options.signer, cryptoRandom, 0);
    if (!created.ok) {
      server.close();
      udp.close();
      throw new TransportSetupError(
        address,
        `invalid gossip config: ${created.issues.map((i) => i.message).join("; ")}`,
      );
    }
    const driver = new GossipDriver(options, created.value, udp, server, address, config.datagramBytesMax);
    udp.on("message", (message, remote) => driver.onDatagram(message, remote));
    udp.on("error", () => {
      driver.counters.sendErrors += 1;
    });
    created.value.join(options.seeds, driver.now());
    driver.flush();
    return driver;
  }

  membershipView(): MembershipView {
    return this.core.membershipView(this.now());
  }

  /**
   * A committed strategy swap: the core takes the timing the new membership settings give
   * (through the same `configure` as at start) from its next round on; no restart.
   */
  setMembership(membership: MembershipSettings): void {
    let config = defaultGossipConfig(
      { id: this.options.signer.nodeId, address: this.address, generation: this.options.generation },
      membership,
    );
    if (this.options.configure !== undefined) config = this.options.configure(config);
    const applied = this.core.setTiming(pickGossipTiming(config));
    if (!applied.ok)
      throw new Error(`gossip timing: ${applied.issues.map((issue) => issue.message).join("; ")}`);
    if (!this.closed) this.schedule();
  }

  /** The timing in force (`setMembership` changes it). */
  timing(): GossipTiming {
    return this.core.timing();
  }

  metrics(): { readonly core: ReturnType<GossipNode["metrics"]>; readonly driver: GossipDriverCounters } {
    return { core: this.core.metrics(), driver: { ...this.counters } };
  }

  /**
   * Packets thrown away since start, by reason: the counters behind
   * `revoada_gossip_packets_rejected_total{reason}` on `/metrics`.
   */
  rejectedPackets(): Readonly<Record<RejectReason, number>> {
    return { ...this.rejected };
  }

  setNodeState(state: NodeState): boolean {
    const accepted = this.core.setNodeState(state, this.now());
    this.flush();
    return accepted;
  }

  setState(key: string, value: string | null): boolean {
    const accepted = this.core.setState(key, value, this.now());
    this.flush();
    return accepted;
  }

  /** Announces the leave, keeps gossiping it for `lingerMs`, then closes. */
  async leave(lingerMs = 500): Promise<void> {
    this.core.leave(this.now());
    this.flush();
    await new Promise((resolve) => setTimeout(resolve, lingerMs));
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const link of this.links) link.close();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.server.close(() => resolve())),
    ]);
  }

  /** Monotonic integer milliseconds since the driver started. */
  private now(): number {
    this.lastMs = Math.max(this.lastMs, Math.floor(performance.now() - startMs));
    return this.lastMs;
  }

  private onDatagram(message: Buffer, remote: RemoteInfo): void {
    if (this.closed) return;
    this.counters.datagramsReceived += 1;
    const from = `${remote.address}:${remote.port}`;
    if (message.length > this.datagramBytesMax + envelopeBytes) {
      this.counters.oversized += 1;
      this.reject("oversized", from, message.length);
      return;
    }
    this.deliver(message, from);
  }

  private acceptLink(link: FrameLink): void {
    if (this.closed || this.links.size >= streamConnectionsMax) {
      this.counters.streamsRefused += 1;
      link.close();
      return;
    }
    this.links.add(link);
    const idle = setTimeout(() => link.close(), streamIdleMs);
    link.onClose(() => {
      clearTimeout(idle);
      this.links.delete(link);
    });
    link.onFrame((frame) => {
      this.counters.framesReceived += 1;
      if (frame.length > gossipLimits.streamBytesMax + envelopeBytes) {
        this.counters.oversized += 1;
        this.reject("oversized", link.remote, frame.length);
        link.close();
        return;
      }
      this.deliver(frame, link.remote);
    });
  }

  private deliver(packet: Uint8Array, from: string): void {
    const opened = this.options.keyring.open(packet);
    if (!opened.ok) {
      this.counters.unauthenticated += 1;
      if (opened.reason === "retired-key") this.rejectRetired(opened.keyId, from, packet.length);
      else this.reject(opened.reason, from, packet.length);
      return;
    }
    if (isPeerBlocked(senderOf(opened.payload))) return;
    this.core.receive(opened.payload, this.now(), from);
    this.flush();
  }

  /** Counts a rejected packet and reports it, one warn line per interval at most. */
  private reject(reason: RejectReason, from: string, bytes: number | null): void {
    this.rejected[reason] += 1;
    const admitted = this.rejectLog.admit(this.now());
    if (!admitted.report) return;
    this.options.logger?.warn("gossip packet rejected", {
      reason,
      from,
      ...(bytes === null ? {} : { bytes }),
      rejected_total: Object.values(this.rejected).reduce((sum, count) => sum + count, 0),
      suppressed_since_last_line: admitted.suppressed,
    });
  }

  /** Counts a packet under a retired key and names the key (its id; never the key). */
  private rejectRetired(keyId: string, from: string, bytes: number): void {
    this.rejected["retired-key"] += 1;
    const admitted = this.retiredLog.admit(this.now());
    if (!admitted.report) return;
    this.options.logger?.warn("gossip packet under a retired key refused", {
      reason: "retired-key",
      key_id: keyId,
      from,
      bytes,
      hint: "the sender missed a key rotation (revoada keys rotate); give it the current gossip key",
      retired_key_total: this.rejected["retired-key"],
      suppressed_since_last_line: admitted.suppressed,
    });
  }

  private flush(): void {
    if (this.closed) return;
    while (this.core.hasReady()) {
      const ready = this.core.ready();
      for (const packet of ready.packets) this.sendPacket(packet.to, packet.channel, packet.bytes);
      for (const event of ready.events) {
        if (event.type === "dropped" && isRejectReason(event.reason))
          this.reject(event.reason, event.from, null);
        this.options.onEvent?.(event);
      }
      this.core.advance(ready);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    const delayMs = Math.min(timerMaxMs, Math.max(1, this.core.nextTickAtMs() - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      this.core.tick(this.now());
      this.flush();
    }, delayMs);
  }

  private sendPacket(to: string, channel: "datagram" | "stream", bytes: Uint8Array): void {
    if (isAddressBlocked(to)) return;
    const target = parseHostPort(to);
    if (target === null) {
      this.counters.sendErrors += 1;
      return;
    }
    const sealed = this.options.keyring.seal(bytes);
    if (channel === "datagram") {
      this.counters.datagramsSent += 1;
      this.udp.send(sealed, target.port, target.host, (error) => {
        if (error) this.counters.sendErrors += 1;
      });
      return;
    }
    if (this.streamSends >= streamSendsMax) {
      this.counters.sendErrors += 1;
      return;
    }
    this.streamSends += 1;
    this.counters.framesSent += 1;
    connectFrameLink(target.host, target.port)
      .then(
        (link) => {
          link.send([sealed]);
          link.close();
        },
        () => {
          this.counters.sendErrors += 1;
        },
      )
      .finally(() => {
        this.streamSends -= 1;
      });
  }
}

const startMs = performance.now();

function isRejectReason(reason: string): reason is RejectReason {
  return (rejectReasons as readonly string[]).includes(reason);
}

/** The claimed sender of a gossip payload, only for fault injection (the core authenticates it). */
function senderOf(payload: Uint8Array): string {
  if (!faultInjectionEnabled) return "";
  const match = /"from":"([0-9a-f]{64})"/.exec(Buffer.from(payload).toString("utf8"));
  return match?.[1] ?? "";
}
