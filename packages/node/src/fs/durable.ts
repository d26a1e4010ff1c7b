import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Crash-safe file writes (ARCHITECTURE.md §3): a file that must survive a crash is written
 * to a temporary sibling, fsynced, renamed over the target, and then the directory is
 * fsynced so the rename itself is durable. A reader sees the old bytes or the new bytes,
 * never a mix. Async versions for daemons, sync versions for the Raft storage loop (which
 * deliberately blocks: it must be durable before anything is sent).
 */

export interface WriteFileAtomicOptions {
  /** File mode of the new file (default 0o644; identities and keys use 0o600). */
  readonly mode?: number;
}

/** Makes a directory's entries (created, renamed, removed files) durable. */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function fsyncDirectorySync(directory: string): void {
  const descriptor = openSync(directory, "r");
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function temporaryPathFor(path: string): string {
  const suffix = `${process.pid}-${Math.floor(Math.random() * 2 ** 32).toString(16)}`;
  return join(dirname(path), `.${basename(path)}.tmp-${suffix}`);
}

/** Temp file, fsync, rename, directory fsync. Leaves no temp file behind on failure. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const temporary = temporaryPathFor(path);
  const handle = await open(temporary, "wx", options.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

export function writeFileAtomicSync(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): void {
  const temporary = temporaryPathFor(path);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const descriptor = openSync(temporary, "wx", options.mode ?? 0o644);
  try {
    try {
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(descriptor, bytes, written, bytes.length - written);
      }
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // The temp file may not exist; the original error is the one that matters.
    }
    throw error;
  }
  fsyncDirectorySync(dirname(path));
}
