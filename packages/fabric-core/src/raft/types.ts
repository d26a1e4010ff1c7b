import { z } from "zod";
import { limits } from "../vocabulary/index.js";

/**
 * The public vocabulary of the Raft core. Every type that crosses the core's boundary (the
 * wire, the disk, the driver) is a zod schema here, and the TypeScript type is inferred from
 * it. Wire messages are a union discriminated by `type`.
 *
 * Numbers: terms, indexes and counts are safe unsigned integers; `0` means "none" (the log
 * starts at index 1, term 0 is the term before any election).
 */

const uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A Raft peer id. The node uses its `NodeId` (ed25519 public key hex); the simulator short names. */
export const RaftPeerId = z.string().min(1).max(128);
export type RaftPeerId = z.infer<typeof RaftPeerId>;

/** Opaque bytes (an encoded `Proposal`, an encoded `ConfChange`, snapshot data). */
export const Bytes = z
  .custom<Uint8Array>((value) => value instanceof Uint8Array, "expected bytes")
  .refine((bytes) => bytes.length <= limits.frameBytesMax, "bytes over the frame limit");

/**
 * `normal`: application data (the node puts a canonical-JSON `Proposal` there).
 * `conf-change`: `data` is an encoded `ConfChange` (see `encodeConfChange`).
 * `empty`: the no-op a new leader appends to commit entries of earlier terms.
 */
export const EntryKind = z.enum(["normal", "conf-change", "empty"]);
export type EntryKind = z.infer<typeof EntryKind>;

export const Entry = z.strictObject({
  term: uint,
  index: uint.min(1),
  kind: EntryKind,
  data: Bytes,
});
export type Entry = z.infer<typeof Entry>;

/**
 * How a node learnt that its data directory went backwards:
 * - `newer-generation-seen`: a peer had seen a newer generation of this node;
 * - `acknowledged-entries-lost`: the leader saw it reject an entry it had acknowledged.
 */
export const RollbackReason = z.enum(["newer-generation-seen", "acknowledged-entries-lost"]);
export type RollbackReason = z.infer<typeof RollbackReason>;

/** What must be on stable storage before any message that depends on it is sent. */
export const HardState = z.strictObject({
  term: uint,
  /** Who this node voted for in `term`, or null. */
  vote: RaftPeerId.nullable(),
  /** Highest index known committed (may lag; never ahead of the persisted log). */
  commit: uint,
  /**
   * The data directory's generation: raised by one at every start (and past what any peer
   * has seen after a detected rollback), persisted before the first message of that start
   * leaves. A copy of an older data directory carries an older generation; see `Generation`.
   * Absent in hard states written before generations existed (read as 0).
   */
  generation: uint.optional(),
  /**
   * Set from the moment this node learns its data directory went backwards until it has
   * caught up with a leader: it does not vote meanwhile, also after a restart.
   */
  rollback: RollbackReason.optional(),
});
export type HardState = z.infer<typeof HardState>;

/**
 * The membership configuration. Outside a joint configuration `votersOutgoing` is empty.
 * During a joint configuration a decision needs a majority of `voters` AND a majority of
 * `votersOutgoing`. `learnersNext` holds voters being demoted to learners: they vote in the
 * outgoing configuration and become learners when the joint configuration is left.
 * Invariants: the four lists are sorted and without duplicates; `learners` is disjoint from
 * `voters` and `votersOutgoing`; `learnersNext` is a subset of `votersOutgoing`.
 */
export const ConfState = z.strictObject({
  voters: z.array(RaftPeerId).max(limits.peersMax),
  votersOutgoing: z.array(RaftPeerId).max(limits.peersMax),
  learners: z.array(RaftPeerId).max(limits.peersMax),
  learnersNext: z.array(RaftPeerId).max(limits.peersMax),
});
export type ConfState = z.infer<typeof ConfState>;

/** One membership change; several go into one `ConfChange` and apply atomically. */
export const ConfChangeItem = z.strictObject({
  type: z.enum(["add-voter", "add-learner", "remove"]),
  node: RaftPeerId,
});
export type ConfChangeItem = z.infer<typeof ConfChangeItem>;

/**
 * A membership change, carried in a `conf-change` entry. A non-empty `changes` list that
 * touches voters enters a joint configuration (old and new voter sets both decide); the
 * leader leaves it automatically once the entering entry is applied. An empty `changes`
 * list is the "leave joint" entry. Changes that touch only learners apply directly.
 */
export const ConfChange = z.strictObject({
  changes: z.array(ConfChangeItem).max(64),
});
export type ConfChange = z.infer<typeof ConfChange>;

export const SnapshotMetadata = z.strictObject({
  index: uint,
  term: uint,
  conf: ConfState,
});
export type SnapshotMetadata = z.infer<typeof SnapshotMetadata>;

