import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * `data_dir/node.pid`: the lock that keeps one process per data directory (two would
 * interleave writes to the same log) and how `revoada kill` finds a node's process.
 */
export const pidFileName = "node.pid";

/** The pid in the data directory's pid file, when that process still runs. */
export async function runningPidOf(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, pidFileName), "utf8").catch(() => "");
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) && isRunning(pid) ? pid : undefined;
}

/** Takes the lock; a pid file left by a killed process (its pid no longer runs) is taken over. */
export async function lockDataDirectory(dataDir: string): Promise<void> {
  const holder = await runningPidOf(dataDir);
  if (holder !== undefined && holder !== process.pid) {
    throw new Error(`${dataDir} is in use by a running node (pid ${holder})`);
  }
  const path = join(dataDir, pidFileName);
  await rm(path, { force: true });
  await writeFile(path, `${process.pid}\n`, { flag: "wx" });
}

/** Releases the lock, only when this process holds it. */
export async function unlockDataDirectory(dataDir: string): Promise<void> {
  if ((await runningPidOf(dataDir)) === process.pid) await rm(join(dataDir, pidFileName), { force: true });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM";
  }
}
