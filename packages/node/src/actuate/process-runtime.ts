import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, appendFile, mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * Supervises control-plane components as child processes of the daemon. `apply(desired)`
 * makes the running set match: it starts what is missing, stops what is no longer desired
 * (SIGTERM, then SIGKILL after a grace period), restarts what changed (command, args, env,
 * working directory) and, with capped exponential backoff, what exited. Each component's
 * stdout and stderr are appended to `<logDirectory>/<name>.log`. A component whose program
 * is not on this machine (looked up on PATH) is `unavailable`, never faked; the lookup is
 * repeated on every `apply`, so a program installed later starts then.
 *
 * `<logDirectory>/<name>.pid` names the running process. A daemon killed with SIGKILL cannot
 * stop its children, so the next start finds the file: a process still running the same
 * program and arguments (read from /proc) is the orphan of that run, and it is killed before
 * the component starts again (it would hold the ports and the data directory).
 *
 * Time enters only through `RuntimeTimers`, so tests drive backoff with small delays and
 * wait on events, never on wall-clock thresholds.
 */

export interface ComponentSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly workingDirectory?: string;
}

export interface RuntimeTimers {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: RuntimeTimers = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ProcessRuntimeOptions {
  readonly logDirectory: string;
  readonly timers?: RuntimeTimers;
  /** First restart delay; each consecutive failure doubles it (default 1000 ms). */
  readonly backoffInitialMs?: number;
  /** The restart delay never exceeds this (default 30000 ms). */
  readonly backoffMaxMs?: number;
  /** A process that ran this long before exiting restarts with the initial delay again (default 10000 ms). */
  readonly stableAfterMs?: number;
  /** SIGTERM, then SIGKILL after this long (default 10000 ms). */
  readonly stopGraceMs?: number;
  /** The PATH programs are looked up on (default: the daemon's PATH). */
  readonly searchPath?: string;
  /** Every start, exit, scheduled restart, stop and unavailable program, for logs and tests. */
  readonly onEvent?: (event: ComponentEvent) => void;
}

export interface ComponentExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** Set when the process could not be started at all (EACCES, ...). */
  readonly error: string | null;
}

export type ComponentEvent =
  | { readonly type: "started"; readonly name: string; readonly pid: number }
  | { readonly type: "exited"; readonly name: string; readonly exit: ComponentExit }
  | {
      readonly type: "restart-scheduled";
      readonly name: string;
      readonly restarts: number;
      readonly delayMs: number;
    }
  | { readonly type: "stopped"; readonly name: string }
  | { readonly type: "unavailable"; readonly name: string; readonly reason: string };

export type ComponentStatus =
  | { readonly name: string; readonly state: "running"; readonly pid: number; readonly restarts: number }
  | { readonly name: string; readonly state: "stopping"; readonly pid: number; readonly restarts: number }
  | {
      readonly name: string;
      readonly state: "restarting";
      readonly restarts: number;
      readonly nextAttemptAtMs: number;
      readonly lastExit: ComponentExit | null;
    }
  | {
      readonly name: string;
      readonly state: "stopped";
      readonly restarts: number;
      readonly lastExit: ComponentExit | null;
    }
  | { readonly name: string; readonly state: "unavailable"; readonly reason: string };

export const componentsMax = 64;
const componentNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const searchPathEntriesMax = 256;

/** A component's live record. Invariant: `child !== null` exactly while a process runs. */
interface Supervised {
  spec: ComponentSpec;
  desired: boolean;
  child: ChildProcess | null;
  exited: Promise<void>;
  stopping: boolean;
  restarts: number;
  /** Consecutive short-lived runs: the backoff exponent. */
  failures: number;
  startedAtMs: number;
  restartTimer: unknown;
  nextAttemptAtMs: number;
  lastExit: ComponentExit | null;
  unavailableReason: string | null;
}

