/**
 * `pnpm bench content`: the content layer's numbers.
 *
 * 1. Hashing MB/s on one core: hash-wasm BLAKE3 one-shot, the chunk-group tree the store
 *    builds (hash-wasm + JS parent nodes), the pure-JS compression alone, and `b3sum` (one
 *    thread and all threads) on the same bytes when it is installed.
 * 2. One verified transfer of 1 GiB between two processes on loopback: a `revoada blob serve`
 *    child seeds it, this process fetches it (every group verified, written, fsynced, renamed).
 *    Beside it, its ceiling: the same bytes copied raw over loopback TCP from a child process
 *    and fdatasync'd (bench/lib/raw-copy.ts), and the transfer's share of it; after it, the
 *    raw copy again with its writeback started every 32 MiB as the store does, so that the
 *    store's incremental sync is not counted as a gain over a raw copy that could do the same.
 * 3. One seed to 8 fetchers of 256 MiB: `blob serve` plus 8 `blob get --listen` processes that
 *    also serve each other; total time against one fetcher alone, and the seed's upload
 *    relative to the blob size.
 *
 * Child processes run the built CLI (`packages/node/dist`) when present, else the source
 * through tsx (slower to start). Times of 2 and 3 include connection setup, not process start
 * (each fetcher reports its own fetch time; the swarm's total runs from the first fetcher's
 * start to the last one's end).
 *
 * 4. Encryption's cost: one verified transfer of 256 MiB over the node transport (cluster key,
 *    ed25519 handshake), AES-256-GCM frames against authenticated-only frames (the transport's
 *    benchmark mode, `REVOADA_BENCH_UNENCRYPTED_FRAMES=1`), same two processes otherwise.
 *    `--encryption-rounds N` repeats the pair N times, the order alternating (encrypted first
 *    in odd rounds), and reports every transfer and the medians.
 *
 * Usage: `pnpm bench content --help` (bench/lib/args.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  BlobTreeBuilder,
  chunkGroupBytes,
  hashToHex,
  loadBlobHasher,
} from "../packages/fabric-core/src/content/index.js";
import { signerFromSeed } from "../packages/fabric-core/src/vocabulary/index.js";
// The fetcher runs from the build, as `revoada blob get` does: its hashing thread starts from
// the built modules, not through tsx (worker-start.ts, `builtWorkerExecArgv`).
import { fetchBlob } from "../packages/node/dist/content/blob-fetcher.js";
import { BlobStore } from "../packages/node/dist/content/blob-store.js";
import { connectFrameLink } from "../packages/node/dist/content/frame-link.js";
import { writeGeneratedFile } from "../packages/node/src/content/generated-file.js";
import { TransportContentLinks } from "../packages/node/src/content/transport-links.js";
import { writebackStepBytes } from "../packages/node/src/fs/durable.js";
import { FrameCipher } from "../packages/node/src/transport/handshake.js";
import { benchArgs } from "./lib/args.js";
import { type RawCopy, rawTcpCopy } from "./lib/raw-copy.js";
import { type Figure, figure, percentile, processCpuMs, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "content",
  summary: "hashing MB/s, a verified transfer beside a raw copy, a swarm of fetchers, and encryption's cost",
  flags: {
    "hash-mib": { type: "string", value: "N", default: "256", help: "MiB hashed by each hasher" },
    "transfer-mib": { type: "string", value: "N", default: "1024", help: "MiB of the verified transfer" },
    "swarm-mib": { type: "string", value: "N", default: "256", help: "MiB fetched by the swarm" },
    fetchers: { type: "string", value: "N", default: "8", help: "fetcher processes of the swarm" },
    "encryption-mib": {
      type: "string",
      value: "N",
      default: "256",
      help: "MiB of each transfer of the encryption comparison",
    },
    "encryption-rounds": {
      type: "string",
      value: "N",
      default: "1",
      help: "encrypted / authenticated-only pairs, the order alternating",
    },
    only: {
      type: "string",
      value: "PART",
      choices: ["hashing", "transfer", "swarm", "encryption"],
      defaultText: "every part",
      help: "run one part",
    },
  },
});

const mebibyte = 1024 * 1024;
const hashMib = args.integer("hash-mib");
const transferMib = args.integer("transfer-mib");
const swarmMib = args.integer("swarm-mib");
const encryptionMib = args.integer("encryption-mib");
const encryptionRounds = args.integer("encryption-rounds");
const fetcherCount = args.integer("fetchers");
const only = args.values.only ?? null;
const root = new URL("..", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "revoada-bench-content-"));
const builtCli = join(root, "packages/node/dist/cli/main.js");
const figures: Figure[] = [];
const notes: string[] = [];

function cliCommand(args: readonly string[]): [string, string[]] {
  if (existsSync(builtCli)) return [process.execPath, [join(root, "packages/node/bin/revoada.js"), ...args]];
  const entry = `import { main } from ${JSON.stringify(join(root, "packages/node/src/cli/main.ts"))}; process.exitCode = await main(process.argv);`;
  return [
    process.execPath,
    [
      "--conditions=source",
      "--import",
      import.meta.resolve("tsx"),
      "--input-type=module",
      "-e",
      entry,
      "revoada",
      ...args,
    ],
  ];
}

function startCli(args: readonly string[]): ChildProcess {
  const [command, commandArgs] = cliCommand(args);
  return spawn(command, commandArgs, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
}

function collect(child: ChildProcess): { text: () => string } {
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (part: string) => {
    text += part;
  });
  child.stderr?.setEncoding("utf8").on("data", (part: string) => {
    text += part;
  });
  return { text: () => text };
}

async function waitForText(
  output: { text: () => string },
  pattern: RegExp,
  what: string,
): Promise<RegExpExecArray> {
  for (let attempt = 0; attempt < 6000; attempt += 1) {
    const match = pattern.exec(output.text());
    if (match !== null) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${output.text().slice(-500)}`);
}

function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

async function benchHashing(): Promise<void> {
  const file = join(scratch, "hash.bin");
  const size = hashMib * mebibyte;
  await writeGeneratedFile(file, size, 1);
  const data = new Uint8Array((await import("node:fs")).readFileSync(file));
  const hasher = await loadBlobHasher();
  hasher.hash(data.subarray(0, 16 * mebibyte));
  let started = performance.now();
  const plain = hashToHex(hasher.hash(data));
  figures.push(
    figure(
      "hash-wasm BLAKE3, one core",
      megabytesPerSecond(size, performance.now() - started),
      "MB/s",
      ">= 650 (anchor B1)",
    ),
  );
  started = performance.now();
  const builder = new BlobTreeBuilder(hasher);
  for (let at = 0; at < size; at += mebibyte) builder.update(data.subarray(at, at + mebibyte));
  const tree = builder.finish();
  figures.push(
    figure(
      "chunk-group tree (store, verify), one core",
      megabytesPerSecond(size, performance.now() - started),
      "MB/s",
    ),
  );
  if (tree.hash !== plain) throw new Error("tree root differs from the plain hash");
  const jsBytes = 16 * mebibyte;
  started = performance.now();
  for (let at = 0, group = 0; at + chunkGroupBytes <= jsBytes; at += chunkGroupBytes, group += 1) {
    // A group one byte short goes through the pure-JS path (as a blob's last group does).
    hasher.groupChainingValue(group, data.subarray(at, at + chunkGroupBytes - 1));
  }
  figures.push(
    figure(
      "pure-JS BLAKE3 compression, one core",
      megabytesPerSecond(jsBytes, performance.now() - started),
      "MB/s",
    ),
  );
  for (const threads of [1, 0]) {
    const args = threads === 1 ? ["--num-threads", "1", "--no-names", file] : ["--no-names", file];
    started = performance.now();
    const run = spawnSync("b3sum", args, { encoding: "utf8" });
    const ms = performance.now() - started;
    if (run.status !== 0) {
      notes.push("b3sum is not installed (apt-get install b3sum): no native comparison");
      break;
    }
    if (run.stdout.trim() !== plain) throw new Error("b3sum disagrees with hash-wasm");
    const label =
      threads === 1 ? "b3sum 1 thread (native, incl. read)" : "b3sum all threads (native, incl. read)";
    figures.push(figure(label, megabytesPerSecond(size, ms), "MB/s"));
  }
  rmSync(file);
}

async function seedStore(
  name: string,
  sizeMib: number,
): Promise<{ dataDir: string; hash: string; size: number }> {
  const dataDir = join(scratch, name);
  const file = join(scratch, `${name}.bin`);
  const size = sizeMib * mebibyte;
  await writeGeneratedFile(file, size, sizeMib);
  const store = await BlobStore.open(dataDir);
  const { hash } = await store.putFile(file);
  rmSync(file);
  return { dataDir, hash, size };
}

async function startSeed(
  dataDir: string,
): Promise<{ child: ChildProcess; address: string; output: { text: () => string } }> {
  const child = startCli(["blob", "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"]);
  const output = collect(child);
  const address = (await waitForText(output, /listening (\S+)/, "the seed to listen"))[1]!;
  return { child, address, output };
}

async function stopSeed(seed: { child: ChildProcess; output: { text: () => string } }): Promise<number> {
  seed.child.kill("SIGTERM");
  const uploaded = await waitForText(seed.output, /uploaded (\d+) bytes/, "the seed's upload count");
  return Number(uploaded[1]);
}

/**
 * The same number of bytes copied raw over loopback TCP and fdatasync'd (bench/lib/raw-copy.ts);
 * with `writebackStepBytes`, its writeback started along the way as the blob store does.
 */
