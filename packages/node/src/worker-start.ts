import { Worker } from "node:worker_threads";

/**
 * Starts the worker module `name` (a sibling of the module at `callerUrl`, e.g. "hash-worker")
 * in a worker thread. From the built package that is `name.js`, started without the parent's
 * `source` export condition (see `builtWorkerExecArgv`); from TypeScript source (tests,
 * benchmarks) workers do not inherit tsx's loader hooks, so the worker registers them itself
 * before importing `name.ts`.
 */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith(".ts")) {
    return new Worker(new URL(`./${name}.js`, callerUrl), {
      workerData,
      execArgv: builtWorkerExecArgv(process.execArgv),
    });
  }
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, execArgv: ["--conditions=source"] });
}

/**
 * The parent's Node flags for a worker of the built package, without the `source` export
 * condition and tsx's loader. A process run from source (a benchmark or test through tsx,
 * with `--conditions=source --import tsx`) may load the built modules; their workers would
 * inherit the condition, resolve the workspace packages to `.ts` files, and fail to load,
 * since tsx's hooks do not reach a worker. A built worker needs only built modules, so it
 * starts as it does under `revoada`: without the condition, and without loading tsx (~80 ms
 * of a worker's start here).
 */
export function builtWorkerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i += 1) {
    const flag = execArgv[i]!;
    const [name, inlineValue] = splitFlag(flag);
    const dropped = sourceOnlyFlags.get(name);
    if (dropped === undefined) {
      kept.push(flag);
      continue;
    }
    const value = inlineValue ?? execArgv[i + 1];
    if (value === undefined || !dropped(value)) {
      kept.push(flag);
      continue;
    }
    if (inlineValue === undefined) i += 1;
  }
  return kept;
}

const isTsx = (value: string): boolean => value === "tsx" || value.startsWith("tsx/");
/** Flags a built worker drops, by name, when their value is the one running from source. */
const sourceOnlyFlags = new Map<string, (value: string) => boolean>([
  ["--conditions", (value) => value === "source"],
  ["-C", (value) => value === "source"],
  ["--import", isTsx],
  ["--require", isTsx],
  ["-r", isTsx],
  ["--loader", isTsx],
  ["--experimental-loader", isTsx],
]);

function splitFlag(flag: string): [string, string | undefined] {
  const equals = flag.indexOf("=");
  return equals === -1 ? [flag, undefined] : [flag.slice(0, equals), flag.slice(equals + 1)];
}
