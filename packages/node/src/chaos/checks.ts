import { createHash } from "node:crypto";
import { verifyChain } from "@revoada/fabric-core/attest";
import { checkLinearizable, type RegisterOperation } from "@revoada/fabric-core/sim";
import { canonicalJson, type FabricState } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { HistoryEvent } from "./history.js";

/**
 * The checks of a chaos campaign, pure functions over what the campaign recorded: the client
 * history, the states sampled from every node while faults ran, and every node's final state
 * and chain after healing. Each check returns a verdict with the evidence when it fails.
 */

/** The env var a register workload carries its value in. */
export const valueVariable = "CHAOS_VALUE";
export const chaosNamespace = "chaos";

/** What a node showed at one moment: the state it renders from, reduced to what the checks need. */
export const StateSample = z.strictObject({
  node: z.string(),
  time_ns: z.int().min(0),
  applied_index: z.int().min(0),
  applied_term: z.int().min(0),
  /** sha256 of the canonical JSON of the whole fabric state. */
  digest: z.string(),
  /** Every chaos workload this state holds: key -> its CHAOS_VALUE. */
  values: z.record(z.string(), z.string()),
});
export type StateSample = z.infer<typeof StateSample>;

/** A node's Raft status as it reported it (`GET /v1/status`): its term, role, leader and indexes. */
export const RaftSample = z.strictObject({
  term: z.int().min(0),
  state: z.string().max(32),
  leader: z.string().max(64).nullable(),
  commit_index: z.int().min(0),
  applied_index: z.int().min(0),
});
export type RaftSample = z.infer<typeof RaftSample>;

export const FinalNode = z.strictObject({
  node: z.string(),
  sample: StateSample,
  chain: z.string(),
  /** Its Raft status, read just before its state (absent in runs from before it was recorded). */
  raft: RaftSample.optional(),
});
export type FinalNode = z.infer<typeof FinalNode>;

/**
 * What one node said at the last poll of the convergence wait: its Raft status, the applied
 * index and digest of the state it holds, its chain (block count and sha256), or why a read
 * failed. Nodes that did not answer are here too, with their error.
 */
export const NodeObservation = z.strictObject({
  node: z.string().max(64),
  raft: RaftSample.optional(),
  applied_index: z.int().min(0).optional(),
  applied_term: z.int().min(0).optional(),
  digest: z.string().max(128).optional(),
  chain_blocks: z.int().min(0).optional(),
  chain_sha256: z.string().max(128).optional(),
  /** The failed reads: "status: ...", "state: ...", "chain: ...". */
  errors: z.array(z.string().max(2000)).max(3).optional(),
});
export type NodeObservation = z.infer<typeof NodeObservation>;

/** The convergence wait after the heal (`convergence.json`): how it ended and what each node last said. */
export const ConvergenceRecord = z.strictObject({
  converged: z.boolean(),
  timeout_ms: z.int().min(0),
  waited_ms: z.int().min(0),
  polls: z.int().min(0),
  nodes: z.array(NodeObservation).max(64),
});
export type ConvergenceRecord = z.infer<typeof ConvergenceRecord>;

