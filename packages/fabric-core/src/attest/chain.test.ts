// Goal: the chain is a pure function of the committed log: exactly one block per committed
// role command, byte-identical across independent builders, replays skipped, and problems
// (unsigned, mis-signed, non-member, operator rules) reported as data. Method: feed
// hand-made committed entries, including non-role, non-proposal and conf-change entries.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Blake3Hash,
  encodeProposal,
  loadBlake3,
  type NodeId,
  type Proposal,
} from "../vocabulary/index.js";
import { blockCommandLabel, makeGenesis, signOperatorCommand } from "./block.js";
import { AttestChain, type ChainHead, type CommittedEntry, signRoleProposal } from "./chain.js";
import { formatChainExport } from "./export.js";
import { RoleTable } from "./role-table.js";
import { sampleSigner } from "./sample.js";
import { verifyChain } from "./verify.js";

await loadBlake3();
const founders = [sampleSigner(7, "a"), sampleSigner(7, "b"), sampleSigner(7, "c")];
const worker = sampleSigner(7, "worker");
const operator = sampleSigner(7, "operator");

function genesis(requireOperatorSignature = false) {
  return makeGenesis({
    v: 1,
    origin: "revoada.example/chain-test",
    control_plane: founders.map((signer) => signer.nodeId).sort(),
    operators: [operator.nodeId],
    require_operator_signature: requireOperatorSignature,
  });
}

function proposal(command: Proposal["command"], proposer: NodeId, issuedAtMs: number): Proposal {
  return { command, proposer, issued_at_ms: issuedAtMs, origin: "policy", force: false };
}

/** A committed log with role commands signed the way a leader signs them, plus other entries. */
function committedLog(): CommittedEntry[] {
  const leader = founders[0]!;
  const entries: CommittedEntry[] = [{ term: 1, index: 1, kind: "empty", data: new Uint8Array() }];
  const shadow = new AttestChain(genesis(), { verifySignatures: false });
  const add = (term: number, index: number, value: Proposal) => {
    const signed = signRoleProposal(shadow.head, term, index, value, leader);
    const entry = { term, index, kind: "normal" as const, data: encodeProposal(signed.proposal) };
    shadow.applyCommitted(entry);
    entries.push(entry);
  };
  add(
    1,
    2,
    proposal(
      { type: "promote", node: worker.nodeId, roles: ["etcd"], reason: "scaling-up" },
      leader.nodeId,
      10,
    ),
  );
  entries.push({
    term: 1,
    index: 3,
    kind: "normal",
    data: encodeProposal(proposal({ type: "restore", node: worker.nodeId }, leader.nodeId, 11)),
  });
  // Index 3 carried an unsigned restore: still exactly one block. Then a workload command.
  shadow.applyCommitted(entries[entries.length - 1]!);
  entries.push({
    term: 1,
    index: 4,
    kind: "normal",
    data: encodeProposal(
      proposal({ type: "workload-delete", namespace: "default", name: "web" }, leader.nodeId, 12),
    ),
  });
  entries.push({ term: 2, index: 5, kind: "conf-change", data: new TextEncoder().encode("{}") });
  entries.push({ term: 2, index: 6, data: new TextEncoder().encode("not json") });
  add(
    2,
    7,
    proposal({ type: "quarantine", node: worker.nodeId, reason: "health-degraded" }, leader.nodeId, 20),
  );
  return entries;
}

