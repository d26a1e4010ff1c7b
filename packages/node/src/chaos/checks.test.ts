// Goal: each check of a chaos campaign fails on the fault it exists to catch, and passes on a
// clean run, so a green campaign means something. Method: small hand-written histories,
// samples and final views (a real signed chain from the attest sample generator), one defect
// at a time.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { generateSampleChain } from "@revoada/fabric-core/attest";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import {
  type ConvergenceRecord,
  checkAcknowledgedWrites,
  checkChains,
  checkConverged,
  checkLinearizability,
  checkOnlyCommittedRendered,
  convergenceOf,
  type FinalNode,
  type NodeObservation,
  type StateSample,
} from "./checks.js";
import type { HistoryEvent } from "./history.js";

// Blocks at Raft indexes 1, 3, 6, 7, 9 and 12 (lines 2-7), then a checkpoint (line 8).
let chain = "";
// The same genesis and first two blocks; from index 6 on, blocks of another term and leader.
let forked = "";
before(async () => {
  await loadBlake3();
  chain = generateSampleChain({ blocks: 6, seed: 3 }).text;
  forked = generateSampleChain({ blocks: 6, seed: 3, leaderBlocks: 2 }).text;
});

/** The first `count` lines of an export. */
function head(text: string, count: number): string {
  return `${text.split("\n").slice(0, count).join("\n")}\n`;
}

let clock = 0;
function event(
  process: number,
  type: HistoryEvent["type"],
  f: HistoryEvent["f"],
  value: Record<string, unknown>,
  extra: Partial<HistoryEvent> = {},
): HistoryEvent {
  clock += 1000;
  return { process, type, f, value, time_ns: clock, ...extra };
}

function sample(node: string, index: number, digest: string, values: Record<string, string>): StateSample {
  return { node, time_ns: index, applied_index: index, applied_term: 2, digest, values };
}

function final(node: string, index: number, values: Record<string, string>, chainText = chain): FinalNode {
  return { node, sample: sample(node, index, `d${index}`, values), chain: chainText };
}

const key = "chaos/r0-g0";
const write = (process: number, value: string, index: number): HistoryEvent[] => [
  event(process, "invoke", "apply", { key, value }),
  event(process, "ok", "apply", { key, value }, { index, term: 2 }),
];
const read = (process: number, value: string | null): HistoryEvent[] => [
  event(process, "invoke", "read", { keys: [key] }),
  event(process, "ok", "read", { keys: [key], values: { [key]: value } }),
];

