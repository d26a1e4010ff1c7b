/**
 * `pnpm bench attest`: the attestation layer's numbers (docs/attestation.md, issue 6, A1-A3).
 *
 * 1. Append + seal throughput on the leader's path, batched as Raft commits arrive: per block
 *    the leader signs the block its proposal becomes and the chain derives it from the
 *    committed entry; per batch of 64 the chain file gets one write + fdatasync, a checkpoint
 *    is cut and signed, two witnesses check its consistency proof and signature, persist
 *    their state (atomic write) and cosign, and the sealed checkpoint is appended + fdatasync.
 *    The Raft round trip itself is not included (see `pnpm bench raft-core`).
 * 2. A follower applying the same committed entries, checking every leader signature, with
 *    its own chain file.
 * 3. End-to-end verification of a 100 000-block history on one core (one thread): checkpoint
 *    signatures and cosignatures only (a checkpoint per 64 blocks), and every block signature.
 *    The history is a deterministic sample (generated once, cached in the temp directory).
 * 4. Inclusion and consistency proof verification (A3).
 * 5. Every-block verification with the block signatures on worker threads
 *    (`verifyChainParallel`, what `revoada chain verify` runs), beside its peer in the same run:
 *    a one-core loop of plain Ed25519 verifications (node:crypto, keys cached) of the same
 *    blocks' signatures. Issue 14's target: <= 0.6x the loop's time. Both run from the build
 *    (run `pnpm -r build` first) in a child process without the `source` condition
 *    (`bench/lib/attest-parallel.ts`): the code and the worker threads' start an operator has.
 *
 * Usage: `pnpm bench attest --help` (bench/lib/args.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import {
  type AttestChain,
  type CommittedEntry,
  formatCheckpointNote,
  type GenesisRecord,
  generateSampleChain,
  MerkleTree,
  makeGenesis,
  parseChainExport,
  parseCheckpointText,
  type RoleCommand,
  Sealer,
  sampleSigner,
  signRoleProposal,
  verifyChain,
  verifyConsistency,
  verifyInclusion,
  Witness,
} from "../packages/fabric-core/src/attest/index.js";
import {
  encodeProposal,
  loadBlake3,
  type NodeId,
  type Proposal,
  type Signer,
} from "../packages/fabric-core/src/vocabulary/index.js";
import { ChainStore } from "../packages/node/src/attest/chain-store.js";
import { WitnessStore } from "../packages/node/src/attest/witness-store.js";
import { benchArgs } from "./lib/args.js";
import type { ParallelRuns } from "./lib/attest-parallel.js";
import { type Figure, figure, percentile, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "attest",
  summary: "append + seal, a follower's apply, and verification of a sampled history (docs/attestation.md)",
  flags: {
    blocks: { type: "string", value: "N", default: "20000", help: "blocks appended and sealed" },
    "verify-blocks": {
      type: "string",
      value: "N",
      default: "100000",
      help: "blocks of the verified sample history",
    },
    runs: { type: "string", value: "N", default: "3", help: "runs of each verification" },
    threads: {
      type: "string",
      value: "N",
      default: String(availableParallelism()),
      defaultText: `${availableParallelism()}, the cores`,
      help: "threads of the parallel verification, main included",
    },
    only: {
      type: "string",
      value: "PART",
      choices: ["verify", "parallel"],
      defaultText: "every part",
      help: "verify: only the verification parts (3, 4, 5), not append + seal; parallel: only 5",
    },
  },
});

const batchBlocks = 64;
/** Whole batches, so that every batch is due a checkpoint at once. */
const appendBlocks = Math.ceil(args.integer("blocks") / batchBlocks) * batchBlocks;
const verifyBlocks = args.integer("verify-blocks");
const runs = args.integer("runs");
const threads = args.integer("threads");
const onlyVerify = args.values.only === "verify" || args.values.only === "parallel";
const onlyParallel = args.values.only === "parallel";

