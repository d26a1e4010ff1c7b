import { assert } from "../vocabulary/index.js";
import type { ProgressState, ProgressStatus } from "./types.js";

/**
 * The leader's view of one follower (etcd's tracker.Progress, rewritten).
 *
 * - `probe`: the leader does not know where the logs match; it sends one append at a time
 *   (then pauses until a response or the next heartbeat) and walks `next` back on rejects.
 * - `replicate`: the logs match up to `match`; the leader pipelines appends optimistically
 *   (`next` moves on send), bounded by in-flight messages and bytes.
 * - `snapshot`: the entries the follower needs are compacted; a snapshot is streamed in
 *   chunks and appends wait until it is installed.
 *
 * Invariant: 0 <= match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Probe state: an append is outstanding, wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Snapshot state: the index of the snapshot being sent and the next byte offset. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  /**
   * The match index acknowledged by the follower's previous start, still to be verified on
   * the new one (0 when nothing is pending). A new start whose log lacks it lost entries it
   * had acknowledged: its disk went backwards.
   */
  acknowledgedBeforeRestart = 0;
  /** The follower lost acknowledged entries; followers are told until it holds them again. */
  rolledBack = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Highest heartbeat round the follower answered (ReadIndex) and that round's send time. */
  ackedRound = 0;
  ackedSendMs = Number.NEGATIVE_INFINITY;
  /** In-flight appends in replicate state: last index and bytes of each, oldest first. */
  private readonly inflightIndexes: number[] = [];
  private readonly inflightSizes: number[] = [];
  private inflightBytesTotal = 0;

  constructor(
    next: number,
    public learner: boolean,
    private readonly inflightMessagesMax: number,
    private readonly inflightBytesMax: number,
  ) {
    assert(next >= 1, "next index starts at 1");
    this.next = next;
  }

  /** Whether the leader must hold further appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.isInflightFull();
      case "snapshot":
        return true;
      default:
        return this.state satisfies never;
    }
  }

  isInflightFull(): boolean {
    if (this.inflightIndexes.length >= this.inflightMessagesMax) return true;
    return this.inflightBytesTotal >= this.inflightBytesMax;
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState("probe");
    assert(this.match < this.next, "probe keeps match < next");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState("replicate");
  }

  becomeSnapshot(snapshotIndex: number): void {
    assert(snapshotIndex > this.match, "a snapshot for a follower that already has it");
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
    this.snapshotOffset = 0;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.inflightIndexes.length = 0;
    this.inflightSizes.length = 0;
    this.inflightBytesTotal = 0;
  }

  /**
   * The follower started again (a new generation). Its acknowledgements came from the
   * previous start, and a disk that went backwards no longer holds them, so nothing it
   * holds is assumed: `match` drops to 0 (heartbeats then carry no commit index to it) and
   * the leader probes at the old match, which a faithful disk confirms in one round trip.
   */
  restart(): void {
    const acknowledged = Math.max(this.match, this.acknowledgedBeforeRestart);
    this.match = 0;
    this.acknowledgedBeforeRestart = acknowledged;
    this.next = acknowledged + 1;
    this.resetState("probe");
    this.matchAtHeartbeat = -1;
    assert(this.match < this.next, "restart keeps match < next");
    assert(this.state === "probe", "a restarted follower is probed");
  }

  /**
   * A rejection of the probe at `rejected` from the follower's new start: true when it
   * rejects an index it acknowledged before restarting (it lost acknowledged entries).
   */
  isLostAcknowledgement(rejected: number): boolean {
    if (this.state !== "probe" || this.next - 1 !== rejected) return false;
    return rejected > this.match && rejected <= this.acknowledgedBeforeRestart;
  }

  /** Records that an append ending at `lastIndex` was sent. */
  sentAppend(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        assert(lastIndex >= this.next, "replicate sends move next forward");
        this.next = lastIndex + 1;
        this.inflightIndexes.push(lastIndex);
        this.inflightSizes.push(bytes);
        this.inflightBytesTotal += bytes;
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
    assert(this.match < this.next, "sending keeps match < next");
  }

  /** An acknowledgement up to `index`; returns whether it moved `match` forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.match >= this.acknowledgedBeforeRestart) {
      // Everything acknowledged before the restart is held again.
      this.acknowledgedBeforeRestart = 0;
      this.rolledBack = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.freeInflightTo(index);
    assert(this.match < this.next, "update keeps match < next");
    return updated;
  }

  private freeInflightTo(index: number): void {
    let count = 0;
    while (count < this.inflightIndexes.length && this.inflightIndexes[count]! <= index) {
      this.inflightBytesTotal -= this.inflightSizes[count]!;
      count += 1;
    }
    this.inflightIndexes.splice(0, count);
    this.inflightSizes.splice(0, count);
    assert(this.inflightBytesTotal >= 0, "in-flight bytes never negative");
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `probeIndex` is where
   * the leader's log and the follower's hint may agree. Returns false for a stale reject.
   */
  maybeDecrease(rejected: number, probeIndex: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, probeIndex + 1), this.match + 1);
    this.probeSent = false;
    assert(this.next >= 1, "next stays positive");
    return true;
  }

  /** The match index at the previous heartbeat answer, to notice lost appends. */
  private matchAtHeartbeat = -1;

  /** Appends are outstanding but nothing was acknowledged since the previous heartbeat. */
  isStalled(): boolean {
    return this.match < this.next - 1 && this.match === this.matchAtHeartbeat;
  }

  markHeartbeat(): void {
    this.matchAtHeartbeat = this.match;
  }

  describe(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflightMessages: this.inflightIndexes.length,
      inflightBytes: this.inflightBytesTotal,
      recentActive: this.recentActive,
      learner: this.learner,
      rolledBack: this.rolledBack,
    };
  }
}
