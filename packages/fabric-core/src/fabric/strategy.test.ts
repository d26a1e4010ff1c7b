// Goal: the strategy is committed state and operator shifts are signed: every node applies
// the same strategy (the founding one first, then swaps), refuses a strategy that is not live
// or that only the leader proposed, refuses unsigned, forged, replayed and stale operator
// signatures when they are required (nothing applied: no state, no block, no history), and
// the chain records each swap and who signed each operator shift. The plan of a swap names
// the voter target it moves to and refuses one that would leave the control plane below its
// quorum. Method: hand-made committed logs on a FabricMachine (the machine every node runs),
// the offline verifier on its chain, the policy on synthetic inputs, and the whole-fabric
// simulator for a swap that grows and shrinks the voters.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, it } from "node:test";
import {
  blockCommandOf,
  type ChainHead,
  checkOperatorClaim,
  operatorWindowBlocks,
  signOperatorCommand,
  signRoleProposal,
  strategyDigest,
  verifyChain,
} from "../attest/index.js";
import { syntheticInputs } from "../policy/index.js";
import { type Entry, encodeConfChange } from "../raft/index.js";
import { FabricCluster } from "../sim/fabric-cluster.js";
import {
  type Command,
  encodeProposal,
  type FabricStrategy,
  homelabStrategy,
  isAttestedCommand,
  loadBlake3,
  type Proposal,
  type RoleCommand,
  type Signer,
  signerFromSeed,
} from "../vocabulary/index.js";
import { FabricMachine, type MachineOutcome } from "./machine.js";
import { planStrategyChange } from "./strategy-plan.js";
import { nodeState, testSigners } from "./test-log.js";

before(async () => {
  await loadBlake3();
});

const leader = testSigners[0]!;
const operatorKey = signerFromSeed(createHash("sha256").update("revoada-strategy-test/operator").digest());
const stranger = signerFromSeed(createHash("sha256").update("revoada-strategy-test/stranger").digest());
const cp = ["api-server", "controller-manager", "etcd", "scheduler"] as const;

function withStrategy(patch: (draft: FabricStrategy) => void, name: string): FabricStrategy {
  const draft = structuredClone(homelabStrategy);
  draft.name = name;
  patch(draft);
  return draft;
}

const signedStrategy = withStrategy((s) => {
  s.attestation.require_operator_signature = true;
  s.attestation.operators = [operatorKey.nodeId];
}, "signed-shifts");

interface Signed {
  readonly by: Signer;
  /** Sign against this head instead of the machine's (a stale or foreign position). */
  readonly head?: ChainHead;
  /** Use this signature as is (a replay). */
  readonly reuse?: { readonly after: number; readonly signature: string };
}

/** A committed log applied to one machine, the leader (signer 0) signing attested blocks. */
class Log {
  readonly machine = new FabricMachine({ origin: "revoada.test/strategy", requireOperatorSignature: false });
  index = 0;
  term = 1;
  clockMs = 1_000;

  private push(entry: Omit<Entry, "index" | "term">): MachineOutcome {
    this.index += 1;
    return this.machine.apply({ ...entry, index: this.index, term: this.term } as Entry);
  }

  found(): this {
    this.push({
      kind: "conf-change",
      data: encodeConfChange({ changes: [{ type: "add-voter", node: leader.nodeId }] }),
    });
    this.push({ kind: "empty", data: new Uint8Array() });
    this.propose({ type: "strategy", strategy: homelabStrategy });
    this.propose({ type: "node-join", state: nodeState(leader, [...cp]) });
    for (const signer of testSigners.slice(1, 4))
      this.propose({ type: "node-join", state: nodeState(signer) });
    return this;
  }

