import { assert, type Blake3Hash, type FabricState } from "../vocabulary/index.js";

/**
 * Which blobs to collect. Blobs referenced by the fabric state (workload config blobs) are
 * pinned. An unpinned blob is remembered with the time it was first seen unpinned and is
 * collected once it has stayed unpinned for `gc_retention_ms`, so a blob dropped by one
 * committed state and referenced again by the next is not lost in between.
 */

export interface GcPlan {
  readonly collect: readonly Blake3Hash[];
  /** The new map of unpinned blobs and when they were first seen unpinned. */
  readonly unpinnedSinceMs: Readonly<Record<string, number>>;
}

/** Every blob the state references: the pins. */
export function pinnedBlobs(state: FabricState): Set<Blake3Hash> {
  const pins = new Set<Blake3Hash>();
  for (const workload of Object.values(state.workloads)) {
    for (const blob of workload.config_blobs) pins.add(blob.hash);
  }
  return pins;
}

export function planGarbageCollection(input: {
  readonly stored: readonly Blake3Hash[];
  readonly pins: ReadonlySet<Blake3Hash>;
  readonly unpinnedSinceMs: Readonly<Record<string, number>>;
  readonly nowMs: number;
  readonly retentionMs: number;
}): GcPlan {
  assert(Number.isSafeInteger(input.nowMs) && input.nowMs >= 0, "now is a safe unsigned integer");
  assert(
    Number.isSafeInteger(input.retentionMs) && input.retentionMs >= 0,
    "retention is a safe unsigned integer",
  );
  const collect: Blake3Hash[] = [];
  const unpinnedSinceMs: Record<string, number> = {};
  for (const hash of [...input.stored].sort()) {
    if (input.pins.has(hash)) continue;
    const since = Math.min(input.unpinnedSinceMs[hash] ?? input.nowMs, input.nowMs);
    if (input.nowMs - since >= input.retentionMs) collect.push(hash);
    else unpinnedSinceMs[hash] = since;
  }
  assert(
    collect.every((hash) => !input.pins.has(hash)),
    "a pinned blob is never collected",
  );
  return { collect, unpinnedSinceMs };
}
