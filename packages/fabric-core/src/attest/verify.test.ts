// Goal: `verifyChain` accepts every honest history and reports the FIRST bad record, with the
// right reason, for every kind of tampering the issue names: a flipped byte anywhere in a
// block, a dropped, reordered or inserted block, a signature by a non-member (judged by the
// chain's own membership history), a forked checkpoint, and missing or bad cosignatures.
// Method: deterministic sample histories (real leader signatures, witnesses cosigning after
// consistency proofs), mutated at positions fast-check picks.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { encodeProposal, loadBlake3, type Proposal, type Signer } from "../vocabulary/index.js";
import { type BlockBody, makeBlock, signBlockBody } from "./block.js";
import { AttestChain, signRoleProposal } from "./chain.js";
import { formatCheckpointNote, signCheckpoint, withCosignatures } from "./checkpoint.js";
import { formatChainExport } from "./export.js";
import { MerkleTree } from "./merkle.js";
import { cosignNote, parseSignedNote } from "./note.js";
import { generateSampleChain, type SampleChain } from "./sample.js";
import { type VerifyMode, type VerifyReason, verifyChain } from "./verify.js";
import { Witness } from "./witness.js";

await loadBlake3();

const samples = [
  generateSampleChain({ blocks: 150, seed: 11, controlPlane: 3, checkpointEvery: 16, leaderBlocks: 40 }),
  generateSampleChain({
    blocks: 90,
    seed: 12,
    controlPlane: 5,
    workers: 3,
    checkpointEvery: 7,
    leaderBlocks: 13,
  }),
];
const modes: VerifyMode[] = ["checkpoints", "every-block"];

function lines(text: string): string[] {
  return text.split("\n").slice(0, -1);
}

function join(parts: readonly string[]): string {
  return `${parts.join("\n")}\n`;
}

/** 0-based line numbers of block records (line 0 is the genesis). */
function blockLines(text: string): number[] {
  return lines(text).flatMap((line, i) => (i > 0 && line.startsWith('{"body"') ? [i] : []));
}

function expectFailure(text: string, mode: VerifyMode, reasons: readonly VerifyReason[], line: number): void {
  const report = verifyChain(text, { mode });
  assert.ok(!report.ok, "tampering must be detected");
  assert.ok(
    reasons.includes(report.failure.reason),
    `reason ${report.failure.reason}: ${report.failure.message}`,
  );
  assert.equal(report.failure.line, line, `first bad record (${report.failure.reason})`);
}

/** The sample's first `count` blocks, then a block proposed by `proposer`, as an export (checkpoints within). */
function withForgedBlock(sample: SampleChain, count: number, proposer: Signer): string {
  const chain = new AttestChain(sample.genesis, { verifySignatures: false });
  for (const block of sample.blocks.slice(0, count)) chain.append(block);
  const value: Proposal = {
    command: { type: "restore", node: proposer.nodeId },
    proposer: proposer.nodeId,
    issued_at_ms: 1,
    origin: "policy",
    force: false,
  };
  const signed = signRoleProposal(chain.head, chain.head.term, chain.head.index + 1, value, proposer);
  chain.applyCommitted({
    term: chain.head.term,
    index: chain.head.index + 1,
    data: encodeProposal(signed.proposal),
  });
  const checkpoints = sample.checkpoints.filter((checkpoint) => checkpoint.size <= count);
  return formatChainExport(sample.genesis, chain.blocks, checkpoints);
}