  propose(command: Command, origin: Proposal["origin"] = "policy", signed?: Signed): MachineOutcome {
    this.clockMs += 10;
    let proposal: Proposal = {
      command,
      proposer: leader.nodeId,
      issued_at_ms: this.clockMs,
      origin,
      force: false,
    };
    const chain = this.machine.chain;
    if (signed !== undefined && chain !== null) {
      const head = signed.head ?? chain.head;
      const attested =
        command.type === "shift-procedure" ? blockCommandOf(command.shift) : blockCommandOf(command);
      proposal = {
        ...proposal,
        operator_after: signed.reuse?.after ?? head.sequence,
        operator_signature: signed.reuse?.signature ?? signOperatorCommand(attested, head, signed.by),
      };
    }
    if (chain !== null && isAttestedCommand(command)) {
      proposal = signRoleProposal(chain.head, this.term, this.index + 1, proposal, leader).proposal;
    }
    return this.push({ kind: "normal", data: encodeProposal(proposal) });
  }
}

function rejection(outcome: MachineOutcome): string {
  assert.equal(outcome.state.type, "rejected", "the entry is refused");
  assert.equal(outcome.chain, null, "a refused entry makes no block");
  return outcome.state.type === "rejected" ? outcome.state.reason : "";
}

describe("the committed strategy", () => {
  it("is founded by the first normal entry, recorded as a block, and kept by the snapshot", () => {
    const log = new Log().found();
    const committed = log.machine.strategy();
    assert.equal(committed?.strategy.name, homelabStrategy.name);
    assert.equal(committed?.index, 3, "entry 1 founds the chain, 2 is the leader's no-op, 3 the strategy");
    const first = log.machine.chain!.blocks[0]!.body.command;
    assert.equal(first.type, "strategy");
    assert.equal(first.type === "strategy" ? first.digest : "", strategyDigest(homelabStrategy));
    const restored = FabricMachine.restore(
      { origin: "revoada.test/strategy", requireOperatorSignature: false },
      log.machine.snapshot(),
      log.machine.configuration(),
    );
    assert.ok(restored.ok);
    assert.deepEqual(restored.value.strategy(), committed);
  });

  it("swaps by an operator's entry; the chain records each swap", () => {
    const log = new Log().found();
    const steady = withStrategy((s) => {
      s.consensus.kind.quorum_size = 5;
    }, "steady-state");
    const swapped = log.propose({ type: "strategy", strategy: steady }, "operator");
    assert.equal(swapped.state.type, "applied");
    assert.equal(log.machine.strategy()?.strategy.name, "steady-state");
    const report = verifyChain(log.machine.chainExport()!);
    assert.ok(report.ok, JSON.stringify(report));
    assert.deepEqual(
      report.summary.strategies.map((entry) => entry.name),
      ["homelab-3node", "steady-state"],
    );
  });

  it("refuses a strategy that is not live, and one only the leader proposed: nothing applied", () => {
    const log = new Log().found();
    const before = log.machine.snapshot();
    const blocks = log.machine.chain!.blocks.length;
    const dead = withStrategy((s) => {
      s.consensus.kind.quorum_size = 4;
      s.reconciliation.millis = 0;
    }, "dead");
    const reason = rejection(log.propose({ type: "strategy", strategy: dead }, "operator"));
    assert.match(reason, /strategy dead is not live: .*consensus\.kind\.quorum_size: even-quorum/);
    assert.match(reason, /reconciliation\.millis: zero-reconciliation-cadence/);
    const again = withStrategy(() => undefined, "leader-made");
    assert.match(
      rejection(log.propose({ type: "strategy", strategy: again }, "policy")),
      /a swap is an operator's/,
    );
    const keyless = withStrategy((s) => {
      s.attestation.require_operator_signature = true;
    }, "keyless");
    assert.match(
      rejection(log.propose({ type: "strategy", strategy: keyless }, "operator")),
      /names no operator keys/,
    );
    assert.equal(log.machine.strategy()?.strategy.name, homelabStrategy.name);
    assert.equal(log.machine.chain!.blocks.length, blocks);
    // Only the applied position moved.
    const strip = (bytes: Uint8Array) => {
      const json = JSON.parse(new TextDecoder().decode(bytes)) as { state: { applied: unknown } };
      json.state.applied = null;
      return json;
    };
    assert.deepEqual(strip(log.machine.snapshot()), strip(before));
  });
});