await loadBlake3();
const loadAtStart = loadavg()[0]!;
const scratch = isMainThread ? mkdtempSync(join(tmpdir(), "revoada-bench-attest-")) : "";
const figures: Figure[] = [];
const notes: string[] = [];

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function commandFor(sequence: number, workers: readonly NodeId[]): RoleCommand {
  const node = workers[sequence % workers.length]!;
  const step = Math.floor(sequence / workers.length) % 4;
  if (step === 0) return { type: "promote", node, roles: ["worker"], reason: "scaling-up" };
  if (step === 1) return { type: "quarantine", node, reason: "health-degraded" };
  if (step === 2) return { type: "restore", node };
  return { type: "demote", node, roles: ["worker"], reason: "scaling-down" };
}

interface CosignJob {
  readonly note: string;
  readonly oldSize: number;
  readonly proof: readonly Uint8Array[];
  readonly members: readonly string[];
  readonly nowMs: number;
}

type CosignReply =
  | {
      readonly ok: true;
      readonly size: number;
      readonly name: string;
      readonly keyId: number;
      readonly signature: Uint8Array;
    }
  | { readonly ok: false; readonly message: string };

/**
 * A witness in a worker thread (as a witness is another node in production): it checks the
 * checkpoint, persists its state (one positioned write + fdatasync) and answers with the
 * cosignature, in the order jobs arrive.
 */
function runWitnessWorker(data: { seed: string; origin: string; directory: string }): void {
  const witness = new Witness(sampleSigner(500, data.seed), data.origin, null);
  const store = WitnessStore.open(data.directory);
  parentPort!.postMessage({ ready: true });
  parentPort!.on("message", (job: CosignJob) => {
    const outcome = witness.cosign(job, new Set(job.members), job.nowMs);
    if (!outcome.ok) {
      parentPort!.postMessage({ ok: false, message: outcome.message } satisfies CosignReply);
      return;
    }
    store.save(outcome.state);
    const { name, keyId, signature } = outcome.cosignature;
    parentPort!.postMessage({
      ok: true,
      size: outcome.state.size,
      name,
      keyId,
      signature,
    } satisfies CosignReply);
  });
}

/** Starts a witness thread and resolves once it is ready (start-up is not timed). */
async function startWitness(seed: string, origin: string, directory: string): Promise<Worker> {
  const source = `import { register } from "tsx/esm/api"; register(); await import(${JSON.stringify(import.meta.url)});`;
  const worker = new Worker(source, {
    eval: true,
    execArgv: ["--conditions=source"],
    workerData: { role: "witness", seed, origin, directory },
  });
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return worker;
}

/**
 * 1 and 2: the leader appends and seals while two witness threads cosign (pipelined: the
 * leader does not wait for a round before the next batch), then a follower applies the
 * same committed entries.
 */
