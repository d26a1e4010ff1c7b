import { randomInt } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  type ConfChange,
  decodeRaftMessage,
  type Entry,
  encodeRaftMessage,
  type ProposeOutcome,
  type RaftConfig,
  type RaftEvent,
  type RaftMessage,
  RaftNode,
  type RaftStatus,
  type RaftTiming,
  type Ready,
  type SnapshotMetadata,
} from "@revoada/fabric-core/raft";
import { assert, isNodeId, type NodeId, type Random, type Signer } from "@revoada/fabric-core/vocabulary";
import { type Logger, silentLogger } from "../daemon/log.js";
import { RaftUnavailableError } from "../errors.js";
import type { ClusterKeys } from "../keys/key-set.js";
import { type PersistBatch, RaftStorage } from "../storage/index.js";
import type { MessageCodec, PeerAddress } from "../transport/index.js";
import { Transport } from "../transport/index.js";
import { entryToWal, hardStateToWal, snapshotToStored, storedStateFrom } from "./storage-codec.js";

/**
 * Runs the pure Raft core (`RaftNode`) over real disk, sockets and timers. The loop is the
 * one `Ready` documents: persist (snapshot, entries, hard state; one fdatasync), send,
 * apply, then `advance`. Inputs (messages, proposals, the timer at the core's next deadline) only feed the core and
 * schedule one pass with `setImmediate`, so everything that arrived in one turn of the event
 * loop (64 proposals, a burst of append responses) leaves in one Ready: one write, one
 * fsync (group commit).
 *
 * A leader may send its appends before its own fsync (Raft §10.2.1: the leader's entry only
 * counts toward commit once `advance` reports it persisted); a heartbeat response may too
 * when the Ready changes no term, vote, generation or rollback mark (it promises nothing
 * about the log, and a slow fsync must not hold it past the leader's check-quorum window);
 * every other message waits for the fsync, so no vote or acknowledgement ever leaves
 * before what it promises is durable.
 *
 * Committed entries already on this node's disk (persisted by an earlier Ready) are applied
 * before this Ready's fsync, as etcd applies while it saves: a commit is durable on a quorum,
 * so its proposer is answered without waiting for the next batch's fsync. Committed entries
 * that arrive in this Ready's own `entries` (a follower) are applied after the fsync.
 */
export interface RaftApplier<R> {
  /** Every committed entry, in log order, exactly once (including conf-change and empty ones). */
  apply(entry: Entry): R;
  /** The application state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the application state with a snapshot's data (and its Raft metadata: index, term, configuration). */
  restore(data: Uint8Array, metadata: SnapshotMetadata): void;
}

export interface RaftDriverOptions<R> {
  readonly config: RaftConfig;
  readonly signer: Signer;
  /** One key, or the daemon's live set (keys/key-set.ts). */
  readonly clusterKey: ClusterKeys;
  /** Where the log and snapshots live (created when missing). */
  readonly dataDirectory: string;
  readonly listen: PeerAddress;
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** The founding voters (all of them, this node included); read only on an empty disk. */
  readonly initialVoters: readonly NodeId[];
  readonly applier: RaftApplier<R>;
  readonly logger?: Logger;
  readonly random?: Random;
  /** WAL segment size (tests use small ones). */
  readonly segmentBytesMax?: number;
  /** Told after every applied entry (the process script reports commits with it). */
  readonly onApplied?: (entry: Entry, result: R) => void;
  readonly onEvent?: (event: RaftEvent) => void;
}

interface PendingProposal<R> {
  readonly term: number;
  readonly resolve: (value: { index: number; result: R }) => void;
  readonly reject: (error: Error) => void;
}

interface PendingRead {
  readonly resolve: (index: number) => void;
  readonly reject: (error: Error) => void;
}

const mathRandom: Random = {
  next: () => Math.random(),
  int: (bound) => Math.floor(Math.random() * bound),
};

const raftCodec: MessageCodec<RaftMessage> = { encode: encodeRaftMessage, decode: decodeRaftMessage };

/** Counters for metrics and benchmarks (monotonic since start). */
export interface RaftDriverCounters {
  readies: number;
  syncs: number;
  entriesPersisted: number;
  messagesSent: number;
  messagesReceived: number;
  appendEntriesReceived: number;
}