/** The application's state at `metadata.index`, plus the membership at that index. */
export const Snapshot = z.strictObject({
  metadata: SnapshotMetadata,
  data: Bytes,
});
export type Snapshot = z.infer<typeof Snapshot>;

/**
 * One start of one data directory: the persisted generation `count` and a `nonce` the
 * driver draws at every start (random in production, the incarnation number in the
 * simulator). Peers remember the newest generation they saw from each node. Two starts from
 * one data directory never share a count unless the directory went backwards (a restored
 * backup or VM snapshot), so a peer that saw a higher count, or the same count with another
 * nonce, has seen a newer life of this node: the node's disk was rolled back.
 */
export const Generation = z.strictObject({
  count: uint,
  nonce: uint,
});
export type Generation = z.infer<typeof Generation>;

// ---------------------------------------------------------------------------------------
// Wire messages. Every message carries the sender's term; `from`/`to` are peer ids.

const header = {
  from: RaftPeerId,
  to: RaftPeerId,
  term: uint,
  /** The sender's generation (absent only from builds before generations existed). */
  generation: Generation.optional(),
  /** The newest generation the sender has seen from the recipient, when it saw any. */
  recipientGeneration: Generation.optional(),
};

/** A (pre-)vote request. A pre-vote carries the term the sender WOULD campaign in. */
export const RequestVoteMessage = z.strictObject({
  type: z.literal("requestVote"),
  ...header,
  preVote: z.boolean(),
  lastLogIndex: uint,
  lastLogTerm: uint,
  /** Set by a leadership transfer: voters skip the "I heard from a leader recently" check. */
  transfer: z.boolean(),
});

export const VoteResponseMessage = z.strictObject({
  type: z.literal("voteResponse"),
  ...header,
  preVote: z.boolean(),
  granted: z.boolean(),
});

/** AppendEntries. `entries` may be empty (a probe). */
export const AppendMessage = z.strictObject({
  type: z.literal("append"),
  ...header,
  prevLogIndex: uint,
  prevLogTerm: uint,
  entries: z.array(Entry).max(limits.entriesPerAppendMax),
  commit: uint,
  /**
   * Set by a leader whose follower rejected an entry it had acknowledged before it
   * restarted: the follower's log went backwards (see docs/raft.md, "Disks that go back").
   */
  rolledBack: z.boolean().optional(),
});

/**
 * The answer to `append`. On success `index` is the follower's match index. On rejection
 * `index` is the `prevLogIndex` that did not match and `hintIndex`/`hintTerm` point at the
 * follower's last entry at or below it with term <= `hintTerm`, so the leader skips whole
 * terms of conflict at once.
 */
export const AppendResponseMessage = z.strictObject({
  type: z.literal("appendResponse"),
  ...header,
  success: z.boolean(),
  index: uint,
  hintIndex: uint,
  hintTerm: uint,
});

/** Keeps followers' election timers quiet and carries ReadIndex rounds (`readContext`). */
export const HeartbeatMessage = z.strictObject({
  type: z.literal("heartbeat"),
  ...header,
  commit: uint,
  /** The ReadIndex round this heartbeat confirms leadership for; 0 when none. */
  readRound: uint,
  /** As on `append`: the recipient's log went backwards. */
  rolledBack: z.boolean().optional(),
});

export const HeartbeatResponseMessage = z.strictObject({
  type: z.literal("heartbeatResponse"),
  ...header,
  readRound: uint,
  /** The follower's last log index, so the leader can resume a stalled follower. */
  lastIndex: uint,
});

/** One chunk of an InstallSnapshot, at most `limits.snapshotChunkBytes` of data. */
export const SnapshotChunkMessage = z.strictObject({
  type: z.literal("snapshotChunk"),
  ...header,
  metadata: SnapshotMetadata,
  offset: uint,
  totalBytes: uint,
  chunk: Bytes,
});

/** Acknowledges snapshot chunks: the next byte offset the follower expects. */
export const SnapshotResponseMessage = z.strictObject({
  type: z.literal("snapshotResponse"),
  ...header,
  snapshotIndex: uint,
  nextOffset: uint,
  /** Set when the whole snapshot is installed and persisted. */
  done: z.boolean(),
});

/** Leadership transfer: the target campaigns at once, skipping pre-vote. */
export const TimeoutNowMessage = z.strictObject({
  type: z.literal("timeoutNow"),
  ...header,
});

