/**
 * What a relay follower pays to trust a stamp through the attestation chain (docs/scale.md,
 * "Trust across voter replacements"): `verifyChainExtension` over a sample chain of `total`
 * blocks from a follower that holds the first `known` (its own blocks re-linked, the others
 * verified one by one), best wall time of 3, per block.
 * `node --conditions=source --import tsx bench/scale/handover.ts [total ...]`
 */
import { cpus, loadavg } from "node:os";
import { generateSampleChain, verifyChainExtension } from "../../packages/fabric-core/src/attest/index.js";
import { loadBlake3 } from "../../packages/fabric-core/src/vocabulary/index.js";

await loadBlake3();
const totals = process.argv.slice(2).map(Number);
console.log(
  `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores, Node ${process.version}, load ${loadavg()[0]!.toFixed(1)}`,
);
for (const total of totals.length > 0 ? totals : [1_000, 4_000]) {
  const sample = generateSampleChain({ blocks: total });
  for (const known of [0, Math.floor(total / 2)]) {
    const trusted = { genesis: sample.genesis, blocks: sample.blocks.slice(0, known) };
    let bestMs = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 3; run += 1) {
      const start = performance.now();
      const extension = verifyChainExtension(trusted, sample);
      bestMs = Math.min(bestMs, performance.now() - start);
      if (!extension.ok) throw new Error(extension.reason);
    }
    const verified = total - known;
    console.log(
      `chain of ${total} blocks, follower holds ${known}: ${verified} verified in ${bestMs.toFixed(1)} ms ` +
        `(${((bestMs * 1000) / verified).toFixed(0)} µs per block)`,
    );
  }
}
console.log(`load at the end ${loadavg()[0]!.toFixed(1)}`);
