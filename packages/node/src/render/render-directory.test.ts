/**
 * Goal: rendering into a directory is atomic, idempotent and respectful of files revoada
 * does not own.
 * Method: render into a temp directory, then re-render the same files, changed files and
 * fewer files, checking contents, inodes and mtimes, the manifest, and a user's own files.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  manifestName,
  RenderConflictError,
  RenderPathError,
  readDirectoryFiles,
  readManifest,
  renderToDirectory,
} from "./render-directory.js";

let directory = "";

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-render-"));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const first = [
  { path: "top.target", content: "[Unit]\nDescription=top\n" },
  { path: "nodes/a/web.service", content: "[Service]\nExecStart=/bin/true\n" },
  { path: "nodes/b/db.service", content: "[Service]\nExecStart=/bin/false\n" },
];

async function identity(path: string): Promise<[number, number]> {
  const info = await stat(join(directory, path));
  return [info.ino, info.mtimeMs];
}

describe("renderToDirectory", () => {
  it("writes every file and an ownership manifest with sha256 per path", async () => {
    const report = await renderToDirectory(directory, "systemd", first);
    assert.deepEqual(report.written, ["top.target", "nodes/a/web.service", "nodes/b/db.service"]);
    assert.equal(await readFile(join(directory, "nodes/a/web.service"), "utf8"), first[1]!.content);
    const manifest = await readManifest(directory);
    assert.equal(manifest?.face, "systemd");
    assert.deepEqual(Object.keys(manifest?.files ?? {}).sort(), [
      "nodes/a/web.service",
      "nodes/b/db.service",
      "top.target",
    ]);
    assert.match(manifest?.files["top.target"] ?? "", /^[0-9a-f]{64}$/);
    const names = await readdir(directory);
    assert.ok(!names.some((name) => name.includes(".tmp-")), "no temporary file is left behind");
  });

  it("does not rewrite unchanged files: same inode, same mtime, manifest untouched", async () => {
    await renderToDirectory(directory, "systemd", first);
    const past = new Date("2020-01-01T00:00:00Z");
    for (const path of [...first.map((file) => file.path), manifestName])
      await utimes(join(directory, path), past, past);
    const before = await Promise.all([...first.map((file) => file.path), manifestName].map(identity));
    const report = await renderToDirectory(directory, "systemd", first);
    assert.deepEqual(report.written, []);
    assert.equal(report.unchanged.length, 3);
    const after = await Promise.all([...first.map((file) => file.path), manifestName].map(identity));
    assert.deepEqual(after, before);
  });

  it("rewrites only changed files, atomically (a new inode)", async () => {
    await renderToDirectory(directory, "systemd", first);
    const [webBefore, dbBefore] = [
      await identity("nodes/a/web.service"),
      await identity("nodes/b/db.service"),
    ];
    const changed = first.map((file) =>
      file.path === "nodes/a/web.service" ? { ...file, content: "[Service]\nExecStart=/bin/echo\n" } : file,
    );
    const report = await renderToDirectory(directory, "systemd", changed);
    assert.deepEqual(report.written, ["nodes/a/web.service"]);
    assert.notEqual(
      (await identity("nodes/a/web.service"))[0],
      webBefore[0],
      "renamed over, not written in place",
    );
    assert.deepEqual(await identity("nodes/b/db.service"), dbBefore);
  });

  it("removes owned files the state no longer has, and their empty folders", async () => {
    await renderToDirectory(directory, "systemd", first);
    const report = await renderToDirectory(directory, "systemd", first.slice(0, 2));
    assert.deepEqual(report.removed, ["nodes/b/db.service"]);
    assert.deepEqual((await readdir(join(directory, "nodes"))).sort(), ["a"]);
    assert.equal((await readManifest(directory))?.files["nodes/b/db.service"], undefined);
  });

  it("does not trust a manifest that names paths outside the directory: nothing is removed on its word", async () => {
    await renderToDirectory(directory, "systemd", first);
    const outside = join(directory, "..", `outside-${Date.now()}.txt`);
    await writeFile(outside, "not revoada's\n");
    const tampered = {
      version: 1,
      face: "systemd",
      files: { "../outside.txt": "0".repeat(64), "nodes/b/db.service": "0".repeat(64) },
    };
    await writeFile(join(directory, manifestName), JSON.stringify(tampered));
    assert.equal(await readManifest(directory), undefined, "the manifest is refused");
    const report = await renderToDirectory(directory, "systemd", first.slice(0, 2));
    assert.deepEqual(report.removed, [], "an untrusted manifest owns nothing");
    assert.equal(await readFile(outside, "utf8"), "not revoada's\n");
    assert.equal(await readFile(join(directory, "nodes/b/db.service"), "utf8"), first[2]!.content);
    await rm(outside);
  });

  it("never touches files it does not own, even in folders it renders into", async () => {
    await mkdir(join(directory, "nodes/a"), { recursive: true });
    await writeFile(join(directory, "notes.txt"), "mine\n");
    await writeFile(join(directory, "nodes/a/override.conf"), "mine too\n");
    await renderToDirectory(directory, "systemd", first);
    await renderToDirectory(directory, "systemd", []);
    assert.equal(await readFile(join(directory, "notes.txt"), "utf8"), "mine\n");
    assert.equal(await readFile(join(directory, "nodes/a/override.conf"), "utf8"), "mine too\n");
    assert.deepEqual(await readdir(join(directory, "nodes")), ["a"], "a folder holding a user's file stays");
    assert.deepEqual(
      (await readDirectoryFiles(directory)).map((file) => file.path),
      ["nodes/a/override.conf", "notes.txt"],
    );
  });

  it("refuses to overwrite an unowned file at a rendered path, before writing anything", async () => {
    await writeFile(join(directory, "top.target"), "someone else's\n");
    await assert.rejects(renderToDirectory(directory, "systemd", first), RenderConflictError);
    assert.equal(await readFile(join(directory, "top.target"), "utf8"), "someone else's\n");
    assert.deepEqual(await readdir(directory), ["top.target"]);
  });

  it("rejects unsafe paths from a face", async () => {
    await assert.rejects(
      renderToDirectory(directory, "x", [{ path: "../escape", content: "" }]),
      RenderPathError,
    );
    await assert.rejects(
      renderToDirectory(directory, "x", [{ path: manifestName, content: "" }]),
      RenderPathError,
    );
  });
});
