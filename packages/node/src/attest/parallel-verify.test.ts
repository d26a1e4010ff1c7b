import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatChainExport,
  generateSampleChain,
  makeBlock,
  signBlockBody,
  type VerifyMode,
  verifyChain,
} from "@revoada/fabric-core/attest";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { type VerifyProgress, verifyChainParallel } from "./parallel-verify.js";

await loadBlake3();
// 1 300 blocks: three batches of signatures, so worker threads check most of them.
const sample = generateSampleChain({ blocks: 1300, seed: 5, checkpointEvery: 64, leaderBlocks: 200 });
const modes: readonly VerifyMode[] = ["every-block", "checkpoints"];

/** The sample up to block `at`, whose signature is then replaced by one over another body. */
function withBadSignature(at: number, keepAfter: boolean): string {
  const original = sample.blocks[at]!;
  const signer = sample.founders.find((founder) => founder.nodeId === original.body.proposer);
  assert.ok(signer !== undefined, "founders propose the sample's blocks");
  const forged = makeBlock(original.body, signBlockBody({ ...original.body, committed_at_ms: 1 }, signer));
  const after = keepAfter ? sample.blocks.slice(at + 1) : [];
  return formatChainExport(
    sample.genesis,
    [...sample.blocks.slice(0, at), forged, ...after],
    sample.checkpoints.filter((checkpoint) => checkpoint.size <= at),
  );
}

describe("verifyChainParallel gives verifyChain's report", () => {
  test("an honest chain: the same summary in both modes, with worker threads and without", async () => {
    for (const mode of modes) {
      const expected = verifyChain(sample.text, { mode });
      assert.ok(expected.ok);
      for (const threads of [1, 3]) {
        assert.deepEqual(
          await verifyChainParallel(sample.text, { mode, threads }),
          expected,
          `${mode}, ${threads}`,
        );
      }
    }
  });

  test("a bad block signature is the first failure, before the broken link after it", async () => {
    for (const at of [3, 700, 1299]) {
      const text = withBadSignature(at, true);
      const expected = verifyChain(text, { mode: "every-block" });
      assert.ok(!expected.ok);
      assert.equal(expected.failure.reason, "block-signature-invalid");
      assert.equal(expected.failure.sequence, at);
      const report = await verifyChainParallel(text, { mode: "every-block", threads: 3 });
      assert.deepEqual(report, expected, `bad signature at block ${at}`);
    }
  });

  test("a failure on an earlier line than a bad signature is reported instead", async () => {
    const text = withBadSignature(1200, false);
    const lines = text.split("\n");
    const tamperedAt = lines.findIndex((line, i) => i > 0 && line.includes('"sequence":40,'));
    lines[tamperedAt] = lines[tamperedAt]!.replace('"sequence":40,', '"sequence":41,');
    const tampered = lines.join("\n");
    const expected = verifyChain(tampered, { mode: "every-block" });
    assert.ok(!expected.ok);
    assert.equal(expected.failure.line, tamperedAt + 1);
    assert.deepEqual(await verifyChainParallel(tampered, { mode: "every-block", threads: 3 }), expected);
  });

  test("progress is reported and ends with every signature checked", async () => {
    const seen: VerifyProgress[] = [];
    const report = await verifyChainParallel(sample.text, {
      mode: "every-block",
      threads: 2,
      progressIntervalMs: 0,
      onProgress: (progress) => seen.push(progress),
    });
    assert.ok(report.ok);
    const last = seen.at(-1)!;
    assert.equal(last.lines, last.linesTotal);
    assert.equal(last.blocks, 1300);
    assert.equal(last.signaturesChecked, report.summary.blockSignaturesChecked);
    assert.equal(last.signaturesQueued, 1300);
    assert.ok(seen.length > 1, "progress during the walk, not only at its end");
  });
});