export class RaftDriver<R> {
  readonly counters: RaftDriverCounters = {
    readies: 0,
    syncs: 0,
    entriesPersisted: 0,
    messagesSent: 0,
    messagesReceived: 0,
    appendEntriesReceived: 0,
  };
  readonly nodeId: NodeId;
  private readonly node: RaftNode;
  private readonly storage: RaftStorage;
  private readonly transport: Transport<RaftMessage>;
  private readonly options: RaftDriverOptions<R>;
  private readonly logger: Logger;
  private readonly proposals = new Map<number, PendingProposal<R>>();
  /** Messages received per peer (a closed connection's peer that still speaks is alive). */
  private readonly receivedFrom = new Map<NodeId, number>();
  /** Peers given an address through `setPeer` after start. */
  private readonly addressedPeers = new Set<NodeId>();
  private readonly reads = new Map<string, PendingRead>();
  /** Reads whose index is known, waiting for the applier to reach it. */
  private readonly readsWaiting: { index: number; read: PendingRead }[] = [];
  /** One timer, armed for the core's next deadline (`nextDeadlineMs`) after every pass. */
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline = Number.POSITIVE_INFINITY;
  private readonly started = performance.now();
  private applied = 0;
  private readSequence = 0;
  private scheduled = false;
  private stopped = false;
  private role: RaftStatus["role"] = "follower";
  /** Term and vote of the last hard state written (a change of either must be synced). */
  private syncedTerm = 0;
  private syncedVote: string | null = null;
  private syncedGeneration: number | undefined = undefined;
  private syncedRollback: string | undefined = undefined;
  /** A Ready's fdatasync is in flight; the next Ready waits for it. */
  private persisting = false;
  private listenAddress: PeerAddress | null = null;

  private constructor(options: RaftDriverOptions<R>, node: RaftNode, storage: RaftStorage, applied: number) {
    this.options = options;
    this.nodeId = options.signer.nodeId;
    this.node = node;
    this.storage = storage;
    this.applied = applied;
    this.logger = options.logger ?? silentLogger;
    this.transport = new Transport<RaftMessage>({
      signer: options.signer,
      clusterKey: options.clusterKey,
      codec: raftCodec,
      onMessage: (from, message) => this.receive(from, message),
      logger: this.logger,
      isPeerAllowed: (peer) => this.isMember(peer),
      onPeerState: (peer, connected) => this.peerState(peer, connected),
      // Every gossip member's address is given; only the configuration's members are talked to.
      dialOnDemand: true,
    });
  }

  /** Recovers from disk, starts listening and dialing peers, and starts the clock. */
  static async start<R>(options: RaftDriverOptions<R>): Promise<RaftDriver<R>> {
    assert(options.config.id === options.signer.nodeId, "the Raft id is the node's NodeId");
    const { storage, recovery } = RaftStorage.open(
      options.dataDirectory,
      options.segmentBytesMax === undefined ? {} : { segmentBytesMax: options.segmentBytesMax },
    );
    const stored = storedStateFrom(recovery, options.dataDirectory, options.initialVoters);
    let applied = 0;
    if (stored.snapshot !== null) {
      options.applier.restore(stored.snapshot.data, stored.snapshot.metadata);
      applied = stored.snapshot.metadata.index;
    }
    // A fresh nonce per start tells this start from one of a restored copy of this data
    // directory that reaches the same generation count (docs/raft.md, "Disks that go back").
    const created = RaftNode.create(options.config, stored, options.random ?? mathRandom, {
      incarnationNonce: randomInt(0, 0xffff_ffff),
    });
    if (!created.ok) {
      storage.close();
      throw new Error(
        `raft state on disk is unusable: ${created.issues.map((issue) => issue.message).join("; ")}`,
      );
    }
    const driver = new RaftDriver(options, created.value, storage, applied);
    driver.syncedTerm = recovery.hardState.term;
    driver.syncedVote = recovery.hardState.vote;
    driver.syncedGeneration = recovery.hardState.generation;
    driver.syncedRollback = recovery.hardState.rollback;
    if (recovery.tornTailBytes > 0) {
      driver.logger.warn("torn log tail truncated", { bytes: recovery.tornTailBytes });
    }
    try {
      driver.listenAddress = await driver.transport.listen(options.listen);
    } catch (error) {
      await driver.stop({ transfer: false });
      throw error;
    }
    for (const [peer, address] of options.peers) driver.transport.setPeer(peer, address);
    driver.schedule();
    return driver;
  }