describe("operator-signed shifts", () => {
  function requiringLog(): Log {
    const log = new Log().found();
    assert.equal(
      log.propose({ type: "strategy", strategy: signedStrategy }, "operator").state.type,
      "applied",
    );
    return log;
  }
  const target = testSigners[2]!.nodeId;
  const shift: RoleCommand = { type: "quarantine", node: target, reason: "operator" };
  const begin: Command = { type: "shift-procedure", step: "begin", shift };

  it("refuses an unsigned operator shift, and a strategy swap no operator signed, with a clear message", () => {
    const log = requiringLog();
    assert.match(
      rejection(log.propose(begin, "operator")),
      /operator-signature-missing: require_operator_signature is on/,
    );
    assert.match(rejection(log.propose(shift, "operator")), /operator-signature-missing/);
    assert.match(
      rejection(log.propose({ type: "strategy", strategy: homelabStrategy }, "operator")),
      /operator-signature-missing/,
    );
    assert.equal(log.machine.procedures().length, 0);
    assert.deepEqual(log.machine.node(target)?.roles, ["worker"]);
  });

  it("refuses a forged signature and one bound to another chain position", () => {
    const log = requiringLog();
    assert.match(
      rejection(log.propose(begin, "operator", { by: stranger })),
      /operator-signature-invalid: no operator key of the committed strategy signed/,
    );
    const head = log.machine.chain!.head;
    const elsewhere = { ...head, hash: "00".repeat(32) };
    assert.match(
      rejection(log.propose(begin, "operator", { by: operatorKey, head: elsewhere })),
      /operator-signature-invalid/,
    );
    const ahead = { ...head, sequence: head.sequence + 1 };
    assert.match(
      rejection(log.propose(begin, "operator", { by: operatorKey, head: ahead })),
      /beyond the chain/,
    );
    assert.equal(log.machine.procedures().length, 0);
  });

  it("applies a signed shift end to end, records the signer, and refuses its replay", () => {
    const log = requiringLog();
    const opened = log.propose(begin, "operator", { by: operatorKey });
    assert.equal(opened.procedure?.type, "opened");
    const procedure = log.machine.procedureFor(target)!;
    assert.ok(procedure.operator !== undefined, "the procedure carries the signature to the role command");
    const signature = { after: procedure.operator.after, signature: procedure.operator.signature };
    // The executor's role command carries the procedure's signature.
    const quarantined = log.propose(shift, "operator", { by: operatorKey, reuse: signature });
    assert.equal(quarantined.state.type, "applied");
    assert.deepEqual(quarantined.chain?.type === "appended" ? quarantined.chain.problems : null, []);
    assert.deepEqual(log.machine.node(target)?.roles, ["quarantined"]);
    // The same signature again: refused, nothing applied.
    const restoreFirst = log.propose({ type: "restore", node: target }, "operator", { by: operatorKey });
    assert.equal(restoreFirst.state.type, "applied");
    assert.match(
      rejection(log.propose(begin, "operator", { by: operatorKey, reuse: signature })),
      /operator-signature-replayed/,
    );
    assert.match(
      rejection(log.propose(shift, "operator", { by: operatorKey, reuse: signature })),
      /operator-signature-replayed/,
    );
    assert.deepEqual(log.machine.node(target)?.roles, ["worker"]);
    const report = verifyChain(log.machine.chainExport()!, { mode: "every-block" });
    assert.ok(report.ok, JSON.stringify(report));
    assert.deepEqual(
      report.summary.operatorSigned.map((entry) => [entry.command, entry.node, entry.signer]),
      [
        ["quarantine", target, operatorKey.nodeId],
        ["restore", target, operatorKey.nodeId],
      ],
    );
  });

  it("a signature counts only within the window of the head it names", () => {
    const command = blockCommandOf(shift);
    const head = { sequence: 0, hash: "ab".repeat(32) };
    const signature = signOperatorCommand(command, head, operatorKey);
    const rules = { operators: [operatorKey.nodeId], require: true };
    const view = (size: number) => ({
      size,
      hashAt: (sequence: number) => (sequence === 0 ? head.hash : undefined),
      usedSince: () => false,
    });
    const claim = { command, origin: "operator" as const, signature, after: 0 };
    assert.deepEqual(checkOperatorClaim(claim, rules, view(operatorWindowBlocks)), {
      ok: true,
      signer: operatorKey.nodeId,
    });
    const stale = checkOperatorClaim(claim, rules, view(operatorWindowBlocks + 1));
    assert.equal(stale.ok ? null : stale.problem, "operator-signature-stale");
  });
});

