import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import {
  formatChainExport,
  generateSampleChain,
  makeBlock,
  signBlockBody,
  verifyChain,
} from "@revoada/fabric-core/attest";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";

/**
 * `revoada chain verify` runs the built `verifyChainParallel`, whose worker threads start from
 * `dist/attest/verify-worker.js`. This test loads the build (turbo builds before testing) from
 * a process run from source, as the attest benchmark does, so a worker that does not load,
 * or answers wrongly, fails here and not only in an operator's hands.
 */
const built = new URL("../../dist/attest/parallel-verify.js", import.meta.url);
assert.ok(existsSync(built), "run `pnpm build` in packages/node before this test");
const { verifyChainParallel } = (await import(built.href)) as typeof import("./parallel-verify.js");

await loadBlake3();
// 1 300 blocks: several batches, so the worker thread checks some of them.
const sample = generateSampleChain({ blocks: 1300, seed: 7, checkpointEvery: 64 });

describe("the built verifyChainParallel and its worker threads", () => {
  test("verify an honest chain as verifyChain does", async () => {
    const expected = verifyChain(sample.text, { mode: "every-block" });
    assert.ok(expected.ok);
    const report = await verifyChainParallel(sample.text, { mode: "every-block", threads: 2 });
    assert.deepEqual(report, expected);
  });

  test("find and name a bad block signature", async () => {
    const at = 1000;
    const original = sample.blocks[at]!;
    const signer = sample.founders.find((founder) => founder.nodeId === original.body.proposer)!;
    const forged = makeBlock(original.body, signBlockBody({ ...original.body, committed_at_ms: 1 }, signer));
    const text = formatChainExport(
      sample.genesis,
      [...sample.blocks.slice(0, at), forged],
      sample.checkpoints.filter((checkpoint) => checkpoint.size <= at),
    );
    const report = await verifyChainParallel(text, { mode: "every-block", threads: 2 });
    assert.ok(!report.ok);
    assert.equal(report.failure.reason, "block-signature-invalid");
    assert.equal(report.failure.sequence, at);
    assert.match(report.failure.message, new RegExp(original.body.proposer));
    assert.deepEqual(report, verifyChain(text, { mode: "every-block" }));
  });
});