export interface CheckVerdict {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The sample of a state: its digest and the chaos values it holds. */
export function sampleOf(node: string, timeNs: number, state: FabricState): StateSample {
  const values: Record<string, string> = {};
  for (const [key, workload] of Object.entries(state.workloads)) {
    if (workload.namespace !== chaosNamespace) continue;
    values[key] = workload.env[valueVariable] ?? "";
  }
  return {
    node,
    time_ns: timeNs,
    applied_index: state.applied.index,
    applied_term: state.applied.term,
    digest: createHash("sha256").update(canonicalJson(state, 0)).digest("hex"),
    values,
  };
}

interface Operation {
  readonly invoke: HistoryEvent;
  readonly invokeAt: number;
  readonly completion: HistoryEvent | null;
  readonly completeAt: number;
}

/** Pairs each client invoke with the next completion of the same process. */
export function operationsOf(history: readonly HistoryEvent[]): Operation[] {
  const open = new Map<number, { event: HistoryEvent; at: number }>();
  const operations: Operation[] = [];
  for (const [at, event] of history.entries()) {
    if (event.process === "nemesis") continue;
    if (event.type === "invoke") {
      open.set(event.process, { event, at });
      continue;
    }
    const started = open.get(event.process);
    if (started === undefined || started.event.f !== event.f) {
      throw new Error(
        `history event ${at + 1}: a ${event.type} of process ${event.process} without its invoke`,
      );
    }
    open.delete(event.process);
    operations.push({ invoke: started.event, invokeAt: started.at, completion: event, completeAt: at });
  }
  for (const started of open.values()) {
    operations.push({ invoke: started.event, invokeAt: started.at, completion: null, completeAt: Infinity });
  }
  return operations;
}

/**
 * Register operations for the linearizability checker: every apply and delete (a put of the
 * value, or of null), and every successful read (a get of each key it asked for). A write that
 * failed is left out; one whose outcome is unknown may take effect any time after its invoke.
 */
export function registerOperations(operations: readonly Operation[]): RegisterOperation[] {
  const result: RegisterOperation[] = [];
  for (const operation of operations) {
    const { invoke, completion } = operation;
    const type = completion?.type ?? "info";
    if (type === "fail") continue;
    const returnAt = type === "ok" ? operation.completeAt : Infinity;
    if (invoke.f === "apply" || invoke.f === "delete") {
      const key = String(invoke.value.key);
      const value = invoke.f === "apply" ? String(invoke.value.value) : null;
      result.push({ key, kind: "put", value, callAt: operation.invokeAt, returnAt });
    }
    if (invoke.f === "read" && type === "ok" && completion !== null) {
      const values = (completion.value.values ?? {}) as Record<string, string | null>;
      const keys = Array.isArray(invoke.value.keys) ? invoke.value.keys.map(String) : [];
      for (const key of keys) {
        result.push({ key, kind: "get", value: values[key] ?? null, callAt: operation.invokeAt, returnAt });
      }
    }
  }
  return result;
}

export function checkLinearizability(history: readonly HistoryEvent[]): CheckVerdict {
  const operations = registerOperations(operationsOf(history));
  const keys = new Set(operations.map((operation) => operation.key));
  const verdict = checkLinearizable(operations, 2_000_000);
  if (verdict.result === "ok") {
    return {
      name: "linearizable",
      ok: true,
      detail: `${operations.length} register operations over ${keys.size} keys`,
    };
  }
  if (verdict.result === "unknown") {
    return { name: "linearizable", ok: false, detail: `search budget exhausted on key ${verdict.key}` };
  }
  const shown = verdict.operations
    .map((o) => `${o.kind} ${o.value ?? "null"} [${o.callAt}, ${o.returnAt}]`)
    .join("; ");
  return { name: "linearizable", ok: false, detail: `no linear order for key ${verdict.key}: ${shown}` };
}

/**
 * Every acknowledged write is on every live node: each `add` (a workload never deleted) is in
 * its final state with its value, each `apply`/`delete`'s entry is applied there (its index),
 * and each shift's block (its term and index) is in its chain.
 */
export function checkAcknowledgedWrites(
  history: readonly HistoryEvent[],
  finals: readonly FinalNode[],
): CheckVerdict {
  const missing: string[] = [];
  let acknowledged = 0;
  for (const operation of operationsOf(history)) {
    const { invoke, completion } = operation;
    if (completion?.type !== "ok") continue;
    if (invoke.f === "read") continue;
    acknowledged += 1;
    for (const final of finals) {
      const what = `${invoke.f} ${JSON.stringify(invoke.value)} (index ${completion.index})`;
      if (completion.index !== undefined && final.sample.applied_index < completion.index) {
        missing.push(`${final.node} applied ${final.sample.applied_index} < ${what}`);
      }
      if (
        invoke.f === "add" &&
        final.sample.values[String(invoke.value.key)] !== String(invoke.value.value)
      ) {
        missing.push(`${final.node} lacks ${what}`);
      }
      if (invoke.f === "shift" && !chainHasBlock(final.chain, completion.term, completion.index)) {
        missing.push(`${final.node}'s chain lacks the block of ${what}`);
      }
    }
  }
  return {
    name: "acknowledged writes on every live node",
    ok: missing.length === 0,
    detail:
      missing.length === 0 ? `${acknowledged} acknowledged writes, lost 0` : missing.slice(0, 20).join("; "),
  };
}

const ChainBlockLine = z.object({
  kind: z.literal("block"),
  body: z.object({ term: z.number(), index: z.number() }),
});

function chainHasBlock(chain: string, term: number | undefined, index: number | undefined): boolean {
  for (const line of chain.split("\n")) {
    if (!line.includes('"kind":"block"')) continue;
    const parsed = ChainBlockLine.safeParse(JSON.parse(line));
    if (parsed.success && parsed.data.body.term === term && parsed.data.body.index === index) return true;
  }
  return false;
}

/** A chain export's lines (without their newlines), each block line with its Raft index. */
interface ChainLines {
  readonly node: string;
  /**
   * The index this chain is at least at: the applied index of the state read just before it,
   * or its last block's index if that is later (the node applied more between the two reads).
   */
  readonly applied: number;
  readonly lines: readonly string[];
  /** Per line: the Raft index of a block, null for the genesis and checkpoints. */
  readonly indexes: readonly (number | null)[];
}

const ChainBlockIndex = z.object({ kind: z.literal("block"), body: z.object({ index: z.int() }) });

function chainLines(final: FinalNode): ChainLines {
  const lines = final.chain.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const indexes = lines.map((line) => {
    if (!line.includes('"kind":"block"')) return null;
    try {
      const parsed = ChainBlockIndex.safeParse(JSON.parse(line));
      return parsed.success ? parsed.data.body.index : null;
    } catch {
      return null;
    }
  });
  const applied = Math.max(final.sample.applied_index, ...indexes.map((index) => index ?? 0));
  return { node: final.node, applied, lines, indexes };
}

/**
 * How many lines of a chain a node holding `index` applied must hold: every line before its
 * first block of a later entry. (Checkpoints carry no index of their own: those after the last
 * block at or below `index` may belong to later entries, so a node may hold fewer of them.)
 */
function linesAt(chain: ChainLines, index: number): number {
  const later = chain.indexes.findIndex((blockIndex) => blockIndex !== null && blockIndex > index);
  return later < 0 ? chain.lines.length : later;
}

function describeLine(chain: ChainLines, line: number): string {
  const index = chain.indexes[line];
  if (index !== null && index !== undefined) return `a block of index ${index}`;
  return line === 0 ? "the genesis" : "a checkpoint";
}

/**
 * Two chains at the lower of the two nodes' final applied indexes: every line up to there
 * the same bytes (a differing line is a fork or a corruption), and the one that holds fewer
 * lines lacks no block at or below that index (only checkpoints, which carry no index, may
 * be missing at the end). Null when they agree.
 */
function chainPairProblem(a: ChainLines, b: ChainLines): string | null {
  const at = Math.min(a.applied, b.applied);
  const aLength = linesAt(a, at);
  const bLength = linesAt(b, at);
  const common = Math.min(aLength, bLength);
  for (let line = 0; line < common; line += 1) {
    if (a.lines[line] !== b.lines[line]) {
      return (
        `${a.node} and ${b.node} differ at line ${line + 1} (at or below applied index ${at}, which both ` +
        `applied): ${a.node} holds ${describeLine(a, line)}, ${b.node} ${describeLine(b, line)}`
      );
    }
  }
  const [shorter, longer, longerLength] = aLength < bLength ? [a, b, bLength] : [b, a, aLength];
  for (let line = common; line < longerLength; line += 1) {
    const index = longer.indexes[line];
    if (index === null || index === undefined) continue;
    return (
      `${shorter.node} is at applied index ${shorter.applied} but its chain lacks the block of index ${index} ` +
      `that ${longer.node} holds (line ${line + 1})`
    );
  }
  return null;
}

/**
 * The final chains agree and each verifies. The nodes' final reads may be at different
 * applied indexes (and a chain is read just after its state, so it may hold a little more):
 * each chain is taken at its node's index (the state's applied index, or its last block's if
 * later), and two chains are compared at the lower of their two indexes (each cut before its
 * first block of a later entry), byte for byte. A fork or a differing byte at or below that
 * index fails; so does a node whose chain lacks a block at or below its own index that
 * another node holds. `verifyChain` (every block) checks each whole chain.
 */
export function checkChains(finals: readonly FinalNode[]): CheckVerdict {
  const name = "chains agree at one index and verify";
  const problems: string[] = [];
  for (const final of finals) {
    const report = verifyChain(final.chain, { mode: "every-block" });
    if (!report.ok) problems.push(`${final.node}: ${report.failure.reason}: ${report.failure.message}`);
  }
  const chains = finals.map(chainLines);
  for (let i = 0; i < chains.length; i += 1) {
    for (let j = i + 1; j < chains.length; j += 1) {
      const problem = chainPairProblem(chains[i]!, chains[j]!);
      if (problem !== null) problems.push(problem);
    }
  }
  if (finals.length === 0) return { name, ok: false, detail: "no node answered with a chain" };
  if (problems.length > 0) return { name, ok: false, detail: problems.slice(0, 20).join("; ") };
  const applied = chains.map((chain) => chain.applied);
  const low = Math.min(...applied);
  const high = Math.max(...applied);
  const blocksAt = (chain: ChainLines, index: number) =>
    chain.indexes.filter((blockIndex) => blockIndex !== null && blockIndex <= index).length;
  const shared = blocksAt(chains[0]!, low);
  const detail =
    low === high
      ? `${finals.length} nodes at applied index ${low}, ${shared} blocks each, byte-identical`
      : `${finals.length} nodes read at indexes ${low}-${high}: each pair byte-identical up to the ` +
        `lower of its two indexes (${shared} blocks at or below ${low} on every node; ` +
        `${Math.max(...chains.map((chain) => blocksAt(chain, high)))} at or below ${high})`;
  return { name, ok: true, detail: `${detail}; every chain verifies` };
}

/**
 * No node rendered a state that was not committed: two states at the same applied index are
 * the same state (on every node, at every moment sampled, and at the end), and every chaos
 * value a node ever showed was written by some client operation that did not fail.
 */
export function checkOnlyCommittedRendered(
  history: readonly HistoryEvent[],
  samples: readonly StateSample[],
  finals: readonly FinalNode[],
): CheckVerdict {
  const problems: string[] = [];
  const byIndex = new Map<string, StateSample>();
  for (const sample of [...samples, ...finals.map((final) => final.sample)]) {
    const key = String(sample.applied_index);
    const seen = byIndex.get(key);
    if (seen === undefined) byIndex.set(key, sample);
    else if (seen.digest !== sample.digest) {
      problems.push(
        `index ${key}: ${seen.node} showed ${seen.digest.slice(0, 12)}, ${sample.node} ${sample.digest.slice(0, 12)}`,
      );
    }
  }
  const written = new Set<string>();
  for (const operation of operationsOf(history)) {
    if (operation.completion?.type === "fail") continue;
    const { f, value } = operation.invoke;
    if (f === "apply" || f === "add") written.add(`${String(value.key)}=${String(value.value)}`);
  }
  for (const sample of samples) {
    for (const [key, value] of Object.entries(sample.values)) {
      if (!written.has(`${key}=${value}`))
        problems.push(`${sample.node} showed ${key}=${value}, which no client wrote`);
    }
  }
  return {
    name: "no node rendered an uncommitted state",
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `${samples.length} samples at ${byIndex.size} distinct applied indexes agree`
        : problems.slice(0, 20).join("; "),
  };
}

/**
 * Whether the nodes converged, from what each said at one poll: every node in `names`
 * answered its status, state and chain, all at one applied index, with one state digest and
 * one chain. The problems name each node that keeps it from converging and why.
 */
export function convergenceOf(
  observations: readonly NodeObservation[],
  names: readonly string[],
): { readonly converged: boolean; readonly problems: readonly string[] } {
  const problems: string[] = [];
  const answered = observations.filter(
    (o) => o.errors === undefined && o.applied_index !== undefined && o.chain_sha256 !== undefined,
  );
  for (const name of names) {
    const observation = observations.find((o) => o.node === name);
    if (observation === undefined) problems.push(`${name} was not asked`);
    else if (!answered.includes(observation))
      problems.push(`${name} did not answer (${(observation.errors ?? ["no state or chain"]).join("; ")})`);
  }
  const top = Math.max(0, ...answered.map((o) => o.applied_index ?? 0));
  const atTop = answered.filter((o) => o.applied_index === top);
  for (const o of answered) {
    if ((o.applied_index ?? 0) < top) problems.push(`${o.node} lags: applied ${o.applied_index} < ${top}`);
  }
  const majority = (values: readonly (string | undefined)[]) => {
    const counts = new Map<string | undefined, number>();
    for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
    return [...counts.entries()].sort((x, y) => y[1] - x[1])[0]?.[0];
  };
  const digest = majority(atTop.map((o) => o.digest));
  const chain = majority(atTop.map((o) => o.chain_sha256));
  for (const o of atTop) {
    if (o.digest !== digest) problems.push(`${o.node} holds another state at applied ${top}`);
    if (o.chain_sha256 !== chain) problems.push(`${o.node} holds another chain at applied ${top}`);
  }
  return { converged: problems.length === 0, problems };
}

/** One node's last answer, for a report: its applied index, term, role and leader, or its errors. */
export function describeObservation(o: NodeObservation): string {
  const parts: string[] = [];
  if (o.applied_index !== undefined)
    parts.push(`state at applied ${o.applied_index} (${(o.digest ?? "").slice(0, 12)})`);
  if (o.raft !== undefined)
    parts.push(
      `term ${o.raft.term} ${o.raft.state}, leader ${o.raft.leader ?? "none"}, raft applied ${o.raft.applied_index}`,
    );
  if (o.chain_blocks !== undefined) parts.push(`chain ${o.chain_blocks} blocks`);
  for (const error of o.errors ?? []) parts.push(error);
  return `${o.node}: ${parts.length === 0 ? "nothing recorded" : parts.join(", ")}`;
}

/**
 * After healing, every node holds the same state and the same chain at one applied index.
 * With the convergence wait's record (`convergence.json`), a failure says what each node
 * last said; runs from before it was recorded say so instead.
 */
export function checkConverged(
  finals: readonly FinalNode[],
  expectedNodes: number,
  convergence?: ConvergenceRecord,
): CheckVerdict {
  const name = "converged after healing";
  const digests = new Set(finals.map((final) => final.sample.digest));
  const chains = new Set(finals.map((final) => final.chain));
  const indexes = new Set(finals.map((final) => final.sample.applied_index));
  const agree =
    finals.length === expectedNodes && digests.size === 1 && chains.size === 1 && indexes.size === 1;
  const ok = agree && (convergence?.converged ?? true);
  if (ok)
    return { name, ok, detail: `${finals.length} nodes at applied index ${finals[0]?.sample.applied_index}` };
  const shown = finals.map((final) => `${final.node}@${final.sample.applied_index}`).join(", ");
  const summary =
    `${finals.length}/${expectedNodes} nodes answered, at ${indexes.size} applied indexes, ` +
    `${digests.size} states, ${chains.size} chains: ${shown}`;
  if (convergence === undefined) {
    return {
      name,
      ok,
      detail:
        `${summary}. This run has no convergence.json (it predates it): what each node last said ` +
        `(its term, leader or error) was not recorded and cannot be shown`,
    };
  }
  const names = convergence.nodes.map((o) => o.node);
  const { problems } = convergenceOf(convergence.nodes, names);
  return {
    name,
    ok,
    detail:
      `not converged within ${Math.round(convergence.timeout_ms / 1000)} s of the heal ` +
      `(${convergence.polls} polls): ${problems.join("; ") || summary}. ` +
      `Last said: ${convergence.nodes.map(describeObservation).join("; ")}`,
  };
}

export function runChecks(input: {
  readonly history: readonly HistoryEvent[];
  readonly samples: readonly StateSample[];
  readonly finals: readonly FinalNode[];
  readonly nodes: number;
  /** The convergence wait's record; absent in runs from before it was kept. */
  readonly convergence?: ConvergenceRecord;
}): CheckVerdict[] {
  return [
    checkLinearizability(input.history),
    checkAcknowledgedWrites(input.history, input.finals),
    checkChains(input.finals),
    checkOnlyCommittedRendered(input.history, input.samples, input.finals),
    checkConverged(input.finals, input.nodes, input.convergence),
  ];
}
