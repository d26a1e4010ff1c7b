// Goal: ProcessRuntime supervises real child processes: an exiting component is restarted
// with capped exponential backoff (reset after a stable run), a removed one is stopped
// (SIGTERM, then SIGKILL once the grace period passes), a changed one is restarted, a program
// that is not on PATH is `unavailable` until it appears, output lands in `<name>.log`.
// Method: real processes (sh, node); time is a manual clock whose timers the test fires
// itself, and every wait is on the runtime's events, so no assertion depends on speed.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type ComponentEvent,
  type ComponentSpec,
  ProcessRuntime,
  type RuntimeTimers,
} from "../src/actuate/process-runtime.js";

let directory = "";

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-process-"));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

interface ManualTimer {
  readonly delayMs: number;
  readonly callback: () => void;
  cleared: boolean;
}

/** A clock that moves only when told, and timers that fire only when the test fires them. */
class ManualTimers implements RuntimeTimers {
  nowMs = 1_000_000;
  readonly pending: ManualTimer[] = [];

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const timer: ManualTimer = { delayMs, callback, cleared: false };
    this.pending.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    (handle as ManualTimer).cleared = true;
  }

  /** Advances the clock by the timer's delay and runs it. */
  fire(timer: ManualTimer): void {
    assert.equal(timer.cleared, false, "firing a cleared timer");
    this.pending.splice(this.pending.indexOf(timer), 1);
    this.nowMs += timer.delayMs;
    timer.callback();
  }

  live(): ManualTimer[] {
    return this.pending.filter((timer) => !timer.cleared);
  }
}

/** The runtime's events as an awaitable queue. */
class EventLog {
  readonly events: ComponentEvent[] = [];
  private waiters: {
    predicate: (event: ComponentEvent) => boolean;
    resolve: (event: ComponentEvent) => void;
  }[] = [];
  private seen = 0;

  readonly record = (event: ComponentEvent): void => {
    this.events.push(event);
    const waiter = this.waiters.find((candidate) => candidate.predicate(event));
    if (waiter === undefined) return;
    this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
    this.seen = this.events.length;
    waiter.resolve(event);
  };

