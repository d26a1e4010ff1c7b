// Goal: `revoada chain` verifies, shows and proves against an exported chain as
// docs/attestation.md says, with the documented exit codes. Method: write a sample export
// with `chain sample`, run every subcommand in a child process, then tamper with the file
// and the proof and check the first bad record is named.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { runCli } from "./cli-harness.js";

const scratch = mkdtempSync(join(tmpdir(), "revoada-chain-cli-"));
const exportFile = join(scratch, "chain.jsonl");

describe("revoada chain", () => {
  before(async () => {
    const run = await runCli([
      "chain",
      "sample",
      "--out",
      exportFile,
      "--blocks",
      "120",
      "--checkpoint-every",
      "32",
    ]);
    assert.equal(run.code, 0, run.stderr);
  });

  it("verify accepts the sample in both modes and prints a summary", async () => {
    for (const mode of ["checkpoints", "every-block"]) {
      const run = await runCli(["chain", "verify", "--file", exportFile, "--mode", mode, "-o", "json"]);
      assert.equal(run.code, 0, run.stderr);
      const summary = JSON.parse(run.stdout) as {
        blocks: number;
        sealedSize: number;
        blockSignaturesChecked: number;
      };
      assert.equal(summary.blocks, 120);
      assert.equal(summary.sealedSize, 120);
      assert.equal(summary.blockSignaturesChecked, mode === "every-block" ? 120 : 0);
    }
  });

  it("verify exits 1 naming the first bad record and the reason", async () => {
    const lines = readFileSync(exportFile, "utf8").split("\n");
    const target = lines.findIndex((line, i) => i > 10 && line.startsWith('{"body"'));
    lines[target] = lines[target]!.replace('"force":false', '"force":true');
    const tampered = join(scratch, "tampered.jsonl");
    writeFileSync(tampered, lines.join("\n"));
    const run = await runCli(["chain", "verify", "--file", tampered]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`line ${target + 1} \\(block \\d+\\): block-hash-mismatch`));
  });

  it("verify refuses a genesis other than the pinned one", async () => {
    const run = await runCli(["chain", "verify", "--file", exportFile, "--genesis", "0".repeat(64)]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /genesis-not-trusted/);
  });

  it("show prints who held which role when, as a table and as JSON", async () => {
    const table = await runCli(["chain", "show", "--file", exportFile]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout.split("\n")[0]!,
      /^SEQ\s+RAFT_INDEX\s+TERM\s+COMMITTED_AT\s+COMMAND\s+NODE\s+ROLES_AFTER/,
    );
    assert.equal(table.stdout.trim().split("\n").length, 121);
    const json = await runCli(["chain", "show", "--file", exportFile, "-o", "json"]);
    const history = JSON.parse(json.stdout) as {
      blocks: { command: string; roles_after: string[] }[];
      roles: object;
    };
    assert.equal(history.blocks.length, 120);
    assert.deepEqual(history.blocks[2]!.roles_after, ["quarantined"]);
  });

  it("prove prints an inclusion proof that verify-proof accepts with the members' keys", async () => {
    const proofFile = join(scratch, "proof.json");
    const proof = await runCli(["chain", "prove", "77", "--file", exportFile]);
    assert.equal(proof.code, 0, proof.stderr);
    writeFileSync(proofFile, proof.stdout);
    const bundle = JSON.parse(proof.stdout) as { tree_size: number; proof: string[] };
    assert.equal(bundle.tree_size, 96);
    assert.equal(bundle.proof.length, 6, "the 64-leaf left subtree and five levels of the 32-leaf right one");
    const genesis = JSON.parse(readFileSync(exportFile, "utf8").split("\n")[0]!) as {
      body: { control_plane: string[] };
    };
    const keys = genesis.body.control_plane.flatMap((key) => ["--key", key]);
    const checked = await runCli(["chain", "verify-proof", proofFile, ...keys, "--cosignatures", "1"]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /block 77 is in the tree of size 96; checkpoint signed by/);
    const tampered = join(scratch, "proof-tampered.json");
    writeFileSync(tampered, proof.stdout.replace(bundle.proof[3]!, bundle.proof[4]!));
    const refused = await runCli(["chain", "verify-proof", tampered, ...keys]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /inclusion-invalid/);
    const untrusted = await runCli(["chain", "verify-proof", proofFile, "--key", "1".repeat(64)]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /checkpoint-untrusted/);
  });

  it("prove-consistency prints a proof between two checkpoints that verify-proof accepts", async () => {
    const proofFile = join(scratch, "consistency.json");
    const proof = await runCli(["chain", "prove-consistency", "32", "96", "--file", exportFile]);
    assert.equal(proof.code, 0, proof.stderr);
    writeFileSync(proofFile, proof.stdout);
    const genesis = JSON.parse(readFileSync(exportFile, "utf8").split("\n")[0]!) as {
      body: { control_plane: string[] };
    };
    const keys = genesis.body.control_plane.flatMap((key) => ["--key", key]);
    const checked = await runCli(["chain", "verify-proof", proofFile, ...keys, "--cosignatures", "1"]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /prefix of the newer one's; checkpoint signed by/);
    const bundle = JSON.parse(proof.stdout) as { proof: string[] };
    const tampered = join(scratch, "consistency-tampered.json");
    writeFileSync(tampered, proof.stdout.replace(bundle.proof[0]!, bundle.proof[1]!));
    const refused = await runCli(["chain", "verify-proof", tampered]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /consistency-invalid/);
    assert.equal((await runCli(["chain", "prove-consistency", "33", "96", "--file", exportFile])).code, 4);
  });

  it("reads the chain from a node's GET /v1/chain/export with --node", async () => {
    const text = readFileSync(exportFile, "utf8");
    const server = createServer((request, response) => {
      response.writeHead(request.url === "/v1/chain/export" ? 200 : 404, { "content-type": "text/plain" });
      response.end(request.url === "/v1/chain/export" ? text : "");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const verified = await runCli(["chain", "verify", "--node", `127.0.0.1:${port}`, "-o", "json"]);
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal((JSON.parse(verified.stdout) as { blocks: number }).blocks, 120);
      const shown = await runCli(["chain", "show", "--node", `127.0.0.1:${port}`, "-o", "json"]);
      assert.equal(shown.code, 0, shown.stderr);
    } finally {
      server.close();
    }
  });

  it("prove by raft index; exit codes for missing blocks, files and nodes", async () => {
    const byRaft = await runCli(["chain", "prove", "1", "--raft-index", "--file", exportFile]);
    assert.equal(byRaft.code, 0, byRaft.stderr);
    assert.equal((JSON.parse(byRaft.stdout) as { leaf_index: number }).leaf_index, 0);
    assert.equal((await runCli(["chain", "prove", "500", "--file", exportFile])).code, 4);
    assert.equal((await runCli(["chain", "verify", "--file", join(scratch, "missing.jsonl")])).code, 4);
    assert.equal((await runCli(["chain", "verify"])).code, 2);
    assert.equal((await runCli(["chain", "verify", "--node", "127.0.0.1:1"])).code, 5);
  });
});