async function rawCopyCeiling(size: number, writebackStep: number | null): Promise<RawCopy> {
  const file = join(scratch, "raw-source.bin");
  await writeGeneratedFile(file, size, size / mebibyte);
  const copied = await rawTcpCopy(file, join(scratch, "raw-target.bin"), writebackStep);
  rmSync(file);
  rmSync(join(scratch, "raw-target.bin"));
  if (copied.bytes !== size) throw new Error(`raw copy moved ${copied.bytes} of ${size} bytes`);
  return copied;
}

async function benchTransfer(): Promise<void> {
  const source = await seedStore("transfer-seed", transferMib);
  const raw = await rawCopyCeiling(source.size, null);
  const seed = await startSeed(source.dataDir);
  const target = await BlobStore.open(join(scratch, "transfer-target"));
  const [host, port] = seed.address.split(":") as [string, string];
  const link = await connectFrameLink(host, Number(port));
  const started = performance.now();
  let verifiedMs = 0;
  const stored = await fetchBlob({
    store: target,
    hash: source.hash as never,
    providers: new Map([["seed", { link, complete: true }]]),
    onProgress: (status) => {
      if (status.done && verifiedMs === 0) verifiedMs = performance.now() - started;
    },
  });
  const ms = performance.now() - started;
  link.close();
  await stopSeed(seed);
  if (stored.hash !== source.hash || stored.size !== source.size)
    throw new Error("transfer produced another blob");
  // After the transfer, so the two raw copies stand on either side of it.
  const rawPaced = await rawCopyCeiling(source.size, writebackStepBytes);
  const rate = megabytesPerSecond(source.size, ms);
  figures.push(figure(`verified transfer of ${transferMib} MiB, 2 processes`, rate, "MB/s", ">= 400"));
  figures.push(figure(`verified transfer of ${transferMib} MiB, time`, ms, "ms"));
  figures.push(
    figure(
      `  of which streaming + verifying (before the final fsync)`,
      megabytesPerSecond(source.size, verifiedMs),
      "MB/s",
    ),
  );
  figures.push(figure("  completion (final fsync, outboard and data into the store)", ms - verifiedMs, "ms"));
  const rawRate = megabytesPerSecond(source.size, raw.ms);
  figures.push(
    figure(`raw TCP copy + fdatasync of ${transferMib} MiB, 2 processes (the ceiling)`, rawRate, "MB/s"),
  );
  figures.push(figure("  of which the final fdatasync", raw.syncMs, "ms"));
  figures.push(figure("  verified transfer / raw copy", rate / rawRate, "x", ">= 0.9"));
  const pacedRate = megabytesPerSecond(source.size, rawPaced.ms);
  figures.push(
    figure(
      `raw TCP copy, writeback every ${writebackStepBytes / mebibyte} MiB as the store does, + fdatasync`,
      pacedRate,
      "MB/s",
    ),
  );
  figures.push(figure("  of which the final fdatasync", rawPaced.syncMs, "ms"));
  figures.push(figure("  verified transfer / that raw copy", rate / pacedRate, "x"));
  rmSync(source.dataDir, { recursive: true, force: true });
  rmSync(join(scratch, "transfer-target"), { recursive: true, force: true });
}