  /** The first event after the last one awaited that matches. */
  next<T extends ComponentEvent["type"]>(
    type: T,
    name: string,
  ): Promise<Extract<ComponentEvent, { type: T }>> {
    const predicate = (event: ComponentEvent) => event.type === type && event.name === name;
    const already = this.events.slice(this.seen).findIndex(predicate);
    if (already >= 0) {
      this.seen += already + 1;
      return Promise.resolve(this.events[this.seen - 1] as Extract<ComponentEvent, { type: T }>);
    }
    return new Promise((resolve) => {
      this.waiters.push({
        predicate,
        resolve: (event) => resolve(event as Extract<ComponentEvent, { type: T }>),
      });
    });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, attempts: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (let index = 0; index < attempts; index += 1) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: gave up after ${attempts} attempts`);
}

test("an exiting component is restarted with capped exponential backoff, reset after a stable run", async () => {
  const timers = new ManualTimers();
  const events = new EventLog();
  const logDirectory = join(directory, "backoff");
  const runtime = new ProcessRuntime({
    logDirectory,
    timers,
    backoffInitialMs: 100,
    backoffMaxMs: 400,
    stableAfterMs: 10_000,
    onEvent: events.record,
  });
  const crasher: ComponentSpec = { name: "crasher", command: "sh", args: ["-c", "echo crasher-ran; exit 3"] };
  await runtime.apply([crasher]);
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    await events.next("started", "crasher");
    // The fifth run lasts past `stableAfterMs` before it exits (the clock moves while it
    // runs: this continuation runs before the exit is processed), so its delay starts over.
    if (attempt === 5) timers.nowMs += 20_000;
    const exited = await events.next("exited", "crasher");
    assert.deepEqual(exited.exit, { code: 3, signal: null, error: null });
    const scheduled = await events.next("restart-scheduled", "crasher");
    assert.equal(scheduled.restarts, attempt);
    delays.push(scheduled.delayMs);
    const status = runtime.status()[0];
    assert.equal(status?.state, "restarting");
    assert.ok(status?.state === "restarting");
    assert.equal(status.nextAttemptAtMs, timers.nowMs + scheduled.delayMs);
    assert.equal(status.restarts, attempt);
    const [timer] = timers.live();
    assert.ok(timer !== undefined && timer.delayMs === scheduled.delayMs);
    timers.fire(timer);
  }
  assert.deepEqual(delays, [100, 200, 400, 400, 100]);
  await events.next("started", "crasher");
  await runtime.stop();
  assert.equal(runtime.status()[0]?.state, "stopped");
  assert.equal(timers.live().length, 0, "no restart left pending after stop");
  const log = await readFile(join(logDirectory, "crasher.log"), "utf8");
  assert.equal(log.match(/starting crasher/g)?.length, 6, "every start is marked in the log");
  // The sixth run may be stopped before it prints: every run that exited by itself printed.
  const finished = events.events.filter((event) => event.type === "exited" && event.exit.code === 3).length;
  assert.ok(finished >= 5);
  assert.equal(log.match(/crasher-ran/g)?.length, finished, "every run appended its output");
  await assert.rejects(runtime.apply([crasher]), /apply after stop/);
});

test("a removed component is stopped, SIGKILL after the grace period when SIGTERM is ignored", async () => {
  const timers = new ManualTimers();
  const events = new EventLog();
  const logDirectory = join(directory, "removal");
  const runtime = new ProcessRuntime({ logDirectory, timers, stopGraceMs: 5_000, onEvent: events.record });
  const polite: ComponentSpec = { name: "polite", command: "sleep", args: ["1000"] };
  const stubborn: ComponentSpec = {
    name: "stubborn",
    command: process.execPath,
    args: [
      "-e",
      "process.on('SIGTERM', () => console.log('ignored SIGTERM')); console.log('ready'); setInterval(() => {}, 1000);",
    ],
  };
  await runtime.apply([polite, stubborn]);
  const politePid = (await events.next("started", "polite")).pid;
  const stubbornPid = (await events.next("started", "stubborn")).pid;
  await until("stubborn ready", 200, async () =>
    (await readFile(join(logDirectory, "stubborn.log"), "utf8")).includes("ready") ? true : undefined,
  );
  assert.deepEqual(
    runtime.status().map((status) => [status.name, status.state]),
    [
      ["polite", "running"],
      ["stubborn", "running"],
    ],
  );

  await runtime.apply([stubborn]);
  assert.equal(isAlive(politePid), false);
  assert.equal((await events.next("exited", "polite")).exit.signal, "SIGTERM");
  assert.equal(timers.live().length, 0, "the grace timer is cleared once the process exits");

  const removal = runtime.apply([]);
  const grace = await until("grace timer", 200, async () =>
    timers.live().find((timer) => timer.delayMs === 5_000),
  );
  assert.equal(runtime.status().find((status) => status.name === "stubborn")?.state, "stopping");
  await until("SIGTERM reached stubborn", 200, async () =>
    (await readFile(join(logDirectory, "stubborn.log"), "utf8")).includes("ignored SIGTERM")
      ? true
      : undefined,
  );
  assert.equal(isAlive(stubbornPid), true, "SIGTERM alone did not stop it");
  timers.fire(grace);
  await removal;
  assert.equal((await events.next("exited", "stubborn")).exit.signal, "SIGKILL");
  assert.equal(isAlive(stubbornPid), false);
  assert.deepEqual(
    runtime.status().map((status) => [status.name, status.state]),
    [
      ["polite", "stopped"],
      ["stubborn", "stopped"],
    ],
  );
  await runtime.stop();
});

test("a changed component is restarted with its new arguments; an unchanged one is left alone", async () => {
  const events = new EventLog();
  const runtime = new ProcessRuntime({ logDirectory: join(directory, "change"), onEvent: events.record });
  const steady: ComponentSpec = { name: "steady", command: "sleep", args: ["1000"] };
  const changing: ComponentSpec = { name: "changing", command: "sleep", args: ["1000"] };
  try {
    await runtime.apply([steady, changing]);
    const steadyPid = (await events.next("started", "steady")).pid;
    const firstPid = (await events.next("started", "changing")).pid;
    await runtime.apply([steady, { ...changing, args: ["1001"] }]);
    const secondPid = (await events.next("started", "changing")).pid;
    assert.notEqual(secondPid, firstPid);
    assert.equal(isAlive(firstPid), false);
    await runtime.apply([steady, { ...changing, args: ["1001"], env: { REVOADA_TEST: "1" } }]);
    const thirdPid = (await events.next("started", "changing")).pid;
    assert.equal(isAlive(secondPid), false, "an env change restarts too");
    const statuses = runtime.status();
    assert.deepEqual(
      statuses.find((status) => status.name === "steady"),
      {
        name: "steady",
        state: "running",
        pid: steadyPid,
        restarts: 0,
      },
    );
    assert.deepEqual(
      statuses.find((status) => status.name === "changing"),
      {
        name: "changing",
        state: "running",
        pid: thirdPid,
        restarts: 0,
      },
    );
  } finally {
    await runtime.stop();
  }
});

test("a program that is not on PATH is unavailable, and starts once it appears", async () => {
  const events = new EventLog();
  const bin = join(directory, "bin");
  await mkdir(bin, { recursive: true });
  const searchPath = `${bin}:${process.env.PATH ?? ""}`;
  const runtime = new ProcessRuntime({
    logDirectory: join(directory, "missing"),
    searchPath,
    onEvent: events.record,
  });
  const component: ComponentSpec = {
    name: "kube-apiserver",
    command: "revoada-test-absent-program",
    args: [],
  };
  try {
    await runtime.apply([component]);
    const unavailable = await events.next("unavailable", "kube-apiserver");
    assert.match(unavailable.reason, /revoada-test-absent-program not found on PATH/);
    assert.deepEqual(runtime.status(), [
      {
        name: "kube-apiserver",
        state: "unavailable",
        reason: "revoada-test-absent-program not found on PATH",
      },
    ]);
    assert.equal(
      events.events.some((event) => event.type === "started"),
      false,
    );
    const program = join(bin, "revoada-test-absent-program");
    await writeFile(program, "#!/bin/sh\nexec sleep 1000\n");
    await chmod(program, 0o644);
    await runtime.apply([component]);
    assert.equal(runtime.status()[0]?.state, "unavailable", "a file that is not executable is no program");
    await chmod(program, 0o755);
    await runtime.apply([component]);
    const started = await events.next("started", "kube-apiserver");
    assert.deepEqual(runtime.status(), [
      { name: "kube-apiserver", state: "running", pid: started.pid, restarts: 0 },
    ]);
  } finally {
    await runtime.stop();
  }
});

test("a component left running by a daemon killed with SIGKILL is killed before it starts again; another process is not", async () => {
  const logDirectory = join(directory, "orphan");
  // The first run's runtime stands for a daemon that died without stopping its children: its
  // timers never fire, so it does not restart what the next run kills.
  const first = new ProcessRuntime({
    logDirectory,
    timers: new ManualTimers(),
    onEvent: new EventLog().record,
  });
  const spec: ComponentSpec = { name: "member", command: "sleep", args: ["1000"] };
  await first.apply([spec]);
  const orphanPid = first.status().find((status) => status.name === "member");
  assert.ok(orphanPid !== undefined && orphanPid.state === "running");
  // A process that is not this component (other arguments) named by a stale pid file.
  const otherEvents = new EventLog();
  const other = new ProcessRuntime({
    logDirectory: join(directory, "orphan-other"),
    onEvent: otherEvents.record,
  });
  await other.apply([{ name: "unrelated", command: "sleep", args: ["999"] }]);
  const unrelatedPid = (await otherEvents.next("started", "unrelated")).pid;
  await writeFile(join(logDirectory, "bystander.pid"), `${unrelatedPid}\n`);
  const events = new EventLog();
  const second = new ProcessRuntime({ logDirectory, onEvent: events.record });
  try {
    await second.apply([spec, { name: "bystander", command: "sleep", args: ["1000"] }]);
    const restartedPid = (await events.next("started", "member")).pid;
    assert.notEqual(restartedPid, orphanPid.pid);
    assert.equal(isAlive(orphanPid.pid), false, "the orphan was killed");
    assert.equal(isAlive(unrelatedPid), true, "a process running something else is left alone");
    assert.equal((await readFile(join(logDirectory, "member.pid"), "utf8")).trim(), String(restartedPid));
    assert.match(
      await readFile(join(logDirectory, "member.log"), "utf8"),
      /killed pid \d+, left running by an earlier run/,
    );
  } finally {
    await second.stop();
    await other.stop();
    await first.stop();
  }
});
