import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  type BlobHasher,
  type BlobTree,
  buildBlobTree,
  chunkGroupBytes,
  type FetchResume,
  GroupBitfield,
  groupCountOf,
  isGroupOf,
  isOutboardOf,
  loadBlobHasher,
  planGarbageCollection,
} from "@revoada/fabric-core/content";
import { assert, Blake3Hash, Millis } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { fsyncDirectory, WritebackPacer, writeFileAtomic, writeFileSynced } from "../fs/durable.js";
import { hashFile, writeAll } from "./hash-file.js";
import { hashFileInWorker } from "./hash-in-worker.js";

/**
 * The content-addressed blob store on disk:
 *
 *   <data-dir>/blobs/complete/<hash>            the blob, unaltered
 *   <data-dir>/blobs/complete/<hash>.outboard   its group chaining values (none for <= 16 KiB)
 *   <data-dir>/blobs/partial/<hash>.{data,tree,bits}   a download in progress (resumable)
 *   <data-dir>/blobs/partial/put-*              a put in progress
 *   <data-dir>/blobs/gc.json                    when each unpinned blob was first seen unpinned
 *
 * A blob becomes visible only by the rename of its fully written, fsynced and verified data
 * into `complete/`, after its outboard is durable there; so a reader sees a whole verified blob
 * with its outboard, or nothing, and so does a reader after a crash. Two
 * puts of the same bytes write separate temporary files and rename the same content over the
 * same name, which is safe. Files of 4 MiB or more are hashed in a worker thread.
 */

export interface StoredBlob {
  readonly hash: Blake3Hash;
  readonly size: number;
}

/** Files at least this large are hashed off the event loop. */
export const workerHashBytesMin = 4 * 1024 * 1024;

/** `gc.json`: when each unpinned blob was first seen unpinned. */
const GcStateFile = z.record(Blake3Hash, Millis);

function parseGcState(text: string | undefined): z.infer<typeof GcStateFile> {
  if (text === undefined) return {};
  try {
    return GcStateFile.parse(JSON.parse(text));
  } catch {
    return {};
  }
}

export class BlobStore {
  readonly completeDir: string;
  readonly partialDir: string;
  private readonly gcFile: string;

  private constructor(
    readonly root: string,
    readonly hasher: BlobHasher,
  ) {
    this.completeDir = join(root, "complete");
    this.partialDir = join(root, "partial");
    this.gcFile = join(root, "gc.json");
  }

  static async open(dataDir: string): Promise<BlobStore> {
    const store = new BlobStore(join(dataDir, "blobs"), await loadBlobHasher());
    await mkdir(store.completeDir, { recursive: true });
    await mkdir(store.partialDir, { recursive: true });
    return store;
  }

  blobPath(hash: Blake3Hash): string {
    return join(this.completeDir, hash);
  }

  private outboardPath(hash: Blake3Hash): string {
    return join(this.completeDir, `${hash}.outboard`);
  }

