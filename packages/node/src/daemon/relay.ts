import {
  CommitStamp,
  defaultRelayConfig,
  type FabricMachineOptions,
  type MachineOutcome,
  type RelayConfig,
  type RelayMessage,
  type RelayReceipt,
  relayViewOf,
  type StampHandover,
  StampVerifier,
  StateRelay,
  signCommitStamp,
  stampSigners,
} from "@revoada/fabric-core/fabric";
import type { MembershipView } from "@revoada/fabric-core/gossip";
import { ConfState, type Entry, EntryKind } from "@revoada/fabric-core/raft";
import {
  Blake3Hash,
  limits,
  type NodeId,
  NodeId as NodeIdSchema,
  type Signer,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { RelayStatusReply } from "../api/schemas.js";
import { type ApiAccess, apiClientFor } from "../mesh/api-client.js";
import type { FabricApplier } from "./fabric-applier.js";
import type { Logger } from "./log.js";
import {
  encodeRelayState,
  encodeRelayWindow,
  type RelayStateFile,
  type StoredRelayState,
} from "./relay-state-file.js";

/**
 * The daemon's driver of the state relay (fabric-core/fabric/relay.ts; design in
 * docs/scale.md): how a node that holds no Raft log (neither voter nor learner, above the
 * strategy's learner bound) learns committed state, and how every node serves it.
 *
 * Transport: the node's HTTP API, `POST /v1/relay` with the cluster's API token. A follower
 * keeps one request open to its source (its tree parent, else a log holder): `follow(after =
 * applied index)`; the source answers at once with the entries after `after` from its window,
 * or, when it has nothing newer, holds the request until it applies something (or `wait_ms`
 * passes: a heartbeat), as Consul's blocking queries do. So the core's pushes travel as the
 * answers to long polls; the core's own push outputs are not sent. When the window does not
 * reach back, the source publishes a whole-machine snapshot into the content store and
 * answers with its BLAKE3 hash; the follower fetches it through the content layer (from the
 * source first) and restores it. A log holder probes the next holder every `renewMs` (no
 * wait) so a holder Raft stopped feeding notices it and follows through the relay.
 *
 * What is trusted: nothing a source says on its own. Every answer that carries entries or a
 * snapshot carries a commit stamp (fabric-core/fabric/commit-stamp.ts): a Raft voter's
 * signature over (index, term, digest of the machine at that index). A voter source signs its
 * own (once per applied index); any other source forwards the stamp it verified, so it serves
 * only what it applied under a stamp. The follower applies the entries to a shadow machine
 * first and compares its digest with the stamp (a snapshot: hashed before it is restored), and
 * the signer must be a voter of its own configuration (a fresh node: a member gossip shows
 * holding `etcd`), or one the stamped state's attestation chain hands trust over to from this
 * node's chain (its voters were replaced while it was behind), and a voter of the stamped
 * state. A refused answer is logged with its reason, and the source is given up for the next
 * candidate. The tree is rooted at the voters alone
 * (`relayViewOf(..., "voters")`): learners hold the log but have no stamp to forward.
 */

const uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Entries one answer carries at most (the core's batch bound). */
const relayEntriesMax = 256;
/** How long a source holds a follow with nothing new to send. */
export const relayWaitMsMax = 5_000;
/** How long a request may take beyond its wait (a loaded source, the reply's transfer). */
const requestSlackMs = 5_000;
/**
 * How long the core waits for a snapshot answer being fetched through the content layer. No
 * other request goes out meanwhile (one in flight), so giving the source up sooner would only
 * drop the answer; the content layer's own timeouts end a fetch that cannot finish.
 */
const snapshotFetchMs = 60_000;

const RelayEntryWire = z.strictObject({
  term: uint,
  index: uint.min(1),
  kind: EntryKind,
  /** The entry's bytes, base64. */
  data: z.base64().max(Math.ceil((limits.frameBytesMax * 4) / 3) + 4),
});

export const RelayRequest = z.strictObject({
  from: NodeIdSchema,
  type: z.enum(["follow", "probe"]),
  /** follow: the follower's applied index; probe: the holder's. */
  after: uint,
  wait_ms: z.int().min(0).max(relayWaitMsMax),
});
export type RelayRequest = z.infer<typeof RelayRequest>;

const depth = z.int().min(0).max(64).nullable();

export const RelayReply = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("entries"),
    depth,
    applied: uint,
    entries: z.array(RelayEntryWire).max(relayEntriesMax),
    /** A voter's stamp of the state after the last entry (null with no entries). */
    stamp: CommitStamp.nullable(),
  }),
  z.strictObject({
    type: z.literal("snapshot"),
    depth,
    index: uint,
    hash: Blake3Hash,
    conf: ConfState,
    /** A voter's stamp of this machine. */
    stamp: CommitStamp,
  }),
  z.strictObject({ type: z.literal("busy") }),
]);
export type RelayReply = z.infer<typeof RelayReply>;

