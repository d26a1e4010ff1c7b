/**
 * Part 5 of `pnpm bench attest`, in a process of its own that runs the build as
 * `revoada chain verify` does: `bench/attest.ts` starts it with `node --import tsx` and without
 * the `source` export condition, so that this file alone goes through tsx and every module it
 * times (the chain walk, node:crypto's Ed25519, `verifyChainParallel` and its worker threads)
 * is the built JavaScript an operator runs. It reads the sample export named on its command
 * line, alternates the one-core Ed25519 loop with `verifyChainParallel` run by run (both see
 * the same load), and prints one JSON line of `ParallelRuns` to stdout.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import {
  blockBodyLine,
  blockSigningMessage,
  parseChainExport,
} from "../../packages/fabric-core/dist/attest/index.js";
import { loadBlake3, verifySignature } from "../../packages/fabric-core/dist/vocabulary/index.js";
import { verifyChainParallel } from "../../packages/node/dist/attest/parallel-verify.js";

export interface ParallelRuns {
  readonly signatures: number;
  readonly loads: number[];
  readonly loopWallMs: number[];
  readonly loopCpuMs: number[];
  readonly parallelWallMs: number[];
  /** CPU of the whole process: the main thread and the worker threads. */
  readonly parallelCpuMs: number[];
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [path, runsText, threadsText] = process.argv.slice(2);
  if (path === undefined || runsText === undefined || threadsText === undefined) {
    throw new Error("usage: attest-parallel.ts SAMPLE RUNS THREADS");
  }
  await loadBlake3();
  const text = readFileSync(path, "utf8");
  const parsed = parseChainExport(text);
  if (!parsed.ok) throw new Error("the sample does not parse");
  const jobs = parsed.value.blocks.map((block) => ({
    key: block.body.proposer,
    message: blockSigningMessage(blockBodyLine(block.body)),
    signature: Buffer.from(block.signature!, "hex"),
  }));
  const runs: ParallelRuns = {
    signatures: jobs.length,
    loads: [],
    loopWallMs: [],
    loopCpuMs: [],
    parallelWallMs: [],
    parallelCpuMs: [],
  };
  for (let run = 0; run < Number(runsText); run += 1) {
    runs.loads.push(loadavg()[0]!);
    let started = performance.now();
    let cpu = process.cpuUsage();
    for (const job of jobs) {
      if (!verifySignature(job.key, job.message, job.signature)) throw new Error("a sample signature is bad");
    }
    runs.loopCpuMs.push(cpuMs(cpu));
    runs.loopWallMs.push(performance.now() - started);
    started = performance.now();
    cpu = process.cpuUsage();
    const report = await verifyChainParallel(text, { mode: "every-block", threads: Number(threadsText) });
    runs.parallelCpuMs.push(cpuMs(cpu));
    runs.parallelWallMs.push(performance.now() - started);
    if (!report.ok || report.summary.blockSignaturesChecked !== jobs.length)
      throw new Error("parallel every-block verification failed");
  }
  process.stdout.write(`${JSON.stringify(runs)}\n`);
}
