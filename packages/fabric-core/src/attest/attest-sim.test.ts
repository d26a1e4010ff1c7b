// Goal (A5): in the deterministic Raft simulator, with crashes and leader changes, every
// committed role command has exactly one block, every node derives the identical chain,
// the chain verifies with every block signature checked, and replaying it reproduces the
// role table of the replicated state machine. Method: three voters; the current leader
// proposes role commands signed for the position they will take (term, next index, and the
// head after every role entry already in its log) plus non-role commands; nodes crash and
// restart (the leader often) under a seeded schedule; each node feeds its committed entries
// to its own chain (durable: it survives the crash, as the chain store does) and to a
// volatile state machine that is rebuilt from the log after a restart.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Entry } from "../raft/index.js";
import { RaftCluster, SeededRandom } from "../sim/index.js";
import { loadBlake3, type NodeId, type NodeRole, type Proposal, type Signer } from "../vocabulary/index.js";
import { makeGenesis, type RoleCommand } from "./block.js";
import { AttestChain, decodeProposal, prospectiveHead, signRoleProposal } from "./chain.js";
import { formatChainExport } from "./export.js";
import { encodeProposal, sampleSigner } from "./sample.js";
import { verifyChain } from "./verify.js";

await loadBlake3();

const voters = ["a", "b", "c"];
const workers = ["w1", "w2", "w3"].map((name) => sampleSigner(99, name));
const keys = new Map<string, Signer>(voters.map((id) => [id, sampleSigner(99, id)]));
const genesis = makeGenesis({
  v: 1,
  origin: "revoada.example/sim",
  control_plane: voters.map((id) => keys.get(id)!.nodeId).sort(),
  operators: [],
  require_operator_signature: false,
});

/**
 * The replicated state machine's role table, written independently of `RoleTable`: it is
 * what the Raft state machine must do with role commands (docs/attestation.md, "Role table").
 */
class ReferenceStateMachine {
  readonly roles = new Map<string, NodeRole[]>(
    genesis.body.control_plane.map((id) => [id, ["api-server", "controller-manager", "etcd", "scheduler"]]),
  );

  apply(command: RoleCommand): void {
    const before = this.roles.get(command.node) ?? [];
    let after: NodeRole[];
    if (command.type === "promote") after = [...before, ...command.roles];
    else if (command.type === "demote") after = before.filter((role) => !command.roles.includes(role));
    else if (command.type === "quarantine") after = ["quarantined"];
    else
      after =
        before.filter((role) => role !== "quarantined").length > 0
          ? before.filter((role) => role !== "quarantined")
          : ["worker"];
    this.roles.set(command.node, [...new Set(after)].sort());
  }

