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

export const FinalNode = z.strictObject({
  node: z.string(),
  sample: StateSample,
  chain: z.string(),
});
export type FinalNode = z.infer<typeof FinalNode>;

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

/** The final chains are byte-identical on every live node and each verifies. */
export function checkChains(finals: readonly FinalNode[]): CheckVerdict {
  const problems: string[] = [];
  const first = finals[0];
  for (const final of finals) {
    const report = verifyChain(final.chain, { mode: "every-block" });
    if (!report.ok) problems.push(`${final.node}: ${report.failure.reason}: ${report.failure.message}`);
    if (first !== undefined && final.chain !== first.chain)
      problems.push(`${final.node}'s chain differs from ${first.node}'s`);
  }
  const blocks = first?.chain.split("\n").filter((line) => line.includes('"kind":"block"')).length ?? 0;
  return {
    name: "chains byte-identical and verifying",
    ok: problems.length === 0 && finals.length > 0,
    detail: problems.length === 0 ? `${finals.length} nodes, ${blocks} blocks each` : problems.join("; "),
  };
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

/** After healing, every live node holds the same state and the same chain. */
export function checkConverged(finals: readonly FinalNode[], expectedNodes: number): CheckVerdict {
  const digests = new Set(finals.map((final) => final.sample.digest));
  const chains = new Set(finals.map((final) => final.chain));
  const ok = finals.length === expectedNodes && digests.size === 1 && chains.size === 1;
  const shown = finals.map((final) => `${final.node}@${final.sample.applied_index}`).join(", ");
  return {
    name: "converged after healing",
    ok,
    detail: ok
      ? `${finals.length} nodes at applied index ${finals[0]?.sample.applied_index}`
      : `${finals.length}/${expectedNodes} nodes answered, ${digests.size} states, ${chains.size} chains: ${shown}`,
  };
}

export function runChecks(input: {
  readonly history: readonly HistoryEvent[];
  readonly samples: readonly StateSample[];
  readonly finals: readonly FinalNode[];
  readonly nodes: number;
}): CheckVerdict[] {
  return [
    checkLinearizability(input.history),
    checkAcknowledgedWrites(input.history, input.finals),
    checkChains(input.finals),
    checkOnlyCommittedRendered(input.history, input.samples, input.finals),
    checkConverged(input.finals, input.nodes),
  ];
}