/**
 * How often a follower writes its applied machine to its state file at most (and only when
 * its index moved: a node at rest writes nothing). A kill -9 loses at most this much, which
 * the follower then takes as entries from its source.
 */
export const relayStateSaveEveryMs = 5_000;

/** How this node learns committed state (`GET /v1/status`, `revoada status`): the API schema, all fields set. */
export type RelayStatus = Required<RelayStatusReply>;

export interface NodeRelayOptions {
  readonly self: NodeId;
  /** This node's identity key: a voter stamps its state with it. */
  readonly signer: Signer;
  /** The applier's machine options: the follower's shadow machine is built alike. */
  readonly machineOptions: FabricMachineOptions;
  readonly applier: FabricApplier;
  readonly view: () => MembershipView;
  /** The API address of a member, from gossip. */
  readonly apiOf: (id: NodeId) => string | undefined;
  readonly api: ApiAccess;
  readonly publish: (bytes: Uint8Array) => Promise<Blake3Hash>;
  /** Fetches a blob through the content layer, asking `from` first. */
  readonly fetch: (hash: Blake3Hash, from: NodeId) => Promise<Uint8Array | null>;
  /** A relayed entry or snapshot was applied: the same event a Raft apply raises. */
  readonly onApplied: (outcome: MachineOutcome | null) => void;
  readonly logger: Logger;
  readonly config?: RelayConfig;
  /** How long a follow waits at the source (default: the renewal period). */
  readonly waitMs?: number;
  readonly tickMs?: number;
  /** Where a follower keeps its applied machine across restarts (null: nowhere). */
  readonly stateFile?: RelayStateFile | null;
  /** At most one state file write per this many ms (default `relayStateSaveEveryMs`). */
  readonly saveEveryMs?: number;
}

export class NodeRelay {
  readonly core: StateRelay;
  private readonly waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: string | null = null;
  private stopped = false;
  private recorded = 0;
  private relayedEntries = 0;
  private restoredSnapshots = 0;
  private refusedAnswers = 0;
  private lastRefusal: string | null = null;
  private stampHandovers = 0;
  /** What this node verified, as a follower (commit stamps). */
  private readonly verifier: StampVerifier;
  /** This node's own stamp of its latest applied index, as a voter (signed once per index). */
  private ownStamp: CommitStamp | null = null;
  private holding = false;
  /** The core's staleness as last logged (a change is logged once). */
  private loggedStale = false;
  /** After a failed request, the next one waits until then. */
  private retryAtMs = 0;
  /** The last snapshot answer this node published (`snapshotReply`). */
  /** The index the state file holds (0: no file; null: not known yet). */
  private savedIndex: number | null = null;
  /** A state file write or removal in progress. */
  private saving: Promise<void> | null = null;
  private nextSaveMs = 0;
  /** The index restored from the state file at start (null: none). */
  private resumedIndex: number | null = null;
  private publishedSnapshot: {
    readonly index: number;
    readonly hash: Blake3Hash;
    readonly conf: ConfState;
    readonly stamp: CommitStamp;
  } | null = null;

