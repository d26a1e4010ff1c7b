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
    const execArgv = builtWorkerExecArgv(process.execArgv);
    return new Worker(new URL(`./${name}.js`, callerUrl), {
      workerData,
      ...(execArgv === undefined ? {} : { execArgv }),
    });
  }
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, execArgv: ["--conditions=source"] });
}

/**
 * The Node flags for a worker of the built package: undefined (the worker inherits the parent's
 * flags, as Node does by default) unless the parent runs from source. A process run from
 * source (a benchmark or test through tsx, with `--conditions=source --import tsx`) may load
 * the built modules; their workers would inherit the condition, resolve the workspace packages
 * to `.ts` files, and fail to load, since tsx's hooks do not reach a worker. A built worker
 * needs only built modules, so it then starts as it does under `revoada`: without the
 * condition and without loading tsx (~80 ms of a worker's start here). Flags given to a worker
 * explicitly are validated, and V8's heap-sizing flags (the daemons run with some:
 * `daemonV8Flags`) make `new Worker` throw, where inherited ones are accepted; so they are
 * dropped from an explicit list too (a worker's heap is sized by `resourceLimits`, not by them).
 */
export function builtWorkerExecArgv(execArgv: readonly string[]): string[] | undefined {
  const kept: string[] = [];
  let sourceFlags = 0;
  for (let i = 0; i < execArgv.length; i += 1) {
    const flag = execArgv[i]!;
    const [name, inlineValue] = splitFlag(flag);
    if (workerRejectedV8Flags.has(name)) {
      if (inlineValue === undefined) i += 1;
      continue;
    }
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
    sourceFlags += 1;
    if (inlineValue === undefined) i += 1;
  }
  return sourceFlags === 0 ? undefined : kept;
}

/** V8 flags that `new Worker` refuses in an explicit `execArgv` (ERR_WORKER_INVALID_EXEC_ARGV). */
const workerRejectedV8Flags = new Set([
  "--max-semi-space-size",
  "--min-semi-space-size",
  "--max-old-space-size",
  "--max-heap-size",
  "--initial-heap-size",
  "--heap-growing-percent",
  "--stack-size",
]);

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
