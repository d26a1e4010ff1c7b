import { assert } from "../vocabulary/index.js";
import type { Entry } from "./types.js";

/**
 * The in-memory Raft log: entries after the last snapshot, plus the bookkeeping of what the
 * driver has persisted, what is committed and what was handed out to apply.
 *
 * Invariants: snapshotIndex <= applied <= committed <= lastIndex();
 * entries[i].index === snapshotIndex + 1 + i; terms never decrease along the log;
 * persistedIndex < unstableFrom (entries at or after unstableFrom have not been handed to
 * the driver yet).
 */
export class RaftLog {
  snapshotIndex: number;
  snapshotTerm: number;
  entries: Entry[];
  committed: number;
  /** Last index handed to the driver in `Ready.committed`. */
  applied: number;
  /** Last index the driver has confirmed on disk (through `advance`). */
  persistedIndex: number;
  /** First index not yet handed to the driver in `Ready.entries`. */
  unstableFrom: number;

  constructor(snapshotIndex: number, snapshotTerm: number, entries: readonly Entry[], committed: number) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.entries = [...entries];
    this.committed = committed;
    this.applied = snapshotIndex;
    this.persistedIndex = this.lastIndex();
    this.unstableFrom = this.lastIndex() + 1;
    this.checkShape();
  }

  private checkShape(): void {
    for (const [position, entry] of this.entries.entries()) {
      assert(entry.index === this.snapshotIndex + 1 + position, "log entries are contiguous");
    }
    assert(this.committed >= this.snapshotIndex, "commit below the snapshot");
    assert(this.committed <= this.lastIndex(), "commit beyond the log");
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshotTerm : last.term;
  }

  /** The term at `index`, or undefined when compacted away or beyond the log. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1]?.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownTerm = this.lastTerm();
    if (lastTerm !== ownTerm) return lastTerm > ownTerm;
    return lastIndex >= this.lastIndex();
  }

  /** Entries in [from, to], bounded by count and bytes (at least one if any). */
  slice(from: number, to: number, countMax: number, bytesMax: number): Entry[] {
    assert(from > this.snapshotIndex, "slice of compacted entries");
    const result: Entry[] = [];
    let bytes = 0;
    const last = Math.min(to, this.lastIndex());
    for (let index = from; index <= last && result.length < countMax; index += 1) {
      const entry = this.entryAt(index)!;
      if (result.length > 0 && bytes + entry.data.length > bytesMax) break;
      bytes += entry.data.length;
      result.push(entry);
    }
    return result;
  }

  /** Appends at the end of the log (leader proposals). */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, "append leaves a gap");
    assert(entry.term >= this.lastTerm(), "terms never decrease along the log");
    this.entries.push(entry);
  }

  /**
   * Removes every entry at or after `index` (a follower's conflicting suffix). Committed
   * entries are never removed: that would lose an acknowledged write.
   */
  truncateFrom(index: number): void {
    assert(index > this.committed, "truncating a committed entry");
    assert(index > this.snapshotIndex, "truncating into the snapshot");
    this.entries.length = Math.max(0, index - this.snapshotIndex - 1);
    this.unstableFrom = Math.min(this.unstableFrom, index);
    this.persistedIndex = Math.min(this.persistedIndex, index - 1);
    assert(this.lastIndex() === index - 1, "last index after truncation");
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), "commit beyond the log");
    this.committed = index;
    return true;
  }

  /** Drops entries up to `index` (now covered by a snapshot). */
  compactTo(index: number, term: number): void {
    assert(index > this.snapshotIndex, "compaction goes forward");
    assert(index <= this.applied, "compaction of unapplied entries");
    assert(this.termAt(index) === term, "compaction term matches the log");
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.checkShape();
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(index: number, term: number): void {
    assert(index > this.committed, "restoring a snapshot that is not newer than the commit");
    this.entries = [];
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.committed = index;
    this.applied = index;
    this.persistedIndex = index;
    this.unstableFrom = index + 1;
    this.checkShape();
  }
}
