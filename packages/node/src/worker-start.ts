import { Worker } from "node:worker_threads";

/**
 * Starts the worker module `name` (a sibling of the module at `callerUrl`, e.g. "hash-worker")
 * in a worker thread. From the built package that is `name.js`; from TypeScript source (tests,
 * benchmarks) workers do not inherit tsx's loader hooks, so the worker registers them itself
 * before importing `name.ts`.
 */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, execArgv: ["--conditions=source"] });
}
