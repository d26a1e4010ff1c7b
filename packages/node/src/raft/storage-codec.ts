import {
  decodeSnapshot,
  type Entry,
  type EntryKind,
  encodeSnapshot,
  type HardState,
  type Snapshot,
  type StoredState,
} from "@revoada/fabric-core/raft";
import { StorageCorruptionError } from "../errors.js";
import type { RaftRecovery, StoredSnapshot, WalEntry, WalHardState } from "../storage/index.js";

/**
 * The Raft core's types on disk. The log record already holds index and term, so an entry's
 * data is one kind byte followed by the raw entry bytes (no JSON, no base64 on the hot
 * path). Snapshots use the core's codec (validated on load).
 */
const kindCodes: Readonly<Record<EntryKind, number>> = { normal: 0, "conf-change": 1, empty: 2 };
const kindsByCode: readonly EntryKind[] = ["normal", "conf-change", "empty"];

export function entryToWal(entry: Entry): WalEntry {
  const data = Buffer.allocUnsafe(1 + entry.data.length);
  data.writeUInt8(kindCodes[entry.kind], 0);
  data.set(entry.data, 1);
  return { index: entry.index, term: entry.term, data };
}

export function entryFromWal(entry: WalEntry, file: string): Entry {
  const kind = kindsByCode[entry.data[0] ?? 255];
  if (kind === undefined)
    throw new StorageCorruptionError(file, 0, `entry ${entry.index} has an unknown kind`);
  return { index: entry.index, term: entry.term, kind, data: entry.data.subarray(1) };
}

export function hardStateToWal(hardState: HardState): WalHardState {
  const wal = {
    term: hardState.term,
    vote: hardState.vote,
    commit: hardState.commit,
    generation: hardState.generation ?? 0,
  };
  return hardState.rollback === undefined ? wal : { ...wal, rollback: hardState.rollback };
}

function hardStateFromWal(hardState: WalHardState): HardState {
  const core: HardState = {
    term: hardState.term,
    vote: hardState.vote,
    commit: hardState.commit,
    generation: hardState.generation ?? 0,
  };
  if (hardState.rollback !== undefined) core.rollback = hardState.rollback;
  return core;
}

export function snapshotToStored(snapshot: Snapshot): StoredSnapshot {
  return {
    mark: { index: snapshot.metadata.index, term: snapshot.metadata.term },
    data: encodeSnapshot(snapshot),
  };
}

/** The core's view of what was recovered; `initialConf` is only read on an empty disk. */
export function storedStateFrom(
  recovery: RaftRecovery,
  directory: string,
  initialVoters: readonly string[],
): StoredState {
  let snapshot: Snapshot | null = null;
  if (recovery.snapshot !== null) {
    const decoded = decodeSnapshot(recovery.snapshot.data);
    if (!decoded.ok) {
      throw new StorageCorruptionError(
        directory,
        0,
        `snapshot does not decode: ${decoded.issues[0]?.message}`,
      );
    }
    snapshot = decoded.value;
  }
  return {
    hardState: hardStateFromWal(recovery.hardState),
    snapshot,
    entries: recovery.entries.map((entry) => entryFromWal(entry, directory)),
    initialConf: { voters: [...initialVoters].sort(), votersOutgoing: [], learners: [], learnersNext: [] },
  };
}
