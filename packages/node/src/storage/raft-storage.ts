import { join } from "node:path";
import { assert } from "@revoada/fabric-core/vocabulary";
import { SnapshotStore, type StoredSnapshot } from "./snapshot-store.js";
import { type WalEntry, type WalHardState, type WalOptions, WriteAheadLog } from "./wal.js";

/**
 * What the Raft driver persists per Ready: the write-ahead log (hard state and entries) and
 * the snapshot files, under one directory:
 *
 *   <directory>/wal/<sequence>.wal          segments (docs/storage.md)
 *   <directory>/snap/<index>-<term>.snap    snapshot files
 *
 * `persist` is the group commit: a snapshot file (if any) is made durable first, then the
 * log batch is written with one fdatasync. Nothing is acknowledged by the driver before it
 * returns.
 */
export interface PersistBatch {
  readonly snapshot?: StoredSnapshot;
  readonly entries?: readonly WalEntry[];
  readonly hardState?: WalHardState;
}

export interface RaftRecovery {
  readonly hardState: WalHardState;
  readonly snapshot: StoredSnapshot | null;
  readonly entries: readonly WalEntry[];
  readonly tornTailBytes: number;
}

export class RaftStorage {
  readonly directory: string;
  private readonly wal: WriteAheadLog;
  private readonly snapshots: SnapshotStore;
  private snapshotIndex: number;

  private constructor(
    directory: string,
    wal: WriteAheadLog,
    snapshots: SnapshotStore,
    snapshotIndex: number,
  ) {
    this.directory = directory;
    this.wal = wal;
    this.snapshots = snapshots;
    this.snapshotIndex = snapshotIndex;
  }

  static open(directory: string, options: WalOptions = {}): { storage: RaftStorage; recovery: RaftRecovery } {
    const { wal, recovery } = WriteAheadLog.open(join(directory, "wal"), options);
    const snapshots = new SnapshotStore(join(directory, "snap"));
    const snapshot = recovery.snapshot.index === 0 ? null : snapshots.load(recovery.snapshot);
    // Snapshot files the log does not name (a crash before their mark) are removed.
    snapshots.prune(snapshot?.mark ?? { index: 0, term: 0 });
    const storage = new RaftStorage(directory, wal, snapshots, recovery.snapshot.index);
    return {
      storage,
      recovery: {
        hardState: recovery.hardState,
        snapshot,
        entries: recovery.entries,
        tornTailBytes: recovery.tornTailBytes,
      },
    };
  }

  /** Durable when it returns: snapshot file, then one log write and one fdatasync. */
  persist(batch: PersistBatch): void {
    const snapshot = batch.snapshot;
    if (snapshot !== undefined) {
      assert(snapshot.mark.index > this.snapshotIndex, "snapshots move forward");
      this.snapshots.save(snapshot);
    }
    this.wal.append({
      ...(snapshot === undefined ? {} : { snapshot: snapshot.mark }),
      ...(batch.entries === undefined ? {} : { entries: batch.entries }),
      ...(batch.hardState === undefined ? {} : { hardState: batch.hardState }),
    });
    if (snapshot !== undefined) {
      this.snapshotIndex = snapshot.mark.index;
      this.snapshots.prune(snapshot.mark);
      this.wal.compact();
    }
  }

  /**
   * Group commit without blocking the event loop: entries and hard state are written now
   * and `done` runs once fdatasync returned. A batch with a snapshot takes the synchronous
   * path (rare: a snapshot from the leader). One call in flight at a time. `sync` false
   * skips the fdatasync (see `WriteAheadLog.appendAsync`).
   */
  persistAsync(batch: PersistBatch, done: (error: Error | null) => void, sync = true): void {
    if (batch.snapshot !== undefined) {
      this.persist(batch);
      setImmediate(() => done(null));
      return;
    }
    this.wal.appendAsync(
      {
        ...(batch.entries === undefined ? {} : { entries: batch.entries }),
        ...(batch.hardState === undefined ? {} : { hardState: batch.hardState }),
      },
      done,
      sync,
    );
  }

  get walSegmentCount(): number {
    return this.wal.segmentCount;
  }

  close(): void {
    this.wal.close();
  }
}
