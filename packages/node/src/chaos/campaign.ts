import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { SeededRandom } from "@revoada/fabric-core/sim";
import { FabricState, loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { NodeStatusReply } from "../api/schemas.js";
import { ApiClient } from "../mesh/api-client.js";
import { etcdHolders, findLeader, type MeshNodeHandle, waitFor } from "../mesh/observe.js";
import { NetnsMesh } from "../netns/netns-mesh.js";
import {
  type CheckVerdict,
  ConvergenceRecord,
  convergenceOf,
  FinalNode,
  type NodeObservation,
  runChecks,
  StateSample,
  sampleOf,
} from "./checks.js";
import { ChaosClient, type ClientOperation } from "./client.js";
import { type HistoryEvent, HistoryWriter, readHistory } from "./history.js";
import { healAll, nemesisSchedule, type ScheduledFault, startFault, stopFault } from "./nemesis.js";

/**
 * A chaos campaign (docs/reliability.md): a netns mesh, client processes running a seeded
 * mix of operations against the HTTP API, a seeded nemesis schedule of real faults, a sampler
 * reading every node's state, then a heal, a wait for convergence, and the checks. Everything
 * is written under `<out>/<run id>/` as it happens; a run whose checks pass is removed unless
 * `keep`, a failing one stays, and `checkRun(dir)` re-checks it from its files alone.
 */
export interface CampaignOptions {
  readonly seed: number;
  readonly minutes: number;
  /** Results root (`chaos-results`). */
  readonly out: string;
  readonly nodes?: number;
  readonly clients?: number;
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

export interface CampaignResult {
  readonly runDirectory: string;
  readonly kept: boolean;
  readonly verdicts: readonly CheckVerdict[];
  readonly figures: CampaignFigures;
}

export const CampaignFigures = z.strictObject({
  seed: z.int(),
  minutes: z.number(),
  nodes: z.int(),
  operations: z.record(z.string(), z.strictObject({ ok: z.int(), fail: z.int(), info: z.int() })),
  faults: z.record(z.string(), z.int()),
  acknowledged_writes: z.int(),
  samples: z.int(),
  wall_seconds: z.number(),
});
export type CampaignFigures = z.infer<typeof CampaignFigures>;

const RunMeta = z.strictObject({ seed: z.int(), minutes: z.number(), nodes: z.int(), run_id: z.string() });
const diskBytes = 64 * 1024 * 1024;
const keySlots = 4;
const keyGenerationMs = 45_000;
/** Generous: a loaded CI machine starts five daemons slowly. */
const formationMs = 600_000;
/** How long the end waits for every node to hold one state and one chain at one applied index. */
const convergenceMs = 180_000;

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  await loadBlake3();
  const log = options.log ?? (() => undefined);
  const nodes = options.nodes ?? 5;
  const runId = `seed${options.seed}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const runDirectory = resolve(options.out, runId);
  await mkdir(runDirectory, { recursive: true });
  const durationMs = Math.round(options.minutes * 60_000);
  const names = Array.from({ length: nodes }, (_, i) => `node-${i + 1}`);
  const diskNode = names[names.length - 1]!;
  const clockNode = names[names.length - 2]!;
  const schedule = nemesisSchedule(options.seed, durationMs, names, diskNode, clockNode);
  await writeFile(
    join(runDirectory, "run.json"),
    `${JSON.stringify({ seed: options.seed, minutes: options.minutes, nodes, run_id: runId })}\n`,
  );
  await writeFile(join(runDirectory, "schedule.json"), `${JSON.stringify(schedule, null, 1)}\n`);
  const started = performance.now();
  log(
    `chaos ${runId}: ${nodes} nodes in network namespaces, ${schedule.length} faults over ${options.minutes} min`,
  );
  const mesh = await NetnsMesh.start({
    directory: join(runDirectory, "mesh"),
    nodes,
    faceId: "systemd",
    smallDisks: { nodes: [diskNode], bytes: diskBytes },
    clockNodes: [clockNode],
  });
  const history = new HistoryWriter(join(runDirectory, "history.jsonl"));
  const samples: StateSample[] = [];
  let finals: FinalNode[] = [];
  let convergence: ConvergenceRecord | undefined;
  try {
    const formed = await waitFor(() => formedLeader(mesh.nodes, nodes), formationMs, 250);
    if (formed === undefined) throw new Error(`the mesh did not form within ${formationMs / 1000} s`);
    log(`formed after ${Math.round((performance.now() - started) / 1000)} s; leader ${formed}`);
    const endAt = performance.now() + durationMs;
    const targets = mesh.local.mesh.nodes.map((node) => ({
      name: node.name,
      client: (timeoutMs: number) => new ApiClient(node.api, mesh.local.token, timeoutMs, mesh.local.caPem),
    }));
    const random = new SeededRandom(options.seed);
    const usedKeys = new Set<string>();
    const clients = Array.from({ length: options.clients ?? 3 }, (_, process) => {
      const client = new ChaosClient(process, targets, history);
      return clientLoop(client, random.fork(), endAt, usedKeys, names);
    });
    const sampler = sampleLoop(mesh, history, samples, join(runDirectory, "samples.jsonl"), endAt);
    await nemesisLoop(mesh, history, schedule, endAt, log);
    await Promise.all([...clients, sampler]);
    const restarted = await healAll(mesh, diskNode, clockNode);
    history.record({ process: "nemesis", type: "info", f: "heal-all", value: { restarted } });
    log("healed; waiting for a leader, a final read and convergence");
    await waitFor(async () => (await findLeader(mesh.nodes))?.node.name, 120_000, 500);
    const reader = new ChaosClient(1000, targets, history);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const read = await reader.run({ f: "read", keys: [...usedKeys].sort() });
      if (read.type === "ok") break;
    }
    ({ finals, convergence } = await awaitConvergence(mesh, history, convergenceMs));
    log(
      convergence.converged
        ? `converged after ${Math.round(convergence.waited_ms / 1000)} s`
        : `not converged within ${convergenceMs / 1000} s`,
    );
  } finally {
    await mesh.stop(5000);
  }
  await writeFile(join(runDirectory, "finals.json"), `${JSON.stringify(finals)}\n`);
  if (convergence !== undefined)
    await writeFile(join(runDirectory, "convergence.json"), `${JSON.stringify(convergence, null, 1)}\n`);
  const verdicts = runChecks({
    history: history.events,
    samples,
    finals,
    nodes,
    ...(convergence === undefined ? {} : { convergence }),
  });
  const figures = figuresOf(options, nodes, history.events, samples, (performance.now() - started) / 1000);
  await writeFile(join(runDirectory, "report.json"), `${JSON.stringify({ verdicts, figures }, null, 2)}\n`);
  const failed = verdicts.some((verdict) => !verdict.ok);
  const kept = failed || options.keep === true;
  if (!kept) await rm(runDirectory, { recursive: true, force: true });
  return { runDirectory, kept, verdicts, figures };
}

/**
 * Re-runs the checks of a kept run from its files (history, samples, finals, and the
 * convergence record when the run kept one). `notes` says what an older run's files cannot
 * show.
 */
export async function checkRun(
  runDirectory: string,
): Promise<{ verdicts: CheckVerdict[]; figures: CampaignFigures; notes: string[] }> {
  await loadBlake3();
  const meta = RunMeta.parse(JSON.parse(await readFile(join(runDirectory, "run.json"), "utf8")));
  const history = await readHistory(join(runDirectory, "history.jsonl"));
  if (!history.ok) throw new Error(history.issues.map((issue) => issue.message).join("\n"));
  const samplesText = await readFile(join(runDirectory, "samples.jsonl"), "utf8").catch(() => "");
  const samples = samplesText
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => StateSample.parse(JSON.parse(line)));
  const finals = z
    .array(FinalNode)
    .parse(JSON.parse(await readFile(join(runDirectory, "finals.json"), "utf8")));
  const notes: string[] = [];
  const convergenceText = await readFile(join(runDirectory, "convergence.json"), "utf8").catch(
    (error: unknown) => {
      if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
      throw error;
    },
  );
  const convergence =
    convergenceText === undefined ? undefined : ConvergenceRecord.parse(JSON.parse(convergenceText));
  if (convergence === undefined)
    notes.push("no convergence.json (an older run): what each node last said at the end cannot be shown");
  if (finals.some((final) => final.raft === undefined))
    notes.push("finals.json without Raft status (an older run): the final terms and leaders cannot be shown");
  const verdicts = runChecks({
    history: history.value,
    samples,
    finals,
    nodes: meta.nodes,
    ...(convergence === undefined ? {} : { convergence }),
  });
  const figures = figuresOf(meta, meta.nodes, history.value, samples, 0);
  return { verdicts, figures, notes };
}

async function formedLeader(nodes: readonly MeshNodeHandle[], count: number): Promise<string | undefined> {
  const leader = await findLeader(nodes);
  if (leader === undefined) return undefined;
  const state = await leader.node.client.get("/v1/state", FabricState).catch(() => undefined);
  if (state === undefined || Object.keys(state.nodes).length < count) return undefined;
  return etcdHolders(state).length >= 3 ? leader.node.name : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** One client: a seeded sequence of operations until `endAt`. */
async function clientLoop(
  client: ChaosClient,
  random: SeededRandom,
  endAt: number,
  usedKeys: Set<string>,
  names: readonly string[],
): Promise<void> {
  const startedAt = performance.now();
  for (let n = 0; performance.now() < endAt; n += 1) {
    const generation = Math.floor((performance.now() - startedAt) / keyGenerationMs);
    const keys = Array.from({ length: keySlots }, (_, slot) => `chaos/r${slot}-g${generation}`);
    for (const key of keys) usedKeys.add(key);
    const operation = nextOperation(random, client.process, n, keys, names);
    await client.run(operation);
    await sleep(100 + random.int(300));
  }
}

/** The next operation of a client: a seeded mix of register writes and reads, set adds and shifts. */
export function nextOperation(
  random: SeededRandom,
  process: number,
  n: number,
  keys: readonly string[],
  names: readonly string[],
): ClientOperation {
  const roll = random.int(100);
  const key = random.pick(keys);
  if (roll < 35) return { f: "apply", key, value: `p${process}-${n}` };
  if (roll < 45) return { f: "delete", key };
  if (roll < 75) return { f: "read", keys };
  if (roll < 92) return { f: "add", key: `chaos/a-p${process}-${n}`, value: `p${process}-${n}` };
  const node = random.pick(names);
  return { f: "shift", action: random.chance(0.5) ? "quarantine" : "restore", node };
}

/** Every second, every node's state as it renders it (not a consistent read: what it holds). */
async function sampleLoop(
  mesh: NetnsMesh,
  history: HistoryWriter,
  samples: StateSample[],
  path: string,
  endAt: number,
): Promise<void> {
  while (performance.now() < endAt) {
    await Promise.all(
      mesh.nodes.map(async (node) => {
        const state = await node.client.get("/v1/state", FabricState).catch(() => undefined);
        if (state === undefined) return;
        const sample = sampleOf(node.name, history.nowNs(), state);
        samples.push(sample);
        appendFileSync(path, `${JSON.stringify(sample)}\n`);
      }),
    );
    await sleep(1000);
  }
}

async function nemesisLoop(
  mesh: NetnsMesh,
  history: HistoryWriter,
  schedule: readonly ScheduledFault[],
  endAt: number,
  log: (line: string) => void,
): Promise<void> {
  const startedAt = performance.now();
  for (const scheduled of schedule) {
    const wait = startedAt + scheduled.at_ms - performance.now();
    if (wait > 0) await sleep(wait);
    const done = await startFault(mesh, scheduled.fault);
    history.record({
      process: "nemesis",
      type: "info",
      f: "fault-start",
      value: { ...scheduled.fault, ...done },
    });
    log(`fault ${scheduled.fault.kind} ${JSON.stringify(done)} for ${scheduled.duration_ms} ms`);
    await sleep(scheduled.duration_ms);
    const undone = await stopFault(mesh, scheduled.fault);
    history.record({
      process: "nemesis",
      type: "info",
      f: "fault-stop",
      value: { kind: scheduled.fault.kind, ...undone },
    });
  }
  const left = endAt - performance.now();
  if (left > 0) await sleep(left);
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 1000);
}

/** One node now: its Raft status, then its state, then its chain (read in that order). */
async function observe(
  node: MeshNodeHandle,
  history: HistoryWriter,
): Promise<{ observation: NodeObservation; final: FinalNode | undefined }> {
  const errors: string[] = [];
  const status = await node.client.get("/v1/status", NodeStatusReply).catch((error: unknown) => {
    errors.push(`status: ${messageOf(error)}`);
    return undefined;
  });
  const state = await node.client.get("/v1/state", FabricState).catch((error: unknown) => {
    errors.push(`state: ${messageOf(error)}`);
    return undefined;
  });
  const chain = await node.client.text("/v1/chain/export").catch((error: unknown) => {
    errors.push(`chain: ${messageOf(error)}`);
    return undefined;
  });
  const raft =
    status === undefined
      ? undefined
      : {
          term: status.raft.term,
          state: status.raft.state,
          leader: status.raft.leader,
          commit_index: status.raft.commit_index,
          applied_index: status.raft.applied_index,
        };
  const sample = state === undefined ? undefined : sampleOf(node.name, history.nowNs(), state);
  const observation: NodeObservation = {
    node: node.name,
    ...(raft === undefined ? {} : { raft }),
    ...(sample === undefined
      ? {}
      : { applied_index: sample.applied_index, applied_term: sample.applied_term, digest: sample.digest }),
    ...(chain === undefined
      ? {}
      : {
          chain_blocks: chain.split("\n").filter((line) => line.includes('"kind":"block"')).length,
          chain_sha256: createHash("sha256").update(chain).digest("hex"),
        }),
    ...(errors.length === 0 ? {} : { errors }),
  };
  const final =
    sample === undefined || chain === undefined
      ? undefined
      : { node: node.name, sample, chain, ...(raft === undefined ? {} : { raft }) };
  return { observation, final };
}

/**
 * Polls every node (all at once, about once a second) until they hold one state and one chain
 * at one applied index (`convergenceOf`), or `timeoutMs` passed. The finals are the last
 * poll's answers; the record says what every node last said, also one that did not answer.
 */
async function awaitConvergence(
  mesh: NetnsMesh,
  history: HistoryWriter,
  timeoutMs: number,
): Promise<{ finals: FinalNode[]; convergence: ConvergenceRecord }> {
  const started = performance.now();
  const names = mesh.nodes.map((node) => node.name);
  for (let polls = 1; ; polls += 1) {
    const seen = await Promise.all(mesh.nodes.map((node) => observe(node, history)));
    const observations = seen.map((one) => one.observation);
    const { converged } = convergenceOf(observations, names);
    const waited = performance.now() - started;
    if (converged || waited >= timeoutMs) {
      return {
        finals: seen.flatMap((one) => (one.final === undefined ? [] : [one.final])),
        convergence: {
          converged,
          timeout_ms: timeoutMs,
          waited_ms: Math.round(waited),
          polls,
          nodes: observations,
        },
      };
    }
    await sleep(1000);
  }
}

function figuresOf(
  options: { seed: number; minutes: number },
  nodes: number,
  events: readonly HistoryEvent[],
  samples: readonly StateSample[],
  wallSeconds: number,
): CampaignFigures {
  const operations: CampaignFigures["operations"] = {};
  const faults: Record<string, number> = {};
  let acknowledged = 0;
  for (const event of events) {
    if (event.process === "nemesis") {
      if (event.f === "fault-start")
        faults[String(event.value.kind)] = (faults[String(event.value.kind)] ?? 0) + 1;
      continue;
    }
    if (event.type === "invoke") continue;
    const counts = operations[event.f] ?? { ok: 0, fail: 0, info: 0 };
    counts[event.type] += 1;
    operations[event.f] = counts;
    if (event.type === "ok" && event.f !== "read") acknowledged += 1;
  }
  return {
    seed: options.seed,
    minutes: options.minutes,
    nodes,
    operations,
    faults,
    acknowledged_writes: acknowledged,
    samples: samples.length,
    wall_seconds: Math.round(wallSeconds),
  };
}
