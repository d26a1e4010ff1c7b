import { assert, failed, limits, ok, type Random, type Result } from "../vocabulary/index.js";
import { decodeConfChange, encodeConfChange } from "./codec.js";
import { applyConfChange, confEquals, emptyConfState } from "./conf-change.js";
import { readIndexQueueMax, validateRaftConfig } from "./config.js";
import { RaftLog } from "./log.js";
import { Progress } from "./progress.js";
import {
  type CommitRule,
  committedIndex,
  isJoint,
  isVoter,
  leaderCommitRule,
  peersOf,
  voteResult,
} from "./quorum.js";
import type {
  AppendMessage,
  AppendResponseMessage,
  ConfChange,
  ConfState,
  DropReason,
  Entry,
  EntryKind,
  Generation,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  ProgressStatus,
  ProposeOutcome,
  RaftConfig,
  RaftEvent,
  RaftMessage,
  RaftPeerId,
  RaftRole,
  RaftStatus,
  RaftTiming,
  ReadIndexOutcome,
  ReadState,
  Ready,
  RequestVoteMessage,
  RollbackReason,
  RollbackRecoveryStatus,
  Snapshot,
  SnapshotChunkMessage,
  SnapshotMetadata,
  SnapshotResponseMessage,
  StepOutcome,
  StoredState,
  TransferOutcome,
  VoteResponseMessage,
} from "./types.js";

/**
 * A Raft node without IO (etcd-io/raft's RawNode is the model; no code is shared). Inputs:
 * `tick(nowMs)`, `step(message)`, `propose`, `proposeConfChange`, `transferLeadership`,
 * `readIndex`. Outputs: `ready()`, handed back through `advance(ready)`. The Ready contract
 * is in `types.ts` and docs/raft.md.
 *
 * Timeouts enter as local messages (`hup`, `beat`, `checkQuorum`), so every state change
 * has one path. `step` does what all roles share (term comparison, votes), then calls the
 * role's step function, set only by `becomeFollower` / `becomeCandidate` / `becomeLeader`.
 */

export interface RaftNodeOptions {
  /** Test hook: replaces the leader's commit rule (the Figure 8 test injects a broken copy). */
  readonly commitRule?: CommitRule;
  /**
   * This start's generation nonce (an unsigned 32-bit number the driver draws at every
   * start; the simulator passes the incarnation number). It tells two starts from copies of
   * one data directory apart when they reach the same generation count. Default 0.
   */
  readonly incarnationNonce?: number;
}

type LocalMessage =
  | { readonly type: "hup"; readonly transfer: boolean }
  | { readonly type: "beat" }
  | { readonly type: "checkQuorum" };

type OutgoingMessage = RaftMessage extends infer M
  ? M extends RaftMessage
    ? Omit<M, "from" | "term">
    : never
  : never;

interface IncomingSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly totalBytes: number;
  readonly parts: Uint8Array[];
  received: number;
}

interface PendingRead {
  readonly context: string;
  readonly index: number;
  readonly round: number;
}

/** Committed entries handed out in one Ready, so one Ready stays bounded. */
const committedPerReadyMax = 4096;
/** A snapshot bigger than this is refused (it could not be held in memory anyway). */
const snapshotBytesMax = 1024 * 1024 * 1024;
/**
 * Messages waiting for the next Ready. A driver that stops calling `ready()` while messages
 * keep arriving would otherwise grow it without bound; past this, outgoing messages are
 * dropped (Raft tolerates loss) and one `message-dropped` event says so.
 */
const outboxMessagesMax = 65_536;
/** Heartbeat rounds whose send time is remembered for lease reads. */
const roundHistoryMax = 64;

const applied: StepOutcome = { type: "applied" };

function dropped(reason: DropReason): StepOutcome {
  return { type: "dropped", reason };
}

function entryBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.data.length;
  return bytes;
}

export class RaftNode {
  private readonly id: RaftPeerId;
  /** Its timing fields change with `setTiming` (a committed strategy swap); the rest never does. */
  private config: RaftConfig;
  private readonly random: Random;
  private readonly commitRule: CommitRule;
  private readonly log: RaftLog;
  private readonly perMessageBytesMax: number;

  private term: number;
  private vote: RaftPeerId | null;
  /** This start's generation; `count` is persisted with the hard state. */
  private generation: Generation;
  /** The newest generation seen from each peer (in memory: a restart forgets them; at most `limits.peersMax`). */
  private readonly peerGenerations = new Map<RaftPeerId, Generation>();
  /** Set while catching up after a detected rollback of the data directory: no votes, no campaigns. */
  private rollback: { readonly reason: RollbackReason; targetCommit: number | null } | null = null;
  private leader: RaftPeerId | null = null;
  private role: RaftRole = "follower";
  private conf: ConfState;
  /** The latest snapshot (restored, received or taken); sent to followers that lag behind it. */
  private snapshot: Snapshot | null;
  private stepRole: (message: RaftMessage) => StepOutcome;

  // Leader state.
  private readonly progress = new Map<RaftPeerId, Progress>();
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private transferTarget: RaftPeerId | null = null;
  private transferDeadlineMs = 0;
  private heartbeatRound = 0;
  private readonly roundSentMs = new Map<number, number>();
  private pendingReads: PendingRead[] = [];
  /** Reads asked before this leader committed an entry of its term. */
  private readsAwaitingTermCommit: string[] = [];
  private broadcastPending = false;
  private readHeartbeatPending = false;
  /** The commit moved: followers hear it with the next batch of appends, not a heartbeat later. */
  private commitBroadcastPending = false;

  // Candidate state.
  private readonly votes = new Map<RaftPeerId, boolean>();

  // Follower state.
  private incoming: IncomingSnapshot | null = null;

  // Time. Deadlines are armed at the first tick.
  private nowMs = 0;
  private started = false;
  private electionDeadlineMs = 0;
  private heartbeatDeadlineMs = 0;
  private checkQuorumDeadlineMs = 0;
  /** Last time this node heard from a leader of its term (or led); votes are refused within T. */
  private lastLeaderContactMs = 0;
  /** When this node last became a pre-candidate (the pre-vote tie-break's window). */
  private preCampaignStartedMs = Number.NEGATIVE_INFINITY;

  // Output, handed over in the next Ready.
  private messages: RaftMessage[] = [];
  private events: RaftEvent[] = [];
  private readStates: ReadState[] = [];
  private snapshotToPersist: Snapshot | null = null;
  private handedHardState: HardState;
  private snapshotRequestedAt: number;
  private outstanding: Ready | null = null;
  private outboxFullReported = false;