describe("verifyChain accepts honest histories", () => {
  test("any generated history verifies in both modes (property)", () => {
    fc.assert(
      fc.property(
        fc.record({
          blocks: fc.integer({ min: 1, max: 90 }),
          seed: fc.integer({ min: 1, max: 1000 }),
          controlPlane: fc.integer({ min: 1, max: 5 }),
          workers: fc.integer({ min: 1, max: 5 }),
          checkpointEvery: fc.integer({ min: 1, max: 40 }),
          leaderBlocks: fc.integer({ min: 1, max: 30 }),
        }),
        (options) => {
          const sample = generateSampleChain(options);
          for (const mode of modes) {
            const report = verifyChain(sample.text, { mode, trustedGenesisHash: sample.genesis.hash });
            assert.ok(report.ok, report.ok ? "" : JSON.stringify(report.failure));
            assert.equal(report.summary.blocks, options.blocks);
            assert.equal(report.summary.sealedSize, options.blocks, "the sample seals its whole chain");
            assert.deepEqual(
              report.summary.roles,
              sample.chain.roles.snapshot(),
              "replay reproduces the role table",
            );
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test("checkpoint mode checks only uncovered block signatures; every-block mode checks all", () => {
    const sample = samples[0]!;
    const cut = sample.checkpoints[2]!.size;
    const partial = join(
      lines(sample.text).filter(
        (line, i) =>
          i <= lines(sample.text).findIndex((l) => l.includes(`\\n${cut}\\n`)) ||
          !line.includes('"checkpoint"'),
      ),
    );
    const report = verifyChain(partial, { mode: "checkpoints" });
    assert.ok(report.ok);
    assert.equal(report.summary.sealedSize, cut);
    assert.equal(report.summary.blockSignaturesChecked, sample.blocks.length - cut);
    const full = verifyChain(sample.text, { mode: "every-block" });
    assert.ok(full.ok);
    assert.equal(full.summary.blockSignaturesChecked, sample.blocks.length);
  });
});

describe("verifyChain reports the first bad record with the right reason", () => {
  test("flipping any byte of any block record (property)", () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom(...modes),
        fc.constantFrom(0, 1),
        (pick, offset, mask, mode, which) => {
          const sample = samples[which]!;
          const all = lines(sample.text);
          const candidates = blockLines(sample.text);
          const at = candidates[pick % candidates.length]!;
          const bytes = Buffer.from(`${all[at]!}\n`, "utf8");
          const position = offset % bytes.length;
          bytes[position] = bytes[position]! ^ mask;
          const tampered =
            join(all.slice(0, at)) + bytes.toString("utf8") + join(all.slice(at + 1)).replace(/^\n$/, "");
          const reasons: VerifyReason[] = [
            "malformed-record",
            "non-canonical-encoding",
            "block-hash-mismatch",
          ];
          expectFailure(tampered, mode, reasons, at + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("dropping, reordering or inserting a block (property)", () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.constantFrom("drop", "swap", "duplicate"),
        fc.constantFrom(...modes),
        fc.constantFrom(0, 1),
        (pick, edit, mode, which) => {
          const sample = samples[which]!;
          const all = lines(sample.text);
          const candidates = blockLines(sample.text);
          const at = candidates[pick % candidates.length]!;
          if (edit === "drop") {
            const tampered = join([...all.slice(0, at), ...all.slice(at + 1)]);
            expectFailure(tampered, mode, ["sequence-mismatch", "checkpoint-beyond-chain"], at + 1);
          } else if (edit === "duplicate") {
            const tampered = join([...all.slice(0, at + 1), all[at]!, ...all.slice(at + 1)]);
            expectFailure(tampered, mode, ["sequence-mismatch"], at + 2);
          } else {
            const next = candidates.find((line) => line > at);
            fc.pre(next !== undefined);
            const swapped = [...all];
            swapped[at] = all[next]!;
            swapped[next] = all[at]!;
            expectFailure(join(swapped), mode, ["sequence-mismatch"], at + 1);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test("a well-formed, correctly linked block inserted by a member is caught at the next record", () => {
    const sample = samples[0]!;
    const count = 20;
    const leader = sample.founders[0]!;
    const forged = withForgedBlock(sample, count, leader);
    const honest = lines(sample.text);
    const inserted = lines(forged);
    const tampered = join([...inserted, ...honest.slice(inserted.length - 1)]);
    const report = verifyChain(tampered);
    assert.ok(!report.ok);
    assert.ok(
      ["sequence-mismatch", "checkpoint-fork"].includes(report.failure.reason),
      report.failure.reason,
    );
    assert.equal(report.failure.line, inserted.length + 1);
  });

  test("a block signed by a non-member, judged by the chain's own history (property)", () => {
    const sample = samples[0]!;
    const workers = [...sample.signers.values()].filter((signer) => !sample.founders.includes(signer));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 140 }), fc.constantFrom(...modes), (count, mode) => {
        // The sample promotes a worker at sequence 4w and demotes it at 4w + 1: it may sign
        // block 4w + 1 and no other. An outsider may never sign.
        const worker = workers[Math.floor((count - 1) / 4) % workers.length]!;
        const isMemberNow = count % 4 === 1;
        const forged = withForgedBlock(sample, count, worker);
        const report = verifyChain(forged, { mode });
        const line = lines(forged).length;
        if (isMemberNow) assert.ok(report.ok, report.ok ? "" : JSON.stringify(report.failure));
        else expectFailure(forged, mode, ["signer-not-member"], line);
        expectFailure(withForgedBlock(sample, count, sample.outsider), mode, ["signer-not-member"], line);
      }),
      { numRuns: 40 },
    );
  });

  test("a forked checkpoint: validly signed and cosigned, but for a different tree (property)", () => {
    const sample = samples[0]!;
    const members = new Set(sample.genesis.body.control_plane);
    const all = lines(sample.text);
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(...modes),
        (pick, leaf, bytes, mode) => {
          const target = sample.checkpoints[pick % sample.checkpoints.length]!;
          const forkedAt = leaf % target.size;
          fc.pre(Buffer.from(bytes).toString("hex") !== sample.blocks[forkedAt]!.hash);
          const forkedTree = new MerkleTree();
          for (const [i, block] of sample.blocks.slice(0, target.size).entries()) {
            forkedTree.append(i === forkedAt ? bytes : Buffer.from(block.hash, "hex"));
          }
          const leader = sample.founders[pick % sample.founders.length]!;
          const note = signCheckpoint(
            { origin: sample.genesis.body.origin, size: target.size, root: forkedTree.rootAt() },
            leader,
          );
          const cosigners = sample.founders
            .filter((signer) => signer !== leader)
            .map((signer) => cosignNote(note.text, signer, 1_780_000_000));
          const forkedNote = formatCheckpointNote(withCosignatures(note, cosigners));
          const at = all.indexOf(JSON.stringify({ kind: "checkpoint", note: target.note }));
          assert.ok(at > 0);
          const tampered = join([
            ...all.slice(0, at),
            JSON.stringify({ kind: "checkpoint", note: forkedNote }),
            ...all.slice(at + 1),
          ]);
          expectFailure(tampered, mode, ["checkpoint-fork"], at + 1);
          // A witness that cosigned the real checkpoint refuses the fork (split-view defence).
          const witness = new Witness(
            cosigners.length > 0 ? sample.founders.find((signer) => signer !== leader)! : leader,
            sample.genesis.body.origin,
            null,
          );
          assert.ok(witness.cosign({ note: target.note, oldSize: 0, proof: [] }, members, 0).ok);
          const refused = witness.cosign(
            { note: formatCheckpointNote(note), oldSize: target.size, proof: [] },
            members,
            0,
          );
          assert.ok(!refused.ok);
          assert.equal(refused.refusal, "fork");
        },
      ),
      { numRuns: 60 },
    );
  });

  test("missing, invalid and non-member checkpoint signatures", () => {
    const sample = samples[0]!;
    const target = sample.checkpoints[1]!;
    const all = lines(sample.text);
    const at = all.indexOf(JSON.stringify({ kind: "checkpoint", note: target.note }));
    const parsed = parseSignedNote(target.note);
    assert.ok(parsed.ok);
    const replace = (note: string) =>
      join([...all.slice(0, at), JSON.stringify({ kind: "checkpoint", note }), ...all.slice(at + 1)]);
    const [leaderLine, ...cosignatures] = parsed.note.signatures;
    const uncosigned = formatCheckpointNote({ text: parsed.note.text, signatures: [leaderLine!] });
    expectFailure(replace(uncosigned), "checkpoints", ["cosignatures-insufficient"], at + 1);
    const badCosignature = {
      ...cosignatures[0]!,
      signature: Buffer.from(cosignatures[0]!.signature).fill(7, 8),
    };
    expectFailure(
      replace(formatCheckpointNote({ text: parsed.note.text, signatures: [leaderLine!, badCosignature] })),
      "checkpoints",
      ["cosignature-invalid"],
      at + 1,
    );
    const byOutsider = signCheckpoint(
      { origin: sample.genesis.body.origin, size: target.size, root: sample.chain.tree.rootAt(target.size) },
      sample.outsider,
    );
    expectFailure(
      replace(formatCheckpointNote(withCosignatures(byOutsider, cosignatures))),
      "checkpoints",
      ["checkpoint-signer-not-member"],
      at + 1,
    );
  });

  test("terms and indexes never go backwards; a bad block signature is reported", () => {
    const sample = samples[0]!;
    const leader = sample.founders[0]!;
    const head = sample.blocks[9]!;
    const base: BlockBody = {
      ...sample.blocks[10]!.body,
      proposer: leader.nodeId,
    };
    const variants: [BlockBody, VerifyReason, boolean][] = [
      [{ ...base, term: head.body.term - 1 }, "term-regressed", true],
      [{ ...base, index: head.body.index }, "index-regressed", true],
      [base, "block-signature-invalid", false],
    ];
    for (const [body, reason, signHonestly] of variants) {
      const signature = signHonestly
        ? signBlockBody(body, leader)
        : signBlockBody({ ...body, committed_at_ms: 1 }, leader);
      const block = makeBlock(body, signature);
      const text = formatChainExport(
        sample.genesis,
        [...sample.blocks.slice(0, 10), block],
        sample.checkpoints.filter((c) => c.size <= 10),
      );
      for (const mode of modes) expectFailure(text, mode, [reason], lines(text).length);
    }
  });

  test("genesis: tampered, not the pinned one, or missing", () => {
    const sample = samples[1]!;
    const all = lines(sample.text);
    const tampered = join([
      all[0]!.replace('"require_operator_signature":true', '"require_operator_signature":false'),
      ...all.slice(1),
    ]);
    expectFailure(tampered, "checkpoints", ["genesis-hash-mismatch"], 1);
    const pinned = verifyChain(sample.text, { trustedGenesisHash: samples[0]!.genesis.hash });
    assert.ok(!pinned.ok);
    assert.equal(pinned.failure.reason, "genesis-not-trusted");
    expectFailure(join(all.slice(1)), "checkpoints", ["genesis-missing", "malformed-record"], 1);
    expectFailure("", "checkpoints", ["empty-export"], 1);
  });
});
