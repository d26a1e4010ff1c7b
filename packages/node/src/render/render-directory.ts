import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rmdir, unlink } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { compareText, type FaceFile } from "@revoada/fabric-core/face";
import { assert, canonicalJson } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { fsyncDirectory, writeFileAtomic } from "../fs/durable.js";

/**
 * Writes a face's files into a directory the way ARCHITECTURE.md §3 and §6 ask:
 * - every write is atomic (temp file, fsync, rename, directory fsync: `writeFileAtomic`);
 * - a file whose bytes would not change is not rewritten (its mtime and inode stay);
 * - files this renderer wrote before and the state no longer has are removed;
 * - files it did not write are never touched: ownership is recorded in
 *   `.revoada-manifest.json` (path -> sha256), and a rendered path that collides with a
 *   file the manifest does not own is refused before anything is written.
 */

export const manifestName = ".revoada-manifest.json";

/**
 * The manifest decides what a render may delete, so it is read like any input: a manifest
 * whose paths are not safe relative paths (`..`, absolute) or whose hashes are not sha256 is
 * not trusted, and nothing is removed on its word.
 */
const RenderManifestSchema = z.strictObject({
  version: z.literal(1),
  face: z.string().max(256),
  /** Owned relative paths and the sha256 of the bytes written. */
  files: z.record(
    z.string().max(4096).refine(isSafePath, "not a safe relative path"),
    z.string().regex(/^[0-9a-f]{64}$/),
  ),
});
export type RenderManifest = z.infer<typeof RenderManifestSchema>;

export interface RenderReport {
  readonly directory: string;
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
  readonly removed: readonly string[];
}

export class RenderConflictError extends Error {
  override readonly name = "RenderConflictError";
  constructor(readonly paths: readonly string[]) {
    super(`refusing to overwrite files revoada does not own: ${paths.join(", ")}`);
  }
}

export class RenderPathError extends Error {
  override readonly name = "RenderPathError";
  constructor(readonly path: string) {
    super(`a face produced an unsafe path: ${path}`);
  }
}

function sha256(content: string | Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

function isSafePath(path: string): boolean {
  const segments = path.split("/");
  const safe = path.length > 0 && !path.startsWith("/") && !path.includes("\\") && path !== manifestName;
  return safe && !segments.some((segment) => segment === "" || segment === "." || segment === "..");
}

function checkPath(path: string): void {
  if (!isSafePath(path)) throw new RenderPathError(path);
}

export async function readManifest(directory: string): Promise<RenderManifest | undefined> {
  const text = await readFile(join(directory, manifestName), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = RenderManifestSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

async function existingBytes(path: string): Promise<Buffer | undefined | "not-a-file"> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  if (!info.isFile()) return "not-a-file";
  return readFile(path);
}

/** Creates `directory`'s missing ancestors below `root`, fsyncing each parent that gained an entry. */
async function ensureDirectory(root: string, directory: string, created: Set<string>): Promise<void> {
  const missing: string[] = [];
  for (let current = directory; current !== root && current.startsWith(root); current = dirname(current)) {
    if (created.has(current)) break;
    const info = await lstat(current).catch(() => undefined);
    if (info?.isDirectory()) break;
    missing.push(current);
  }
  for (const path of missing.reverse()) {
    await mkdir(path);
    await fsyncDirectory(dirname(path));
    created.add(path);
  }
}

/** Removes now-empty directories from `directory` up to (not including) `root`. */
async function pruneEmpty(root: string, directory: string): Promise<void> {
  for (
    let current = directory;
    current !== root && current.startsWith(root + sep);
    current = dirname(current)
  ) {
    const entries = await readdir(current).catch(() => ["?"]);
    if (entries.length > 0) return;
    await rmdir(current);
    await fsyncDirectory(dirname(current));
  }
}

export async function renderToDirectory(
  directory: string,
  face: string,
  files: readonly FaceFile[],
): Promise<RenderReport> {
  await mkdir(directory, { recursive: true });
  const root = directory.endsWith(sep) ? directory.slice(0, -1) : directory;
  const previous = (await readManifest(root))?.files ?? {};
  const plan: { file: FaceFile; target: string; hash: string; same: boolean }[] = [];
  const conflicts: string[] = [];
  for (const file of files) {
    checkPath(file.path);
    const target = join(root, ...file.path.split("/"));
    const bytes = await existingBytes(target);
    const hash = sha256(file.content);
    const owned = previous[file.path] !== undefined;
    if (bytes === "not-a-file" || (bytes !== undefined && !owned && sha256(bytes) !== hash))
      conflicts.push(file.path);
    plan.push({ file, target, hash, same: bytes instanceof Buffer && sha256(bytes) === hash });
  }
  if (conflicts.length > 0) throw new RenderConflictError(conflicts.sort(compareText));
  const written: string[] = [];
  const unchanged: string[] = [];
  const created = new Set<string>();
  for (const step of plan) {
    if (step.same) {
      unchanged.push(step.file.path);
      continue;
    }
    await ensureDirectory(root, dirname(step.target), created);
    await writeFileAtomic(step.target, step.file.content);
    written.push(step.file.path);
  }
  const current = new Set(files.map((file) => file.path));
  const removed: string[] = [];
  for (const path of Object.keys(previous).sort(compareText)) {
    if (current.has(path)) continue;
    checkPath(path);
    const target = join(root, ...path.split("/"));
    const gone = await unlink(target)
      .then(() => true)
      .catch(() => false);
    if (!gone) continue;
    removed.push(path);
    await fsyncDirectory(dirname(target));
    await pruneEmpty(root, dirname(target));
  }
  const manifest: RenderManifest = {
    version: 1,
    face,
    files: Object.fromEntries(plan.map((step) => [step.file.path, step.hash])),
  };
  const manifestText = canonicalJson(manifest);
  const manifestPath = join(root, manifestName);
  const oldManifest = await readFile(manifestPath, "utf8").catch(() => undefined);
  if (oldManifest !== manifestText) await writeFileAtomic(manifestPath, manifestText);
  assert(written.length + unchanged.length === files.length, "every file is written or unchanged");
  return { directory: root, written, unchanged, removed };
}

/** Every file under `directory` except the manifest, as face files with POSIX relative paths. */
export async function readDirectoryFiles(directory: string): Promise<FaceFile[]> {
  const files: FaceFile[] = [];
  const pending = [directory];
  for (let round = 0; round < 1_000_000 && pending.length > 0; round += 1) {
    const current = pending.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) {
        const relativePath = relative(directory, path).split(sep).join("/");
        const temporary = entry.name.startsWith(".") && entry.name.includes(".tmp-");
        if (relativePath === manifestName || temporary) continue;
        files.push({ path: relativePath, content: await readFile(path, "utf8") });
      }
    }
  }
  return files.sort((a, b) => compareText(a.path, b.path));
}