describe("attest chain from committed entries", () => {
  test("one block per committed role command; other entries skipped with a reason", () => {
    const chain = new AttestChain(genesis());
    const outcomes = committedLog().map((entry) => chain.applyCommitted(entry));
    assert.deepEqual(
      outcomes.map((outcome) =>
        outcome.type === "skipped" ? outcome.reason : outcome.block.body.command.type,
      ),
      [
        "not-normal",
        "promote",
        "restore",
        "not-a-role-command",
        "not-normal",
        "not-a-proposal",
        "quarantine",
      ],
    );
    assert.equal(chain.blocks.length, 3);
    const unsigned = outcomes[2]!;
    assert.ok(unsigned.type === "appended");
    assert.deepEqual(unsigned.problems, ["block-signature-missing"]);
    assert.deepEqual(chain.roles.rolesOf(worker.nodeId), ["quarantined"]);
  });

  test("independent builders derive byte-identical chains; replayed entries are skipped", () => {
    const log = committedLog();
    const first = new AttestChain(genesis());
    const second = new AttestChain(genesis());
    for (const entry of log) first.applyCommitted(entry);
    for (const entry of log.slice(0, 3)) second.applyCommitted(entry);
    // A restart replays entries already attested: nothing changes.
    for (const entry of log) {
      const outcome = second.applyCommitted(entry);
      if (entry.index <= 3) assert.deepEqual(outcome, { type: "skipped", reason: "already-attested" });
    }
    const bytes = (chain: AttestChain) => formatChainExport(chain.genesis, chain.blocks, []);
    assert.equal(bytes(first), bytes(second));
    assert.equal(first.head.hash, second.head.hash);
  });

  test("a leader that signed for another position produces a block that reports a bad signature", () => {
    const leader = founders[1]!;
    const chain = new AttestChain(genesis());
    const value = proposal(
      { type: "promote", node: worker.nodeId, roles: ["etcd"], reason: "scaling-up" },
      leader.nodeId,
      5,
    );
    const signed = signRoleProposal(chain.head, 1, 9, value, leader);
    const outcome = chain.applyCommitted({ term: 1, index: 10, data: encodeProposal(signed.proposal) });
    assert.ok(outcome.type === "appended");
    assert.deepEqual(outcome.problems, ["block-signature-invalid"]);
    const good = new AttestChain(genesis());
    const exact = good.applyCommitted({ term: 1, index: 9, data: encodeProposal(signed.proposal) });
    assert.ok(exact.type === "appended");
    assert.deepEqual(exact.problems, []);
    assert.deepEqual(exact.block, signed.block, "the leader's predicted block is the committed block");
  });

  test("each etcd membership step is a signed block that changes no roles and verifies", () => {
    const leader = founders[0]!;
    const chain = new AttestChain(genesis());
    const steps: Proposal["command"][] = [
      {
        type: "etcd-member",
        node: worker.nodeId,
        event: "added",
        member_id: "8e9e05c52164694d",
        credential: { blob: "ab".repeat(32) as Blake3Hash, serial: "1f" },
      },
      { type: "etcd-member", node: worker.nodeId, event: "promoted", member_id: "8e9e05c52164694d" },
      { type: "promote", node: worker.nodeId, roles: ["etcd"], reason: "scaling-up" },
      { type: "etcd-member", node: founders[2]!.nodeId, event: "removed", member_id: "0123456789abcdef" },
    ];
    const rolesAfter: string[][] = [];
    steps.forEach((command, i) => {
      const signed = signRoleProposal(
        chain.head,
        1,
        i + 2,
        proposal(command, leader.nodeId, 100 + i),
        leader,
      );
      const outcome = chain.applyCommitted({ term: 1, index: i + 2, data: encodeProposal(signed.proposal) });
      assert.ok(outcome.type === "appended", `step ${i} appended a block`);
      assert.deepEqual(outcome.problems, []);
      assert.deepEqual(outcome.block.body.command, command, "the block records the step as committed");
      rolesAfter.push([...chain.roles.rolesOf(worker.nodeId)]);
    });
    assert.deepEqual(
      chain.blocks.map((block) => blockCommandLabel(block.body.command)),
      [
        "etcd-member added 8e9e05c52164694d",
        "etcd-member promoted 8e9e05c52164694d",
        "promote",
        "etcd-member removed 0123456789abcdef",
      ],
    );
    // Only the role command moved the worker's roles; the removed member's node keeps its own.
    assert.deepEqual(rolesAfter, [["worker"], ["worker"], ["etcd"], ["etcd"]]);
    assert.ok(chain.roles.isMember(founders[2]!.nodeId));
    const report = verifyChain(formatChainExport(chain.genesis, chain.blocks, []), {
      trustedGenesisHash: chain.genesis.hash,
    });
    assert.ok(report.ok, report.ok ? "" : report.failure.message);
    assert.equal(report.summary.blocks, 4);
  });

  test("an etcd step proposed by a node that is not a control-plane member is recorded as such", () => {
    const chain = new AttestChain(genesis());
    const command: Proposal["command"] = {
      type: "etcd-member",
      node: worker.nodeId,
      event: "added",
      member_id: "1",
    };
    const signed = signRoleProposal(chain.head, 1, 2, proposal(command, worker.nodeId, 5), worker);
    const outcome = chain.applyCommitted({ term: 1, index: 2, data: encodeProposal(signed.proposal) });
    assert.ok(outcome.type === "appended");
    assert.deepEqual(outcome.problems, ["signer-not-member"]);
  });

  test("operator rules: required operator signatures are checked against configured keys", () => {
    const leader = founders[0]!;
    const chain = new AttestChain(genesis(true));
    const command = {
      type: "promote" as const,
      node: worker.nodeId,
      roles: ["etcd" as const],
      reason: "operator" as const,
    };
    const forced: Proposal = { ...proposal(command, leader.nodeId, 1), origin: "operator", force: true };
    // Each operator signs against the head it sees (the block goes right after it).
    const variants: ((head: ChainHead) => Proposal)[] = [
      () => forced,
      (head) => ({
        ...forced,
        operator_after: head.sequence,
        operator_signature: signOperatorCommand(command, head, worker),
      }),
      (head) => ({
        ...forced,
        operator_after: head.sequence,
        operator_signature: signOperatorCommand(command, head, operator),
      }),
    ];
    const problems = variants.map((variant, i) => {
      const signed = signRoleProposal(chain.head, 1, i + 1, variant(chain.head), leader);
      const outcome = chain.applyCommitted({ term: 1, index: i + 1, data: encodeProposal(signed.proposal) });
      assert.ok(outcome.type === "appended");
      return outcome.problems;
    });
    assert.deepEqual(problems, [["operator-signature-missing"], ["operator-signature-invalid"], []]);
    const report = verifyChain(formatChainExport(chain.genesis, chain.blocks, []), { mode: "every-block" });
    assert.ok(!report.ok);
    assert.equal(report.failure.reason, "operator-signature-missing");
    assert.equal(report.failure.line, 2);
  });
});

describe("role table", () => {
  test("membership history answers who was a member after any number of blocks", () => {
    const table = new RoleTable([founders[0]!.nodeId]);
    const node = worker.nodeId;
    table.apply({ type: "restore", node });
    table.apply({ type: "promote", node, roles: ["etcd"], reason: "scaling-up" });
    table.apply({ type: "quarantine", node, reason: "health-degraded" });
    assert.deepEqual(
      [0, 1, 2, 3].map((size) => table.membersAt(size).has(node)),
      [false, false, true, false],
    );
    assert.ok(table.membersAt(3).has(founders[0]!.nodeId));
  });
});
