/**
 * Goal: per-follower flow control behaves as designed: probe sends one append and waits,
 * replicate pipelines within the in-flight message and byte bounds, acknowledgements free
 * in-flight slots, stale rejections are ignored, conflict hints move `next` back in one
 * jump, and snapshot state holds appends. Method: drive a `Progress` directly.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { Progress } from "./progress.js";

test("probe: one append in flight, then wait for an answer", () => {
  const progress = new Progress(11, false, 4, 1000);
  assertStrict.equal(progress.isPaused(), false);
  progress.sentAppend(10, 0, 0);
  assertStrict.equal(progress.isPaused(), true, "a probe waits for its answer");
  assertStrict.equal(progress.next, 11, "probing does not move next");
  assertStrict.ok(progress.maybeUpdate(10));
  progress.becomeReplicate();
  assertStrict.equal(progress.isPaused(), false);
  assertStrict.equal(progress.next, 11);
});

test("replicate: bounded by in-flight messages, freed by acknowledgements", () => {
  const progress = new Progress(1, false, 2, 1_000_000);
  progress.becomeReplicate();
  progress.sentAppend(5, 5, 50);
  progress.sentAppend(9, 4, 40);
  assertStrict.equal(progress.isPaused(), true, "two appends in flight is the limit");
  assertStrict.equal(progress.next, 10, "replicate moves next optimistically");
  progress.maybeUpdate(5);
  assertStrict.equal(progress.isPaused(), false, "the first acknowledgement frees a slot");
  assertStrict.equal(progress.describe().inflightBytes, 40);
  progress.maybeUpdate(9);
  assertStrict.equal(progress.describe().inflightMessages, 0);
});

test("replicate: bounded by in-flight bytes", () => {
  const progress = new Progress(1, false, 100, 100);
  progress.becomeReplicate();
  progress.sentAppend(1, 1, 60);
  assertStrict.equal(progress.isPaused(), false);
  progress.sentAppend(2, 1, 60);
  assertStrict.equal(progress.isPaused(), true, "120 bytes in flight is over 100");
});

test("rejections: stale ones are ignored, hints jump back, match is a floor", () => {
  const progress = new Progress(1, false, 8, 1000);
  progress.becomeReplicate();
  progress.sentAppend(20, 20, 100);
  progress.maybeUpdate(6);
  assertStrict.equal(progress.maybeDecrease(5, 0), false, "a rejection at or below match is stale");
  assertStrict.equal(progress.maybeDecrease(12, 9), true);
  assertStrict.equal(progress.next, 7, "replicate falls back to match + 1");
  progress.becomeProbe();
  progress.next = 15;
  assertStrict.equal(progress.maybeDecrease(13, 9), false, "probe ignores a rejection of another index");
  assertStrict.equal(progress.maybeDecrease(14, 9), true);
  assertStrict.equal(progress.next, 10, "the hint jumps over the conflicting term at once");
  assertStrict.ok(progress.match < progress.next);
});

test("snapshot: appends wait until the snapshot is installed", () => {
  const progress = new Progress(3, false, 8, 1000);
  progress.becomeSnapshot(50);
  assertStrict.equal(progress.isPaused(), true);
  progress.maybeUpdate(50);
  progress.becomeProbe();
  assertStrict.equal(progress.next, 51, "probing resumes after the snapshot");
  assertStrict.equal(progress.isPaused(), false);
});