  private constructor(config: RaftConfig, stored: StoredState, random: Random, options: RaftNodeOptions) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.commitRule = options.commitRule ?? leaderCommitRule;
    this.perMessageBytesMax = Math.min(config.inflightBytesMax, Math.floor(limits.frameBytesMax / 2));
    const snapshotIndex = stored.snapshot?.metadata.index ?? 0;
    const snapshotTerm = stored.snapshot?.metadata.term ?? 0;
    const bootstrap = isBootstrap(stored);
    const entries = bootstrap ? [bootstrapEntry(stored.initialConf)] : stored.entries;
    const commit = bootstrap ? 1 : Math.max(stored.hardState.commit, snapshotIndex);
    this.log = new RaftLog(snapshotIndex, snapshotTerm, entries, commit);
    if (bootstrap) {
      // The founding configuration is entry 1, so a node that joins later learns it from
      // the log; it is not on disk yet, so the first Ready hands it over to persist.
      this.log.persistedIndex = 0;
      this.log.unstableFrom = 1;
    }
    this.snapshot = stored.snapshot;
    this.snapshotRequestedAt = snapshotIndex;
    // Without a snapshot the configuration is rebuilt by applying the log from entry 1.
    this.conf = copyConf(stored.snapshot?.metadata.conf ?? emptyConfState());
    this.term = bootstrap ? 1 : stored.hardState.term;
    this.vote = stored.hardState.vote;
    const nonce = options.incarnationNonce ?? 0;
    assert(Number.isSafeInteger(nonce) && nonce >= 0, "the incarnation nonce is an unsigned integer");
    // A new start is a new generation; the first Ready persists it before any message leaves.
    this.generation = { count: (stored.hardState.generation ?? 0) + 1, nonce };
    const rollback = stored.hardState.rollback;
    if (rollback !== undefined) this.rollback = { reason: rollback, targetCommit: null };
    this.handedHardState = { ...stored.hardState };
    this.stepRole = (message) => this.stepFollower(message);
  }

  /** Validates the stored state and builds a follower from it. */
  static create(
    config: RaftConfig,
    stored: StoredState,
    random: Random,
    options: RaftNodeOptions = {},
  ): Result<RaftNode> {
    const checked = validateRaftConfig(config);
    if (!checked.ok) return failed(checked.issues);
    const snapshotIndex = stored.snapshot?.metadata.index ?? 0;
    for (const [position, entry] of stored.entries.entries()) {
      if (entry.index !== snapshotIndex + 1 + position) {
        return failed([
          {
            code: "log_gap",
            message: "stored entries do not follow the snapshot",
            path: ["entries", position],
          },
        ]);
      }
    }
    const lastIndex = snapshotIndex + stored.entries.length;
    if (stored.hardState.commit > lastIndex) {
      return failed([
        {
          code: "commit_beyond_log",
          message: "hard state commit beyond the log",
          path: ["hardState", "commit"],
        },
      ]);
    }
    return ok(new RaftNode(checked.value, stored, random, options));
  }

  // -------------------------------------------------------------------------------------
  // Inputs.

  /**
   * Moves the clock to `nowMs` without judging any timeout; the next `tick` judges them. A
   * driver calls it before stepping an input, so the input is recorded at the current time and
   * weighed before the timeouts it may answer: after a stall, the heartbeat that waited in a
   * buffer resets the election timer instead of arriving after the campaign it disproves.
   * Safety never waits on a tick (a lease and a vote's leader stickiness are judged against
   * the clock itself), only liveness does.
   */
  advanceClock(nowMs: number): void {
    assert(Number.isFinite(nowMs), "time is finite");
    assert(nowMs >= this.nowMs, "time never goes backwards");
    if (!this.started) {
      this.tick(nowMs);
      return;
    }
    this.nowMs = nowMs;
  }

  /** Advances the clock; fires election, heartbeat and check-quorum timeouts as messages. */
  tick(nowMs: number): void {
    assert(Number.isFinite(nowMs), "time is finite");
    assert(nowMs >= this.nowMs, "time never goes backwards");
    this.nowMs = nowMs;
    if (!this.started) {
      this.started = true;
      this.lastLeaderContactMs = nowMs;
      this.resetElectionDeadline();
    }
    if (this.role !== "leader") {
      if (nowMs >= this.electionDeadlineMs) {
        this.resetElectionDeadline();
        this.stepLocal({ type: "hup", transfer: false });
      }
      return;
    }
    this.lastLeaderContactMs = nowMs;
    if (nowMs >= this.heartbeatDeadlineMs) {
      this.heartbeatDeadlineMs = nowMs + this.config.heartbeatIntervalMs;
      this.stepLocal({ type: "beat" });
    }
    if (this.config.checkQuorum && nowMs >= this.checkQuorumDeadlineMs) {
      this.checkQuorumDeadlineMs = nowMs + this.config.electionTimeoutMs;
      this.stepLocal({ type: "checkQuorum" });
    }
    if (this.transferTarget !== null && nowMs >= this.transferDeadlineMs) {
      this.abortTransfer("timed out");
    }
  }

  /**
   * New timing (a committed strategy swap), validated like the config. The next election
   * reset, heartbeat and check-quorum round use it: a leader's pending heartbeat and
   * check-quorum deadlines and a follower's election deadline are pulled in when the new
   * values are shorter (a longer value applies from the next reset). Votes, terms and the
   * log are untouched: timing decides only when things happen, never what is safe.
   */
  setTiming(timing: RaftTiming): Result<RaftTiming> {
    const checked = validateRaftConfig({ ...this.config, ...timing });
    if (!checked.ok) return failed(checked.issues);
    this.config = checked.value;
    if (this.started) {
      const now = this.nowMs;
      this.heartbeatDeadlineMs = Math.min(this.heartbeatDeadlineMs, now + this.config.heartbeatIntervalMs);
      this.checkQuorumDeadlineMs = Math.min(this.checkQuorumDeadlineMs, now + this.config.electionTimeoutMs);
      if (this.role !== "leader" && this.electionDeadlineMs > now + 2 * this.config.electionTimeoutMs)
        this.resetElectionDeadline();
    }
    return ok(this.timing());
  }

  /** The timing in force (`setTiming` changes it). */
  timing(): RaftTiming {
    const { electionTimeoutMs, heartbeatIntervalMs, leaseSafetyMarginMs, snapshotIntervalEntries } =
      this.config;
    return { electionTimeoutMs, heartbeatIntervalMs, leaseSafetyMarginMs, snapshotIntervalEntries };
  }

  /**
   * The earliest clock value at which `tick` would act (an election timeout, a heartbeat, a
   * check-quorum round, a leadership transfer's deadline). Until then `tick` does nothing,
   * so a driver may sleep until this instant instead of ticking at a fixed rate. It moves
   * with every input; read it again after each one.
   */
  nextDeadlineMs(): number {
    if (!this.started) return this.nowMs;
    if (this.role !== "leader") return this.electionDeadlineMs;
    let deadline = this.heartbeatDeadlineMs;
    if (this.config.checkQuorum) deadline = Math.min(deadline, this.checkQuorumDeadlineMs);
    if (this.transferTarget !== null) deadline = Math.min(deadline, this.transferDeadlineMs);
    return deadline;
  }

  /**
   * The driver saw every connection to `peer` close (a killed process's sockets are reset
   * by its kernel at once). A follower of `peer` stops counting on it: its leader lease ends
   * (it grants pre-votes again) and it campaigns within two heartbeat intervals instead of
   * waiting out its election timeout. Only liveness changes (votes and commits follow the
   * same rules), and a live leader's next heartbeat restores both. Ignored with lease reads
   * (a closed connection does not prove that the leader stopped answering reads from its
   * lease, which counts on every voter keeping its own) and for any peer but the leader.
   * True when the node acted on it.
   */
  leaderUnreachable(peer: RaftPeerId): boolean {
    if (this.config.leaseReads || this.role !== "follower" || this.leader !== peer || !this.started) {
      return false;
    }
    this.lastLeaderContactMs = Number.NEGATIVE_INFINITY;
    // One heartbeat interval and a random part of another: a live leader (its connection was
    // only replaced) is heard from before then, which restores the lease and the timer.
    const heartbeat = this.config.heartbeatIntervalMs;
    this.electionDeadlineMs = Math.min(
      this.electionDeadlineMs,
      this.nowMs + heartbeat + this.random.int(heartbeat),
    );
    return true;
  }

  /** Starts an election now (operators and tests; the election timeout does this itself). */
  campaign(): void {
    if (this.role === "leader") return;
    this.stepLocal({ type: "hup", transfer: false });
  }

  step(message: RaftMessage): StepOutcome {
    if (message.to !== this.id) return dropped("wrong-recipient");
    if (message.from === this.id) return dropped("wrong-recipient");
    const fromOlderLife = this.observeGenerations(message);
    if (fromOlderLife !== null) return fromOlderLife;
    if (message.term > this.term) {
      const outcome = this.stepHigherTerm(message);
      if (outcome !== null) return outcome;
    } else if (message.term < this.term) {
      return this.stepLowerTerm(message);
    }
    if (message.type === "requestVote") return this.handleRequestVote(message);
    return this.stepRole(message);
  }

  propose(data: Uint8Array): ProposeOutcome {
    return this.proposeEntry(data, "normal");
  }

  proposeConfChange(change: ConfChange): ProposeOutcome {
    if (this.role === "leader" && this.pendingConfIndex > this.log.applied) {
      return { type: "rejected", reason: "conf-change-pending", leader: this.leader };
    }
    if (this.role === "leader" && !applyConfChange(this.conf, change).ok) {
      return { type: "rejected", reason: "invalid-conf-change", leader: this.leader };
    }
    const outcome = this.proposeEntry(encodeConfChange(change), "conf-change");
    if (outcome.type === "accepted") this.pendingConfIndex = outcome.index;
    return outcome;
  }

  /** Hands leadership to `target`: catch it up, then tell it to campaign at once. */
  transferLeadership(target: RaftPeerId): TransferOutcome {
    if (this.role !== "leader") return { type: "rejected", reason: "not-leader" };
    if (target === this.id) return { type: "rejected", reason: "self" };
    const progress = this.progress.get(target);
    if (progress === undefined) return { type: "rejected", reason: "unknown-peer" };
    if (!isVoter(this.conf, target)) return { type: "rejected", reason: "learner" };
    if (this.transferTarget !== null) return { type: "rejected", reason: "in-progress" };
    this.transferTarget = target;
    this.transferDeadlineMs = this.nowMs + this.config.electionTimeoutMs;
    if (progress.match === this.log.lastIndex()) {
      this.send({ type: "timeoutNow", to: target });
    } else {
      this.sendAppends(target, progress);
    }
    return { type: "started", target };
  }

  /**
   * A linearizable read: the answer (in `Ready.readStates`) is the commit index once a
   * quorum confirmed this node still leads; serve the read after applying up to it.
   * With lease reads on, pass the current time: the lease is judged against the clock, and
   * after a process pause the last tick is stale (the same as calling `tick(nowMs)` first).
   */
  readIndex(context: string, nowMs?: number): ReadIndexOutcome {
    if (nowMs !== undefined) this.tick(nowMs);
    if (this.role !== "leader") return { type: "rejected", reason: "not-leader", leader: this.leader };
    if (this.pendingReads.length + this.readsAwaitingTermCommit.length >= readIndexQueueMax) {
      return { type: "rejected", reason: "queue-full", leader: this.leader };
    }
    if (this.log.termAt(this.log.committed) !== this.term) {
      // A new leader's commit index may lag what earlier leaders committed; the read waits
      // until this leader commits its first entry (its no-op), as etcd does.
      this.readsAwaitingTermCommit.push(context);
      return { type: "accepted" };
    }
    this.startRead(context);
    return { type: "accepted" };
  }

  /** Answers at once (single voter, valid lease) or joins the next heartbeat round. */
  private startRead(context: string): void {
    assert(
      this.log.termAt(this.log.committed) === this.term,
      "reads start once the leader committed in its term",
    );
    const index = this.log.committed;
    if (this.isSingleVoter() || this.isLeaseValid()) {
      this.readStates.push({ context, index });
      return;
    }
    this.pendingReads.push({ context, index, round: this.heartbeatRound + 1 });
    this.readHeartbeatPending = true;
  }

  // -------------------------------------------------------------------------------------
  // Ready / Advance.

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    this.flushLeaderWork();
    if (this.messages.length > 0 || this.events.length > 0 || this.readStates.length > 0) return true;
    if (this.snapshotToPersist !== null) return true;
    if (this.log.unstableFrom <= this.log.lastIndex()) return true;
    if (Math.min(this.log.committed, this.log.lastIndex()) > this.log.applied) return true;
    return !this.hardStateEquals(this.handedHardState);
  }

  /** Takes the pending output. It must be passed to `advance` before the next `ready`. */
  ready(): Ready {
    assert(this.outstanding === null, "two Ready structs without a call to advance");
    this.flushLeaderWork();
    const entries = this.log.entries.slice(this.log.unstableFrom - this.log.snapshotIndex - 1);
    this.log.unstableFrom = this.log.lastIndex() + 1;
    const committed = this.takeCommitted();
    const hardState = this.currentHardState();
    const hardStateChanged = !this.hardStateEquals(this.handedHardState);
    const durableStateChanged =
      hardState.term !== this.handedHardState.term ||
      hardState.vote !== this.handedHardState.vote ||
      hardState.generation !== this.handedHardState.generation ||
      hardState.rollback !== this.handedHardState.rollback;
    this.handedHardState = hardState;
    let snapshotRequest = null;
    if (this.log.applied - this.snapshotRequestedAt >= this.config.snapshotIntervalEntries) {
      this.snapshotRequestedAt = this.log.applied;
      snapshotRequest = { index: this.log.applied };
    }
    const ready: Ready = {
      hardState: hardStateChanged ? hardState : null,
      snapshot: this.snapshotToPersist,
      entries,
      committed,
      messages: this.messages,
      readStates: this.readStates,
      snapshotRequest,
      events: this.events,
      mustSync: entries.length > 0 || this.snapshotToPersist !== null || durableStateChanged,
    };
    this.snapshotToPersist = null;
    this.outboxFullReported = false;
    this.messages = [];
    this.readStates = [];
    this.events = [];
    this.outstanding = ready;
    assert(
      entries.length === 0 || entries[0]!.index > this.log.snapshotIndex,
      "handed entries follow the snapshot",
    );
    return ready;
  }

  /** The driver persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    assert(this.outstanding !== null, "advance without an outstanding Ready");
    assert(ready === this.outstanding, "advance of a Ready that is not the outstanding one");
    this.outstanding = null;
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) {
      const persisted = Math.min(last.index, this.log.unstableFrom - 1);
      this.log.persistedIndex = Math.max(this.log.persistedIndex, persisted);
    }
    assert(this.log.persistedIndex < this.log.unstableFrom, "persisted entries were handed out");
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self !== undefined) self.maybeUpdate(this.log.persistedIndex);
    this.maybeCommit();
    if (isJoint(this.conf) && this.pendingConfIndex <= this.log.applied && this.transferTarget === null) {
      // Leaving the joint configuration is automatic; a full uncommitted budget retries later.
      this.proposeConfChange({ changes: [] });
    }
  }

  /**
   * Records the application's snapshot at `index` (the applied index) and drops the log up
   * to it. The driver persists the returned snapshot and may then delete those entries.
   */
  compact(index: number, data: Uint8Array): Result<Snapshot> {
    if (index !== this.log.applied) {
      return failed([
        {
          code: "not_applied_index",
          message: `compact at ${index}, applied is ${this.log.applied}`,
          path: [],
        },
      ]);
    }
    if (index <= this.log.snapshotIndex) {
      return failed([
        { code: "already_compacted", message: `already compacted to ${this.log.snapshotIndex}`, path: [] },
      ]);
    }
    const term = this.log.termAt(index);
    assert(term !== undefined, "the applied entry is in the log");
    const snapshot: Snapshot = { metadata: { index, term, conf: copyConf(this.conf) }, data };
    this.log.compactTo(index, term);
    this.snapshot = snapshot;
    return ok(snapshot);
  }

  status(): RaftStatus {
    const progress: Record<RaftPeerId, ProgressStatus> = {};
    if (this.role === "leader") {
      for (const [peer, tracker] of this.progress) progress[peer] = tracker.describe();
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.log.snapshotIndex,
      conf: copyConf(this.conf),
      transferTarget: this.transferTarget,
      generation: this.generation.count,
      rollback: this.rollbackStatus(),
      progress,
    };
  }

  // -------------------------------------------------------------------------------------
  // Shared step logic.

  private stepLocal(message: LocalMessage): void {
    switch (message.type) {
      case "hup":
        if (this.role === "leader") return;
        if (!this.isPromotable()) return;
        if (this.config.preVote && !message.transfer) this.startElection(true, false);
        else this.startElection(false, message.transfer);
        return;
      case "beat":
        if (this.role === "leader") this.broadcastHeartbeat();
        return;
      case "checkQuorum":
        if (this.role === "leader") this.checkQuorumActive();
        return;
      default:
        message satisfies never;
    }
  }

  /** A message from a later term. Returns an outcome when the message is finished with. */
  private stepHigherTerm(message: RaftMessage): StepOutcome | null {
    if (message.type === "requestVote") {
      const inLease =
        this.config.checkQuorum && this.nowMs - this.lastLeaderContactMs < this.config.electionTimeoutMs;
      if (inLease && !message.transfer) return dropped("leader-lease");
      if (message.preVote) return null;
      this.becomeFollower(message.term, null);
      return null;
    }
    if (message.type === "voteResponse" && message.preVote && message.granted) return null;
    const fromLeader =
      message.type === "append" || message.type === "heartbeat" || message.type === "snapshotChunk";
    this.becomeFollower(message.term, fromLeader ? message.from : null);
    return null;
  }

  /** A message from an earlier term: tell a stale leader or pre-candidate about this term. */
  private stepLowerTerm(message: RaftMessage): StepOutcome {
    const quiet = this.config.checkQuorum || this.config.preVote;
    if (quiet && (message.type === "append" || message.type === "heartbeat")) {
      this.send({
        type: "appendResponse",
        to: message.from,
        success: false,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (message.type === "requestVote" && message.preVote) {
      this.send({ type: "voteResponse", to: message.from, preVote: true, granted: false });
    }
    return dropped("stale-term");
  }

  private handleRequestVote(message: RequestVoteMessage): StepOutcome {
    if (this.rollback !== null) {
      // This node may have voted in this term before its disk went back: no vote until caught up.
      this.send({ type: "voteResponse", to: message.from, preVote: message.preVote, granted: false });
      return applied;
    }
    const future = message.preVote && message.term > this.term;
    const canVote = this.vote === message.from || (this.vote === null && this.leader === null) || future;
    const upToDate = this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    if (canVote && upToDate && !this.outranksPreVote(message)) {
      this.sendAtTerm(message.term, {
        type: "voteResponse",
        to: message.from,
        preVote: message.preVote,
        granted: true,
      });
      if (!message.preVote) {
        assert(message.term === this.term, "a real vote is cast in the current term");
        this.vote = message.from;
        this.resetElectionDeadline();
      }
      return applied;
    }
    this.send({ type: "voteResponse", to: message.from, preVote: message.preVote, granted: false });
    return applied;
  }

  /**
   * The pre-vote tie-break. Two nodes whose election timers fire close together both
   * pre-campaign; if each granted the other's pre-vote, both would campaign, split the vote
   * and wait out another timeout. So a pre-candidate whose own pre-campaign is fresh (begun
   * less than half an election timeout ago) refuses the pre-vote of a peer with an equal
   * log and a larger id, and that peer (who grants the smaller id's pre-vote as before)
   * cannot win: one of the two campaigns. A more up-to-date log always gets the pre-vote.
   * Pre-votes change no term and no vote, so this touches liveness only; after the window
   * the node grants as before, so a pre-candidate that cannot reach anyone does not hold
   * the others back for longer than that.
   */
  private outranksPreVote(message: RequestVoteMessage): boolean {
    if (!message.preVote || this.role !== "pre-candidate") return false;
    if (this.nowMs - this.preCampaignStartedMs >= this.config.electionTimeoutMs / 2) return false;
    const sameLog =
      message.lastLogTerm === this.log.lastTerm() && message.lastLogIndex === this.log.lastIndex();
    return sameLog && this.id < message.from;
  }

  // -------------------------------------------------------------------------------------
  // Role transitions.

  private becomeFollower(term: number, leader: RaftPeerId | null): void {
    assert(term >= this.term, "a follower never goes back in term");
    const previousRole = this.role;
    const previousLeader = this.leader;
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    if (this.transferTarget !== null) this.abortTransfer("stepped down");
    this.dropPendingReads("stepped down");
    this.role = "follower";
    this.leader = leader;
    this.stepRole = (message) => this.stepFollower(message);
    this.progress.clear();
    this.votes.clear();
    // A follower that only saw a higher term keeps its timer running (Raft §5.2: the timer
    // restarts on hearing from a leader, granting a vote or campaigning). Otherwise a node
    // that cannot win, with a fast clock, would hold everyone else's timers back forever.
    if (previousRole !== "follower" || leader !== null) this.resetElectionDeadline();
    if (leader !== null) this.lastLeaderContactMs = this.nowMs;
    if (previousRole !== "follower") this.events.push({ type: "role-changed", role: "follower", term });
    if (previousLeader !== leader) this.events.push({ type: "leader-changed", leader, term });
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader does not pre-campaign");
    this.role = "pre-candidate";
    this.preCampaignStartedMs = this.nowMs;
    this.stepRole = (message) => this.stepCandidate(message);
    this.votes.clear();
    if (this.leader !== null) this.events.push({ type: "leader-changed", leader: null, term: this.term });
    this.leader = null;
    this.events.push({ type: "role-changed", role: "pre-candidate", term: this.term });
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "a leader does not campaign");
    this.term += 1;
    this.vote = this.id;
    this.role = "candidate";
    this.stepRole = (message) => this.stepCandidate(message);
    this.votes.clear();
    if (this.leader !== null) this.events.push({ type: "leader-changed", leader: null, term: this.term });
    this.leader = null;
    this.resetElectionDeadline();
    this.events.push({ type: "role-changed", role: "candidate", term: this.term });
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    assert(this.vote === this.id, "a leader voted for itself");
    this.role = "leader";
    this.leader = this.id;
    this.stepRole = (message) => this.stepLeader(message);
    this.votes.clear();
    this.uncommittedBytes = 0;
    this.heartbeatRound = 0;
    this.roundSentMs.clear();
    this.lastLeaderContactMs = this.nowMs;
    this.heartbeatDeadlineMs = this.nowMs + this.config.heartbeatIntervalMs;
    this.checkQuorumDeadlineMs = this.nowMs + this.config.electionTimeoutMs;
    this.progress.clear();
    this.syncProgress();
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.maybeUpdate(this.log.persistedIndex);
      self.becomeReplicate();
    }
    this.events.push({ type: "role-changed", role: "leader", term: this.term });
    this.events.push({ type: "leader-changed", leader: this.id, term: this.term });
    this.log.append({
      term: this.term,
      index: this.log.lastIndex() + 1,
      kind: "empty",
      data: new Uint8Array(0),
    });
    this.pendingConfIndex = this.log.lastIndex();
    this.broadcastPending = true;
  }

  /** Runs a pre-vote (`pre`) or a real election; a single voter wins at once. */
  private startElection(pre: boolean, transfer: boolean): void {
    let preRound = pre;
    for (let round = 0; round < 2; round += 1) {
      if (preRound) this.becomePreCandidate();
      else this.becomeCandidate();
      const voteTerm = preRound ? this.term + 1 : this.term;
      this.votes.set(this.id, true);
      const result = voteResult(this.conf, this.votes);
      if (result === "won" && preRound) {
        preRound = false;
        continue;
      }
      if (result === "won") {
        this.becomeLeader();
        return;
      }
      for (const peer of this.voterPeers()) {
        this.sendAtTerm(voteTerm, {
          type: "requestVote",
          to: peer,
          preVote: preRound,
          lastLogIndex: this.log.lastIndex(),
          lastLogTerm: this.log.lastTerm(),
          transfer,
        });
      }
      return;
    }
  }

  // -------------------------------------------------------------------------------------
  // Step per role.

  private stepFollower(message: RaftMessage): StepOutcome {
    switch (message.type) {
      case "append": {
        this.heardFromLeader(message.from);
        if (message.rolledBack === true) this.detectRollback("acknowledged-entries-lost", message.from, 0);
        if (this.rollback !== null && this.rollback.targetCommit === null)
          this.rollback.targetCommit = message.commit;
        const outcome = this.handleAppend(message);
        this.maybeFinishRollback(message.rolledBack === true);
        return outcome;
      }
      case "heartbeat": {
        this.heardFromLeader(message.from);
        if (message.rolledBack === true) this.detectRollback("acknowledged-entries-lost", message.from, 0);
        const outcome = this.handleHeartbeat(message);
        this.maybeFinishRollback(message.rolledBack === true);
        return outcome;
      }
      case "snapshotChunk": {
        this.heardFromLeader(message.from);
        const outcome = this.handleSnapshotChunk(message);
        this.maybeFinishRollback(false);
        return outcome;
      }
      case "timeoutNow":
        if (!this.isPromotable()) return dropped("unknown-peer");
        this.stepLocal({ type: "hup", transfer: true });
        return applied;
      case "requestVote":
      case "voteResponse":
      case "appendResponse":
      case "heartbeatResponse":
      case "snapshotResponse":
        return dropped("not-leader");
      default:
        return message satisfies never;
    }
  }

  private stepCandidate(message: RaftMessage): StepOutcome {
    switch (message.type) {
      case "append":
      case "heartbeat":
      case "snapshotChunk":
        // A leader of this term exists: follow it.
        this.becomeFollower(this.term, message.from);
        return this.stepFollower(message);
      case "voteResponse":
        return this.handleVoteResponse(message);
      case "timeoutNow":
      case "requestVote":
      case "appendResponse":
      case "heartbeatResponse":
      case "snapshotResponse":
        return dropped("not-leader");
      default:
        return message satisfies never;
    }
  }

  private stepLeader(message: RaftMessage): StepOutcome {
    switch (message.type) {
      case "appendResponse":
      case "heartbeatResponse":
      case "snapshotResponse": {
        const progress = this.progress.get(message.from);
        if (progress === undefined) return dropped("unknown-peer");
        // An acknowledgement beyond this log is a broken peer; it must not move the commit.
        if (message.type === "appendResponse" && message.index > this.log.lastIndex())
          return dropped("malformed");
        progress.recentActive = true;
        if (message.type === "appendResponse") this.handleAppendResponse(message, progress);
        else if (message.type === "heartbeatResponse") this.handleHeartbeatResponse(message, progress);
        else this.handleSnapshotResponse(message, progress);
        return applied;
      }
      case "append":
      case "heartbeat":
      case "snapshotChunk":
      case "timeoutNow":
      case "voteResponse":
      case "requestVote":
        return dropped("duplicate");
      default:
        return message satisfies never;
    }
  }

  // -------------------------------------------------------------------------------------
  // Candidate handlers.

  private handleVoteResponse(message: VoteResponseMessage): StepOutcome {
    const preRound = this.role === "pre-candidate";
    if (message.preVote !== preRound) return dropped("stale-term");
    this.votes.set(message.from, message.granted);
    const result = voteResult(this.conf, this.votes);
    if (result === "won" && preRound) this.startElection(false, false);
    else if (result === "won") this.becomeLeader();
    else if (result === "lost") this.becomeFollower(this.term, null);
    return applied;
  }

  // -------------------------------------------------------------------------------------
  // Follower handlers.

  private heardFromLeader(leader: RaftPeerId): void {
    assert(this.role === "follower", "only followers hear from a leader");
    if (this.leader !== leader) {
      this.leader = leader;
      this.events.push({ type: "leader-changed", leader, term: this.term });
    }
    this.lastLeaderContactMs = this.nowMs;
    this.resetElectionDeadline();
  }

  private handleAppend(message: AppendMessage): StepOutcome {
    let prevIndex = message.prevLogIndex;
    let prevTerm = message.prevLogTerm;
    let entries = message.entries;
    for (const [position, entry] of entries.entries()) {
      if (entry.index !== prevIndex + 1 + position) return dropped("malformed");
      if (entry.term > message.term) return dropped("malformed");
    }
    const committed = this.log.committed;
    if (prevIndex < committed) {
      // The committed prefix matches the leader's log (leader completeness): skip it.
      const skip = committed - prevIndex;
      if (skip >= entries.length) {
        this.respondAppend(message.from, true, committed);
        return applied;
      }
      entries = entries.slice(skip);
      prevIndex = committed;
      prevTerm = this.log.termAt(committed)!;
    }
    if (!this.log.matchTerm(prevIndex, prevTerm)) {
      const hintIndex = this.findConflictByTerm(Math.min(prevIndex, this.log.lastIndex()), prevTerm);
      const hintTerm = this.log.termAt(hintIndex) ?? 0;
      this.send({
        type: "appendResponse",
        to: message.from,
        success: false,
        index: prevIndex,
        hintIndex,
        hintTerm,
      });
      return applied;
    }
    let start = 0;
    while (start < entries.length && this.log.termAt(entries[start]!.index) === entries[start]!.term)
      start += 1;
    if (start < entries.length) {
      const first = entries[start]!;
      if (first.index <= this.log.lastIndex()) this.log.truncateFrom(first.index);
      for (let position = start; position < entries.length; position += 1)
        this.log.append(entries[position]!);
    }
    const lastNew = prevIndex + entries.length;
    this.log.commitTo(Math.min(message.commit, lastNew));
    this.respondAppend(message.from, true, lastNew);
    return applied;
  }

  private respondAppend(to: RaftPeerId, success: boolean, index: number): void {
    this.send({ type: "appendResponse", to, success, index, hintIndex: 0, hintTerm: 0 });
  }

  private handleHeartbeat(message: HeartbeatMessage): StepOutcome {
    // A heartbeat's commit index is not checked against this log: the leader caps it at what
    // this node acknowledged. Acknowledgements of another start (the leader has not yet seen
    // this generation) may name entries a rolled-back disk no longer holds, so only a
    // heartbeat addressed to this start moves the commit.
    const recipient = message.recipientGeneration;
    if (recipient === undefined || isSameGeneration(recipient, this.generation)) {
      this.log.commitTo(Math.min(message.commit, this.log.lastIndex()));
    }
    this.send({
      type: "heartbeatResponse",
      to: message.from,
      readRound: message.readRound,
      lastIndex: this.log.lastIndex(),
    });
    return applied;
  }

  private handleSnapshotChunk(message: SnapshotChunkMessage): StepOutcome {
    const metadata = message.metadata;
    const respond = (nextOffset: number, done: boolean) =>
      this.send({
        type: "snapshotResponse",
        to: message.from,
        snapshotIndex: metadata.index,
        nextOffset,
        done,
      });
    if (metadata.index <= this.log.committed) {
      respond(message.totalBytes, true);
      return dropped("stale-snapshot");
    }
    if (message.totalBytes > snapshotBytesMax) return dropped("malformed");
    const current = this.incoming;
    if (
      current === null ||
      current.metadata.index !== metadata.index ||
      current.metadata.term !== metadata.term
    ) {
      if (message.offset !== 0) {
        respond(0, false);
        return applied;
      }
      this.incoming = { metadata, totalBytes: message.totalBytes, parts: [], received: 0 };
    }
    const incoming = this.incoming!;
    if (message.offset !== incoming.received || message.totalBytes !== incoming.totalBytes) {
      respond(incoming.received, false);
      return applied;
    }
    if (incoming.received + message.chunk.length > incoming.totalBytes) return dropped("malformed");
    incoming.parts.push(message.chunk.slice());
    incoming.received += message.chunk.length;
    if (incoming.received < incoming.totalBytes) {
      respond(incoming.received, false);
      return applied;
    }
    this.incoming = null;
    const data = new Uint8Array(incoming.totalBytes);
    let offset = 0;
    for (const part of incoming.parts) {
      data.set(part, offset);
      offset += part.length;
    }
    this.restoreSnapshot({ metadata, data });
    respond(incoming.totalBytes, true);
    return applied;
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    assert(index > this.log.committed, "only a snapshot ahead of the commit is restored");
    if (this.log.matchTerm(index, term)) {
      // The log already holds the snapshot's last entry: only the commit moves.
      this.log.commitTo(index);
      return;
    }
    this.log.restore(index, term);
    this.snapshot = snapshot;
    this.snapshotToPersist = snapshot;
    this.snapshotRequestedAt = index;
    this.conf = copyConf(snapshot.metadata.conf);
    this.events.push({ type: "snapshot-installed", index, term });
    this.events.push({ type: "conf-changed", conf: copyConf(this.conf), index });
    assert(this.log.lastIndex() === index, "a restored log ends at the snapshot");
  }

  // -------------------------------------------------------------------------------------
  // Leader handlers.

  private handleAppendResponse(message: AppendResponseMessage, progress: Progress): void {
    if (!message.success) {
      if (!progress.rolledBack && progress.isLostAcknowledgement(message.index)) {
        // This start of the follower lacks an entry its previous start acknowledged.
        progress.rolledBack = true;
        this.events.push({
          type: "follower-rolled-back",
          peer: message.from,
          acknowledged: progress.acknowledgedBeforeRestart,
          rejected: message.index,
        });
      }
      const probeIndex = this.findConflictByTerm(message.hintIndex, message.hintTerm);
      if (progress.maybeDecrease(message.index, probeIndex)) {
        if (progress.state === "replicate") progress.becomeProbe();
        this.sendAppends(message.from, progress);
      }
      return;
    }
    if (progress.maybeUpdate(message.index)) {
      if (progress.state === "probe") {
        progress.becomeReplicate();
      } else if (progress.state === "snapshot" && progress.match >= progress.pendingSnapshot) {
        progress.becomeProbe();
        progress.becomeReplicate();
      }
      this.maybeCommit();
      if (message.from === this.transferTarget && progress.match === this.log.lastIndex()) {
        this.send({ type: "timeoutNow", to: message.from });
      }
    }
    this.sendAppends(message.from, progress);
  }

  private handleHeartbeatResponse(message: HeartbeatResponseMessage, progress: Progress): void {
    if (message.readRound > progress.ackedRound) {
      progress.ackedRound = message.readRound;
      progress.ackedSendMs = this.roundSentMs.get(message.readRound) ?? progress.ackedSendMs;
      this.releaseReads();
    }
    if (progress.state === "snapshot") {
      this.sendSnapshotChunk(message.from, progress);
      return;
    }
    if (progress.state === "probe") progress.probeSent = false;
    if (progress.state === "replicate" && progress.isStalled()) {
      // An append was sent a heartbeat ago and nothing came back: it was likely lost.
      progress.becomeProbe();
    }
    progress.markHeartbeat();
    if (progress.match < this.log.lastIndex() || message.lastIndex < this.log.lastIndex()) {
      this.sendAppends(message.from, progress);
    }
  }

  private handleSnapshotResponse(message: SnapshotResponseMessage, progress: Progress): void {
    if (progress.state !== "snapshot" || message.snapshotIndex !== progress.pendingSnapshot) return;
    if (message.done) {
      progress.maybeUpdate(message.snapshotIndex);
      progress.becomeProbe();
      this.sendAppends(message.from, progress);
      return;
    }
    progress.snapshotOffset = message.nextOffset;
    this.sendSnapshotChunk(message.from, progress);
  }

  /** Commits what a quorum holds, if the commit rule allows; returns whether it moved. */
  private maybeCommit(): boolean {
    assert(this.role === "leader", "only the leader decides commits");
    const previous = this.log.committed;
    const next = this.commitRule({
      conf: this.conf,
      matchOf: (peer) => this.progress.get(peer)?.match ?? 0,
      commit: previous,
      term: this.term,
      termAt: (index) => this.log.termAt(index) ?? 0,
    });
    if (next <= previous) return false;
    assert(next <= this.log.lastIndex(), "commit within the log");
    for (let index = previous + 1; index <= next; index += 1) {
      const entry = this.log.entryAt(index);
      if (entry !== undefined && entry.term === this.term) this.uncommittedBytes -= entry.data.length;
    }
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes);
    this.log.commitTo(next);
    this.commitBroadcastPending = true;
    if (this.readsAwaitingTermCommit.length > 0 && this.log.termAt(next) === this.term) {
      const waiting = this.readsAwaitingTermCommit;
      this.readsAwaitingTermCommit = [];
      for (const context of waiting) this.startRead(context);
    }
    return true;
  }

  private checkQuorumActive(): void {
    const active = committedIndex(this.conf, (peer) =>
      peer === this.id || this.progress.get(peer)?.recentActive === true ? 1 : 0,
    );
    for (const [peer, progress] of this.progress) progress.recentActive = peer === this.id;
    if (active < 1) this.becomeFollower(this.term, null);
  }

  private abortTransfer(reason: string): void {
    assert(this.transferTarget !== null, "abort without a transfer");
    this.events.push({ type: "transfer-aborted", target: this.transferTarget, reason });
    this.transferTarget = null;
  }

  // -------------------------------------------------------------------------------------
  // Leader sending.

  /**
   * Sends appends while the follower's flow control allows (bounded by in-flight limits);
   * returns whether anything was sent.
   */
  private sendAppends(to: RaftPeerId, progress: Progress): boolean {
    let sent = 0;
    while (sent <= this.config.inflightAppendsMax && this.maybeSendAppend(to, progress)) sent += 1;
    return sent > 0;
  }

  /** An empty append that only carries the new commit index to a caught-up follower. */
  private maybeSendCommit(to: RaftPeerId, progress: Progress): void {
    if (progress.state !== "replicate" || progress.isPaused()) return;
    if (progress.match !== this.log.lastIndex()) return;
    const prevIndex = this.log.lastIndex();
    const prevTerm = this.log.termAt(prevIndex);
    assert(prevTerm !== undefined, "the last entry has a term");
    this.send({
      type: "append",
      to,
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries: [],
      commit: this.log.committed,
    });
  }

  private maybeSendAppend(to: RaftPeerId, progress: Progress): boolean {
    if (progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined) {
      assert(prevIndex < this.log.snapshotIndex, "a follower's next index is inside the log");
      return this.startSnapshot(to, progress);
    }
    const entries = this.log.slice(
      progress.next,
      this.log.lastIndex(),
      this.config.entriesPerAppendMax,
      this.perMessageBytesMax,
    );
    if (progress.state === "replicate" && entries.length === 0) return false;
    const bytes = entryBytes(entries);
    this.send({
      type: "append",
      to,
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries,
      commit: this.log.committed,
    });
    progress.sentAppend(prevIndex + entries.length, entries.length, bytes);
    return true;
  }

  private startSnapshot(to: RaftPeerId, progress: Progress): boolean {
    const snapshot = this.snapshot;
    assert(snapshot !== null, "a compacted log has a snapshot");
    progress.becomeSnapshot(snapshot.metadata.index);
    this.sendSnapshotChunk(to, progress);
    return false;
  }

  private sendSnapshotChunk(to: RaftPeerId, progress: Progress): void {
    const snapshot = this.snapshot;
    assert(snapshot !== null, "a snapshot to send");
    if (snapshot.metadata.index !== progress.pendingSnapshot)
      progress.becomeSnapshot(snapshot.metadata.index);
    const offset = Math.min(progress.snapshotOffset, snapshot.data.length);
    const chunk = snapshot.data.subarray(offset, offset + this.config.snapshotChunkBytes);
    this.send({
      type: "snapshotChunk",
      to,
      metadata: snapshot.metadata,
      offset,
      totalBytes: snapshot.data.length,
      chunk,
    });
  }

  private broadcastHeartbeat(): void {
    this.heartbeatRound += 1;
    this.roundSentMs.set(this.heartbeatRound, this.nowMs);
    this.roundSentMs.delete(this.heartbeatRound - roundHistoryMax);
    this.readHeartbeatPending = false;
    for (const [peer, progress] of this.progress) {
      if (peer === this.id) continue;
      const commit = Math.min(progress.match, this.log.committed);
      this.send({ type: "heartbeat", to: peer, commit, readRound: this.heartbeatRound });
    }
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.ackedRound = this.heartbeatRound;
      self.ackedSendMs = this.nowMs;
    }
    this.releaseReads();
  }

  /** Batched leader work: appends for new proposals and a heartbeat round for new reads. */
  private flushLeaderWork(): void {
    if (this.role !== "leader") return;
    if (this.broadcastPending || this.commitBroadcastPending) {
      const commitOnly = !this.broadcastPending;
      this.broadcastPending = false;
      this.commitBroadcastPending = false;
      for (const [peer, progress] of this.progress) {
        if (peer === this.id) continue;
        const sent = commitOnly ? false : this.sendAppends(peer, progress);
        if (!sent) this.maybeSendCommit(peer, progress);
      }
    }
    if (this.readHeartbeatPending) this.broadcastHeartbeat();
  }

  private releaseReads(): void {
    if (this.pendingReads.length === 0) return;
    const round = committedIndex(this.conf, (peer) => this.progress.get(peer)?.ackedRound ?? 0);
    let released = 0;
    while (released < this.pendingReads.length && this.pendingReads[released]!.round <= round) {
      const read = this.pendingReads[released]!;
      this.readStates.push({ context: read.context, index: read.index });
      released += 1;
    }
    if (released > 0) this.pendingReads = this.pendingReads.slice(released);
  }

  /**
   * Lease reads: a quorum answered heartbeats sent at or after `leaseStart`; each of them
   * refuses votes for T after receiving one, so no other leader exists before
   * leaseStart + T (minus a margin for clock-rate differences).
   */
  private isLeaseValid(): boolean {
    if (!this.config.leaseReads || this.transferTarget !== null) return false;
    const leaseStart = committedIndex(this.conf, (peer) =>
      peer === this.id ? this.nowMs : (this.progress.get(peer)?.ackedSendMs ?? Number.NEGATIVE_INFINITY),
    );
    return this.nowMs < leaseStart + this.config.electionTimeoutMs - this.config.leaseSafetyMarginMs;
  }

  private dropPendingReads(reason: string): void {
    for (const read of this.pendingReads)
      this.events.push({ type: "read-dropped", context: read.context, reason });
    for (const context of this.readsAwaitingTermCommit)
      this.events.push({ type: "read-dropped", context, reason });
    this.pendingReads = [];
    this.readsAwaitingTermCommit = [];
  }

  // -------------------------------------------------------------------------------------
  // Generations: noticing a data directory that went backwards.

  /**
   * Learns from the generations a message carries. A recipient generation newer than this
   * start means this node's data directory went backwards. A sender generation newer than
   * the one remembered is a restart: its acknowledgements are verified again. A message
   * from an older life of the sender (delayed across a restart, or from a rolled-back node
   * that has not learnt it yet) moves no progress and wins no vote; returns its outcome.
   */
  private observeGenerations(message: RaftMessage): StepOutcome | null {
    const recipient = message.recipientGeneration;
    if (recipient !== undefined && isNewerGeneration(recipient, this.generation)) {
      this.detectRollback("newer-generation-seen", message.from, recipient.count);
    }
    const sender = message.generation;
    if (sender === undefined) return null;
    const known = this.peerGenerations.get(message.from);
    if (known === undefined && this.peerGenerations.size >= limits.peersMax) return null;
    if (known === undefined || sender.count > known.count) {
      this.peerGenerations.set(message.from, sender);
      if (known !== undefined) this.progress.get(message.from)?.restart();
      return null;
    }
    if (isSameGeneration(sender, known)) return null;
    if (message.type === "requestVote") {
      // The answer names the newer generation, so the sender learns its disk went back.
      this.send({ type: "voteResponse", to: message.from, preVote: message.preVote, granted: false });
    }
    const isResponse =
      message.type === "appendResponse" ||
      message.type === "heartbeatResponse" ||
      message.type === "snapshotResponse" ||
      message.type === "voteResponse";
    if (isResponse || message.type === "requestVote") return dropped("stale-generation");
    return null;
  }

  /**
   * This node's data directory went backwards (restored from an older copy): its term and
   * vote may be older than ones it already gave, so it neither votes nor campaigns until it
   * has caught up with a leader's commit index. A generation seen by a peer is passed, so
   * this start takes a generation past it.
   */
  private detectRollback(reason: RollbackReason, by: RaftPeerId, seenCount: number): void {
    if (reason === "newer-generation-seen") {
      const count = Math.max(this.generation.count, seenCount) + 1;
      this.generation = { count, nonce: this.generation.nonce };
    }
    if (this.rollback !== null) return;
    this.rollback = { reason, targetCommit: null };
    if (this.role === "leader" || this.role === "candidate" || this.role === "pre-candidate") {
      this.becomeFollower(this.term, null);
    }
    this.events.push({
      type: "rollback-detected",
      reason,
      generation: this.generation.count,
      by,
      term: this.term,
      commit: this.log.committed,
    });
    assert(this.rollback !== null, "a detected rollback is recorded");
  }

  /**
   * Votes again once the commit index reached the leader's commit heard after the rollback,
   * and the leader no longer says entries are missing (`flagged`).
   */
  private maybeFinishRollback(flagged: boolean): void {
    const rollback = this.rollback;
    if (rollback === null || rollback.targetCommit === null || flagged) return;
    if (this.log.committed < rollback.targetCommit) return;
    this.rollback = null;
    // The leader of this term won it; recording the vote for it means no restart of this node
    // can give a vote in this term to anyone else (its earlier life may have voted in it).
    if (this.vote === null && this.leader !== null) this.vote = this.leader;
    this.events.push({ type: "rollback-recovered", commit: this.log.committed, term: this.term });
  }

  private rollbackStatus(): RollbackRecoveryStatus | null {
    if (this.rollback === null) return null;
    return { reason: this.rollback.reason, targetCommit: this.rollback.targetCommit };
  }

  // -------------------------------------------------------------------------------------
  // Helpers.

  private proposeEntry(data: Uint8Array, kind: EntryKind): ProposeOutcome {
    if (this.role !== "leader") return { type: "rejected", reason: "not-leader", leader: this.leader };
    if (this.transferTarget !== null)
      return { type: "rejected", reason: "transferring", leader: this.leader };
    if (data.length > this.perMessageBytesMax)
      return { type: "rejected", reason: "too-large", leader: this.leader };
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + data.length > this.config.uncommittedBytesMax) {
      return { type: "rejected", reason: "uncommitted-full", leader: this.leader };
    }
    const index = this.log.lastIndex() + 1;
    this.log.append({ term: this.term, index, kind, data });
    this.uncommittedBytes += data.length;
    this.broadcastPending = true;
    return { type: "accepted", index, term: this.term };
  }

  /** Hands out committed entries (bounded per Ready) and applies conf changes among them. */
  private takeCommitted(): Entry[] {
    const last = Math.min(this.log.committed, this.log.lastIndex(), this.log.applied + committedPerReadyMax);
    if (last <= this.log.applied) return [];
    const committed = this.log.entries.slice(
      this.log.applied - this.log.snapshotIndex,
      last - this.log.snapshotIndex,
    );
    assert(committed[0]!.index === this.log.applied + 1, "committed entries follow the applied index");
    for (const entry of committed) {
      if (entry.kind === "conf-change") this.applyConfEntry(entry);
    }
    this.log.applied = last;
    return committed;
  }

  private applyConfEntry(entry: Entry): void {
    const decoded = decodeConfChange(entry.data);
    if (!decoded.ok) return;
    const result = applyConfChange(this.conf, decoded.value);
    if (!result.ok) return;
    if (confEquals(result.conf, this.conf)) return;
    this.conf = result.conf;
    this.events.push({ type: "conf-changed", conf: copyConf(this.conf), index: entry.index });
    if (this.role !== "leader") return;
    this.syncProgress();
    if (this.transferTarget !== null && !isVoter(this.conf, this.transferTarget))
      this.abortTransfer("target removed");
    if (!isVoter(this.conf, this.id)) this.handOverAndStepDown();
  }

  /**
   * The leader is no longer a voter: it hands over to a caught-up voter at once (so the
   * cluster does not wait out an election timeout), then steps down.
   */
  private handOverAndStepDown(): void {
    let successor: RaftPeerId | null = null;
    for (const [peer, progress] of this.progress) {
      if (peer === this.id || !isVoter(this.conf, peer)) continue;
      if (progress.match === this.log.lastIndex()) {
        successor = peer;
        break;
      }
    }
    if (successor !== null) this.send({ type: "timeoutNow", to: successor });
    this.becomeFollower(this.term, null);
    assert(this.role === "follower", "a removed leader steps down");
  }

  /** Makes the progress map match the configuration (new peers probe from the log's end). */
  private syncProgress(): void {
    const peers = peersOf(this.conf);
    for (const peer of peers) {
      const learner = !isVoter(this.conf, peer);
      const existing = this.progress.get(peer);
      if (existing !== undefined) {
        existing.learner = learner;
        continue;
      }
      const progress = new Progress(
        this.log.lastIndex() + 1,
        learner,
        this.config.inflightAppendsMax,
        this.config.inflightBytesMax,
      );
      progress.recentActive = true;
      this.progress.set(peer, progress);
      if (this.role === "leader" && peer !== this.id) this.broadcastPending = true;
    }
    for (const peer of [...this.progress.keys()]) {
      if (!peers.includes(peer)) this.progress.delete(peer);
    }
  }

  /** The largest index <= `index` whose term is <= `term` (or the snapshot index). */
  private findConflictByTerm(index: number, term: number): number {
    let candidate = Math.min(index, this.log.lastIndex());
    while (candidate > this.log.snapshotIndex) {
      const candidateTerm = this.log.termAt(candidate);
      if (candidateTerm === undefined || candidateTerm <= term) break;
      candidate -= 1;
    }
    return candidate;
  }

  private voterPeers(): RaftPeerId[] {
    return peersOf(this.conf).filter((peer) => peer !== this.id && isVoter(this.conf, peer));
  }

  private isPromotable(): boolean {
    return isVoter(this.conf, this.id) && this.incoming === null && this.rollback === null;
  }

  private isSingleVoter(): boolean {
    return committedIndex(this.conf, (peer) => (peer === this.id ? 1 : 0)) >= 1;
  }

  private resetElectionDeadline(): void {
    const timeout = this.config.electionTimeoutMs;
    this.electionDeadlineMs = this.nowMs + timeout + this.random.int(timeout);
  }

  private currentHardState(): HardState {
    const hardState: HardState = {
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      generation: this.generation.count,
    };
    if (this.rollback !== null) hardState.rollback = this.rollback.reason;
    return hardState;
  }

  private hardStateEquals(other: HardState): boolean {
    if (other.generation !== this.generation.count) return false;
    if (other.rollback !== this.rollback?.reason) return false;
    return other.term === this.term && other.vote === this.vote && other.commit === this.log.committed;
  }

  private send(message: OutgoingMessage): void {
    this.sendAtTerm(this.term, message);
  }

  private sendAtTerm(term: number, message: OutgoingMessage): void {
    assert(message.to !== this.id, "no message to self");
    if (this.messages.length >= outboxMessagesMax) {
      if (!this.outboxFullReported) {
        this.outboxFullReported = true;
        this.events.push({ type: "message-dropped", messageType: message.type, reason: "outbox-full" });
      }
      return;
    }
    const stamped = { ...message, from: this.id, term, generation: this.generation } as RaftMessage;
    const seen = this.peerGenerations.get(message.to);
    if (seen !== undefined) stamped.recipientGeneration = seen;
    if (stamped.type === "append" || stamped.type === "heartbeat") {
      if (this.progress.get(message.to)?.rolledBack === true) stamped.rolledBack = true;
    }
    this.messages.push(stamped);
  }
}