  get address(): PeerAddress {
    assert(this.listenAddress !== null, "started");
    return this.listenAddress;
  }

  status(): RaftStatus {
    return this.node.status();
  }

  /**
   * A committed strategy swap: the core takes the new election timeout, heartbeat and
   * snapshot interval at its next reset (a shorter deadline is pulled in); no restart.
   */
  setTiming(timing: RaftTiming): void {
    this.advanceClock();
    const applied = this.node.setTiming(timing);
    if (!applied.ok)
      throw new Error(`raft timing: ${applied.issues.map((issue) => issue.message).join("; ")}`);
    this.schedule();
  }

  /** The timing in force (`setTiming` changes it). */
  timing(): RaftTiming {
    return this.node.timing();
  }

  /** Moves or adds a peer's address (a restarted peer on a new port). */
  setPeer(peer: NodeId, address: PeerAddress): void {
    this.addressedPeers.add(peer);
    this.transport.setPeer(peer, address);
  }

  /**
   * Proposes `data`; resolves with its index and the applier's result once it is applied
   * here (so it is committed: durable on a quorum). Rejects with RaftUnavailableError when
   * this node is not the leader or the entry was overwritten by a new leader.
   */
  propose(data: Uint8Array): Promise<{ index: number; result: R }> {
    if (this.stopped) return Promise.reject(new RaftUnavailableError("stopped", null));
    this.advanceClock();
    return this.awaitApplied(this.node.propose(data), "proposal");
  }

  /**
   * Proposes a membership change (learners added, promoted, demoted, removed; several at
   * once enter a joint configuration, which the core leaves by itself). Resolves once the
   * change entry is applied here.
   */
  proposeConfChange(change: ConfChange): Promise<{ index: number; result: R }> {
    if (this.stopped) return Promise.reject(new RaftUnavailableError("stopped", null));
    this.advanceClock();
    return this.awaitApplied(this.node.proposeConfChange(change), "membership change");
  }

  /** A proposal's promise: rejected now, or settled when its entry is applied (or lost). */
  private awaitApplied(outcome: ProposeOutcome, what: string): Promise<{ index: number; result: R }> {
    if (outcome.type === "rejected") {
      const reason =
        outcome.reason === "not-leader" || outcome.reason === "transferring" ? "notLeader" : "dropped";
      return Promise.reject(
        new RaftUnavailableError(reason, outcome.leader, `${what} rejected: ${outcome.reason}`),
      );
    }
    this.schedule();
    return new Promise((resolve, reject) => {
      this.proposals.set(outcome.index, { term: outcome.term, resolve, reject });
    });
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves with an index once this node has
   * confirmed it still leads and has applied everything committed before the call; read
   * the applier's state then.
   */
  readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(new RaftUnavailableError("stopped", null));
    this.readSequence += 1;
    const context = `read-${this.readSequence}`;
    const outcome = this.node.readIndex(context, this.clock());
    if (outcome.type === "rejected") {
      const reason = outcome.reason === "not-leader" ? "notLeader" : "dropped";
      return Promise.reject(
        new RaftUnavailableError(reason, outcome.leader, `read rejected: ${outcome.reason}`),
      );
    }
    this.schedule();
    return new Promise((resolve, reject) => this.reads.set(context, { resolve, reject }));
  }

  /** Hands leadership to `target` (or the most caught-up voter); false when not possible. */
  transferLeadership(target?: NodeId): boolean {
    const status = this.node.status();
    if (status.role !== "leader") return false;
    const chosen = target ?? bestTransferTarget(status);
    if (chosen === null) return false;
    this.advanceClock();
    const outcome = this.node.transferLeadership(chosen);
    this.schedule();
    return outcome.type === "started";
  }

