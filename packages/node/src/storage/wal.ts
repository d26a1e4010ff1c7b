import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { assert } from "@revoada/fabric-core/vocabulary";
import { StorageCorruptionError } from "../errors.js";
import { fsyncDirectorySync } from "../fs/durable.js";
import {
  decodeRecord,
  encodeRecord,
  hasValidRecordAfter,
  RecordType,
  readUint64,
  writeUint64,
} from "./record.js";

/**
 * A segmented write-ahead log for Raft (docs/storage.md). Records are appended; one
 * `append` is one write and one fdatasync (group commit). A conflicting entry is not
 * rewritten in place: a later entry record with a lower index truncates the log on replay,
 * as etcd's WAL does. Every segment opens with the snapshot mark and hard state at the time
 * it was created; compaction starts a segment that also carries the entries after the mark,
 * so every older segment can be deleted without losing anything.
 */

export interface WalEntry {
  readonly index: number;
  readonly term: number;
  /** The entry as the driver encodes it; the WAL never looks inside. */
  readonly data: Uint8Array;
}

export interface WalHardState {
  readonly term: number;
  readonly vote: string | null;
  readonly commit: number;
  /** The data directory's generation (0 in records written before generations existed). */
  readonly generation?: number;
  /** Set while the node catches up after finding its data directory rolled back. */
  readonly rollback?: WalRollback;
}

/** How the node learnt its data directory went back (the Raft core's `RollbackReason`). */
export type WalRollback = "newer-generation-seen" | "acknowledged-entries-lost";
const rollbackCodes: readonly (WalRollback | undefined)[] = [
  undefined,
  "newer-generation-seen",
  "acknowledged-entries-lost",
];
/** The generation (u64) and rollback code (u8) after the vote; absent in older records. */
const hardStateExtensionBytes = 9;

export interface SnapshotMark {
  readonly index: number;
  readonly term: number;
}

export interface WalBatch {
  /** A snapshot mark (the snapshot file must already be durable): entries up to it are compacted. */
  readonly snapshot?: SnapshotMark;
  readonly entries?: readonly WalEntry[];
  readonly hardState?: WalHardState;
}

export interface WalRecovery {
  readonly hardState: WalHardState;
  readonly snapshot: SnapshotMark;
  /** Entries after the snapshot mark, contiguous, oldest first. */
  readonly entries: readonly WalEntry[];
  /** Bytes cut from the last segment because they were a torn (unsynced) tail. */
  readonly tornTailBytes: number;
  readonly segmentCount: number;
}

export interface WalOptions {
  /** A segment is sealed and a new one started past this size (default 64 MiB). */
  readonly segmentBytesMax?: number;
}

interface SegmentInfo {
  readonly sequence: number;
  readonly path: string;
  /** Snapshot mark recorded when the segment was created. */
  snapshotIndexAtStart: number;
}

const formatVersion = 1;
const segmentSuffix = ".wal";
const emptyHardState: WalHardState = { term: 0, vote: null, commit: 0 };

export class WriteAheadLog {
  readonly directory: string;
  private readonly segmentBytesMax: number;
  private readonly segments: SegmentInfo[];
  /** The durable state, kept current on every append: compaction rewrites it into a new segment. */
  private readonly state: Replay;
  private descriptor: number;
  private segmentBytes: number;
  private closed = false;
  /** An asynchronous fdatasync is in flight. */
  private syncing = false;

  private constructor(
    directory: string,
    options: WalOptions,
    segments: SegmentInfo[],
    state: { replay: Replay; segmentBytes: number; descriptor: number },
  ) {
    this.directory = directory;
    this.segmentBytesMax = options.segmentBytesMax ?? 64 * 1024 * 1024;
    this.segments = segments;
    this.state = state.replay;
    this.segmentBytes = state.segmentBytes;
    this.descriptor = state.descriptor;
    assert(this.segmentBytesMax >= 4096, "segments of at least 4 KiB");
    assert(this.segments.length > 0, "an open log has a segment");
  }