function isSameGeneration(a: Generation, b: Generation): boolean {
  return a.count === b.count && a.nonce === b.nonce;
}

/** `seen` is a later life than `own`: a higher count, or the same count from another start. */
function isNewerGeneration(seen: Generation, own: Generation): boolean {
  if (seen.count > own.count) return true;
  return seen.count === own.count && seen.nonce !== own.nonce;
}

/** A brand-new founding node: nothing stored, and founding voters given. */
function isBootstrap(stored: StoredState): boolean {
  if (stored.snapshot !== null || stored.entries.length > 0) return false;
  if (stored.hardState.term !== 0) return false;
  return stored.initialConf.voters.length > 0;
}

/** Entry 1 of every cluster: the founding membership, the same bytes on every founder. */
function bootstrapEntry(initialConf: ConfState): Entry {
  const changes: ConfChange["changes"][number][] = [];
  for (const voter of [...initialConf.voters].sort()) changes.push({ type: "add-voter", node: voter });
  for (const learner of [...initialConf.learners].sort())
    changes.push({ type: "add-learner", node: learner });
  return { term: 1, index: 1, kind: "conf-change", data: encodeConfChange({ changes }) };
}

function copyConf(conf: ConfState): ConfState {
  return {
    voters: [...conf.voters],
    votersOutgoing: [...conf.votersOutgoing],
    learners: [...conf.learners],
    learnersNext: [...conf.learnersNext],
  };
}