async function appendAndSeal(): Promise<void> {
  const founders = [0, 1, 2].map((i) => sampleSigner(500, `founder-${i}`));
  const leader = founders[0]!;
  const workers = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => sampleSigner(500, `worker-${i}`).nodeId);
  const genesis = makeGenesis({
    v: 1,
    origin: "revoada.example/bench",
    control_plane: founders.map((signer) => signer.nodeId).sort(),
    operators: [],
    require_operator_signature: false,
  });
  const members = new Set(genesis.body.control_plane);
  // The leader derives blocks it signed itself: no need to check its own signatures.
  const leaderStore = ChainStore.open(join(scratch, "leader"), genesis, { verifySignatures: false });
  const witnesses = await Promise.all(
    [1, 2].map(async (i) => ({
      worker: await startWitness(`founder-${i}`, genesis.body.origin, join(scratch, `witness-${i}`)),
      sentSize: 0,
    })),
  );
  const sealer = new Sealer(
    {
      origin: genesis.body.origin,
      cosignaturesMin: 2,
      sealIntervalMs: 1000,
      blocksPerCheckpointMax: batchBlocks,
    },
    leader,
  );
  const cutAtMs = new Map<number, number>();
  const sealRoundsMs: number[] = [];
  let failure: string | null = null;
  for (const { worker } of witnesses) {
    worker.on("message", (reply: CosignReply) => {
      if (!reply.ok) {
        failure = reply.message;
        return;
      }
      const cosignature = {
        name: reply.name,
        keyId: reply.keyId,
        signature: new Uint8Array(reply.signature),
      };
      const sealed = sealer.addCosignature(reply.size, cosignature, members);
      if (sealed === null) return;
      leaderStore.appendCheckpoint(reply.size, formatCheckpointNote(sealed), { sync: false });
      sealRoundsMs.push(performance.now() - cutAtMs.get(reply.size)!);
    });
  }
  const entries: CommittedEntry[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let first = 0; first < appendBlocks; first += batchBlocks) {
    for (let sequence = first; sequence < first + batchBlocks; sequence += 1) {
      entries.push(appendOne(leaderStore.chain, leader, sequence, workers));
    }
    leaderStore.persistBlocks();
    const note = sealer.maybeCheckpoint(leaderStore.chain.tree, Math.floor(performance.now()));
    if (note === null) throw new Error("a full batch is due a checkpoint");
    const size = leaderStore.chain.tree.size;
    cutAtMs.set(size, performance.now());
    const text = formatCheckpointNote(note);
    for (const witness of witnesses) {
      const proof = leaderStore.chain.tree.consistencyProof(witness.sentSize, size);
      const job: CosignJob = {
        note: text,
        oldSize: witness.sentSize,
        proof,
        members: [...members],
        nowMs: Date.now(),
      };
      witness.worker.postMessage(job);
      witness.sentSize = size;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const appendedMs = performance.now() - started;
  for (let wait = 0; sealer.sealedSize < appendBlocks && failure === null && wait < 6000; wait += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (failure !== null || sealer.sealedSize < appendBlocks) throw new Error(`sealing stalled: ${failure}`);
  leaderStore.persistBlocks();
  const sealedMs = performance.now() - started;
  const leaderCpuMs = cpuMs(cpu);
  await Promise.all(witnesses.map(({ worker }) => worker.terminate()));
  figures.push(
    figure(
      "append+seal throughput (all sealed)",
      Math.round((appendBlocks / sealedMs) * 1000),
      "blocks/s",
      ">= 5000",
    ),
    figure("append throughput (leader loop)", Math.round((appendBlocks / appendedMs) * 1000), "blocks/s"),
    figure("process cpu per block (leader + 2 witness threads)", (leaderCpuMs * 1000) / appendBlocks, "us"),
    figure(
      "append+seal cpu-bound ceiling (1 / cpu per block)",
      Math.round((appendBlocks / leaderCpuMs) * 1000),
      "blocks/s",
      ">= 5000",
    ),
    figure("seal round p50 (cut to 2 cosignatures)", percentile(sealRoundsMs, 50), "ms"),
    figure("seal round p99", percentile(sealRoundsMs, 99), "ms", "<= 250 (A1 time-to-integrate)"),
  );
  followerApply(genesis, entries);
  const check = verifyChain(leaderStore.exportText(), {
    mode: "every-block",
    trustedGenesisHash: genesis.hash,
  });
  if (!check.ok || check.summary.sealedSize !== appendBlocks)
    throw new Error("the benchmark chain does not verify");
  leaderStore.close();
  notes.push(
    `append: ${appendBlocks} blocks, a checkpoint per ${batchBlocks}, 2 witness threads (2-of-2), pipelined; ` +
      "the leader's chain file gets one fdatasync per batch (checkpoints ride it), each witness one per cosignature",
  );
}

/** The leader signs the block its proposal becomes and derives it from the committed entry. */
function appendOne(
  chain: AttestChain,
  leader: Signer,
  sequence: number,
  workers: readonly NodeId[],
): CommittedEntry {
  const proposal: Proposal = {
    command: commandFor(sequence, workers),
    proposer: leader.nodeId,
    issued_at_ms: 1_780_000_000_000 + sequence,
    origin: "policy",
    force: false,
  };
  const index = chain.head.index + 1;
  const signed = signRoleProposal(chain.head, 1, index, proposal, leader);
  const entry = { term: 1, index, data: encodeProposal(signed.proposal) };
  chain.applyCommitted(entry);
  return entry;
}

/** 2: a follower applies the committed entries, checking every leader signature. */
function followerApply(genesis: GenesisRecord, entries: readonly CommittedEntry[]): void {
  const followerStore = ChainStore.open(join(scratch, "follower"), genesis);
  const started = performance.now();
  for (let first = 0; first < entries.length; first += batchBlocks) {
    for (const entry of entries.slice(first, first + batchBlocks)) {
      const outcome = followerStore.chain.applyCommitted(entry);
      if (outcome.type !== "appended" || outcome.problems.length > 0)
        throw new Error("follower rejected a block");
    }
    followerStore.persistBlocks();
  }
  const elapsedMs = performance.now() - started;
  followerStore.close();
  figures.push(
    figure(
      "follower apply (every signature checked)",
      Math.round((entries.length / elapsedMs) * 1000),
      "blocks/s",
    ),
  );
}

/** The sample history, generated once per size and kept in the temp directory. */
const samplePath = join(tmpdir(), `revoada-attest-sample-${verifyBlocks}-v1.jsonl`);

/** 3: verification of a large history, checkpoints only and every block. */
function verifyHistory(): string {
  const cached = samplePath;
  if (!existsSync(cached)) {
    const generatedAt = performance.now();
    writeFileSync(cached, generateSampleChain({ blocks: verifyBlocks, checkpointEvery: 64 }).text);
    notes.push(
      `generated the ${verifyBlocks}-block sample in ${Math.round(performance.now() - generatedAt)} ms`,
    );
  }
  const text = readFileSync(cached, "utf8");
  if (onlyParallel) return text;
  for (const mode of ["checkpoints", "every-block"] as const) {
    const wallMs: number[] = [];
    const cpuTimesMs: number[] = [];
    for (let run = 0; run < (mode === "checkpoints" ? runs : Math.min(runs, 2)); run += 1) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const report = verifyChain(text, { mode });
      cpuTimesMs.push(cpuMs(cpu));
      wallMs.push(performance.now() - started);
      if (!report.ok || report.summary.blocks !== verifyBlocks)
        throw new Error(`${mode} verification failed`);
    }
    const target = mode === "checkpoints" ? "<= 2000" : "<= 12000";
    figures.push(
      figure(`verify ${verifyBlocks} blocks, ${mode} (best wall)`, Math.min(...wallMs), "ms", target),
      figure(`verify ${verifyBlocks} blocks, ${mode} (best cpu)`, Math.min(...cpuTimesMs), "ms"),
      figure(`verify ${verifyBlocks} blocks, ${mode} (median wall)`, percentile(wallMs, 50), "ms"),
    );
  }
  notes.push(
    `history: ${text.length} bytes, one checkpoint per 64 blocks (1 leader signature + 1 cosignature each)`,
  );
  return text;
}

/**
 * 5: every-block verification with worker threads beside a one-core loop of plain Ed25519
 * verifications of the same signatures, interleaved run by run so both see the same load.
 */
async function parallelVerify(samplePath: string): Promise<void> {
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "lib", "attest-parallel.ts"),
      samplePath,
      String(runs),
      String(threads),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
  );
  if (child.status !== 0) throw new Error(`bench/lib/attest-parallel.ts exited with ${child.status}`);
  const measured = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as ParallelRuns;
  const loads = measured.loads;
  const loopWall = measured.loopWallMs;
  const loopCpu = measured.loopCpuMs;
  const parallelWall = measured.parallelWallMs;
  const parallelCpu = measured.parallelCpuMs;
  const loopMedian = percentile(loopWall, 50);
  const parallelMedian = percentile(parallelWall, 50);
  figures.push(
    figure(`peer: one-core ed25519 loop, ${measured.signatures} verifies (median wall)`, loopMedian, "ms"),
    figure(
      "peer: one-core ed25519 loop, per verify (median cpu)",
      (percentile(loopCpu, 50) * 1000) / measured.signatures,
      "us",
    ),
    figure(
      `verify ${measured.signatures} blocks, every-block, ${threads} threads (median wall)`,
      parallelMedian,
      "ms",
    ),
    figure(
      `verify ${measured.signatures} blocks, every-block, ${threads} threads (median cpu, all threads)`,
      percentile(parallelCpu, 50),
      "ms",
    ),
    figure(
      // What the parallel path costs beyond the verifications, whatever the load: on an idle
      // 2-core machine its wall time is about half its CPU time.
      "ratio: parallel CPU (all threads) / one-core loop CPU (medians)",
      percentile(parallelCpu, 50) / percentile(loopCpu, 50),
      "x",
    ),
    figure(
      "ratio: parallel every-block / one-core ed25519 loop (medians)",
      parallelMedian / loopMedian,
      "x",
      "<= 0.6",
    ),
    figure(
      "ratio: parallel every-block / one-core ed25519 loop (bests)",
      Math.min(...parallelWall) / Math.min(...loopWall),
      "x",
      "<= 0.6",
    ),
  );
  notes.push(
    `parallel verification: ${runs} runs interleaved with the peer loop; 1-minute load before each run ${loads.map((load) => load.toFixed(2)).join(", ")}; ` +
      `loop wall ${loopWall.map(Math.round).join("/")} ms, parallel wall ${parallelWall.map(Math.round).join("/")} ms`,
  );
}

