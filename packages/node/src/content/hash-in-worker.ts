import type { Worker } from "node:worker_threads";
import type { BlobTree } from "@revoada/fabric-core/content";
import { startModuleWorker } from "../worker-start.js";

/** Runs `hashFile` in a worker thread and resolves with the blob's tree. */
export function hashFileInWorker(sourcePath: string, copyTo?: string): Promise<BlobTree> {
  const worker = startWorker({ sourcePath, copyTo });
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.once("message", (tree: BlobTree) => {
      settled = true;
      resolve(tree);
    });
    worker.once("error", (error) => {
      settled = true;
      reject(error);
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`hash worker exited with code ${code} before answering`));
    });
  });
}

function startWorker(workerData: { sourcePath: string; copyTo: string | undefined }): Worker {
  return startModuleWorker(import.meta.url, "hash-worker", workerData);
}
