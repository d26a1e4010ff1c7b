// Goal: the blob commands work across processes on loopback: put prints the b3sum, ls and
// verify report the store, get fetches from a `blob serve` process with progress, and a get
// killed with SIGKILL mid-transfer resumes without fetching again what it had verified.
// Method: the CLI in child processes on temp data dirs; for the kill, a provider in this
// process that serves only the first groups and then goes silent, so the kill lands mid-blob.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  ContentRequest,
  chunkGroupBytes,
  decodeContentFrame,
  encodeContentFrame,
  GroupBitfield,
  groupCountOf,
  planContentResponse,
} from "@revoada/fabric-core/content";
import type { Blake3Hash } from "@revoada/fabric-core/vocabulary";
import { BlobStore } from "../src/content/blob-store.js";
import { ContentService } from "../src/content/content-service.js";
import { listenFrameLinks } from "../src/content/frame-link.js";
import { writeGeneratedFile } from "../src/content/generated-file.js";
import { runCli, spawnCli } from "./cli-harness.js";

const scratch = mkdtempSync(join(tmpdir(), "revoada-blob-cli-"));
const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

/** The Debian tool's answer, for a cross-check; CI installs it (scripts/setup-system.sh) and must have it. */
function b3sum(path: string): string | null {
  try {
    return execFileSync("b3sum", ["--no-names", path], { encoding: "utf8" }).trim();
  } catch (error) {
    if (process.env.CI === "true")
      throw new Error("b3sum is missing in CI (scripts/setup-system.sh installs it)", { cause: error });
    return null;
  }
}