describe("the plan of a swap", () => {
  const nodes = ["a", "b", "c", "d", "e"].map((name, i) => ({
    name,
    roles: i < 3 ? [...cp] : (["worker"] as const),
  }));

  it("names the new voter target (quorum_size), the shifts of the next round and the changed fields", () => {
    const inputs = syntheticInputs({ nowMs: 1_000_000, self: "a", formation: "quorum-3m", nodes });
    const five = withStrategy((s) => {
      s.consensus.kind.quorum_size = 5;
    }, "five");
    const plan = planStrategyChange(inputs, homelabStrategy, five);
    assert.deepEqual(plan.refusals, []);
    assert.equal(plan.voters.targetBefore, 3);
    assert.equal(plan.voters.targetAfter, 5);
    assert.ok(
      plan.shifts.some((entry) => entry.type === "promote"),
      JSON.stringify(plan.shifts),
    );
    assert.deepEqual(
      plan.changes.map((change) => change.path),
      ["consensus.kind.quorum_size", "name"],
    );
  });

  it("refuses a swap that would leave the control plane below quorum, and one that is not live", () => {
    const down = nodes.map((node, i) => (i >= 2 ? { ...node, status: "dead" as const } : node));
    const inputs = syntheticInputs({ nowMs: 1_000_000, self: "a", formation: "quorum-3m", nodes: down });
    const five = withStrategy((s) => {
      s.consensus.kind.quorum_size = 5;
    }, "five");
    const below = planStrategyChange(inputs, homelabStrategy, five);
    assert.deepEqual(
      below.refusals.map((refusal) => refusal.rule),
      ["below-quorum"],
    );
    assert.match(below.refusals[0]!.message, /needs 3 voters alive for a quorum, but only 2 nodes are alive/);
    const even = withStrategy((s) => {
      s.consensus.kind.quorum_size = 4;
    }, "even");
    assert.deepEqual(
      planStrategyChange(inputs, homelabStrategy, even).refusals.map((refusal) => refusal.rule),
      ["not-live"],
    );
    assert.deepEqual(
      planStrategyChange(inputs, homelabStrategy, homelabStrategy).refusals.map((refusal) => refusal.rule),
      ["same-strategy"],
    );
  });
});

describe("a swap in the whole-fabric simulator", () => {
  it("grows the voters to the new quorum_size and back, every invariant holding, the chain verifying", () => {
    const cluster = new FabricCluster({ seed: 3, size: 5 });
    const voters = () => cluster.mostAdvanced().machine.configuration().voters.length;
    const quiet = () => {
      const node = cluster.mostAdvanced();
      return (
        node.machine.procedures().length === 0 && node.machine.configuration().votersOutgoing.length === 0
      );
    };
    assert.ok(
      cluster.runUntil(() => voters() === 3 && quiet(), 30_000),
      "formed with 3 voters",
    );
    const five = withStrategy((s) => {
      s.consensus.kind.quorum_size = 5;
    }, "steady-state");
    cluster.swapStrategy(five);
    assert.ok(
      cluster.runUntil(() => voters() === 5 && quiet(), 60_000),
      `voters: ${voters()}`,
    );
    assert.equal(cluster.mostAdvanced().machine.strategy()?.strategy.name, "steady-state");
    cluster.swapStrategy(withStrategy(() => undefined, "drain-aggressive"));
    assert.ok(
      cluster.runUntil(() => voters() === 3 && quiet(), 60_000),
      `voters: ${voters()}`,
    );
    const report = verifyChain(cluster.mostAdvanced().machine.chainExport()!);
    assert.ok(report.ok, JSON.stringify(report).slice(0, 400));
    assert.deepEqual(
      report.summary.strategies.map((entry) => entry.name),
      ["homelab-3node", "steady-state", "drain-aggressive"],
    );
  });
});
