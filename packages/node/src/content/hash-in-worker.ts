import { Worker } from "node:worker_threads";
import type { BlobTree } from "@revoada/fabric-core/content";

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
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./hash-worker.js", import.meta.url), { workerData });
  }
  // Running from TypeScript source (tests, benchmarks): workers do not inherit tsx's loader
  // hooks, so the worker registers them itself before importing the .ts entry.
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./hash-worker.ts", import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, execArgv: ["--conditions=source"] });
}