export const RaftMessage = z.discriminatedUnion("type", [
  RequestVoteMessage,
  VoteResponseMessage,
  AppendMessage,
  AppendResponseMessage,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  SnapshotChunkMessage,
  SnapshotResponseMessage,
  TimeoutNowMessage,
]);
export type RaftMessage = z.infer<typeof RaftMessage>;
export type RaftMessageType = RaftMessage["type"];
export type RequestVoteMessage = z.infer<typeof RequestVoteMessage>;
export type VoteResponseMessage = z.infer<typeof VoteResponseMessage>;
export type AppendMessage = z.infer<typeof AppendMessage>;
export type AppendResponseMessage = z.infer<typeof AppendResponseMessage>;
export type HeartbeatMessage = z.infer<typeof HeartbeatMessage>;
export type HeartbeatResponseMessage = z.infer<typeof HeartbeatResponseMessage>;
export type SnapshotChunkMessage = z.infer<typeof SnapshotChunkMessage>;
export type SnapshotResponseMessage = z.infer<typeof SnapshotResponseMessage>;
export type TimeoutNowMessage = z.infer<typeof TimeoutNowMessage>;

// ---------------------------------------------------------------------------------------
// Configuration and the driver's boundary.

export const RaftConfig = z
  .strictObject({
    id: RaftPeerId,
    /** T: a follower campaigns after a random timeout in [T, 2T) without leader contact. */
    electionTimeoutMs: z.int().min(10).max(60_000),
    /** The leader heartbeats every this many ms; must be below T (etcd: T/10, here T/6). */
    heartbeatIntervalMs: z.int().min(1).max(60_000),
    /** Ask for votes in a pre-vote round first, so a partitioned node cannot bump terms. */
    preVote: z.boolean(),
    /** A leader that hears from no quorum within T steps down; voters ignore votes within T. */
    checkQuorum: z.boolean(),
    /** The driver is asked to snapshot after this many applied entries since the last one. */
    snapshotIntervalEntries: z.int().min(1).max(100_000_000),
    entriesPerAppendMax: z.int().min(1).max(limits.entriesPerAppendMax),
    inflightAppendsMax: z.int().min(1).max(limits.inflightAppendsMax),
    inflightBytesMax: z.int().min(1).max(limits.inflightBytesMax),
    uncommittedBytesMax: z.int().min(1).max(limits.uncommittedBytesMax),
    snapshotChunkBytes: z.int().min(1).max(limits.snapshotChunkBytes),
    /**
     * Serve reads from a leader lease (no quorum round) while the leader heard from a
     * quorum within the last T minus `leaseSafetyMarginMs`. Safe only if clocks advance at
     * the same rate within that margin and check-quorum is on; see docs/raft.md.
     */
    leaseReads: z.boolean(),
    leaseSafetyMarginMs: z.int().min(0).max(60_000),
  })
  .refine((config) => config.heartbeatIntervalMs < config.electionTimeoutMs, {
    message: "the heartbeat interval must be below the election timeout",
    path: ["heartbeatIntervalMs"],
  })
  .refine((config) => !config.leaseReads || config.checkQuorum, {
    message: "lease reads need check-quorum",
    path: ["leaseReads"],
  });
export type RaftConfig = z.infer<typeof RaftConfig>;

/** The fields of `RaftConfig` a committed strategy swap changes on a running node (`RaftNode.setTiming`). */
export type RaftTiming = Pick<
  RaftConfig,
  "electionTimeoutMs" | "heartbeatIntervalMs" | "leaseSafetyMarginMs" | "snapshotIntervalEntries"
>;

/**
 * What the driver recovered from disk at start. A brand-new founding node passes empty
 * storage and `initialConf` with the founding voters: the core then writes entry 1 (term 1,
 * committed), a conf-change entry naming them, and hands it over in the first Ready, so the
 * founding membership lives in the log like every later change and a node that joins later
 * learns it from there. A node that will be added later passes an empty `initialConf` and
 * waits for the leader. Entries follow the snapshot without gaps; the membership is the
 * snapshot's, updated by applying the conf-change entries after it.
 */
export interface StoredState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  /** Only read when the storage is empty (bootstrap of a founding node). */
  readonly initialConf: ConfState;
}

export type RaftRole = "follower" | "pre-candidate" | "candidate" | "leader";

/** Per-follower replication state at the leader (etcd's tracker.Progress). */
export type ProgressState = "probe" | "replicate" | "snapshot";

export interface ReadState {
  /** The caller's context from `readIndex`. */
  readonly context: string;
  /** Serve the read once the application has applied this index. */
  readonly index: number;
}

export interface SnapshotRequest {
  /** Snapshot the state machine as of this applied index and pass it to `compact`. */
  readonly index: number;
}

