// Goal: each check of a chaos campaign fails on the fault it exists to catch, and passes on a
// clean run, so a green campaign means something. Method: small hand-written histories,
// samples and final views (a real signed chain from the attest sample generator), one defect
// at a time.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { generateSampleChain } from "@revoada/fabric-core/attest";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import {
  checkAcknowledgedWrites,
  checkChains,
  checkConverged,
  checkLinearizability,
  checkOnlyCommittedRendered,
  type FinalNode,
  type StateSample,
} from "./checks.js";
import type { HistoryEvent } from "./history.js";

let chain = "";
before(async () => {
  await loadBlake3();
  chain = generateSampleChain({ blocks: 6, seed: 3 }).text;
});

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
    assert.equal(checkChains([final("node-1", 5, {}), final("node-2", 5, {})]).ok, true);
    const shorter = `${chain.split("\n").slice(0, 3).join("\n")}\n`;
    assert.match(checkChains([final("node-1", 5, {}), final("node-2", 5, {}, shorter)]).detail, /differs/);
    const tampered = chain.replace(/"index":(\d+)/, (_, n: string) => `"index":${Number(n) + 1}`);
    const verdict = checkChains([final("node-1", 5, {}, tampered), final("node-2", 5, {}, tampered)]);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /node-1: /);
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
  });
});