  /** Stores bytes held in memory. */
  async put(data: Uint8Array): Promise<StoredBlob> {
    const temporary = this.temporaryPath();
    const tree = buildBlobTree(this.hasher, data);
    const handle = await open(temporary, "wx", 0o644);
    try {
      await writeAll(handle, data, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return this.commit(tree, temporary);
  }

  /** Stores a file's bytes, streaming; large files are hashed in a worker thread. */
  async putFile(path: string): Promise<StoredBlob> {
    const temporary = this.temporaryPath();
    try {
      const { size } = await stat(path);
      const tree =
        size >= workerHashBytesMin
          ? await hashFileInWorker(path, temporary)
          : await hashFile(this.hasher, path, temporary);
      return await this.commit(tree, temporary);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  async has(hash: Blake3Hash): Promise<boolean> {
    return (await this.stat(hash)) !== null;
  }

  async stat(hash: Blake3Hash): Promise<StoredBlob | null> {
    try {
      const info = await stat(this.blobPath(hash));
      return { hash, size: info.size };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async read(hash: Blake3Hash): Promise<Uint8Array | null> {
    try {
      return await readFile(this.blobPath(hash));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** Bytes `[offset, offset + length)` of a stored blob (fewer at its end). */
  async readRange(hash: Blake3Hash, offset: number, length: number): Promise<Uint8Array> {
    const handle = await open(this.blobPath(hash), "r");
    try {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async outboard(hash: Blake3Hash, size: number): Promise<Uint8Array> {
    if (groupCountOf(size) === 1) return new Uint8Array(0);
    return readFile(this.outboardPath(hash));
  }

  /** Every complete blob, sorted by hash. */
  async list(): Promise<StoredBlob[]> {
    const blobs: StoredBlob[] = [];
    for (const name of (await readdir(this.completeDir)).sort()) {
      const hash = Blake3Hash.safeParse(name);
      if (!hash.success) continue;
      const info = await this.stat(hash.data);
      if (info !== null) blobs.push(info);
    }
    return blobs;
  }

  async delete(hash: Blake3Hash): Promise<boolean> {
    const existed = await this.has(hash);
    await rm(this.blobPath(hash), { force: true });
    await rm(this.outboardPath(hash), { force: true });
    await fsyncDirectory(this.completeDir);
    return existed;
  }

  /** Re-reads a stored blob and checks that its bytes still hash to its name and outboard. */
  async verify(hash: Blake3Hash): Promise<"ok" | "missing" | "corrupt"> {
    const info = await this.stat(hash);
    if (info === null) return "missing";
    const path = this.blobPath(hash);
    const tree =
      info.size >= workerHashBytesMin ? await hashFileInWorker(path) : await hashFile(this.hasher, path);
    if (tree.hash !== hash) return "corrupt";
    const outboard = await this.outboard(hash, info.size).catch(() => null);
    if (outboard === null || Buffer.compare(outboard, tree.outboard) !== 0) return "corrupt";
    return "ok";
  }

  /**
   * Deletes every blob not in `pins` that has stayed unpinned for `retentionMs`, remembering
   * the others in gc.json. Returns what it deleted.
   */
  async collectGarbage(
    pins: ReadonlySet<Blake3Hash>,
    nowMs: number,
    retentionMs: number,
  ): Promise<Blake3Hash[]> {
    const stored = (await this.list()).map((blob) => blob.hash);
    // The file decides what is deleted, so it is read like any input: anything that is not a
    // map of blob hashes to times is ignored (every unpinned blob starts its retention anew).
    const previousText = await readFile(this.gcFile, "utf8").catch(() => undefined);
    const previous = parseGcState(previousText);
    const plan = planGarbageCollection({ stored, pins, unpinnedSinceMs: previous, nowMs, retentionMs });
    for (const hash of plan.collect) await this.delete(hash);
    const text = `${JSON.stringify(plan.unpinnedSinceMs)}\n`;
    // A round runs every sync_cadence_ms (200 ms by default): an unchanged file is not written
    // again (an atomic write is two fsyncs).
    if (text !== previousText) await writeFileAtomic(this.gcFile, text);
    return [...plan.collect];
  }

  /** The resumable state of a download of `hash` (created empty when there is none). */
  async openPartial(hash: Blake3Hash, options: PartialBlobOptions = {}): Promise<PartialBlob> {
    const partial = new PartialBlob(this, hash, options);
    await partial.load();
    return partial;
  }

  /** Makes a fully written, fsynced, verified file the stored blob `tree.hash`. */
  async commit(tree: BlobTree, dataPath: string): Promise<StoredBlob> {
    if (tree.outboard.length > 0) await writeFileAtomic(this.outboardPath(tree.hash), tree.outboard);
    return this.placeData(tree, dataPath);
  }

  /**
   * Moves an outboard file, written and fsynced in this store, into `complete/` and makes the
   * move durable. Alone it shows nothing: a blob is its data file; this must come first.
   */
  async placeOutboard(hash: Blake3Hash, fsyncedPath: string): Promise<void> {
    await rename(fsyncedPath, this.outboardPath(hash));
    await fsyncDirectory(this.completeDir);
  }

  /** Moves a fully written, fsynced, verified data file into `complete/`, durably: the commit point. */
  async placeData(blob: StoredBlob, dataPath: string): Promise<StoredBlob> {
    await rename(dataPath, this.blobPath(blob.hash));
    await fsyncDirectory(this.completeDir);
    return { hash: blob.hash, size: blob.size };
  }

  private temporaryPath(): string {
    return join(this.partialDir, `put-${process.pid}-${randomBytes(8).toString("hex")}`);
  }
}

/** The points of `PartialBlob.complete`, in the order each path through it reaches them. */
export type CompletionStep = "data-synced" | "outboard-placed" | "committed" | "cleaned";

export interface PartialBlobOptions {
  /** Bytes written between background fdatasyncs of the data file (`WritebackPacer`). */
  readonly writebackStepBytes?: number;
  /**
   * Called as completion passes each step (tests stop the process there to check that a
   * crash leaves the blob either stored and verifying, or partial and resumable).
   */
  readonly onCompletionStep?: (step: CompletionStep) => void | Promise<void>;
}

/**
 * A download in progress: the data file (groups written at their offsets), the verified tree
 * (size + outboard, written atomically once known), the bitfield of written groups, and the
 * outboard as the store keeps it (written and fsynced beside the transfer, moved into
 * `complete/` at the end). On reopening, groups the bitfield marks are re-verified from the
 * data file before they are trusted, so a torn write after a crash costs a re-fetch, never a
 * bad blob. The data file's writeback runs during the transfer (`WritebackPacer`), so that the
 * fsync at completion has little left to write.
 */
export class PartialBlob {
  private readonly dataPath: string;
  private readonly treePath: string;
  private readonly bitsPath: string;
  private readonly outboardPath: string;
  private data: Awaited<ReturnType<typeof open>> | null = null;
  private writeback: WritebackPacer | null = null;
  private bits: Awaited<ReturnType<typeof open>> | null = null;
  /** The outboard file being written and fsynced since `saveTree`, and the bytes it holds. */
  private outboardWrite: { readonly done: Promise<void>; readonly outboard: Uint8Array } | null = null;
  resume: FetchResume | undefined;

  constructor(
    private readonly store: BlobStore,
    readonly hash: Blake3Hash,
    private readonly options: PartialBlobOptions = {},
  ) {
    const base = join(store.partialDir, hash);
    this.dataPath = `${base}.data`;
    this.treePath = `${base}.tree`;
    this.bitsPath = `${base}.bits`;
    this.outboardPath = `${base}.outboard`;
  }

  async load(): Promise<void> {
    const data = await open(this.dataPath, "a+").then(async (handle) => {
      await handle.close();
      return open(this.dataPath, "r+");
    });
    this.data = data;
    this.writeback = new WritebackPacer(data, this.options.writebackStepBytes);
    try {
      await this.loadResume();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Reads the tree and bitfield a previous download left, and re-verifies its marked groups. */
  private async loadResume(): Promise<void> {
    const treeBytes = await readFile(this.treePath).catch(() => null);
    if (treeBytes === null || treeBytes.length < 8) return;
    const size = Number(Buffer.from(treeBytes).readBigUInt64BE(0));
    const outboard = new Uint8Array(treeBytes.subarray(8));
    const groupCount = groupCountOf(size);
    if (!isOutboardOf(this.hash, groupCount, outboard)) return;
    const bits = await readFile(this.bitsPath).catch(() => null);
    const marked = new GroupBitfield(
      groupCount,
      bits?.length === Math.ceil(groupCount / 8) ? bits : undefined,
    );
    const durable = await this.reverify(size, outboard, marked);
    this.resume = { size, outboard, durable: durable.bytes };
  }

  /** Re-verifies the marked groups, reading the data file 1 MiB at a time. */
  private async reverify(size: number, outboard: Uint8Array, marked: GroupBitfield): Promise<GroupBitfield> {
    const groupCount = groupCountOf(size);
    const durable = new GroupBitfield(groupCount);
    const windowGroups = 64;
    const buffer = Buffer.allocUnsafe(windowGroups * chunkGroupBytes);
    for (let first = 0; first < groupCount; first += windowGroups) {
      const end = Math.min(groupCount, first + windowGroups);
      if (marked.count() === 0 || !this.anyMarked(marked, first, end)) continue;
      const offset = first * chunkGroupBytes;
      const length = Math.min(size, end * chunkGroupBytes) - offset;
      const { bytesRead } = await this.data!.read(buffer, 0, length, offset);
      for (let index = first; index < end; index += 1) {
        if (!marked.has(index)) continue;
        const start = (index - first) * chunkGroupBytes;
        const groupLength = index < groupCount - 1 ? chunkGroupBytes : size - index * chunkGroupBytes;
        if (start + groupLength > bytesRead) continue;
        const group = buffer.subarray(start, start + groupLength);
        if (isGroupOf(this.store.hasher, this.hash, outboard, groupCount, index, group))
          durable.maybeSet(index);
      }
    }
    return durable;
  }

  private anyMarked(marked: GroupBitfield, first: number, end: number): boolean {
    for (let index = first; index < end; index += 1) if (marked.has(index)) return true;
    return false;
  }

  async saveTree(size: number, outboard: Uint8Array): Promise<void> {
    const bytes = Buffer.allocUnsafe(8 + outboard.length);
    bytes.writeBigUInt64BE(BigInt(size), 0);
    bytes.set(outboard, 8);
    await writeFileAtomic(this.treePath, bytes);
    if (outboard.length > 0 && this.outboardWrite === null) {
      // Written beside the transfer, not before it: only completion waits for it.
      const done = writeFileSynced(this.outboardPath, outboard);
      done.catch(() => undefined);
      this.outboardWrite = { done, outboard };
    }
  }

  async writeGroup(offset: number, data: Uint8Array): Promise<void> {
    assert(this.data !== null && this.writeback !== null, "partial blob is open");
    await writeAll(this.data, data, offset);
    this.writeback.noteWritten(data.length);
  }

  /** Records which groups are written (not fsynced: reopening re-verifies them anyway). */
  async saveBits(bitfield: GroupBitfield): Promise<void> {
    assert(this.data !== null, "partial blob is open");
    if (this.bits === null) {
      const opened = await open(this.bitsPath, "w");
      // Two saves racing to open: keep one handle, close the other rather than drop it.
      if (this.bits === null && this.data !== null) this.bits = opened;
      else await opened.close();
    }
    if (this.bits === null) return;
    await writeAll(this.bits, bitfield.bytes, 0);
  }

  async readRange(offset: number, length: number): Promise<Uint8Array> {
    assert(this.data !== null, "partial blob is open");
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.data.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  }

  /**
   * Every group is verified and written: make the data durable and move the blob into the
   * store. The outboard is moved into `complete/` (durably) while the data's last bytes are
   * synced, and the data is renamed in only after both: a blob that shows is whole, fsynced
   * and has its outboard, after a crash at any point as well. Two fsyncs of `complete/`
   * remain: the second rename must not become durable before the first.
   */
  async complete(size: number, outboard: Uint8Array): Promise<StoredBlob> {
    assert(this.data !== null && this.writeback !== null, "partial blob is open");
    assert(groupCountOf(size) === 1 || outboard.length > 0, "a blob of several groups has an outboard");
    if ((await this.data.stat()).size !== size) await this.data.truncate(size);
    const writeback = this.writeback;
    await Promise.all([
      writeback.syncAll().then(() => this.step("data-synced")),
      outboard.length === 0 ? undefined : this.placeOutboard(outboard),
    ]);
    await this.close();
    const stored = await this.store.placeData({ hash: this.hash, size }, this.dataPath);
    await this.step("committed");
    await rm(this.treePath, { force: true });
    await rm(this.bitsPath, { force: true });
    await this.step("cleaned");
    return stored;
  }

  /** The outboard file into `complete/`: the one `saveTree` started, or written now (a resume). */
  private async placeOutboard(outboard: Uint8Array): Promise<void> {
    const started = this.outboardWrite;
    if (started !== null) {
      assert(Buffer.compare(started.outboard, outboard) === 0, "completing with the outboard saved");
      await started.done;
    } else {
      await writeFileSynced(this.outboardPath, outboard);
    }
    this.outboardWrite = null;
    await this.store.placeOutboard(this.hash, this.outboardPath);
    await this.step("outboard-placed");
  }

  private async step(step: CompletionStep): Promise<void> {
    await this.options.onCompletionStep?.(step);
  }

  async close(): Promise<void> {
    await this.writeback?.settle();
    this.writeback = null;
    await this.outboardWrite?.done.catch(() => undefined);
    await this.data?.close();
    this.data = null;
    await this.bits?.close();
    this.bits = null;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