export class ProcessRuntime {
  private readonly components = new Map<string, Supervised>();
  private readonly timers: RuntimeTimers;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly stableAfterMs: number;
  private readonly stopGraceMs: number;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.timers = options.timers ?? systemTimers;
    this.backoffInitialMs = options.backoffInitialMs ?? 1_000;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.stableAfterMs = options.stableAfterMs ?? 10_000;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    assert(this.backoffInitialMs > 0, "backoff initial delay must be positive");
    assert(this.backoffMaxMs >= this.backoffInitialMs, "backoff cap below the initial delay");
    assert(this.stopGraceMs >= 0, "stop grace period is negative");
  }

  /** Makes the supervised set match `desired` (calls are serialized). */
  apply(desired: readonly ComponentSpec[]): Promise<void> {
    return this.serialized(async () => {
      assert(!this.closed, "apply after stop");
      checkSpecs(desired);
      const wanted = new Map(desired.map((spec) => [spec.name, spec]));
      for (const component of this.components.values()) {
        if (!wanted.has(component.spec.name) && component.desired) {
          component.desired = false;
          await this.halt(component);
        }
      }
      for (const spec of desired) await this.reconcile(spec);
    });
  }

  /** Each component ever applied, by name. */
  status(): readonly ComponentStatus[] {
    return [...this.components.values()]
      .sort((a, b) => (a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0))
      .map((component) => statusOf(component));
  }

  /** Stops every component and refuses further `apply` (the daemon calls it on SIGTERM). */
  stop(): Promise<void> {
    return this.serialized(async () => {
      this.closed = true;
      await Promise.all(
        [...this.components.values()].map((component) => {
          component.desired = false;
          return this.halt(component);
        }),
      );
    });
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reconcile(spec: ComponentSpec): Promise<void> {
    const current = this.components.get(spec.name);
    if (current?.desired && sameSpec(current.spec, spec)) {
      if (current.unavailableReason !== null) await this.launch(current);
      return;
    }
    if (current !== undefined) {
      current.desired = false;
      await this.halt(current);
    }
    const component: Supervised = {
      spec,
      desired: true,
      child: null,
      exited: Promise.resolve(),
      stopping: false,
      restarts: 0,
      failures: 0,
      startedAtMs: 0,
      restartTimer: null,
      nextAttemptAtMs: 0,
      lastExit: null,
      unavailableReason: null,
    };
    this.components.set(spec.name, component);
    await this.launch(component);
  }

  private async launch(component: Supervised): Promise<void> {
    assert(component.child === null, `${component.spec.name} launched while running`);
    component.restartTimer = null;
    if (!component.desired) return;
    const { spec } = component;
    const program = await locateProgram(spec.command, this.searchPath(spec), spec.workingDirectory);
    if (program === null) {
      component.unavailableReason = `${spec.command} not found on PATH`;
      this.emit({ type: "unavailable", name: spec.name, reason: component.unavailableReason });
      return;
    }
    component.unavailableReason = null;
    await mkdir(this.options.logDirectory, { recursive: true });
    const logPath = join(this.options.logDirectory, `${spec.name}.log`);
    const stamp = new Date(this.timers.now()).toISOString();
    await appendFile(logPath, `--- revoada ${stamp}: starting ${spec.name} (${program})\n`);
    const pidPath = join(this.options.logDirectory, `${spec.name}.pid`);
    const orphan = await reapOrphan(pidPath, program, spec.args);
    if (orphan !== null) {
      await appendFile(
        logPath,
        `--- revoada ${stamp}: killed pid ${orphan}, left running by an earlier run\n`,
      );
    }
    const log = await open(logPath, "a");
    try {
      this.spawnComponent(component, program, log.fd);
    } finally {
      await log.close();
    }
    // spawnComponent set the child (the assertion above narrowed it to null).
    const pid = (component.child as ChildProcess | null)?.pid;
    if (pid !== undefined) await writeFile(pidPath, `${pid}\n`);
  }

  /** Spawns and watches the process in one synchronous step, so no exit goes unseen. */
  private spawnComponent(component: Supervised, program: string, logFd: number): void {
    const { spec } = component;
    const child = spawn(program, [...spec.args], {
      cwd: spec.workingDirectory,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", logFd, logFd],
    });
    component.child = child;
    component.startedAtMs = this.timers.now();
    component.exited = new Promise((settle) => {
      let settled = false;
      const onEnd = (exit: ComponentExit) => {
        if (settled) return;
        settled = true;
        this.exitedComponent(component, child, exit);
        settle();
      };
      child.once("error", (error) => onEnd({ code: null, signal: null, error: error.message }));
      child.once("exit", (code, signal) => onEnd({ code, signal, error: null }));
    });
    if (child.pid !== undefined) this.emit({ type: "started", name: spec.name, pid: child.pid });
  }

  private exitedComponent(component: Supervised, child: ChildProcess, exit: ComponentExit): void {
    if (component.child !== child) return;
    component.child = null;
    component.lastExit = exit;
    this.emit({ type: "exited", name: component.spec.name, exit });
    if (component.stopping || !component.desired || this.closed) return;
    const ranMs = this.timers.now() - component.startedAtMs;
    this.scheduleRestart(component, ranMs >= this.stableAfterMs);
  }

  private scheduleRestart(component: Supervised, ranStably: boolean): void {
    assert(component.child === null, `${component.spec.name} restart scheduled while running`);
    component.failures = ranStably ? 1 : component.failures + 1;
    const delayMs = Math.min(
      this.backoffMaxMs,
      this.backoffInitialMs * 2 ** Math.min(component.failures - 1, 30),
    );
    component.restarts += 1;
    component.nextAttemptAtMs = this.timers.now() + delayMs;
    component.restartTimer = this.timers.setTimeout(() => {
      void this.serialized(() => this.relaunch(component));
    }, delayMs);
    this.emit({
      type: "restart-scheduled",
      name: component.spec.name,
      restarts: component.restarts,
      delayMs,
    });
  }

  private async relaunch(component: Supervised): Promise<void> {
    if (component.restartTimer === null || component.child !== null) return;
    if (this.components.get(component.spec.name) !== component) return;
    try {
      await this.launch(component);
    } catch (error) {
      // The log file or its directory could not be opened: counted as a failed start.
      component.lastExit = {
        code: null,
        signal: null,
        error: error instanceof Error ? error.message : String(error),
      };
      this.emit({ type: "exited", name: component.spec.name, exit: component.lastExit });
      if (component.desired && !this.closed) this.scheduleRestart(component, false);
    }
  }

  /** Cancels a pending restart and stops the process: SIGTERM, SIGKILL after the grace period. */
  private async halt(component: Supervised): Promise<void> {
    if (component.restartTimer !== null) {
      this.timers.clearTimeout(component.restartTimer);
      component.restartTimer = null;
    }
    const child = component.child;
    if (child !== null) {
      component.stopping = true;
      child.kill("SIGTERM");
      const escalation = this.timers.setTimeout(() => child.kill("SIGKILL"), this.stopGraceMs);
      await component.exited;
      this.timers.clearTimeout(escalation);
      component.stopping = false;
    }
    assert(component.child === null, `${component.spec.name} still running after stop`);
    component.unavailableReason = null;
    this.emit({ type: "stopped", name: component.spec.name });
  }

  private searchPath(spec: ComponentSpec): string {
    return spec.env?.PATH ?? this.options.searchPath ?? process.env.PATH ?? "";
  }

  private emit(event: ComponentEvent): void {
    this.options.onEvent?.(event);
  }
}