  table(): Record<string, NodeRole[]> {
    return Object.fromEntries([...this.roles.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

function randomCommand(random: SeededRandom): RoleCommand | null {
  const node = workers[random.int(workers.length)]!.nodeId as NodeId;
  switch (random.int(5)) {
    case 0:
      return {
        type: "promote",
        node,
        roles: random.int(2) === 0 ? ["etcd"] : ["api-server", "scheduler"],
        reason: "scaling-up",
      };
    case 1:
      return { type: "demote", node, roles: ["etcd", "api-server"], reason: "scaling-down" };
    case 2:
      return { type: "quarantine", node, reason: "health-degraded" };
    case 3:
      return { type: "restore", node };
    default:
      return null;
  }
}

function runScenario(seed: number): void {
  const cluster = new RaftCluster({ seed, voters, config: { snapshotIntervalEntries: 100_000_000 } });
  const random = new SeededRandom(seed * 7919);
  const chains = new Map(voters.map((id) => [id, new AttestChain(genesis)]));
  const machines = new Map(
    voters.map((id) => [id, { incarnation: 0, machine: new ReferenceStateMachine() }]),
  );
  const problems: string[] = [];
  cluster.onApply = (node, entry) => {
    const state = machines.get(node.id)!;
    if (state.incarnation !== node.incarnation) {
      state.incarnation = node.incarnation;
      state.machine = new ReferenceStateMachine();
    }
    const proposal = entry.kind === "normal" ? decodeProposal(entry.data) : undefined;
    if (proposal !== undefined && isRole(proposal)) state.machine.apply(proposal.command);
    const outcome = chains.get(node.id)!.applyCommitted(entry);
    if (outcome.type === "appended" && outcome.problems.length > 0)
      problems.push(`${node.id}@${entry.index}: ${outcome.problems}`);
  };
  let proposed = 0;
  for (let step = 0; step < 2500; step += 1) {
    cluster.step();
    const leader = cluster.leader();
    if (leader !== null && step % 9 === 0)
      proposed += proposeFrom(cluster, leader, chains.get(leader)!, random) ? 1 : 0;
    injectFaults(cluster, leader, random, step);
  }
  for (const id of voters) if (!cluster.isUp(id)) cluster.restart(id);
  for (let step = 0; step < 600; step += 1) cluster.step();
  assertConverged(cluster, chains, machines, proposed, problems);
}

function isRole(proposal: Proposal): proposal is Proposal & { command: RoleCommand } {
  return ["promote", "demote", "quarantine", "restore"].includes(proposal.command.type);
}

/** The leader signs the block its proposal will become, then proposes it. */
function proposeFrom(
  cluster: RaftCluster,
  leader: string,
  chain: AttestChain,
  random: SeededRandom,
): boolean {
  const raft = cluster.raft(leader);
  const status = raft.status();
  const signer = keys.get(leader)!;
  const command = randomCommand(random);
  const base = {
    proposer: signer.nodeId,
    issued_at_ms: cluster.nowMs,
    origin: "policy" as const,
    force: false,
  };
  if (command === null) {
    const other: Proposal = {
      ...base,
      command: { type: "workload-delete", namespace: "default", name: "web" },
    };
    return raft.propose(encodeProposal(other)).type === "accepted";
  }
  const disk = cluster.node(leader).disk;
  const head = prospectiveHead(chain.head, disk.entries.slice(0, status.lastIndex) as Entry[]);
  const index = status.lastIndex + 1;
  const signed = signRoleProposal(head, status.term, index, { ...base, command }, signer);
  const outcome = raft.propose(encodeProposal(signed.proposal));
  if (outcome.type !== "accepted") return false;
  assert.equal(outcome.index, index, "the leader predicted its next index");
  assert.equal(outcome.term, status.term);
  return true;
}

function injectFaults(cluster: RaftCluster, leader: string | null, random: SeededRandom, step: number): void {
  if (step % 150 === 75 && leader !== null) cluster.crash(leader);
  if (random.int(100) < 2) {
    const id = voters[random.int(voters.length)]!;
    const up = voters.filter((voter) => cluster.isUp(voter)).length;
    if (cluster.isUp(id) && up === 3) cluster.crash(id);
  }
  for (const id of voters) if (!cluster.isUp(id) && random.int(100) < 5) cluster.restart(id);
}

function assertConverged(
  cluster: RaftCluster,
  chains: Map<string, AttestChain>,
  machines: Map<string, { machine: ReferenceStateMachine }>,
  proposed: number,
  problems: readonly string[],
): void {
  assert.deepEqual(problems, [], "no block with a problem");
  const applied = Math.min(...voters.map((id) => cluster.node(id).appliedIndex));
  assert.equal(applied, cluster.committedMax, "every node applied everything committed");
  const log = cluster.node("a").disk.entries.slice(0, applied);
  const roleIndexes = log.flatMap((entry) => {
    const proposal = entry.kind === "normal" ? decodeProposal(entry.data) : undefined;
    return proposal !== undefined && isRole(proposal) ? [entry.index] : [];
  });
  assert.ok(
    roleIndexes.length > 20,
    `enough role commands committed (${roleIndexes.length} of ${proposed} proposals)`,
  );
  const exports = voters.map((id) => formatChainExport(genesis, chains.get(id)!.blocks, []));
  for (const [i, id] of voters.entries()) {
    const chain = chains.get(id)!;
    assert.deepEqual(
      chain.blocks.map((block) => block.body.index),
      roleIndexes,
      `${id}: one block per role command`,
    );
    assert.equal(exports[i], exports[0], `${id} holds the same chain as a`);
    assert.deepEqual(
      chain.roles.snapshot(),
      machines.get(id)!.machine.table(),
      `${id}: replay equals the state machine`,
    );
  }
  const report = verifyChain(exports[0]!, { mode: "every-block", trustedGenesisHash: genesis.hash });
  assert.ok(report.ok, report.ok ? "" : JSON.stringify(report.failure));
  assert.deepEqual(report.summary.roles, machines.get("a")!.machine.table());
  const terms = new Set(chains.get("a")!.blocks.map((block) => block.body.term));
  assert.ok(terms.size >= 3, `blocks from several leaders' terms (${[...terms]})`);
}

describe("attestation in the Raft simulator", () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: one identical, verifiable chain per committed role command across crashes`, () =>
      runScenario(seed));
  }
});