  /**
   * Opens (or creates) the log in `directory` and replays it. A torn tail of the last
   * segment is truncated; any other damage throws StorageCorruptionError naming the file and
   * the byte offset.
   */
  static open(directory: string, options: WalOptions = {}): { wal: WriteAheadLog; recovery: WalRecovery } {
    mkdirSync(directory, { recursive: true });
    const replay = new Replay();
    const segments: SegmentInfo[] = [];
    let tornTailBytes = 0;
    const names = listSegments(directory);
    for (const [position, name] of names.entries()) {
      const path = join(directory, name);
      const isLast = position === names.length - 1;
      const outcome = replaySegment(path, replay, isLast);
      tornTailBytes += outcome.tornTailBytes;
      if (outcome.info === null) {
        if (!isLast) throw new StorageCorruptionError(path, 0, "segment has no header");
        // The last segment's header itself was torn: it never held a synced record.
        unlinkSync(path);
        fsyncDirectorySync(directory);
        continue;
      }
      segments.push(outcome.info);
    }
    const recovery: WalRecovery = {
      hardState: replay.hardState,
      snapshot: replay.snapshot,
      entries: [...replay.entries],
      tornTailBytes,
      segmentCount: Math.max(1, segments.length),
    };
    const last = segments.at(-1);
    if (last === undefined) {
      const created = createSegment(directory, 0, replay, true);
      const wal = new WriteAheadLog(directory, options, [created.info], {
        replay,
        segmentBytes: created.bytes,
        descriptor: created.descriptor,
      });
      return { wal, recovery };
    }
    const descriptor = openSync(last.path, "a");
    const segmentBytes = statSync(last.path).size;
    const wal = new WriteAheadLog(directory, options, segments, { replay, segmentBytes, descriptor });
    return { wal, recovery };
  }

  /** Writes the batch with one write and one fdatasync; returns only once it is durable. */
  append(batch: WalBatch): void {
    assert(!this.syncing, "append while an asynchronous append is in flight");
    if (this.write(batch)) fdatasyncSync(this.descriptor);
  }

  /**
   * The same, with the fdatasync on libuv's thread pool so the event loop keeps receiving
   * while the disk works; `done` runs once the batch is durable. One at a time: the next
   * append, compaction or close waits for `done`. A failed fdatasync is passed on; the
   * caller must treat it as fatal (the page cache can no longer be trusted). With `sync`
   * false the records only reach the page cache (a commit-index-only hard state: losing it
   * is safe, the index is learned again from the leader).
   */
  appendAsync(batch: WalBatch, done: (error: Error | null) => void, sync = true): void {
    assert(!this.syncing, "one asynchronous append at a time");
    if (!this.write(batch) || !sync) {
      setImmediate(() => done(null));
      return;
    }
    this.syncing = true;
    fdatasync(this.descriptor, (error) => {
      this.syncing = false;
      done(error);
    });
  }

  /** Writes the records (page cache only) and updates the state; false when there was nothing. */
  private write(batch: WalBatch): boolean {
    assert(!this.closed, "append to a closed log");
    const chunks: Buffer[] = [];
    let bytes = 0;
    if (batch.snapshot !== undefined)
      bytes += encodeRecord(RecordType.snapshot, encodeMark(batch.snapshot), chunks);
    for (const entry of batch.entries ?? [])
      bytes += encodeRecord(RecordType.entry, encodeEntry(entry), chunks);
    if (batch.hardState !== undefined) {
      bytes += encodeRecord(RecordType.hardState, encodeHardState(batch.hardState), chunks);
    }
    if (bytes === 0) return false;
    if (this.segmentBytes + bytes > this.segmentBytesMax) this.roll(false);
    writeAll(this.descriptor, Buffer.concat(chunks, bytes));
    this.segmentBytes += bytes;
    this.applyToState(batch);
    return true;
  }

  /**
   * After a snapshot mark is durable: starts a segment holding the current state (mark, hard
   * state, the entries after the mark) and deletes every older one. Returns how many
   * segments were removed.
   */
  compact(): number {
    assert(!this.closed, "compact of a closed log");
    assert(!this.syncing, "compact while an append is in flight");
    // Without a newer mark than the oldest segment's, every entry is still needed.
    if (this.segments[0]!.snapshotIndexAtStart === this.state.snapshot.index) return 0;
    this.roll(true);
    const removed = this.segments.splice(0, this.segments.length - 1);
    for (const segment of removed) unlinkSync(segment.path);
    fsyncDirectorySync(this.directory);
    assert(this.segments.length === 1, "compaction keeps only the new segment");
    return removed.length;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    if (this.closed) return;
    assert(!this.syncing, "close while an append is in flight");
    this.closed = true;
    closeSync(this.descriptor);
  }

  private applyToState(batch: WalBatch): void {
    if (batch.snapshot !== undefined) this.state.applySnapshot(batch.snapshot);
    for (const entry of batch.entries ?? []) {
      const problem = this.state.applyEntry(entry);
      assert(problem === null, `append breaks the log: ${problem}`);
    }
    if (batch.hardState !== undefined) this.state.hardState = batch.hardState;
  }

