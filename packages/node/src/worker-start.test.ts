// Goal: a built worker starts whatever flags its process runs with: from source (a test or
// benchmark through tsx: the source condition and tsx's loader dropped) and in a daemon the
// supervisor started with V8 heap flags (which `new Worker` refuses when given explicitly:
// every blob fetch of such a daemon failed when they were passed on). Method: the flag filter
// on its own, Node's own validation of the list it gives, and a child process with the
// daemons' flags hashing a file on the built hash worker.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { daemonV8Flags } from "./mesh/supervisor.js";
import { builtWorkerExecArgv } from "./worker-start.js";

const builtHashInWorker = new URL("../dist/content/hash-in-worker.js", import.meta.url);

describe("builtWorkerExecArgv", () => {
  test("drops the source condition and tsx's loader, in every spelling, and V8's heap flags; keeps the rest", () => {
    assert.deepEqual(
      builtWorkerExecArgv([
        "--conditions=source",
        "--import",
        "tsx",
        "--max-old-space-size=512",
        ...daemonV8Flags,
        "-C",
        "source",
        "--import=tsx/esm",
        "--conditions",
        "production",
        "--require",
        "./trace.cjs",
        "--enable-source-maps",
      ]),
      ["--conditions", "production", "--require", "./trace.cjs", "--enable-source-maps"],
    );
  });

  test("leaves a built process's flags to Node's own inheritance (undefined) when none is from source", () => {
    assert.equal(builtWorkerExecArgv([]), undefined);
    assert.equal(builtWorkerExecArgv([...daemonV8Flags, "--enable-source-maps"]), undefined);
  });

  test("Node accepts the list it gives for a process from source that also runs with the daemons' flags", async () => {
    const execArgv = builtWorkerExecArgv([...daemonV8Flags, "--conditions=source", "--import", "tsx"]);
    assert.deepEqual(execArgv, []);
    const worker = new Worker("require('node:worker_threads').parentPort.postMessage('up')", {
      eval: true,
      execArgv: execArgv!,
    });
    const message = await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    assert.equal(message, "up");
    await worker.terminate();
  });

  test("a process run with the daemons' V8 flags hashes a file on the built hash worker", () => {
    assert.ok(existsSync(builtHashInWorker), "the node package is built (turbo builds before testing)");
    const directory = mkdtempSync(join(tmpdir(), "revoada-worker-flags-"));
    try {
      const file = join(directory, "data");
      writeFileSync(file, Buffer.alloc(100_000, 7));
      // A script file, not -e: `--input-type` would be inherited by the worker too.
      const script = join(directory, "hash.mjs");
      writeFileSync(
        script,
        `const { hashFileInWorker } = await import(${JSON.stringify(builtHashInWorker.href)});\n` +
          `const tree = await hashFileInWorker(${JSON.stringify(file)});\n` +
          "process.stdout.write(JSON.stringify({ size: tree.size }));\n",
      );
      const child = spawnSync(process.execPath, [...daemonV8Flags, script], {
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(child.status, 0, child.stderr);
      assert.deepEqual(JSON.parse(child.stdout), { size: 100_000 });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