  /**
   * Stops the node. A leader first hands leadership over (and waits up to two election
   * timeouts for it), so the cluster does not wait out an election timeout.
   */
  async stop(options: { transfer: boolean } = { transfer: true }): Promise<void> {
    if (this.stopped) return;
    if (options.transfer && this.transferLeadership()) {
      const deadline = performance.now() + 2 * this.options.config.electionTimeoutMs;
      while (this.node.status().role === "leader" && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Let an in-flight fdatasync finish before the log file is closed.
    while (this.persisting) await new Promise((resolve) => setTimeout(resolve, 1));
    await this.transport.close();
    this.storage.close();
    const error = new RaftUnavailableError("stopped", null);
    for (const pending of this.proposals.values()) pending.reject(error);
    for (const pending of this.reads.values()) pending.reject(error);
    for (const waiting of this.readsWaiting) waiting.read.reject(error);
    this.proposals.clear();
    this.reads.clear();
    this.readsWaiting.length = 0;
  }

  /** Inbound connections are accepted from configured peers and members of the configuration. */
  private isMember(peer: NodeId): boolean {
    if (this.options.peers.has(peer) || this.options.initialVoters.includes(peer)) return true;
    // A peer the node was told about (gossip saw it alive, cluster-key authenticated) may
    // connect before the configuration names it: a joining node hears the leader first.
    if (this.addressedPeers.has(peer)) return true;
    const conf = this.node.status().conf;
    return conf.voters.includes(peer) || conf.votersOutgoing.includes(peer) || conf.learners.includes(peer);
  }

  /** The core's clock: ms since this driver started. */
  private clock(): number {
    return performance.now() - this.started;
  }

  /**
   * Brings the core's clock to now before an input, so what it records (a leader's last
   * contact, an election deadline) is as fresh as the input. Timeouts are not judged here but
   * by the timer's tick, after the input: a heartbeat read late must not lose to the timeout
   * it answers. Between inputs the core needs no ticks: the timer wakes it at its next
   * deadline.
   */
  private advanceClock(): void {
    this.node.advanceClock(this.clock());
  }

  /**
   * The timer fired. Node runs due timers before it reads the sockets, so after a stall (a
   * long synchronous task, a process starved of a core) the heartbeats and acknowledgements
   * already waiting would be read only after this tick had timed the leader (or a quorum)
   * out: a follower campaigns, a leader steps down, with the messages that disprove it in
   * its buffers. The tick runs as an immediate instead, after the poll phase has read them.
   */
  private tick(): void {
    this.timer = null;
    this.timerDeadline = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    setImmediate(() => {
      if (this.stopped) return;
      this.node.tick(this.clock());
      this.schedule();
    });
  }

  /** (Re)arms the timer for the core's next deadline; a no-op when it is already set for it. */
  private armTimer(): void {
    if (this.stopped) return;
    const deadline = this.node.nextDeadlineMs();
    if (this.timer !== null && deadline === this.timerDeadline) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.ceil(deadline - this.clock())));
  }

  /**
   * A connection to the leader closed (a killed process's sockets are reset by its kernel at
   * once): unless a message from the leader arrives within the same turn of the event loop,
   * the core hears `leaderUnreachable` and campaigns within two heartbeats instead of waiting
   * out its election timeout. A live leader whose connection was merely replaced sends its
   * next heartbeat before then, which puts the follower back at ease.
   */
  private peerState(peer: NodeId, connected: boolean): void {
    if (connected || this.stopped) return;
    const heard = this.receivedFrom.get(peer) ?? 0;
    setImmediate(() => {
      if (this.stopped || (this.receivedFrom.get(peer) ?? 0) !== heard) return;
      this.advanceClock();
      if (this.node.leaderUnreachable(peer)) {
        this.logger.info("raft: a connection to the leader closed; campaigning early", { leader: peer });
        this.schedule();
      }
    });
  }

