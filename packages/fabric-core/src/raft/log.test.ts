/**
 * Goal: the in-memory log keeps its invariants: contiguous indexes, up-to-date comparison by
 * (last term, last index), bounded slices, no truncation of committed entries, compaction
 * and snapshot restore keep terms. Method: drive a `RaftLog` directly.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { InvariantError } from "../vocabulary/index.js";
import { RaftLog } from "./log.js";
import type { Entry } from "./types.js";

function entry(index: number, term: number, bytes = 1): Entry {
  return { index, term, kind: "normal", data: new Uint8Array(bytes) };
}

test("up-to-date compares the last term first, then the last index", () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 2)], 0);
  assertStrict.equal(log.isUpToDate(1, 3), true, "a later last term wins even if shorter");
  assertStrict.equal(log.isUpToDate(5, 1), false, "an earlier last term loses even if longer");
  assertStrict.equal(log.isUpToDate(2, 2), true);
  assertStrict.equal(log.isUpToDate(1, 2), false);
});

test("slices respect the count and byte bounds but return at least one entry", () => {
  const log = new RaftLog(0, 0, [entry(1, 1, 10), entry(2, 1, 10), entry(3, 1, 10)], 0);
  assertStrict.equal(log.slice(1, 3, 2, 1000).length, 2);
  assertStrict.equal(log.slice(1, 3, 10, 15).length, 1);
  assertStrict.equal(log.slice(1, 3, 10, 1).length, 1, "one entry even over the byte bound");
});

test("a committed entry is never truncated", () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)], 2);
  assertStrict.throws(() => log.truncateFrom(2), InvariantError);
  log.truncateFrom(3);
  assertStrict.equal(log.lastIndex(), 2);
  assertStrict.equal(log.unstableFrom, 3, "the replacement entries will be handed out again");
});

test("compaction and restore keep the boundary term", () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 2), entry(3, 2)], 3);
  log.applied = 3;
  log.compactTo(2, 2);
  assertStrict.equal(log.termAt(2), 2);
  assertStrict.equal(log.termAt(1), undefined, "compacted");
  assertStrict.equal(log.lastIndex(), 3);
  log.restore(10, 4);
  assertStrict.equal(log.lastIndex(), 10);
  assertStrict.equal(log.lastTerm(), 4);
  assertStrict.equal(log.committed, 10);
});

test("appends keep indexes contiguous and terms non-decreasing", () => {
  const log = new RaftLog(0, 0, [entry(1, 2)], 0);
  assertStrict.throws(() => log.append(entry(3, 2)), InvariantError);
  assertStrict.throws(() => log.append(entry(2, 1)), InvariantError);
  log.append(entry(2, 3));
  assertStrict.equal(log.lastIndex(), 2);
});