function statusOf(component: Supervised): ComponentStatus {
  const { name } = component.spec;
  const { restarts, lastExit } = component;
  if (component.unavailableReason !== null)
    return { name, state: "unavailable", reason: component.unavailableReason };
  const pid = component.child?.pid;
  if (pid !== undefined) return { name, state: component.stopping ? "stopping" : "running", pid, restarts };
  if (component.restartTimer !== null) {
    return { name, state: "restarting", restarts, nextAttemptAtMs: component.nextAttemptAtMs, lastExit };
  }
  return { name, state: "stopped", restarts, lastExit };
}

function checkSpecs(desired: readonly ComponentSpec[]): void {
  assert(desired.length <= componentsMax, `more than ${componentsMax} components`);
  const names = new Set<string>();
  for (const spec of desired) {
    assert(componentNamePattern.test(spec.name), `component name is not a safe file name: ${spec.name}`);
    assert(!names.has(spec.name), `component ${spec.name} is listed twice`);
    assert(spec.command !== "", `component ${spec.name} has no command`);
    names.add(spec.name);
  }
}

function sameSpec(a: ComponentSpec, b: ComponentSpec): boolean {
  return (
    a.command === b.command &&
    a.workingDirectory === b.workingDirectory &&
    a.args.length === b.args.length &&
    a.args.every((arg, index) => arg === b.args[index]) &&
    sameEnv(a.env ?? {}, b.env ?? {})
  );
}

function sameEnv(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/**
 * The executable `command` names: a path (with a slash) is taken as is, relative to the
 * working directory; a bare name is looked up on `searchPath`. Null when there is none.
 */
export async function locateProgram(
  command: string,
  searchPath: string,
  workingDirectory?: string,
): Promise<string | null> {
  if (command.includes("/")) {
    const path = isAbsolute(command) ? command : resolve(workingDirectory ?? process.cwd(), command);
    return (await isExecutableFile(path)) ? path : null;
  }
  const directories = searchPath.split(delimiter).filter((entry) => entry !== "");
  for (const directory of directories.slice(0, searchPathEntriesMax)) {
    const path = join(directory, command);
    if (await isExecutableFile(path)) return path;
  }
  return null;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills the process `pidPath` names when it still runs `program` with `args` (a component an
 * earlier run of the daemon left behind), and waits until it is gone; its pid, or null. On a
 * system without /proc nothing is killed: a pid alone may have been reused.
 */
export async function reapOrphan(
  pidPath: string,
  program: string,
  args: readonly string[],
): Promise<number | null> {
  const text = await readFile(pidPath, "utf8").catch(() => null);
  if (text === null) return null;
  await rm(pidPath, { force: true });
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return null;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => null);
  if (cmdline === null) return null;
  const argv = cmdline.split("\0").filter((part) => part !== "");
  const same = argv.length === args.length + 1 && argv.slice(1).every((arg, i) => arg === args[i]);
  const sameProgram = argv[0] === program || argv[0]?.split("/").at(-1) === program.split("/").at(-1);
  if (!same || !sameProgram) return null;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return null;
  }
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const state = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
    // Gone, or a zombie waiting for a parent that is not this process.
    if (state === null || / Z /.test(state)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pid;
}