async function waitFor<T>(what: string, probe: () => T | null | Promise<T | null>): Promise<T> {
  for (let attempt = 0; attempt < 1200; attempt += 1) {
    const value = await probe();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `revoada blob get HASH -o OUT --peer PEER --data-dir DIR EXTRA...` */
function blobGet(hash: string, out: string, peer: string, dataDir: string, extra: readonly string[] = []) {
  return runCli(["blob", "get", hash, "-o", out, "--peer", peer, "--data-dir", dataDir, ...extra]);
}

/** Starts `revoada blob serve ARGS` and resolves with the address it prints. */
async function startServe(args: readonly string[]): Promise<string> {
  const server = spawnCli(["blob", "serve", ...args]);
  cleanups.push(() => server.kill("SIGKILL"));
  let output = "";
  server.stdout.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  return waitFor("blob serve to listen", () => /listening (\S+)/.exec(output)?.[1] ?? null);
}

describe("revoada blob", () => {
  it("put prints the b3sum; ls lists it; verify says ok, then catches corruption", async () => {
    const file = join(scratch, "put.bin");
    await writeGeneratedFile(file, 300_000, 5);
    const dataDir = join(scratch, "put-store");
    const put = await runCli(["blob", "put", file, "--data-dir", dataDir]);
    assert.equal(put.code, 0, put.stderr);
    const hash = put.stdout.trim();
    assert.match(hash, /^[0-9a-f]{64}$/);
    const sum = b3sum(file);
    if (sum !== null) assert.equal(hash, sum);
    const ls = await runCli(["blob", "ls", "--data-dir", dataDir, "-o", "json"]);
    assert.deepEqual(JSON.parse(ls.stdout), [{ hash, size: 300_000 }]);
    const verify = await runCli(["blob", "verify", hash, "--data-dir", dataDir]);
    assert.equal(verify.code, 0);
    assert.equal(verify.stdout, `${hash} ok\n`);
    const stored = join(dataDir, "blobs", "complete", hash);
    const bytes = readFileSync(stored);
    bytes[12_345] = bytes[12_345]! ^ 1;
    writeFileSync(stored, bytes);
    assert.equal((await runCli(["blob", "verify", hash, "--data-dir", dataDir])).code, 1);
    assert.equal((await runCli(["blob", "verify", "f".repeat(64), "--data-dir", dataDir])).code, 4);
    assert.equal((await runCli(["blob", "verify", "nothex", "--data-dir", dataDir])).code, 3);
    assert.equal((await runCli(["blob", "put", join(scratch, "missing"), "--data-dir", dataDir])).code, 4);
  });

  it("get fetches from a blob serve process, with progress on stderr", async () => {
    const file = join(scratch, "served.bin");
    await writeGeneratedFile(file, 6 * 1024 * 1024 + 7, 6);
    const seedDir = join(scratch, "seed-store");
    const hash = (await runCli(["blob", "put", file, "--data-dir", seedDir])).stdout.trim();
    const address = await startServe(["--data-dir", seedDir, "--listen", "127.0.0.1:0"]);
    const out = join(scratch, "fetched.bin");
    const get = await blobGet(hash, out, address, join(scratch, "get-store"));
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(file));
    assert.match(get.stderr, /6\.0 \/ 6\.0 MiB +[\d.]+ MB\/s +providers 1\/1/);
    const unreachable = await blobGet("a".repeat(64), out, "127.0.0.1:1", join(scratch, "x"), [
      "--connect-timeout-ms",
      "300",
    ]);
    assert.equal(unreachable.code, 5);
  });

  it("get and serve authenticate each other with a cluster key and node identities", async () => {
    const keyFile = join(scratch, "cluster.key");
    writeFileSync(keyFile, `${"7e".repeat(32)}\n`);
    const file = join(scratch, "secret-free.bin");
    await writeGeneratedFile(file, 200_000, 8);
    const seedDir = join(scratch, "auth-seed");
    const hash = (await runCli(["blob", "put", file, "--data-dir", seedDir])).stdout.trim();
    const peer = await startServe(["--data-dir", seedDir, "--cluster-key-file", keyFile]);
    assert.match(peer, /^[0-9a-f]{64}@127\.0\.0\.1:\d+$/);
    const out = join(scratch, "auth-fetched.bin");
    const get = await blobGet(hash, out, peer, join(scratch, "auth-get"), ["--cluster-key-file", keyFile]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(file));
    const plainPeer = await blobGet(hash, out, "127.0.0.1:9", join(scratch, "auth-bad"), [
      "--cluster-key-file",
      keyFile,
    ]);
    assert.equal(plainPeer.code, 2, "with a cluster key a peer must be named by its NodeId");
  });

  it("resumes after SIGKILL mid-transfer without fetching verified groups again", async () => {
    const size = 8 * 1024 * 1024 + 4321;
    const groupCount = groupCountOf(size);
    const servedGroups = 192;
    const file = join(scratch, "resume.bin");
    await writeGeneratedFile(file, size, 7);
    const seed = await BlobStore.open(join(scratch, "resume-seed"));
    const { hash } = await seed.putFile(file);
    const outboard = await seed.outboard(hash, size);
    // A provider that holds (and says it holds) only the first `servedGroups` groups: the
    // fetch gets those, then waits for someone with the rest.
    const held = new GroupBitfield(groupCount);
    for (let index = 0; index < servedGroups; index += 1) held.maybeSet(index);
    const stingy = await listenFrameLinks("127.0.0.1", 0, (link) => {
      link.onFrame(async (bytes) => {
        const decoded = decodeContentFrame(bytes);
        const request = decoded.ok ? ContentRequest.safeParse(decoded.value.message) : null;
        if (request === null || !request.success) return;
        const plan = planContentResponse(request.data, { hash, size, outboard, durable: held });
        const payload =
          plan.read === null ? plan.payload : await seed.readRange(hash, plan.read.offset, plan.read.length);
        link.send(encodeContentFrame({ message: plan.message, payload }));
      });
    });
    cleanups.push(() => stingy.server.close());
    const dataDir = join(scratch, "resume-target");
    const out = join(scratch, "resumed.bin");
    const first = spawnCli([
      "blob",
      "get",
      hash,
      "-o",
      out,
      "--peer",
      `127.0.0.1:${stingy.port}`,
      "--data-dir",
      dataDir,
    ]);
    cleanups.push(() => first.kill("SIGKILL"));
    const bitsPath = join(dataDir, "blobs", "partial", `${hash}.bits`);
    await waitFor("the first groups to be written", () => {
      try {
        const bits = new GroupBitfield(groupCount, readFileSync(bitsPath));
        return bits.count() >= servedGroups ? bits : null;
      } catch {
        return null;
      }
    });
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));

    const honestStore = await BlobStore.open(join(scratch, "resume-honest"));
    await honestStore.putFile(file);
    const honest = new ContentService(honestStore);
    const listening = await listenFrameLinks("127.0.0.1", 0, (link) => honest.serve(link));
    cleanups.push(() => listening.server.close());
    const second = await blobGet(hash, out, `127.0.0.1:${listening.port}`, dataDir);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(file));
    assert.equal(
      honest.counters.uploadedBytes,
      size - servedGroups * chunkGroupBytes,
      "only the missing groups were sent",
    );
    const verify = await runCli(["blob", "verify", hash as Blake3Hash, "--data-dir", dataDir]);
    assert.equal(verify.code, 0);
  });
});
