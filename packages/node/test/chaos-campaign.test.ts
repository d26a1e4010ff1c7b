// Goal: under real faults (partitions two-way, one-way, leader-isolating and ring; an
// interface down; SIGSTOP; kill -9 and restart; a full disk; one node's wall clock jumping
// minutes back or ahead) the fabric keeps its promises to
// clients: the register history is linearizable, no acknowledged write is lost on any node,
// the attestation chains agree byte for byte at one index and verify, no node shows a state
// that was not committed, and every node converges after healing (one applied index, state and
// chain; a failure says what each node last said: convergence.json).
// Method: the short chaos campaign CI runs (`pnpm chaos`, docs/reliability.md): a fixed seed,
// 3 minutes of operations and faults (10 faults, every kind at least once, the clock jump twice:
// 5 minutes back, then 7 ahead), on 5 daemons in network
// namespaces. A failing run
// keeps its files under chaos-results/<run id>/ (`pnpm chaos check <dir>` re-checks them).
// Needs root, iproute2, nftables and libfaketime (scripts/setup-system.sh); without them it
// fails, never skips.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCampaign } from "../src/chaos/index.js";

const results = resolve(fileURLToPath(new URL("../../../chaos-results", import.meta.url)));

describe("chaos campaign (short, fixed seed)", () => {
  for (const seed of [11]) {
    test(`seed ${seed}: every check holds`, async () => {
      const result = await runCampaign({ seed, minutes: 3, out: results });
      const failed = result.verdicts.filter((verdict) => !verdict.ok);
      assert.deepEqual(
        failed.map((verdict) => `${verdict.name}: ${verdict.detail}`),
        [],
        `files kept in ${result.runDirectory}`,
      );
      // The campaign did what it is for: faults ran and writes were acknowledged through them.
      assert.ok(Object.values(result.figures.faults).reduce((a, b) => a + b, 0) >= 6, "at least six faults");
      assert.ok(result.figures.acknowledged_writes > 0, "writes were acknowledged");
      assert.ok((result.figures.operations.read?.ok ?? 0) > 0, "consistent reads succeeded");
    });
  }
});
