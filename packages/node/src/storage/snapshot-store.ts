import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { assert } from "@revoada/fabric-core/vocabulary";
import { StorageCorruptionError, StorageStateError } from "../errors.js";
import { fsyncDirectorySync, writeFileAtomicSync } from "../fs/durable.js";
import { readUint64, writeUint64 } from "./record.js";
import type { SnapshotMark } from "./wal.js";

/**
 * Snapshot files, one per snapshot, written atomically (temp, fsync, rename, directory
 * fsync) before the write-ahead log records their mark. Layout (docs/storage.md):
 *
 *   0   8 bytes  magic "RVSNAP01"
 *   8   u32 LE   CRC-32 of bytes 12..end
 *   12  u64 LE   last included index
 *   20  u64 LE   last included term
 *   28  ...      snapshot data (the driver's encoding)
 */
const magic = Buffer.from("RVSNAP01", "ascii");
const headerBytes = 28;

export interface StoredSnapshot {
  readonly mark: SnapshotMark;
  readonly data: Uint8Array;
}

export class SnapshotStore {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
    mkdirSync(directory, { recursive: true });
  }

  /** Durable when it returns. */
  save(snapshot: StoredSnapshot): void {
    assert(snapshot.mark.index > 0, "a snapshot covers at least one entry");
    const bytes = Buffer.allocUnsafe(headerBytes + snapshot.data.length);
    magic.copy(bytes, 0);
    writeUint64(bytes, snapshot.mark.index, 12);
    writeUint64(bytes, snapshot.mark.term, 20);
    bytes.set(snapshot.data, headerBytes);
    bytes.writeUInt32LE(crc32(bytes.subarray(12)), 8);
    writeFileAtomicSync(this.pathOf(snapshot.mark), bytes);
  }

  /** Loads the snapshot the log's mark names; a missing or damaged one is an error. */
  load(mark: SnapshotMark): StoredSnapshot {
    const path = this.pathOf(mark);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      throw new StorageStateError(path, "the log names this snapshot but it cannot be read", {
        cause: error,
      });
    }
    if (bytes.length < headerBytes || !bytes.subarray(0, 8).equals(magic)) {
      throw new StorageCorruptionError(path, 0, "not a snapshot file");
    }
    if (crc32(bytes.subarray(12)) !== bytes.readUInt32LE(8)) {
      throw new StorageCorruptionError(path, 8, "checksum mismatch");
    }
    const stored = { index: readUint64(bytes, 12), term: readUint64(bytes, 20) };
    if (stored.index !== mark.index || stored.term !== mark.term) {
      throw new StorageCorruptionError(
        path,
        12,
        `holds ${stored.index}/${stored.term}, expected ${mark.index}/${mark.term}`,
      );
    }
    return { mark: stored, data: new Uint8Array(bytes.subarray(headerBytes)) };
  }

  /** Removes every snapshot file except the one `keep` names (call once its mark is durable). */
  prune(keep: SnapshotMark): number {
    const keepName = this.nameOf(keep);
    let removed = 0;
    for (const name of readdirSync(this.directory)) {
      const isSnapshot = /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(name);
      const isLeftover = name.startsWith(".") && name.includes(".snap.tmp-");
      if ((isSnapshot && name !== keepName) || isLeftover) {
        unlinkSync(join(this.directory, name));
        removed += 1;
      }
    }
    if (removed > 0) fsyncDirectorySync(this.directory);
    return removed;
  }

  private nameOf(mark: SnapshotMark): string {
    const hex = (value: number) => value.toString(16).padStart(16, "0");
    return `${hex(mark.index)}-${hex(mark.term)}.snap`;
  }

  private pathOf(mark: SnapshotMark): string {
    return join(this.directory, this.nameOf(mark));
  }
}
