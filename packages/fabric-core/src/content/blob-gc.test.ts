// Goal: garbage collection never takes a pinned blob and takes an unpinned one only after it has
// stayed unpinned for the retention time. Method: a sequence of plans over a clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Blake3Hash, emptyFabricState, type FabricState, Workload } from "../vocabulary/index.js";
import { pinnedBlobs, planGarbageCollection } from "./blob-gc.js";

const a = "a".repeat(64) as Blake3Hash;
const b = "b".repeat(64) as Blake3Hash;
const c = "c".repeat(64) as Blake3Hash;

function stateReferencing(...hashes: Blake3Hash[]): FabricState {
  const workload = Workload.parse({
    name: "web",
    namespace: "default",
    image: "web:1",
    command: [],
    args: [],
    env: {},
    ports: [],
    replicas: 1,
    resources: { cpu_millis: 1, memory_bytes: 1 },
    config_blobs: hashes.map((hash, i) => ({ name: `c${i}`, hash, mount_path: `/etc/c${i}` })),
    placement: { zones: [], labels: {}, tolerate_control_plane: false },
  });
  return { ...emptyFabricState(), workloads: { "default/web": workload } };
}

describe("garbage collection", () => {
  it("pins the config blobs the fabric state references", () => {
    assert.deepEqual([...pinnedBlobs(stateReferencing(a, b))].sort(), [a, b]);
    assert.equal(pinnedBlobs(emptyFabricState()).size, 0);
  });

  it("keeps pinned blobs forever and collects unpinned ones after the retention", () => {
    const pins = pinnedBlobs(stateReferencing(a));
    const retentionMs = 60_000;
    const first = planGarbageCollection({
      stored: [a, b, c],
      pins,
      unpinnedSinceMs: {},
      nowMs: 1000,
      retentionMs,
    });
    assert.deepEqual(first.collect, []);
    assert.deepEqual(first.unpinnedSinceMs, { [b]: 1000, [c]: 1000 });
    const before = planGarbageCollection({
      stored: [a, b, c],
      pins,
      unpinnedSinceMs: first.unpinnedSinceMs,
      nowMs: 60_999,
      retentionMs,
    });
    assert.deepEqual(before.collect, []);
    const after = planGarbageCollection({
      stored: [a, b, c],
      pins,
      unpinnedSinceMs: before.unpinnedSinceMs,
      nowMs: 61_000,
      retentionMs,
    });
    assert.deepEqual(after.collect, [b, c]);
    assert.deepEqual(after.unpinnedSinceMs, {});
    const muchLater = planGarbageCollection({
      stored: [a],
      pins,
      unpinnedSinceMs: {},
      nowMs: 10 ** 12,
      retentionMs,
    });
    assert.deepEqual(muchLater.collect, []);
  });

  it("restarts the retention clock when a blob is pinned again in between", () => {
    const retentionMs = 1000;
    const unpinned = planGarbageCollection({
      stored: [b],
      pins: new Set(),
      unpinnedSinceMs: {},
      nowMs: 0,
      retentionMs,
    });
    const repinned = planGarbageCollection({
      stored: [b],
      pins: new Set([b]),
      unpinnedSinceMs: unpinned.unpinnedSinceMs,
      nowMs: 500,
      retentionMs,
    });
    assert.deepEqual(repinned.unpinnedSinceMs, {});
    const dropped = planGarbageCollection({
      stored: [b],
      pins: new Set(),
      unpinnedSinceMs: repinned.unpinnedSinceMs,
      nowMs: 1200,
      retentionMs,
    });
    assert.deepEqual(dropped.collect, []);
    const late = planGarbageCollection({
      stored: [b],
      pins: new Set(),
      unpinnedSinceMs: dropped.unpinnedSinceMs,
      nowMs: 2200,
      retentionMs,
    });
    assert.deepEqual(late.collect, [b]);
  });

  it("collects at once with zero retention", () => {
    const plan = planGarbageCollection({
      stored: [c],
      pins: new Set(),
      unpinnedSinceMs: {},
      nowMs: 5,
      retentionMs: 0,
    });
    assert.deepEqual(plan.collect, [c]);
  });
});