  private receive(from: NodeId, message: RaftMessage): void {
    if (this.stopped) return;
    if (message.from !== from) {
      // The transport authenticated `from`; a message naming someone else is forged.
      this.logger.warn("raft message with a forged sender dropped", { from, claimed: message.from });
      return;
    }
    this.counters.messagesReceived += 1;
    this.receivedFrom.set(from, (this.receivedFrom.get(from) ?? 0) + 1);
    this.advanceClock();
    if (message.type === "append") this.counters.appendEntriesReceived += message.entries.length;
    const outcome = this.node.step(message);
    if (outcome.type === "dropped" && outcome.reason !== "stale-term") {
      this.logger.debug("raft message dropped", { from, type: message.type, reason: outcome.reason });
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.processReady();
      this.armTimer();
    });
  }

  /**
   * Takes one Ready and persists it; the rest (send, apply, advance) runs when the
   * fdatasync returns. Meanwhile the event loop keeps stepping messages and proposals into
   * the core, so the next Ready carries everything that arrived during the sync: the
   * batch grows with the disk's latency (group commit).
   */
  private processReady(): void {
    if (this.stopped || this.persisting || !this.node.hasReady()) return;
    const ready = this.node.ready();
    this.counters.readies += 1;
    this.counters.messagesSent += ready.messages.length;
    // The last role change in this Ready is the current role (cheaper than status()).
    for (const event of ready.events) {
      if (event.type === "role-changed") this.role = event.role;
    }
    const isLeader = this.role === "leader";
    const hardState = ready.hardState;
    // Nothing a message's header promises (term, vote, this start's generation, the rollback
    // mark) changes in this Ready: what is on disk already backs it.
    const durableHeader =
      hardState === null ||
      (hardState.term === this.syncedTerm &&
        hardState.vote === this.syncedVote &&
        hardState.generation === this.syncedGeneration &&
        hardState.rollback === this.syncedRollback);
    const deferred: RaftMessage[] = [];
    let sentEarly = false;
    for (const message of ready.messages) {
      if (
        (isLeader && message.type === "append") ||
        (durableHeader && message.type === "heartbeatResponse")
      ) {
        this.send(message);
        sentEarly = true;
      } else deferred.push(message);
    }
    if (sentEarly) this.transport.flush();
    const applied = this.applyDurableCommitted(ready);
    const batch = persistBatchOf(ready);
    if (batch === null) {
      this.finishReady(ready, deferred, applied);
      return;
    }
    // Like etcd's MustSync: entries, a snapshot, a new term or a vote must be durable before
    // anything depending on them leaves; a hard state that only moves the commit index need
    // not be (a lost commit index is learned again from the leader), so it is written
    // without waiting for the disk.
    const mustSync = ready.mustSync || ready.entries.length > 0 || ready.snapshot !== null || !durableHeader;
    if (hardState !== null) {
      this.syncedTerm = hardState.term;
      this.syncedVote = hardState.vote;
      this.syncedGeneration = hardState.generation;
      this.syncedRollback = hardState.rollback;
    }
    this.persisting = true;
    if (mustSync) this.counters.syncs += 1;
    this.counters.entriesPersisted += ready.entries.length;
    this.storage.persistAsync(
      batch,
      (error) => {
        this.persisting = false;
        if (error !== null) {
          // After a failed fsync the page cache cannot be trusted (fsyncgate): stop hard.
          this.logger.error("raft log fsync failed; stopping the process", { error });
          process.exit(70);
        }
        this.finishReady(ready, deferred, applied);
      },
      mustSync,
    );
  }

  /**
   * Applies the Ready's committed entries that an earlier Ready already made durable here
   * (all of them on a leader, whose new entries are never committed yet), before this
   * Ready's fsync; returns how many. None when the Ready restores a snapshot.
   */
  private applyDurableCommitted(ready: Ready): number {
    if (ready.snapshot !== null) return 0;
    const firstNew = ready.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    let count = 0;
    while (count < ready.committed.length && ready.committed[count]!.index < firstNew) {
      this.apply(ready.committed[count]!);
      count += 1;
    }
    return count;
  }

  /** After the Ready is durable: send, apply the rest, serve reads, snapshot, advance. */
  private finishReady(ready: Ready, deferred: readonly RaftMessage[], appliedEarly: number): void {
    if (this.stopped) return;
    for (const message of deferred) this.send(message);
    if (ready.snapshot !== null) {
      this.options.applier.restore(ready.snapshot.data, ready.snapshot.metadata);
      this.applied = ready.snapshot.metadata.index;
      this.rejectProposalsThrough(this.applied);
    }
    for (let position = appliedEarly; position < ready.committed.length; position += 1) {
      this.apply(ready.committed[position]!);
    }
    for (const readState of ready.readStates) this.resolveRead(readState.context, readState.index);
    this.releaseReads();
    if (ready.snapshotRequest !== null) this.snapshotAt(ready.snapshotRequest.index);
    for (const event of ready.events) this.observe(event);
    this.node.advance(ready);
    this.schedule();
  }

  /** Raft peers are NodeIds (the transport authenticates them as such); anything else is a bug, not a cast. */
  private send(message: RaftMessage): void {
    const to = message.to;
    if (isNodeId(to)) this.transport.send(to, message);
    else this.logger.error("raft message to a peer that is not a node id dropped", { to });
  }

  private apply(entry: Entry): void {
    assert(entry.index === this.applied + 1, "entries apply in order, each once");
    const result = this.options.applier.apply(entry);
    this.applied = entry.index;
    this.options.onApplied?.(entry, result);
    const pending = this.proposals.get(entry.index);
    if (pending === undefined) return;
    this.proposals.delete(entry.index);
    if (pending.term === entry.term) pending.resolve({ index: entry.index, result });
    else pending.reject(new RaftUnavailableError("dropped", null, "proposal overwritten by a new leader"));
  }

  private rejectProposalsThrough(index: number): void {
    for (const [proposalIndex, pending] of this.proposals) {
      if (proposalIndex > index) continue;
      this.proposals.delete(proposalIndex);
      pending.reject(new RaftUnavailableError("dropped", null, "outcome unknown: replaced by a snapshot"));
    }
  }

  private resolveRead(context: string, index: number): void {
    const read = this.reads.get(context);
    if (read === undefined) return;
    this.reads.delete(context);
    this.readsWaiting.push({ index, read });
  }

  private releaseReads(): void {
    if (this.readsWaiting.length === 0) return;
    const waiting = this.readsWaiting.splice(0);
    for (const item of waiting) {
      if (item.index <= this.applied) item.read.resolve(item.index);
      else this.readsWaiting.push(item);
    }
  }

  private snapshotAt(index: number): void {
    assert(index === this.applied, "the core asks for a snapshot at the applied index");
    const compacted = this.node.compact(index, this.options.applier.snapshot());
    if (!compacted.ok) {
      this.logger.warn("snapshot skipped", { index, issues: compacted.issues.map((issue) => issue.message) });
      return;
    }
    this.storage.persist({ snapshot: snapshotToStored(compacted.value) });
  }

  private observe(event: RaftEvent): void {
    this.options.onEvent?.(event);
    if (event.type === "read-dropped") {
      const read = this.reads.get(event.context);
      if (read !== undefined) {
        this.reads.delete(event.context);
        read.reject(new RaftUnavailableError("dropped", null, `read dropped: ${event.reason}`));
      }
      return;
    }
    if (event.type === "leader-changed" || event.type === "role-changed") {
      this.logger.info("raft", { ...event });
      return;
    }
    if (event.type === "rollback-detected") {
      this.logger.warn(
        "raft: this node's data directory went backwards (restored from an older copy); " +
          "it does not vote or campaign until it has caught up with the leader",
        { ...event },
      );
    } else if (event.type === "rollback-recovered") {
      this.logger.info("raft: caught up after the data directory went backwards; voting again", {
        ...event,
      });
    } else if (event.type === "follower-rolled-back") {
      this.logger.warn(
        "raft: a follower lost entries it had acknowledged (its data directory went backwards); repairing its log",
        { ...event },
      );
    }
  }
}

function persistBatchOf(ready: Ready): PersistBatch | null {
  if (ready.snapshot === null && ready.entries.length === 0 && ready.hardState === null) return null;
  return {
    ...(ready.snapshot === null ? {} : { snapshot: snapshotToStored(ready.snapshot) }),
    ...(ready.entries.length === 0 ? {} : { entries: ready.entries.map(entryToWal) }),
    ...(ready.hardState === null ? {} : { hardState: hardStateToWal(ready.hardState) }),
  };
}

/** The voter with the highest match index, other than the leader itself. */
function bestTransferTarget(status: RaftStatus): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const [peer, progress] of Object.entries(status.progress)) {
    if (peer === status.id || progress.learner || !isNodeId(peer)) continue;
    if (progress.match > bestMatch) {
      best = peer;
      bestMatch = progress.match;
    }
  }
  return best;
}