  private roll(withEntries: boolean): void {
    const previous = this.segments.at(-1)!;
    const created = createSegment(this.directory, previous.sequence + 1, this.state, withEntries);
    closeSync(this.descriptor);
    this.descriptor = created.descriptor;
    this.segmentBytes = created.bytes;
    this.segments.push(created.info);
  }
}

/** The state a replay rebuilds, record by record. */
class Replay {
  hardState: WalHardState = emptyHardState;
  snapshot: SnapshotMark = { index: 0, term: 0 };
  entries: WalEntry[] = [];

  get lastIndex(): number {
    return this.entries.at(-1)?.index ?? this.snapshot.index;
  }

  /** Returns a reason when the entry cannot follow the log (a gap), else null. */
  applyEntry(entry: WalEntry): string | null {
    if (entry.index <= this.snapshot.index) return null;
    if (entry.index > this.lastIndex + 1) {
      return `entry ${entry.index} leaves a gap after ${this.lastIndex}`;
    }
    if (entry.index <= this.lastIndex) {
      // A conflict was resolved by the leader: the new entry replaces this suffix.
      this.entries.length = entry.index - this.snapshot.index - 1;
    }
    this.entries.push(entry);
    return null;
  }

  applySnapshot(mark: SnapshotMark): void {
    if (mark.index <= this.snapshot.index) return;
    const position = mark.index - this.snapshot.index - 1;
    const matching = this.entries[position];
    if (matching !== undefined && matching.term === mark.term) {
      this.entries = this.entries.slice(position + 1);
    } else {
      this.entries = [];
    }
    this.snapshot = mark;
  }
}

function listSegments(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => /^[0-9a-f]{16}\.wal$/.test(name))
    .sort();
}

function segmentPath(directory: string, sequence: number): string {
  return join(directory, `${sequence.toString(16).padStart(16, "0")}${segmentSuffix}`);
}

/**
 * A new segment opens with its header, the snapshot mark and the hard state. A segment
 * started by compaction (`withEntries`) also carries the entries after the mark, so
 * replaying it alone rebuilds the whole durable state.
 */
function createSegment(
  directory: string,
  sequence: number,
  state: Replay,
  withEntries: boolean,
): { info: SegmentInfo; descriptor: number; bytes: number } {
  const path = segmentPath(directory, sequence);
  const chunks: Buffer[] = [];
  const header = Buffer.alloc(12);
  writeUint64(header, sequence, 0);
  header.writeUInt32LE(formatVersion, 8);
  let bytes = encodeRecord(RecordType.segment, header, chunks);
  bytes += encodeRecord(RecordType.snapshot, encodeMark(state.snapshot), chunks);
  const carried = withEntries ? state.entries : [];
  for (const entry of carried) bytes += encodeRecord(RecordType.entry, encodeEntry(entry), chunks);
  bytes += encodeRecord(RecordType.hardState, encodeHardState(state.hardState), chunks);
  const descriptor = openSync(path, "wx");
  writeAll(descriptor, Buffer.concat(chunks, bytes));
  fdatasyncSync(descriptor);
  fsyncDirectorySync(directory);
  const info: SegmentInfo = { sequence, path, snapshotIndexAtStart: state.snapshot.index };
  return { info, descriptor, bytes };
}

interface SegmentReplay {
  readonly info: SegmentInfo | null;
  readonly tornTailBytes: number;
}

/** Replays one segment's records into `replay`. Only the last segment may have a torn tail. */
function replaySegment(path: string, replay: Replay, isLast: boolean): SegmentReplay {
  const buffer = readFileSync(path);
  let offset = 0;
  let recordCount = 0;
  let info: SegmentInfo | null = null;
  while (offset < buffer.length) {
    const decoded = decodeRecord(buffer, offset);
    if (!decoded.ok) {
      const damageInMiddle = !isLast || hasValidRecordAfter(buffer, offset);
      if (damageInMiddle) throw new StorageCorruptionError(path, offset, decoded.reason);
      truncateTail(path, offset);
      return { info, tornTailBytes: buffer.length - offset };
    }
    const { record } = decoded;
    if (info === null) {
      const sequence = record.payload.length === 12 ? readUint64(record.payload, 0) : Number.NaN;
      if (record.type !== RecordType.segment || Number.isNaN(sequence)) {
        throw new StorageCorruptionError(path, offset, "segment does not open with a segment header");
      }
      info = { sequence, path, snapshotIndexAtStart: replay.snapshot.index };
    } else {
      const problem = replayRecord(record.type, record.payload, replay);
      if (problem !== null) throw new StorageCorruptionError(path, offset, problem);
      // The mark written right after the header is the one compaction relies on.
      if (record.type === RecordType.snapshot && recordCount === 1) {
        info.snapshotIndexAtStart = replay.snapshot.index;
      }
    }
    recordCount += 1;
    offset += record.size;
  }
  return { info, tornTailBytes: 0 };
}

