import { parentPort } from "node:worker_threads";
import { chainingValueBytes, chunkGroupBytes, loadBlobHasher } from "@revoada/fabric-core/content";
import type { GroupHashJob, GroupHashResult } from "./group-hash-thread.js";

/**
 * The thread of `GroupHashThread`: the chaining value of each 16 KiB slice of a received
 * range's payload, at the group index it would be, sent back with the frame's buffer (both
 * moved, not copied). It only hashes: whether the values match the outboard is decided by
 * the fetch core on the main thread.
 */
const hasher = await loadBlobHasher();
parentPort!.on("message", (job: GroupHashJob) => {
  const payload = new Uint8Array(job.frame, job.payloadOffset, job.payloadLength);
  const groups = Math.ceil(payload.length / chunkGroupBytes);
  let values: Uint8Array | null = new Uint8Array(groups * chainingValueBytes);
  try {
    for (let i = 0; i < groups; i += 1) {
      const data = payload.subarray(i * chunkGroupBytes, (i + 1) * chunkGroupBytes);
      values.set(hasher.groupChainingValue(job.firstGroup + i, data), i * chainingValueBytes);
    }
  } catch {
    // A group index the hasher refuses: the core hashes (and refuses) it itself.
    values = null;
  }
  const result: GroupHashResult = { id: job.id, frame: job.frame, values };
  parentPort!.postMessage(result, values === null ? [job.frame] : [job.frame, values.buffer as ArrayBuffer]);
});