  constructor(private readonly options: NodeRelayOptions) {
    this.core = new StateRelay(options.self, options.config ?? defaultRelayConfig);
    this.verifier = new StampVerifier(options.machineOptions);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 100);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const wake of this.waiters) wake();
  }

  /**
   * Start: restores the machine from the state file, before the relay starts, so the node
   * renders its last known state at once and asks its source only for the entries after it.
   * The file holds what this node applied and verified before (trusted as its own applied
   * state is); it is still checked against its own stamp, which is its integrity check. A
   * file that does not check out, or is another cluster's, is logged and left for the next
   * save to replace: the node starts from nothing, as without a file. `genesis`: the node's
   * own attestation genesis when it knows one (its chain file).
   */
  async resumeFromStateFile(genesis: string | null): Promise<void> {
    const file = this.options.stateFile;
    if (file === null || file === undefined) return;
    const read = await file.read();
    if (read.type === "none") {
      this.savedIndex = 0;
      return;
    }
    const refusal = read.type === "refused" ? read.reason : this.resume(read.state, genesis);
    if (refusal === null) return;
    this.options.logger.warn("relay state file refused; starting from nothing", {
      file: file.path,
      reason: refusal,
    });
  }

  /** Restores `stored` into the machine; the reason when it is refused. */
  private resume(stored: StoredRelayState, genesis: string | null): string | null {
    const { header, machine: bytes } = stored;
    if (header.origin !== this.options.machineOptions.origin)
      return `another cluster's state (origin ${header.origin})`;
    if (genesis !== null && header.genesis !== genesis)
      return `another genesis's state (${header.genesis ?? "none"}, this node's is ${genesis})`;
    const machine = this.options.applier.machine;
    if (header.index <= machine.applied().index)
      return `at index ${header.index}, the machine is at ${machine.applied().index} already`;
    if (this.verifier.appliedIndex() !== 0) return "the relay verified state already";
    const check = this.verifier.checkSnapshot(
      bytes,
      header.conf,
      header.stamp,
      stampSigners(header.conf, []),
    );
    if (!check.ok) return check.reason;
    this.options.applier.restore(bytes, { index: header.index, term: header.stamp.term, conf: header.conf });
    this.recordRestored(this.options.applier.machine.applied().index);
    // The window it had: children restarted a little behind it take entries from it.
    this.recordWindow(stored.window, "relay");
    this.savedIndex = header.index;
    this.resumedIndex = header.index;
    this.options.logger.info("resumed committed state from the relay state file", { index: header.index });
    this.options.onApplied(null);
    return null;
  }

  /**
   * Keeps the state file in step: a follower writes its machine when the index moved, at most
   * every `saveEveryMs`, only a state it holds a verified stamp for; a log holder (by its
   * configuration) removes the file: its Raft log is what it restarts from.
   */
  private saveState(holdsLog: boolean, now: number): void {
    const file = this.options.stateFile;
    if (file === null || file === undefined || this.saving !== null) return;
    if (holdsLog) {
      if (this.savedIndex === 0) return;
      this.track(
        file.remove().then(() => {
          this.savedIndex = 0;
        }),
      );
      return;
    }
    if (now < this.nextSaveMs) return;
    const state = this.stateToSave();
    if (state === null) return;
    this.nextSaveMs = now + (this.options.saveEveryMs ?? relayStateSaveEveryMs);
    this.track(
      file.write(state.bytes).then(() => {
        this.savedIndex = state.index;
      }),
    );
  }

  /**
   * The follower's machine with the stamp it was accepted under, and the relay window, as the
   * file's bytes (null: nothing new, or no stamp).
   */
  private stateToSave(): { readonly index: number; readonly bytes: Uint8Array } | null {
    const machine = this.options.applier.machine;
    const applied = machine.applied();
    if (applied.index === 0 || applied.index === this.savedIndex) return null;
    const stamp = this.verifier.stamp();
    if (stamp === null || stamp.index !== applied.index || this.verifier.appliedIndex() !== applied.index)
      return null;
    const header = {
      v: 1 as const,
      origin: this.options.machineOptions.origin,
      genesis: machine.chain?.genesis.hash ?? null,
      index: applied.index,
      conf: machine.configuration(),
      stamp,
    };
    const window = encodeRelayWindow(this.core.recentEntries());
    return { index: applied.index, bytes: encodeRelayState(header, machine.snapshot(), window) };
  }

  private track(work: Promise<void>): void {
    this.saving = work
      .catch((error: unknown) => {
        this.options.logger.warn("relay state file not written", {
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        this.saving = null;
      });
  }

  /** Stop: the last applied state goes to the file (a graceful restart loses nothing). */
  async flush(): Promise<void> {
    await this.saving;
    const file = this.options.stateFile;
    if (file === null || file === undefined) return;
    this.nextSaveMs = 0;
    const view = this.currentView();
    this.saveState(view.holding, Date.now());
    await this.saving;
  }

  /**
   * The relay window starts with `entries` (consecutive, ending at the machine's applied
   * index), applied before this relay recorded them: a restored state file's window, or what
   * Raft applied at start before the relay existed.
   */
  recordWindow(entries: readonly Entry[], via: "raft" | "relay"): void {
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (first === undefined || last?.index !== this.options.applier.machine.applied().index) return;
    this.core.recordRestored(first.index - 1);
    this.recorded = first.index - 1;
    for (const entry of entries) this.recordApplied(entry, via);
  }

  /** Raft (or this relay) applied `entry` to the machine. */
  recordApplied(entry: Entry, via: "raft" | "relay"): void {
    // Raft replays what the relay applied already (the node became a learner): nothing new.
    if (entry.index <= this.recorded) return;
    this.core.recordApplied(entry, via);
    this.recorded = entry.index;
    this.wake();
  }

  /** The machine was replaced by a snapshot at `index` (from Raft or from the relay). */
  recordRestored(index: number): void {
    this.core.recordRestored(index);
    this.recorded = index;
    this.wake();
  }

  status(): RelayStatus {
    const now = Date.now();
    const sourcing = this.core.sourcing(now);
    return {
      via: this.holding ? "raft" : "relay",
      source: (this.core.currentSource() as NodeId | null) ?? null,
      depth: this.core.depth(),
      applied_index: this.options.applier.machine.applied().index,
      subscribers: this.core.subscriberCount(),
      entries_relayed: this.relayedEntries,
      snapshots_restored: this.restoredSnapshots,
      answers_refused: this.refusedAnswers,
      candidates: [...sourcing.candidates],
      skipped: sourcing.skipped.map(({ id, untilMs }) => ({ id, for_ms: untilMs - now })),
      awaiting_ms: sourcing.awaitedUntilMs === null ? null : sourcing.awaitedUntilMs - now,
      stale: sourcing.stale,
      last_refusal: this.lastRefusal,
      stamp_handovers: this.stampHandovers,
      resumed_index: this.resumedIndex,
    };
  }

  /** The snapshot blob this node serves to followers now (pinned by the content layer). */
  servedSnapshot(): Blake3Hash[] {
    return this.publishedSnapshot === null ? [] : [this.publishedSnapshot.hash];
  }

  /** Serves `POST /v1/relay`: answers a follow at once, or when something newer applies. */
  async serve(request: RelayRequest): Promise<RelayReply> {
    const message: RelayMessage =
      request.type === "follow"
        ? { type: "follow", after: request.after }
        : { type: "probe", applied: request.after };
    let reply = await this.answerOf(request.from, this.core.receive(request.from, message, Date.now()));
    if (
      request.type === "follow" &&
      reply.type === "entries" &&
      reply.entries.length === 0 &&
      request.wait_ms > 0 &&
      !this.stopped
    ) {
      await this.applied(request.wait_ms);
      reply = await this.answerOf(request.from, this.core.receive(request.from, message, Date.now()));
    }
    return reply;
  }

  /** Where this node stands in the relay tree now, from its applied state and gossip's view. */
  private currentView(): ReturnType<typeof relayViewOf> {
    return relayViewOf(
      this.options.self,
      this.options.applier.machine.configuration(),
      this.options.view().members,
      this.core.config.fanout,
      "voters",
    );
  }

  private tick(): void {
    if (this.stopped) return;
    const view = this.currentView();
    const before = this.core.currentSource();
    const outputs = this.core.tick(Date.now(), view);
    this.holding = view.holding && !this.core.isStale();
    this.saveState(view.holding, Date.now());
    if (this.core.isStale() !== this.loggedStale) {
      this.loggedStale = this.core.isStale();
      this.options.logger.info(
        this.loggedStale
          ? "this node holds the log by its configuration, but raft does not feed it: following the relay"
          : "raft feeds this node again, or its configuration no longer names it: not stale",
        { source: this.core.currentSource() },
      );
    }
    const source = this.core.currentSource();
    if (source !== before)
      this.options.logger.debug("relay source changed", { from: before, to: source, holding: this.holding });
    if (source === null || this.inFlight !== null || Date.now() < this.retryAtMs) return;
    // A follower keeps its long poll open; a holder probes when the core says so.
    const due = outputs.find((output) => output.type === "send" && output.to === source);
    if (this.holding && due === undefined) return;
    const probe = this.holding;
    void this.request(source as NodeId, probe);
  }

  private async request(source: NodeId, probe: boolean): Promise<void> {
    const address = this.options.apiOf(source);
    if (address === undefined) return;
    this.inFlight = source;
    const waitMs = probe ? 0 : Math.min(relayWaitMsMax, this.options.waitMs ?? this.core.config.renewMs);
    const body: RelayRequest = {
      from: this.options.self,
      type: probe ? "probe" : "follow",
      after: this.options.applier.machine.applied().index,
      wait_ms: waitMs,
    };
    const startedMs = Date.now();
    // The source owes an answer until the request times out: not silent meanwhile (relay.ts).
    this.core.awaitAnswer(source, startedMs + waitMs + requestSlackMs);
    try {
      const reply = await apiClientFor(address, this.options.api, waitMs + requestSlackMs).post(
        "/v1/relay",
        body,
        RelayReply,
      );
      if (reply.type !== "entries" || reply.entries.length > 0)
        this.options.logger.debug("relay answer", {
          source,
          type: reply.type,
          after: body.after,
          ms: Date.now() - startedMs,
        });
      if (!this.stopped) await this.receive(source, reply, body.after);
    } catch (error) {
      this.retryAtMs = Date.now() + this.core.config.renewMs;
      this.core.unreachable(source, Date.now());
      this.options.logger.debug("relay request failed", {
        source,
        ms: Date.now() - startedMs,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      this.inFlight = null;
    }
    // A follower asks again at once (the next long poll); a failure waits for the next tick.
    if (!probe && !this.stopped && this.core.currentSource() === source) this.tick();
  }

  /** An answer to a follow sent at applied index `after`. */
  private async receive(source: NodeId, reply: RelayReply, after: number): Promise<void> {
    const now = Date.now();
    let receipt: RelayReceipt;
    if (reply.type === "snapshot") {
      const fetchStartedMs = Date.now();
      this.core.awaitAnswer(source, fetchStartedMs + snapshotFetchMs);
      const bytes = await this.options.fetch(reply.hash, source);
      if (bytes === null) {
        this.options.logger.debug("relay snapshot not fetched yet", { source, hash: reply.hash });
        this.core.unreachable(source, Date.now());
        return;
      }
      this.options.logger.debug("relay snapshot fetched", {
        source,
        index: reply.index,
        bytes: bytes.length,
        ms: Date.now() - fetchStartedMs,
        current: this.core.currentSource() === source,
      });
      receipt = this.core.receive(
        source,
        { type: "snapshot", depth: reply.depth, index: reply.index, machine: bytes, conf: reply.conf },
        now,
      );
      if (receipt.restore !== null && !this.vouched(source, after, { bytes, conf: reply.conf }, reply.stamp))
        return;
    } else if (reply.type === "busy") {
      receipt = this.core.receive(source, { type: "busy" }, now);
    } else {
      const entries = reply.entries.map((entry) => ({
        term: entry.term,
        index: entry.index,
        kind: entry.kind,
        data: new Uint8Array(Buffer.from(entry.data, "base64")),
      }));
      receipt = this.core.receive(
        source,
        { type: "entries", depth: reply.depth, applied: reply.applied, entries },
        now,
      );
      if (receipt.apply.length > 0 && !this.vouched(source, after, receipt.apply, reply.stamp)) return;
    }
    if (receipt.restore !== null) {
      const restore = receipt.restore;
      this.options.applier.restore(restore.machine, { index: restore.index, term: 0, conf: restore.conf });
      this.recordRestored(this.options.applier.machine.applied().index);
      this.restoredSnapshots += 1;
      this.options.logger.info("restored committed state from the relay", { source, index: restore.index });
      this.options.onApplied(null);
    }
    for (const entry of receipt.apply) {
      // Only the next index: the machine may have moved on through Raft meanwhile.
      if (entry.index !== this.options.applier.machine.applied().index + 1) continue;
      const outcome = this.options.applier.apply(entry);
      this.recordApplied(entry, "relay");
      this.relayedEntries += 1;
      this.options.onApplied(outcome);
    }
  }

  /**
   * Whether a commit stamp vouches for what `source` sent (entries to apply next, or a whole
   * machine) in answer to a follow at applied index `after`; if not, the answer is refused,
   * logged with the reason, and the source given up. An answer the machine overtook while it
   * travelled (Raft applied meanwhile: this node became a learner) is only dropped.
   */
  private vouched(
    source: NodeId,
    after: number,
    sent: readonly Entry[] | { readonly bytes: Uint8Array; readonly conf: ConfState },
    stamp: CommitStamp | null,
  ): boolean {
    const machine = this.options.applier.machine;
    if (machine.applied().index !== after) {
      this.options.logger.debug("relay answer overtaken: the machine moved meanwhile", { source, after });
      return false;
    }
    // The machine moved through Raft (this node held the log) or restarted: that is trusted.
    if (this.verifier.appliedIndex() !== machine.applied().index) this.verifier.adopt(machine);
    const trusted = stampSigners(this.verifier.configuration(), this.options.view().members);
    const check =
      stamp === null
        ? { ok: false as const, reason: "the answer carries no commit stamp" }
        : "bytes" in sent
          ? this.verifier.checkSnapshot(sent.bytes, sent.conf, stamp, trusted)
          : this.verifier.checkEntries(sent, stamp, trusted);
    if (check.ok) {
      this.lastRefusal = null;
      if (check.handover !== undefined) this.recordHandover(source, check.handover);
      return true;
    }
    this.refusedAnswers += 1;
    this.lastRefusal = check.reason;
    this.core.refuse(source, Date.now());
    this.options.logger.warn("relay answer refused; trying another source", { source, reason: check.reason });
    return false;
  }

  /** A stamp by a voter this node did not know, trusted because the chain hands over to it. */
  private recordHandover(source: NodeId, handover: StampHandover): void {
    this.stampHandovers += 1;
    this.options.logger.info("commit stamp trusted through the attestation chain", {
      source,
      signer: handover.signer,
      blocks: handover.blocks,
    });
  }

  /**
   * The stamp this node can put on its machine as applied now: its own signature when it is a
   * voter fed by Raft, else the stamp it verified at exactly this index (null: none).
   */
  private stampNow(snapshot?: Uint8Array): CommitStamp | null {
    const machine = this.options.applier.machine;
    const applied = machine.applied();
    if (applied.index === 0) return null;
    const conf = machine.configuration();
    const voter = conf.voters.includes(this.options.self) || conf.votersOutgoing.includes(this.options.self);
    if (this.holding && voter) {
      if (this.ownStamp?.index !== applied.index || this.ownStamp.term !== applied.term)
        this.ownStamp = signCommitStamp(machine, this.options.signer, snapshot);
      return this.ownStamp;
    }
    const verified = this.verifier.stamp();
    return verified !== null &&
      verified.index === applied.index &&
      this.verifier.appliedIndex() === applied.index
      ? verified
      : null;
  }

  /**
   * A whole-machine answer: published into the content store, with its stamp (busy: no stamp).
   * Published once per applied index: fresh followers arriving together (a mesh starting) all
   * get the same blob, not one serialization, hash and durable write each.
   */
  private async snapshotReply(depth: number | null): Promise<RelayReply> {
    const machine = this.options.applier.machine;
    const index = machine.applied().index;
    const published = this.publishedSnapshot;
    if (published !== null && published.index === index && published.stamp === this.stampNow()) {
      return { type: "snapshot", depth, ...published };
    }
    const bytes = machine.snapshot();
    const conf = machine.configuration();
    const stamp = this.stampNow(bytes);
    if (stamp === null || stamp.index !== index) return { type: "busy" };
    const hash = await this.options.publish(bytes);
    this.publishedSnapshot = { index, hash, conf, stamp };
    return { type: "snapshot", depth, index, hash, conf, stamp };
  }

  /** The core's answer to `from`, as the wire reply (a snapshot is published first). */
  private async answerOf(from: string, receipt: RelayReceipt): Promise<RelayReply> {
    for (const output of receipt.outputs) {
      if (output.to !== from) continue;
      if (output.type === "send-snapshot") return this.snapshotReply(output.depth);
      const message = output.message;
      if (message.type === "busy") return { type: "busy" };
      if (message.type === "entries") {
        const last = message.entries[message.entries.length - 1];
        const stamp = last === undefined ? null : this.stampNow();
        // Nothing this node can vouch for: the follower asks another source.
        if (last !== undefined && stamp === null) return { type: "busy" };
        // A batch cut short of the stamp (a long catch-up): the whole machine instead.
        if (last !== undefined && stamp !== null && stamp.index !== last.index)
          return this.snapshotReply(message.depth);
        return {
          type: "entries",
          depth: message.depth,
          applied: message.applied,
          entries: message.entries.map((entry) => ({
            term: entry.term,
            index: entry.index,
            kind: entry.kind,
            data: Buffer.from(entry.data).toString("base64"),
          })),
          stamp,
        };
      }
    }
    return { type: "entries", depth: this.core.depth(), applied: this.recorded, entries: [], stamp: null };
  }

  /** Resolves when something is applied, or after `ms`. */
  private applied(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