function replayRecord(type: RecordType, payload: Buffer, replay: Replay): string | null {
  switch (type) {
    case RecordType.segment:
      return "segment header in the middle of a segment";
    case RecordType.hardState: {
      const hardState = decodeHardState(payload);
      if (hardState === null) return "malformed hard state";
      replay.hardState = hardState;
      return null;
    }
    case RecordType.snapshot: {
      const mark = decodeMark(payload);
      if (mark === null) return "malformed snapshot mark";
      replay.applySnapshot(mark);
      return null;
    }
    case RecordType.entry: {
      const entry = decodeEntry(payload);
      if (entry === null) return "malformed entry";
      return replay.applyEntry(entry);
    }
  }
}

function truncateTail(path: string, length: number): void {
  const descriptor = openSync(path, "r+");
  try {
    ftruncateSync(descriptor, length);
    fdatasyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function writeAll(descriptor: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(descriptor, bytes, written, bytes.length - written);
}

function encodeEntry(entry: WalEntry): Buffer {
  const payload = Buffer.allocUnsafe(16 + entry.data.length);
  writeUint64(payload, entry.index, 0);
  writeUint64(payload, entry.term, 8);
  payload.set(entry.data, 16);
  return payload;
}

function decodeEntry(payload: Buffer): WalEntry | null {
  if (payload.length < 16) return null;
  const index = readUint64(payload, 0);
  const term = readUint64(payload, 8);
  if (Number.isNaN(index) || Number.isNaN(term) || index < 1) return null;
  return { index, term, data: Uint8Array.prototype.slice.call(payload, 16) };
}

function encodeHardState(hardState: WalHardState): Buffer {
  const vote = Buffer.from(hardState.vote ?? "", "utf8");
  assert(vote.length <= 1024, "vote is a node id");
  const extended = hardState.generation !== undefined || hardState.rollback !== undefined;
  const payload = Buffer.allocUnsafe(18 + vote.length + (extended ? hardStateExtensionBytes : 0));
  writeUint64(payload, hardState.term, 0);
  writeUint64(payload, hardState.commit, 8);
  payload.writeUInt16LE(vote.length, 16);
  payload.set(vote, 18);
  if (!extended) return payload;
  writeUint64(payload, hardState.generation ?? 0, 18 + vote.length);
  const rollbackCode = rollbackCodes.indexOf(hardState.rollback);
  assert(rollbackCode >= 0, "a known rollback reason");
  payload.writeUInt8(rollbackCode, 26 + vote.length);
  return payload;
}

function decodeHardState(payload: Buffer): WalHardState | null {
  if (payload.length < 18) return null;
  const term = readUint64(payload, 0);
  const commit = readUint64(payload, 8);
  const voteLength = payload.readUInt16LE(16);
  if (Number.isNaN(term) || Number.isNaN(commit)) return null;
  const extended = payload.length === 18 + voteLength + hardStateExtensionBytes;
  if (payload.length !== 18 + voteLength && !extended) return null;
  const vote = voteLength === 0 ? null : payload.toString("utf8", 18, 18 + voteLength);
  if (!extended) return { term, vote, commit };
  const generation = readUint64(payload, 18 + voteLength);
  const rollbackCode = payload.readUInt8(26 + voteLength);
  if (Number.isNaN(generation) || rollbackCode >= rollbackCodes.length) return null;
  const rollback = rollbackCodes[rollbackCode];
  return rollback === undefined
    ? { term, vote, commit, generation }
    : { term, vote, commit, generation, rollback };
}

function encodeMark(mark: SnapshotMark): Buffer {
  const payload = Buffer.allocUnsafe(16);
  writeUint64(payload, mark.index, 0);
  writeUint64(payload, mark.term, 8);
  return payload;
}

function decodeMark(payload: Buffer): SnapshotMark | null {
  if (payload.length !== 16) return null;
  const index = readUint64(payload, 0);
  const term = readUint64(payload, 8);
  if (Number.isNaN(index) || Number.isNaN(term)) return null;
  return { index, term };
}