export type RaftEvent =
  | { readonly type: "role-changed"; readonly role: RaftRole; readonly term: number }
  | { readonly type: "leader-changed"; readonly leader: RaftPeerId | null; readonly term: number }
  | { readonly type: "conf-changed"; readonly conf: ConfState; readonly index: number }
  | { readonly type: "snapshot-installed"; readonly index: number; readonly term: number }
  | { readonly type: "transfer-aborted"; readonly target: RaftPeerId; readonly reason: string }
  | { readonly type: "read-dropped"; readonly context: string; readonly reason: string }
  | {
      /** This node learnt that its data directory went backwards; it stops voting. */
      readonly type: "rollback-detected";
      readonly reason: RollbackReason;
      /** The generation now in use (raised past what peers saw, for `newer-generation-seen`). */
      readonly generation: number;
      readonly by: RaftPeerId;
      readonly term: number;
      readonly commit: number;
    }
  | {
      /** This node, rolled back, caught up with a leader's commit; it votes again. */
      readonly type: "rollback-recovered";
      readonly commit: number;
      readonly term: number;
    }
  | {
      /** Leader: a follower no longer holds entries it acknowledged before it restarted. */
      readonly type: "follower-rolled-back";
      readonly peer: RaftPeerId;
      readonly acknowledged: number;
      readonly rejected: number;
    }
  | { readonly type: "message-dropped"; readonly messageType: RaftMessageType; readonly reason: DropReason };

/**
 * The core's output. Handle it in this order, then call `advance(ready)`:
 * 1. persist `snapshot` (if any), then `entries` (an entry at an index already on disk
 *    replaces it and everything after it), then `hardState`, and fsync when `mustSync`;
 * 2. send `messages`;
 * 3. if `snapshot` is set, restore the state machine from it; apply `committed` in order;
 * 4. serve `readStates` whose index is applied; handle `snapshotRequest`.
 * All arrays belong to the driver after `ready()`; the core never touches them again.
 */
export interface Ready {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly committed: readonly Entry[];
  readonly messages: readonly RaftMessage[];
  readonly readStates: readonly ReadState[];
  readonly snapshotRequest: SnapshotRequest | null;
  readonly events: readonly RaftEvent[];
  /**
   * Whether step 1 needs an fsync before the messages go: true when there are entries or a
   * snapshot, or the term or vote changed. A hard state that only moves `commit` may be
   * written without waiting for the disk (a commit index lost in a crash is learned again
   * from the leader), as etcd's MustSync.
   */
  readonly mustSync: boolean;
}

export type DropReason =
  | "stale-term"
  | "unknown-peer"
  | "not-leader"
  | "wrong-recipient"
  | "duplicate"
  | "stale-snapshot"
  | "leader-lease"
  | "malformed"
  | "outbox-full"
  | "stale-generation";

export type StepOutcome =
  | { readonly type: "applied" }
  | { readonly type: "dropped"; readonly reason: DropReason };

export type ProposeRejection =
  | "not-leader"
  | "transferring"
  | "uncommitted-full"
  | "too-large"
  | "conf-change-pending"
  | "invalid-conf-change";

export type ProposeOutcome =
  | { readonly type: "accepted"; readonly index: number; readonly term: number }
  | { readonly type: "rejected"; readonly reason: ProposeRejection; readonly leader: RaftPeerId | null };

export type TransferOutcome =
  | { readonly type: "started"; readonly target: RaftPeerId }
  | {
      readonly type: "rejected";
      readonly reason: "not-leader" | "unknown-peer" | "learner" | "self" | "in-progress";
    };

export type ReadIndexOutcome =
  | { readonly type: "accepted" }
  | {
      readonly type: "rejected";
      /** `no-commit-in-term` is no longer returned: such reads now wait for that commit. */
      readonly reason: "not-leader" | "no-commit-in-term" | "queue-full";
      readonly leader: RaftPeerId | null;
    };

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly inflightMessages: number;
  readonly inflightBytes: number;
  readonly recentActive: boolean;
  readonly learner: boolean;
  /** The follower lost entries it had acknowledged (its disk went back); cleared once repaired. */
  readonly rolledBack: boolean;
}

/** A node that found its data directory rolled back: it neither votes nor campaigns meanwhile. */
export interface RollbackRecoveryStatus {
  readonly reason: RollbackReason;
  /** The leader's commit index this node must reach to vote again (null until a leader is heard). */
  readonly targetCommit: number | null;
}

/** Plain data, safe to serialize (the HTTP API and metrics print it). */
export interface RaftStatus {
  readonly id: RaftPeerId;
  readonly role: RaftRole;
  readonly term: number;
  readonly vote: RaftPeerId | null;
  readonly leader: RaftPeerId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly transferTarget: RaftPeerId | null;
  /** This start's data-directory generation (see `Generation`). */
  readonly generation: number;
  /** Set while this node catches up after a detected rollback of its data directory. */
  readonly rollback: RollbackRecoveryStatus | null;
  /** Only on the leader: one entry per peer (including itself). */
  readonly progress: Readonly<Record<RaftPeerId, ProgressStatus>>;
}
