import { parentPort, workerData } from "node:worker_threads";
import { chainingValueBytes, chunkGroupBytes, loadBlobHasher } from "@revoada/fabric-core/content";
import type { GroupHashJob, GroupHashResult } from "./group-hash-thread.js";

/**
 * The thread of `GroupHashThread`: the chaining value of each 16 KiB of a slot of the shared
 * buffer, at the group index it would be. It only reads the slot and only hashes: the main
 * thread checks the slot still holds the bytes it received, and the fetch core compares the
 * values with the outboard.
 */
const slots = workerData as SharedArrayBuffer;
const hasher = await loadBlobHasher();
parentPort!.on("message", (job: GroupHashJob) => {
  const payload = new Uint8Array(slots, job.offset, job.length);
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
  const result: GroupHashResult = { id: job.id, values };
  parentPort!.postMessage(result, values === null ? [] : [values.buffer as ArrayBuffer]);
});
