import { parentPort, workerData } from "node:worker_threads";
import { loadBlobHasher } from "@revoada/fabric-core/content";
import { hashFile } from "./hash-file.js";

/**
 * Hashes (and optionally copies) one large file off the main thread, so the node's consensus
 * and gossip timers keep running while a multi-GiB blob is imported or verified.
 */
interface HashJob {
  readonly sourcePath: string;
  readonly copyTo?: string;
}

const job = workerData as HashJob;
const hasher = await loadBlobHasher();
const tree = await hashFile(hasher, job.sourcePath, job.copyTo);
parentPort!.postMessage({ hash: tree.hash, size: tree.size, outboard: tree.outboard }, [
  tree.outboard.buffer as ArrayBuffer,
]);