describe("chaos checks", () => {
  test("a register history: a read of the last acknowledged value passes, a stale one fails", () => {
    const good = [...write(0, "a", 10), ...write(1, "b", 11), ...read(2, "b")];
    assert.equal(checkLinearizability(good).ok, true);
    const stale = [...write(0, "a", 10), ...write(1, "b", 11), ...read(2, "a")];
    const verdict = checkLinearizability(stale);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /no linear order for key chaos\/r0-g0/);
  });

  test("a write whose outcome is unknown may or may not have happened; a failed one did not", () => {
    const unknown = [
      event(0, "invoke", "apply", { key, value: "x" }),
      event(0, "info", "apply", { key, value: "x" }, { error: "timeout" }),
    ];
    assert.equal(checkLinearizability([...unknown, ...read(1, "x")]).ok, true);
    assert.equal(checkLinearizability([...unknown, ...read(1, null)]).ok, true);
    const failed = [
      event(0, "invoke", "apply", { key, value: "y" }),
      event(0, "fail", "apply", { key, value: "y" }, { error: "HTTP 409" }),
    ];
    assert.equal(checkLinearizability([...failed, ...read(1, "y")]).ok, false);
  });

  test("an acknowledged add missing from one live node is a lost write", () => {
    const add = [
      event(0, "invoke", "add", { key: "chaos/a-1", value: "v" }),
      event(0, "ok", "add", { key: "chaos/a-1", value: "v" }, { index: 12, term: 2 }),
    ];
    const everywhere = [final("node-1", 20, { "chaos/a-1": "v" }), final("node-2", 20, { "chaos/a-1": "v" })];
    assert.equal(checkAcknowledgedWrites(add, everywhere).ok, true);
    const lost = [final("node-1", 20, { "chaos/a-1": "v" }), final("node-2", 20, {})];
    const verdict = checkAcknowledgedWrites(add, lost);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /node-2 lacks add/);
    const behind = [final("node-1", 20, { "chaos/a-1": "v" }), final("node-2", 11, { "chaos/a-1": "v" })];
    assert.match(checkAcknowledgedWrites(add, behind).detail, /node-2 applied 11 < add/);
  });

  test("an acknowledged shift must be a block of every chain", () => {
    const firstBlock = chain.split("\n").find((line) => line.includes('"kind":"block"'))!;
    const body = (JSON.parse(firstBlock) as { body: { term: number; index: number } }).body;
    const shift = (term: number, index: number) => [
      event(0, "invoke", "shift", { action: "quarantine", node: "node-4" }),
      event(0, "ok", "shift", { action: "quarantine", node: "node-4" }, { term, index }),
    ];
    assert.equal(checkAcknowledgedWrites(shift(body.term, body.index), [final("node-1", 99, {})]).ok, true);
    const verdict = checkAcknowledgedWrites(shift(body.term, 98), [final("node-1", 99, {})]);
    assert.match(verdict.detail, /chain lacks the block/);
  });

  test("chains must be byte-identical and verify", () => {
    assert.equal(checkChains([final("node-1", 12, {}), final("node-2", 12, {})]).ok, true);
    const tampered = chain.replace(/"index":(\d+)/, (_, n: string) => `"index":${Number(n) + 1}`);
    const verdict = checkChains([final("node-1", 5, {}, tampered), final("node-2", 5, {}, tampered)]);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /node-1: /);
  });

  test("chains read at different applied indexes: a prefix up to the lower index passes", () => {
    // The sample chain's lines: genesis, blocks at 1, 3, 6, 7 (line 5), then 9 and 12.
    assert.equal(forked.split("\n")[2], chain.split("\n")[2], "the fork shares genesis and two blocks");
    assert.notEqual(forked.split("\n")[3], chain.split("\n")[3], "and differs from index 6 on");
    const atEight = final("node-2", 8, {}, head(chain, 5));
    const verdict = checkChains([final("node-1", 12, {}), atEight, final("node-3", 12, {})]);
    assert.equal(verdict.ok, true, verdict.detail);
    assert.match(verdict.detail, /3 nodes read at indexes 8-12: .*\(4 blocks at or below 8 on every node/);
    // A checkpoint carries no index: one after the last common block may be missing on a node.
    const noCheckpoint = final("node-2", 12, {}, head(chain, 7));
    assert.equal(checkChains([final("node-1", 12, {}), noCheckpoint]).ok, true);
  });

  test("a fork at or below the lower index fails, also when the lower node's chain goes further", () => {
    const fork = checkChains([final("node-1", 12, {}), final("node-2", 8, {}, forked)]);
    assert.equal(fork.ok, false);
    assert.match(fork.detail, /node-1 and node-2 differ at line 4 .*a block of index 6/);
    // node-2's state was read at 5, but its chain (read after) holds blocks up to index 12:
    // it is compared there, so its block at 6 is compared too.
    const later = checkChains([final("node-1", 12, {}), final("node-2", 5, {}, forked)]);
    assert.match(later.detail, /node-1 and node-2 differ at line 4/);
    // One differing byte within the common prefix (its hash then fails too).
    const lines = chain.split("\n");
    lines[2] = lines[2]!.replace(
      /"committed_at_ms":(\d)/,
      (_, d: string) => `"committed_at_ms":${(Number(d) + 1) % 10}`,
    );
    const flipped = lines.join("\n");
    assert.notEqual(flipped, chain);
    const byte = checkChains([final("node-1", 12, {}), final("node-2", 8, {}, head(flipped, 5))]);
    assert.match(byte.detail, /node-1 and node-2 differ at line 3/);
  });

  test("a chain that lacks a block its own applied index requires fails", () => {
    const short = checkChains([final("node-1", 12, {}), final("node-2", 12, {}, head(chain, 5))]);
    assert.equal(short.ok, false);
    assert.match(short.detail, /node-2 is at applied index 12 but its chain lacks the block of index 9/);
    // Also when it is the node with the lowest index: at 10 it must hold the block of 9.
    const lowest = checkChains([final("node-1", 12, {}), final("node-2", 10, {}, head(chain, 5))]);
    assert.match(lowest.detail, /node-2 is at applied index 10 but its chain lacks the block of index 9/);
  });

  test("two states at one applied index must be one state, and every value shown must have been written", () => {
    const history = write(0, "a", 10);
    const agree = [sample("node-1", 10, "x", { [key]: "a" }), sample("node-2", 10, "x", { [key]: "a" })];
    assert.equal(checkOnlyCommittedRendered(history, agree, []).ok, true);
    const diverged = [sample("node-1", 10, "x", { [key]: "a" }), sample("node-2", 10, "y", { [key]: "a" })];
    assert.match(checkOnlyCommittedRendered(history, diverged, []).detail, /index 10: node-1 showed x/);
    const phantom = [sample("node-3", 12, "z", { [key]: "never-written" })];
    assert.match(checkOnlyCommittedRendered(history, phantom, []).detail, /which no client wrote/);
    const failed = [
      event(1, "invoke", "apply", { key, value: "refused" }),
      event(1, "fail", "apply", { key, value: "refused" }, { error: "HTTP 409" }),
    ];
    const shown = [sample("node-3", 12, "z", { [key]: "refused" })];
    assert.equal(checkOnlyCommittedRendered([...history, ...failed], shown, []).ok, false);
  });

  test("convergence needs every node, one state and one chain", () => {
    assert.equal(checkConverged([final("node-1", 30, {}), final("node-2", 30, {})], 2).ok, true);
    assert.equal(checkConverged([final("node-1", 30, {})], 2).ok, false);
    assert.equal(checkConverged([final("node-1", 30, {}), final("node-2", 29, {})], 2).ok, false);
    // A run without convergence.json (older files) says what it cannot show.
    assert.match(
      checkConverged([final("node-1", 30, {})], 2).detail,
      /no convergence\.json .* cannot be shown/,
    );
  });

  const observed = (
    node: string,
    applied: number,
    extra: Partial<NodeObservation> = {},
  ): NodeObservation => ({
    node,
    raft: { term: 7, state: "follower", leader: "node-1", commit_index: applied, applied_index: applied },
    applied_index: applied,
    applied_term: 7,
    digest: `d${applied}`,
    chain_blocks: 4,
    chain_sha256: "c",
    ...extra,
  });

  test("converged: every node answered, at one applied index, one digest, one chain", () => {
    const names = ["node-1", "node-2", "node-3"];
    const same = [observed("node-1", 30), observed("node-2", 30), observed("node-3", 30)];
    assert.deepEqual(convergenceOf(same, names), { converged: true, problems: [] });
    const lagging = convergenceOf(
      [observed("node-1", 30), observed("node-2", 28), observed("node-3", 30)],
      names,
    );
    assert.deepEqual(lagging.problems, ["node-2 lags: applied 28 < 30"]);
    const silent: NodeObservation = { node: "node-3", errors: ["status: node-3: connect ECONNREFUSED"] };
    assert.deepEqual(
      convergenceOf([observed("node-1", 30), observed("node-2", 30), silent], names).problems,
      ["node-3 did not answer (status: node-3: connect ECONNREFUSED)"],
    );
    // Answered, same index, but another state or another chain (the old wait's gap: "answered").
    const other = convergenceOf(
      [
        observed("node-1", 30),
        observed("node-2", 30, { digest: "x", chain_sha256: "y" }),
        observed("node-3", 30),
      ],
      names,
    );
    assert.deepEqual(other.problems, [
      "node-2 holds another state at applied 30",
      "node-2 holds another chain at applied 30",
    ]);
    assert.equal(convergenceOf(same.slice(0, 2), names).converged, false, "a node never asked");
  });

  test("a convergence timeout names the lagging node and what every node last said", () => {
    const record: ConvergenceRecord = {
      converged: false,
      timeout_ms: 180_000,
      waited_ms: 180_400,
      polls: 170,
      nodes: [
        observed("node-1", 80_089, {
          raft: {
            term: 1919,
            state: "leader",
            leader: "node-1",
            commit_index: 80_089,
            applied_index: 80_089,
          },
        }),
        observed("node-2", 79_974),
        {
          node: "node-3",
          errors: ["status: node-3: timeout", "state: node-3: timeout", "chain: node-3: timeout"],
        },
      ],
    };
    const finals = [final("node-1", 80_089, {}), final("node-2", 79_974, {})];
    const verdict = checkConverged(finals, 3, record);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /not converged within 180 s of the heal \(170 polls\)/);
    assert.match(verdict.detail, /node-2 lags: applied 79974 < 80089/);
    assert.match(verdict.detail, /node-3 did not answer \(status: node-3: timeout/);
    assert.match(verdict.detail, /node-1: state at applied 80089 .*term 1919 leader, leader node-1/);
    assert.match(verdict.detail, /node-2: state at applied 79974 .*term 7 follower, leader node-1/);
    // The record decides: finals that agree do not hide a wait that timed out.
    const agreeing = [final("node-1", 30, {}), final("node-2", 30, {}), final("node-3", 30, {})];
    assert.equal(checkConverged(agreeing, 3, record).ok, false);
    assert.equal(checkConverged(agreeing, 3, { ...record, converged: true }).ok, true);
  });
});
