// Goal: the write-ahead log gives back exactly what was made durable, cuts a torn tail, and
// refuses (naming file and offset) damage anywhere else. Method: write through the real
// files in a temp directory, damage the bytes directly, reopen.
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { StorageCorruptionError, StorageStateError } from "../errors.js";
import { RaftStorage } from "./raft-storage.js";
import { type WalEntry, WriteAheadLog } from "./wal.js";

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function freshDirectory(): string {
  const root = mkdtempSync(join(tmpdir(), "revoada-wal-"));
  roots.push(root);
  return root;
}

function entry(index: number, term: number, text = `command-${index}`): WalEntry {
  return { index, term, data: Buffer.from(text) };
}

function entryRange(first: number, last: number, term: number): WalEntry[] {
  const entries: WalEntry[] = [];
  for (let index = first; index <= last; index += 1) entries.push(entry(index, term));
  return entries;
}

function summary(entries: readonly WalEntry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${Buffer.from(e.data).toString()}`);
}

function onlySegment(directory: string): string {
  const names = readdirSync(directory).filter((name) => name.endsWith(".wal"));
  assert.equal(names.length, 1);
  return join(directory, names[0]!);
}

describe("write-ahead log", () => {
  test("recovers hard state and entries after reopening", () => {
    const directory = freshDirectory();
    const { wal, recovery } = WriteAheadLog.open(directory);
    assert.deepEqual(recovery.hardState, { term: 0, vote: null, commit: 0 });
    assert.equal(recovery.entries.length, 0);
    wal.append({ entries: entryRange(1, 3, 1), hardState: { term: 1, vote: "a".repeat(64), commit: 2 } });
    wal.append({ entries: [entry(4, 2)], hardState: { term: 2, vote: null, commit: 3 } });
    wal.close();
    const reopened = WriteAheadLog.open(directory);
    assert.deepEqual(reopened.recovery.hardState, { term: 2, vote: null, commit: 3 });
    assert.deepEqual(summary(reopened.recovery.entries), summary([...entryRange(1, 3, 1), entry(4, 2)]));
    assert.equal(reopened.recovery.tornTailBytes, 0);
    reopened.wal.close();
  });

  test("the hard state keeps the data-directory generation and a rollback being repaired", () => {
    // Records without the generation (written before it existed) still read back.
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory);
    wal.append({ hardState: { term: 1, vote: null, commit: 0 } });
    wal.close();
    assert.deepEqual(WriteAheadLog.open(directory).recovery.hardState, { term: 1, vote: null, commit: 0 });
    const reopened = WriteAheadLog.open(directory);
    reopened.wal.append({
      hardState: {
        term: 3,
        vote: "b".repeat(64),
        commit: 2,
        generation: 7,
        rollback: "newer-generation-seen",
      },
    });
    reopened.wal.close();
    const restored = WriteAheadLog.open(directory);
    assert.deepEqual(restored.recovery.hardState, {
      term: 3,
      vote: "b".repeat(64),
      commit: 2,
      generation: 7,
      rollback: "newer-generation-seen",
    });
    restored.wal.append({ hardState: { term: 3, vote: null, commit: 4, generation: 7 } });
    restored.wal.close();
    const cleared = WriteAheadLog.open(directory);
    assert.deepEqual(cleared.recovery.hardState, { term: 3, vote: null, commit: 4, generation: 7 });
    cleared.wal.close();
  });

  test("a conflicting append truncates the suffix it replaces", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory);
    wal.append({ entries: entryRange(1, 5, 1) });
    wal.append({ entries: [entry(3, 2, "new-3"), entry(4, 2, "new-4")] });
    wal.close();
    const { wal: reopened, recovery } = WriteAheadLog.open(directory);
    assert.deepEqual(summary(recovery.entries), ["1/1/command-1", "2/1/command-2", "3/2/new-3", "4/2/new-4"]);
    reopened.close();
  });

  test("a torn tail (cut mid-record) is truncated and the log stays writable", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory);
    wal.append({ entries: entryRange(1, 3, 1) });
    wal.append({ entries: entryRange(4, 6, 1) });
    wal.close();
    const path = onlySegment(directory);
    const size = statSync(path).size;
    truncateSync(path, size - 5);
    const first = WriteAheadLog.open(directory);
    assert.deepEqual(
      first.recovery.entries.map((e) => e.index),
      [1, 2, 3, 4, 5],
    );
    assert.ok(first.recovery.tornTailBytes > 0, "torn bytes reported");
    first.wal.append({ entries: [entry(6, 1, "again")] });
    first.wal.close();
    const second = WriteAheadLog.open(directory);
    assert.deepEqual(summary(second.recovery.entries).at(-1), "6/1/again");
    assert.equal(second.recovery.tornTailBytes, 0);
    second.wal.close();
  });

  test("garbage or zeros after the last record are a torn tail", () => {
    for (const garbage of [
      Buffer.alloc(700),
      Buffer.from("not a record at all, just bytes from a torn write"),
    ]) {
      const directory = freshDirectory();
      const { wal } = WriteAheadLog.open(directory);
      wal.append({ entries: entryRange(1, 4, 1) });
      wal.close();
      const path = onlySegment(directory);
      const size = statSync(path).size;
      appendFileSync(path, garbage);
      const { wal: reopened, recovery } = WriteAheadLog.open(directory);
      assert.equal(recovery.entries.length, 4);
      assert.equal(recovery.tornTailBytes, garbage.length);
      assert.equal(statSync(path).size, size);
      reopened.close();
    }
  });

  test("a flipped byte in the last record is a torn tail", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory);
    wal.append({ entries: entryRange(1, 4, 1) });
    wal.close();
    const path = onlySegment(directory);
    const bytes = readFileSync(path);
    bytes[bytes.length - 2]! ^= 0xff;
    writeFileSync(path, bytes);
    const { wal: reopened, recovery } = WriteAheadLog.open(directory);
    assert.deepEqual(
      recovery.entries.map((e) => e.index),
      [1, 2, 3],
    );
    reopened.close();
  });

  test("a flipped byte in the middle is an error naming the file and offset", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory);
    wal.append({ entries: entryRange(1, 10, 1) });
    wal.close();
    const path = onlySegment(directory);
    const bytes = readFileSync(path);
    const target = bytes.indexOf("command-5");
    assert.ok(target > 0, "entry found");
    bytes[target + 3]! ^= 0x01;
    writeFileSync(path, bytes);
    const recordStart = target - 8 - 1 - 16;
    assert.throws(
      () => WriteAheadLog.open(directory),
      (error: unknown) => {
        assert.ok(error instanceof StorageCorruptionError);
        assert.equal(error.file, path);
        assert.equal(error.offset, recordStart);
        assert.match(error.message, new RegExp(`${path}: corrupt at byte offset ${recordStart}`));
        return true;
      },
    );
    // A flipped length byte is caught the same way.
    const lengthBytes = readFileSync(path);
    lengthBytes[target + 3]! ^= 0x01;
    lengthBytes[recordStart + 1]! ^= 0x40;
    writeFileSync(path, lengthBytes);
    assert.throws(() => WriteAheadLog.open(directory), StorageCorruptionError);
  });

  test("damage anywhere in a sealed segment is an error, even at its end", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory, { segmentBytesMax: 4096 });
    for (let batch = 0; batch < 30; batch += 1) {
      wal.append({ entries: entryRange(batch * 10 + 1, batch * 10 + 10, 1) });
    }
    assert.ok(wal.segmentCount > 2, "segments rolled");
    wal.close();
    const names = readdirSync(directory).sort();
    const sealed = join(directory, names[0]!);
    const size = statSync(sealed).size;
    truncateSync(sealed, size - 3);
    assert.throws(
      () => WriteAheadLog.open(directory),
      (error: unknown) => {
        assert.ok(error instanceof StorageCorruptionError, "a corruption error");
        assert.equal(error.file, sealed);
        return true;
      },
    );
  });

  test("segments roll, and compaction keeps only a segment carrying the entries after the mark", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory, { segmentBytesMax: 4096 });
    for (let batch = 0; batch < 30; batch += 1) {
      wal.append({
        entries: entryRange(batch * 10 + 1, batch * 10 + 10, 1),
        hardState: { term: 1, vote: null, commit: batch * 10 + 10 },
      });
    }
    const before = wal.segmentCount;
    assert.ok(before >= 3, `segments rolled (${before})`);
    assert.equal(wal.compact(), 0, "no snapshot yet: nothing to remove");
    wal.append({ snapshot: { index: 250, term: 1 } });
    const removed = wal.compact();
    assert.equal(removed, before, "every older segment removed");
    assert.equal(wal.segmentCount, 1);
    wal.append({ entries: entryRange(301, 305, 2), hardState: { term: 2, vote: null, commit: 305 } });
    wal.close();
    const { wal: reopened, recovery } = WriteAheadLog.open(directory, { segmentBytesMax: 4096 });
    assert.deepEqual(recovery.snapshot, { index: 250, term: 1 });
    assert.equal(recovery.entries[0]?.index, 251);
    assert.equal(recovery.entries.at(-1)?.index, 305);
    assert.equal(recovery.entries.length, 55);
    assert.deepEqual(recovery.hardState, { term: 2, vote: null, commit: 305 });
    reopened.close();
  });

  test("a snapshot mark past the log (installed from the leader) discards the log", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory);
    wal.append({ entries: entryRange(1, 5, 1) });
    wal.append({ snapshot: { index: 20, term: 3 } });
    wal.append({ entries: [entry(21, 3)] });
    wal.close();
    const { wal: reopened, recovery } = WriteAheadLog.open(directory);
    assert.deepEqual(recovery.snapshot, { index: 20, term: 3 });
    assert.deepEqual(summary(recovery.entries), ["21/3/command-21"]);
    reopened.close();
  });

  test("a torn header of a freshly rolled segment is removed", () => {
    const directory = freshDirectory();
    const { wal } = WriteAheadLog.open(directory, { segmentBytesMax: 4096 });
    for (let batch = 0; batch < 10; batch += 1)
      wal.append({ entries: entryRange(batch * 10 + 1, batch * 10 + 10, 1) });
    wal.close();
    const names = readdirSync(directory).sort();
    writeFileSync(join(directory, "00000000000000ff.wal"), Buffer.from([1, 0, 0]));
    const { wal: reopened, recovery } = WriteAheadLog.open(directory, { segmentBytesMax: 4096 });
    assert.equal(recovery.entries.length, 100);
    assert.deepEqual(readdirSync(directory).sort(), names);
    reopened.close();
  });
});

describe("raft storage", () => {
  test("restart recovers from snapshot plus log", () => {
    const directory = freshDirectory();
    const { storage } = RaftStorage.open(directory, { segmentBytesMax: 4096 });
    for (let batch = 0; batch < 20; batch += 1) {
      storage.persist({
        entries: entryRange(batch * 10 + 1, batch * 10 + 10, 1),
        hardState: { term: 1, vote: null, commit: batch * 10 },
      });
    }
    storage.persist({ snapshot: { mark: { index: 150, term: 1 }, data: Buffer.from("state@150") } });
    storage.persist({ snapshot: { mark: { index: 180, term: 1 }, data: Buffer.from("state@180") } });
    storage.close();
    assert.equal(readdirSync(join(directory, "snap")).length, 1, "older snapshot files are pruned");
    const { storage: reopened, recovery } = RaftStorage.open(directory, { segmentBytesMax: 4096 });
    assert.equal(Buffer.from(recovery.snapshot!.data).toString(), "state@180");
    assert.deepEqual(recovery.snapshot!.mark, { index: 180, term: 1 });
    assert.deepEqual(
      recovery.entries.map((e) => e.index),
      entryRange(181, 200, 1).map((e) => e.index),
    );
    assert.equal(recovery.hardState.commit, 190);
    reopened.close();
  });

  test("a damaged or missing snapshot file is an error, never an empty start", () => {
    const directory = freshDirectory();
    const { storage } = RaftStorage.open(directory);
    storage.persist({ entries: entryRange(1, 5, 1) });
    storage.persist({ snapshot: { mark: { index: 5, term: 1 }, data: Buffer.from("state@5") } });
    storage.close();
    const snapshotPath = join(directory, "snap", readdirSync(join(directory, "snap"))[0]!);
    const bytes = readFileSync(snapshotPath);
    bytes[bytes.length - 1]! ^= 0x20;
    writeFileSync(snapshotPath, bytes);
    assert.throws(
      () => RaftStorage.open(directory),
      (error: unknown) => {
        assert.ok(error instanceof StorageCorruptionError, "a corruption error");
        assert.equal(error.file, snapshotPath);
        return true;
      },
    );
    rmSync(snapshotPath);
    assert.throws(() => RaftStorage.open(directory), StorageStateError);
  });
});
