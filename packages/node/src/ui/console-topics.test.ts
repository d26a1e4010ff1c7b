// Goal: the console's shift history is the chain's own: every block in order with its
// command, the checkpoints with their signatures, and the verifier's verdict, which turns to
// the first problem when a block is altered. Method: a deterministic sample chain from the
// attestation layer, read whole and with one block's term edited.
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateSampleChain } from "@revoada/fabric-core/attest";
import { loadBlake3, type RoleCommand } from "@revoada/fabric-core/vocabulary";
import { chainTopic, decisionsTopic } from "./console-topics.js";

test("the chain topic lists every shift and checkpoint, verified, and names the first problem of a tampered chain", async () => {
  await loadBlake3();
  const sample = generateSampleChain({ blocks: 24, checkpointEvery: 8, seed: 3 });
  const topic = chainTopic(sample.text);
  assert.equal(topic.verified, true, topic.verdict);
  assert.equal(topic.verdict, "ok");
  assert.equal(topic.height, sample.blocks.length);
  assert.deepEqual(
    topic.shifts.map((shift) => [shift.sequence, shift.command, shift.node]),
    sample.blocks.map((block) => [
      block.body.sequence,
      block.body.command.type,
      (block.body.command as RoleCommand).node,
    ]),
  );
  assert.deepEqual(
    topic.checkpoints.map((checkpoint) => checkpoint.size),
    sample.checkpoints.map((checkpoint) => checkpoint.size),
  );
  assert.ok(
    topic.checkpoints.every((checkpoint) => checkpoint.signatures >= 2),
    "leader and witnesses signed",
  );
  assert.equal(topic.sealed_size, Math.max(...sample.checkpoints.map((checkpoint) => checkpoint.size)));

  const lines = sample.text.split("\n");
  const index = lines.findIndex((line) => line.includes('"sequence":5,'));
  assert.ok(index > 0, "block 5 is in the export");
  lines[index] = lines[index]!.replace(
    /"term":(\d+)/,
    (_match, term: string) => `"term":${Number(term) + 1}`,
  );
  const tampered = chainTopic(lines.join("\n"));
  assert.equal(tampered.verified, false);
  assert.match(tampered.verdict, new RegExp(`at line ${index + 1}:`), tampered.verdict);
  assert.equal(chainTopic("").verdict, "no chain yet");
});

test("decisions: repeated records collapse into one row with a count, notes come from the latest round only", () => {
  const record = (
    rule: "placement-stacked" | "no-workload-host" | "shape-satisfied",
    outcome: "held" | "refused" | "noted",
  ) => ({
    action: "place" as const,
    outcome,
    rule,
    subject: "default/web",
    message: `${rule} ${outcome}`,
    facts: {},
  });
  const topic = decisionsTopic("node-1", [
    { at_ms: 1, record: record("placement-stacked", "held") },
    { at_ms: 1, record: record("shape-satisfied", "noted") },
    { at_ms: 2, record: record("placement-stacked", "held") },
    { at_ms: 3, record: record("no-workload-host", "refused") },
    { at_ms: 4, record: record("placement-stacked", "held") },
    { at_ms: 4, record: record("shape-satisfied", "noted") },
  ]);
  assert.deepEqual(
    topic.acted.map((entry) => [entry.at_ms, entry.record.rule, entry.repeats]),
    [
      [2, "placement-stacked", 2],
      [3, "no-workload-host", 1],
      [4, "placement-stacked", 1],
    ],
  );
  assert.deepEqual(
    topic.latest_round.map((entry) => entry.rule),
    ["shape-satisfied"],
  );
  assert.equal(topic.source, "node-1");
});