/** 4: proof verification on a tree of the history's size. */
function proofs(text: string): void {
  const parsed = parseChainExport(text);
  if (!parsed.ok) throw new Error("the sample does not parse");
  const tree = new MerkleTree();
  for (const block of parsed.value.blocks) tree.append(Buffer.from(block.hash, "hex"));
  const size = tree.size;
  const root = tree.rootAt();
  const inclusionUs: number[] = [];
  const consistencyUs: number[] = [];
  let proofHashes = 0;
  for (let i = 0; i < 2000; i += 1) {
    const index = (i * 7919) % size;
    const proof = tree.inclusionProof(index, size);
    proofHashes = Math.max(proofHashes, proof.length);
    const started = performance.now();
    if (!verifyInclusion(index, size, tree.leafHash(index), proof, root))
      throw new Error("inclusion proof refused");
    inclusionUs.push((performance.now() - started) * 1000);
    const oldSize = 1 + ((i * 104_729) % (size - 1));
    const consistency = tree.consistencyProof(oldSize, size);
    const oldRoot = tree.rootAt(oldSize);
    const consistencyStarted = performance.now();
    if (!verifyConsistency(oldSize, size, oldRoot, root, consistency))
      throw new Error("consistency proof refused");
    consistencyUs.push((performance.now() - consistencyStarted) * 1000);
  }
  figures.push(
    figure("inclusion proof verify p50", percentile(inclusionUs, 50), "us", "<= 50"),
    figure("inclusion proof verify p99", percentile(inclusionUs, 99), "us"),
    figure("inclusion proof size", proofHashes * 32, "bytes", `32 x ceil(log2 ${size})`),
    figure("consistency proof verify p50", percentile(consistencyUs, 50), "us", "<= 100"),
    figure("consistency proof verify p99", percentile(consistencyUs, 99), "us"),
  );
  if (parseCheckpointText(`o\n${size}\n${Buffer.from(root).toString("base64")}\n`)?.size !== size) {
    throw new Error("checkpoint text round trip");
  }
}

if (isMainThread) {
  try {
    if (!onlyVerify) await appendAndSeal();
    const text = verifyHistory();
    if (!onlyParallel) proofs(text);
    await parallelVerify(samplePath);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  notes.push(
    `load average at start ${loadAtStart.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)} (other work shares the machine)`,
  );
  publishBenchReport({ name: "attest", fsyncMode: "real fsync", figures, notes });
} else {
  runWitnessWorker(workerData as { seed: string; origin: string; directory: string });
}