/** Ports for fetchers to listen on: taken from the kernel, then released for the children. */
async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import("node:net");
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((resolve) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function runFetchers(seedAddress: string, hash: string, count: number, label: string): Promise<number> {
  const ports = await freePorts(count);
  const children = ports.map((port, i) => {
    const peers = [
      seedAddress,
      ...ports.filter((other) => other !== port).map((other) => `127.0.0.1:${other}`),
    ];
    const child = startCli([
      "blob",
      "get",
      hash,
      "-o",
      join(scratch, `${label}-${i}.out`),
      "--data-dir",
      join(scratch, `${label}-${i}`),
      "--listen",
      `127.0.0.1:${port}`,
      "--linger-ms",
      "600000",
      "--peer",
      ...peers,
    ]);
    return { child, output: collect(child) };
  });
  const times = await Promise.all(
    children.map(async ({ output }) => {
      const match = await waitForText(output, /fetched \S+ \((\d+) bytes\) in (\d+) ms/, `${label} fetcher`);
      return { endMs: performance.now(), fetchMs: Number(match[2]) };
    }),
  );
  for (const { child } of children) child.kill("SIGTERM");
  const firstStart = Math.min(...times.map((t) => t.endMs - t.fetchMs));
  const lastEnd = Math.max(...times.map((t) => t.endMs));
  for (let i = 0; i < count; i += 1) rmSync(join(scratch, `${label}-${i}`), { recursive: true, force: true });
  return lastEnd - firstStart;
}

async function benchSwarm(): Promise<void> {
  const source = await seedStore("swarm-seed", swarmMib);
  const single = await startSeed(source.dataDir);
  const singleMs = await runFetchers(single.address, source.hash, 1, "single");
  await stopSeed(single);
  const swarm = await startSeed(source.dataDir);
  const swarmMs = await runFetchers(swarm.address, source.hash, fetcherCount, "swarm");
  const uploaded = await stopSeed(swarm);
  figures.push(figure(`1 fetcher of ${swarmMib} MiB`, singleMs, "ms"));
  figures.push(figure(`${fetcherCount} fetchers of ${swarmMib} MiB, all done`, swarmMs, "ms"));
  figures.push(figure(`${fetcherCount} fetchers / 1 fetcher time`, swarmMs / singleMs, "x", "<= 2.0"));
  figures.push(figure("seed upload / blob size", uploaded / source.size, "x", "<= 1.5"));
}

/** Part 4: the same transfer over the node transport, with encrypted and with MAC-only frames. */
async function benchEncryption(): Promise<void> {
  const source = await seedStore("encryption-seed", encryptionMib);
  const keyFile = join(scratch, "cluster.key");
  writeFileSync(keyFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  const rates: Record<"aead" | "mac", number[]> = { aead: [], mac: [] };
  /** CPU ms (both processes) per MiB moved: what encryption costs, whatever the machine's load. */
  const cpuPerMib: Record<"aead" | "mac", number[]> = { aead: [], mac: [] };
  const rounds = Array.from({ length: encryptionRounds }, (_, round) =>
    round % 2 === 0 ? (["aead", "mac"] as const) : (["mac", "aead"] as const),
  );
  for (const [round, mode] of rounds.flatMap((modes, round) => modes.map((mode) => [round, mode] as const))) {
    // Read by each Transport when it is made: the seed child's and this process's.
    process.env.REVOADA_BENCH_UNENCRYPTED_FRAMES = mode === "mac" ? "1" : "0";
    const seed = await startSeedWith(source.dataDir, ["--cluster-key-file", keyFile]);
    const [seedId, seedAddress] = seed.address.split("@") as [string, string];
    const links = new TransportContentLinks({
      signer: signerFromSeed(randomBytes(32)),
      clusterKey: Buffer.from(readFileSync(keyFile, "utf8").trim(), "hex"),
      onNewPeer: () => undefined,
    });
    const [host, port] = seedAddress.split(":") as [string, string];
    const link = links.linkTo(seedId as never, { host, port: Number(port) });
    const target = await BlobStore.open(join(scratch, `encryption-target-${mode}`));
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const seedCpuBefore = processCpuMs(seed.child.pid);
    const stored = await fetchBlob({
      store: target,
      hash: source.hash as never,
      providers: new Map([[seedId, { link, complete: true }]]),
    });
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000 + processCpuMs(seed.child.pid) - seedCpuBefore;
    await links.close();
    await stopSeed(seed);
    if (stored.hash !== source.hash) throw new Error("transfer produced another blob");
    rates[mode].push(megabytesPerSecond(source.size, ms));
    cpuPerMib[mode].push(cpuMs / encryptionMib);
    if (encryptionRounds > 1)
      notes.push(
        `round ${round + 1} ${mode === "aead" ? "encrypted" : "authenticated only"}: ${rates[mode].at(-1)!.toFixed(1)} MB/s, ${cpuPerMib[mode].at(-1)!.toFixed(1)} CPU-ms per MiB (load ${loadavg()[0]!.toFixed(1)})`,
      );
    rmSync(join(scratch, `encryption-target-${mode}`), { recursive: true, force: true });
  }
  process.env.REVOADA_BENCH_UNENCRYPTED_FRAMES = "0";
  const label = `verified transfer of ${encryptionMib} MiB over the node transport`;
  const of = encryptionRounds > 1 ? " (median)" : "";
  const rate = { aead: percentile(rates.aead, 50), mac: percentile(rates.mac, 50) };
  figures.push(figure(`${label}, encrypted (AES-256-GCM)${of}`, rate.aead, "MB/s"));
  figures.push(figure(`${label}, authenticated only (HMAC)${of}`, rate.mac, "MB/s"));
  figures.push(figure("  encrypted / authenticated-only", rate.aead / rate.mac, "x"));
  figures.push(figure(`${label}, CPU per MiB, encrypted${of}`, percentile(cpuPerMib.aead, 50), "ms"));
  figures.push(figure(`${label}, CPU per MiB, authenticated only${of}`, percentile(cpuPerMib.mac, 50), "ms"));
  rmSync(source.dataDir, { recursive: true, force: true });
  // The frame cipher alone, one core: seal then open, bulk frames and Raft-sized frames.
  for (const [frameBytes, total] of [
    [64 * 1024, 256 * mebibyte],
    [256, 32 * mebibyte],
  ] as const) {
    const payload = randomBytes(frameBytes);
    for (const mode of ["aead", "mac"] as const) {
      const key = randomBytes(32);
      const [sealer, opener] = [new FrameCipher(key, mode), new FrameCipher(key, mode)];
      const frames = total / frameBytes;
      const started = process.cpuUsage();
      for (let i = 0; i < frames; i += 1) {
        const [body, tag] = sealer.seal(payload);
        if (opener.open(Buffer.concat([body, tag])) === null) throw new Error("a frame did not open");
      }
      // CPU time, not wall time: on a loaded machine this process gets a slice of a core.
      const used = process.cpuUsage(started);
      const seconds = (used.user + used.system) / 1e6;
      const what = mode === "aead" ? "AES-256-GCM" : "HMAC only";
      figures.push(
        frameBytes > 1024
          ? figure(
              `frame cipher, ${frameBytes / 1024} KiB frames, seal + open, ${what}`,
              total / seconds / 1e6,
              "MB/CPU-s",
            )
          : figure(
              `frame cipher, ${frameBytes} B frames, seal + open, ${what}`,
              (seconds / frames) * 1e6,
              "us/frame",
            ),
      );
    }
  }
}

async function startSeedWith(
  dataDir: string,
  extra: readonly string[],
): Promise<{ child: ChildProcess; address: string; output: { text: () => string } }> {
  const child = startCli(["blob", "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...extra]);
  const output = collect(child);
  const address = (await waitForText(output, /listening (\S+)/, "the seed to listen"))[1]!;
  return { child, address, output };
}

const loadAtStart = loadavg()[0]!;
if (only === null || only === "hashing") await benchHashing();
if (only === null || only === "transfer") await benchTransfer();
if (only === null || only === "swarm") await benchSwarm();
if (only === null || only === "encryption") await benchEncryption();
rmSync(scratch, { recursive: true, force: true });
notes.push(
  `1-minute load average: ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores)`,
);
notes.push(existsSync(builtCli) ? "children ran the built CLI" : "children ran the CLI from source (tsx)");
publishBenchReport({ name: "content", fsyncMode: "real fsync", figures, notes });
process.exit(0);
