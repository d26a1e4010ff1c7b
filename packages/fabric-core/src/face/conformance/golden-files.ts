import { type Dirent, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { FaceFile } from "../contract.js";

/**
 * Golden-file IO for the conformance kit. This is the only file in fabric-core that touches
 * the disk, and only test code reaches it (face packages call the kit from their tests).
 */

/** Every file under `directory`, as relative POSIX paths with their text, sorted by path. */
export function readGoldenDirectory(directory: string): FaceFile[] {
  const files: FaceFile[] = [];
  const pending = [directory];
  for (let round = 0; round < 100_000 && pending.length > 0; round += 1) {
    const current = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else
        files.push({
          path: relative(directory, path).split(sep).join("/"),
          content: readFileSync(path, "utf8"),
        });
    }
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Replaces `directory`'s contents with `files` (UPDATE_GOLDEN=1). */
export function writeGoldenDirectory(directory: string, files: readonly FaceFile[]): void {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  for (const file of files) {
    const path = join(directory, ...file.path.split("/"));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content);
  }
}

export function isGoldenUpdate(): boolean {
  return process.env.UPDATE_GOLDEN === "1";
}
