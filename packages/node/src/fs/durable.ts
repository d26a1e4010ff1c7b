import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
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

/**
 * Writes a whole file and fsyncs it; its directory entry is the caller's to make durable
 * (`writeFileAtomic` renames it into place, the blob store moves it into another directory).
 */
export async function writeFileSynced(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions & { readonly flag?: "w" | "wx" } = {},
): Promise<void> {
  const handle = await open(path, options.flag ?? "w", options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp file, fsync, rename, directory fsync. Leaves no temp file behind on failure. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const temporary = temporaryPathFor(path);
  try {
    await writeFileSynced(temporary, data, { ...options, flag: "wx" });
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

/** Bytes written between two background fdatasyncs of a large file (see `WritebackPacer`). */
export const writebackStepBytes = 32 * 1024 * 1024;

/**
 * Starts a large file's writeback while it is being written, so that its final fsync has
 * little left to do. The kernel keeps written pages dirty in memory until a share of RAM is
 * dirty or they are 30 s old (gigabytes on a 24 GiB machine), so a file written in a few
 * seconds and then fsynced pays for all of its bytes at the end: 0.3-0.8 s per GiB on the
 * benchmark machine. Here, after every `stepBytes` written, an fdatasync runs in the
 * background (at most one at a time, never awaited by the writer), and `syncAll` waits for it
 * and fsyncs what is left. Node has no `sync_file_range`, which would start the writeback
 * without the wait for the device's cache flush; one fdatasync per step is the portable form.
 *
 * Durability is unchanged: nothing is promised before `syncAll` resolves, and `syncAll`
 * reports a background sync's failure (Linux reports a writeback error to one fsync only).
 */
export class WritebackPacer {
  private writtenSinceSync = 0;
  private running: Promise<void> | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly handle: FileHandle,
    private readonly stepBytes: number = writebackStepBytes,
  ) {
    if (!(Number.isSafeInteger(stepBytes) && stepBytes > 0))
      throw new RangeError("stepBytes must be positive");
  }

  /** Counts bytes just written; starts a background fdatasync when a step is full and none runs. */
  noteWritten(bytes: number): void {
    this.writtenSinceSync += bytes;
    if (this.running !== null || this.writtenSinceSync < this.stepBytes) return;
    this.writtenSinceSync = 0;
    this.running = this.handle
      .datasync()
      .catch((error: unknown) => {
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** Waits for the background sync and fsyncs the file: everything written so far is durable. */
  async syncAll(): Promise<void> {
    await this.caughtUp();
    await this.handle.sync();
    this.writtenSinceSync = 0;
  }

  /** Waits for the background sync; throws if any background sync failed. */
  async caughtUp(): Promise<void> {
    await this.running;
    if (this.failure !== null) throw this.failure;
  }

  /** Waits for a background sync (before the handle is closed); its failure is not reported. */
  async settle(): Promise<void> {
    await this.running;
  }
}
