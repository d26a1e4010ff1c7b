// Goal (A5): in the deterministic Raft simulator, with crashes and leader changes, every
// committed role command has exactly one block, every node derives the identical chain,
// the chain verifies with every block signature checked, and replaying it reproduces the
// role table of the Raft state machine (`FabricStateMachine`). Method: three voters; the
// current leader first gets every node joined (founders with their genesis roles, workers
// with none), then proposes role commands signed for the position they will take (term,
// next index, and the head after every role entry already in its log) mixed with non-role
// commands; nodes crash and restart (the leader often) on a seeded schedule; each node feeds
// its committed entries to its own chain (durable: it survives the crash, as the chain store
// does) and to a state machine that is rebuilt from the log after a restart.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Entry, FabricStateMachine } from "../raft/index.js";
import { RaftCluster, SeededRandom } from "../sim/index.js";
import {
  decodeProposal,
  encodeProposal,
  loadBlake3,
  type NodeId,
  type NodeState,
  type Proposal,
  type Signer,
} from "../vocabulary/index.js";
import { makeGenesis, type RoleCommand } from "./block.js";
import { AttestChain, prospectiveHead, signRoleProposal } from "./chain.js";
import { formatChainExport } from "./export.js";
import { foundingRoles } from "./role-table.js";
import { sampleSigner } from "./sample.js";
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

interface NodeMachine {
  incarnation: number;
  machine: FabricStateMachine;
  rejectedRoleCommands: number;
}

function joinState(id: NodeId, roles: NodeState["roles"]): NodeState {
  return {
    id,
    name: id.slice(0, 8),
    addresses: {},
    roles,
    capacity: { cpu_millis: 1000, memory_bytes: 1 << 30, storage_bytes: 1 << 30, pods: 10 },
    zone: "z",
    rack: "r",
    labels: {},
    version: "test",
    generation: 1,
  };
}

/** Everyone the chain talks about must be known to the state machine first. */
const joins: NodeState[] = [
  ...voters.map((id) => joinState(keys.get(id)!.nodeId, [...foundingRoles])),
  ...workers.map((worker) => joinState(worker.nodeId, [])),
];

function randomCommand(random: SeededRandom): RoleCommand | null {
  const node = workers[random.int(workers.length)]!.nodeId;
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

function isRole(proposal: Proposal): proposal is Proposal & { command: RoleCommand } {
  return ["promote", "demote", "quarantine", "restore"].includes(proposal.command.type);
}

function runScenario(seed: number): void {
  const cluster = new RaftCluster({ seed, voters, config: { snapshotIntervalEntries: 100_000_000 } });
  const random = new SeededRandom(seed * 7919);
  const chains = new Map(voters.map((id) => [id, new AttestChain(genesis)]));
  const machines = new Map<string, NodeMachine>(
    voters.map((id) => [id, { incarnation: 0, machine: new FabricStateMachine(), rejectedRoleCommands: 0 }]),
  );
  const problems: string[] = [];
  cluster.onApply = (node, entry) => {
    const state = machines.get(node.id)!;
    if (state.incarnation !== node.incarnation) {
      state.incarnation = node.incarnation;
      state.machine = new FabricStateMachine();
      state.rejectedRoleCommands = 0;
    }
    const outcome = state.machine.apply(entry);
    const proposal = entry.kind === "normal" ? proposalOf(entry.data) : undefined;
    if (outcome.type === "rejected" && proposal !== undefined && isRole(proposal))
      state.rejectedRoleCommands += 1;
    const appended = chains.get(node.id)!.applyCommitted(entry);
    if (appended.type === "appended" && appended.problems.length > 0) {
      problems.push(`${node.id}@${entry.index}: ${appended.problems}`);
    }
  };
  let proposed = 0;
  for (let step = 0; step < 2500; step += 1) {
    cluster.step();
    const leader = cluster.leader();
    if (leader !== null && step % 9 === 0)
      proposed += proposeFrom(cluster, leader, machines, chains.get(leader)!, random) ? 1 : 0;
    injectFaults(cluster, leader, random, step);
  }
  for (const id of voters) if (!cluster.isUp(id)) cluster.restart(id);
  for (let step = 0; step < 600; step += 1) cluster.step();
  assertConverged(cluster, chains, machines, proposed, problems);
}

/** Joins until the leader's state machine knows everyone; then a role command, signed for its position. */
function proposeFrom(
  cluster: RaftCluster,
  leader: string,
  machines: Map<string, NodeMachine>,
  chain: AttestChain,
  random: SeededRandom,
): boolean {
  const raft = cluster.raft(leader);
  const status = raft.status();
  const signer = keys.get(leader)!;
  const base = {
    proposer: signer.nodeId,
    issued_at_ms: cluster.nowMs,
    origin: "policy" as const,
    force: false,
  };
  const known = machines.get(leader)!.machine.state().nodes;
  const missing = joins.find((state) => known[state.id] === undefined);
  if (missing !== undefined) {
    return (
      raft.propose(encodeProposal({ ...base, command: { type: "node-join", state: missing } })).type ===
      "accepted"
    );
  }
  const command = randomCommand(random);
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
  machines: Map<string, NodeMachine>,
  proposed: number,
  problems: readonly string[],
): void {
  assert.deepEqual(problems, [], "no block with a problem");
  const applied = Math.min(...voters.map((id) => cluster.node(id).appliedIndex));
  assert.equal(applied, cluster.committedMax, "every node applied everything committed");
  const log = cluster.node("a").disk.entries.slice(0, applied);
  const roleIndexes = log.flatMap((entry) => {
    const proposal = entry.kind === "normal" ? proposalOf(entry.data) : undefined;
    return proposal !== undefined && isRole(proposal) ? [entry.index] : [];
  });
  assert.ok(
    roleIndexes.length > 20,
    `enough role commands committed (${roleIndexes.length} of ${proposed} proposals)`,
  );
  const exports = voters.map((id) => formatChainExport(genesis, chains.get(id)!.blocks, []));
  for (const [i, id] of voters.entries()) {
    const chain = chains.get(id)!;
    const { machine, rejectedRoleCommands } = machines.get(id)!;
    assert.deepEqual(
      chain.blocks.map((block) => block.body.index),
      roleIndexes,
      `${id}: one block per role command`,
    );
    assert.equal(exports[i], exports[0], `${id} holds the same chain as a`);
    assert.equal(rejectedRoleCommands, 0, `${id}: the state machine applied every role command`);
    const nodes = machine.state().nodes;
    assert.equal(Object.keys(nodes).length, joins.length);
    for (const [node, state] of Object.entries(nodes)) {
      assert.deepEqual(
        chain.roles.rolesOf(node),
        state.roles,
        `${id}: replayed roles of ${node} equal the state machine's`,
      );
    }
  }
  const report = verifyChain(exports[0]!, { mode: "every-block", trustedGenesisHash: genesis.hash });
  assert.ok(report.ok, report.ok ? "" : JSON.stringify(report.failure));
  const nodes: Record<string, NodeState> = machines.get("a")!.machine.state().nodes;
  for (const [node, roles] of Object.entries(report.summary.roles)) {
    assert.deepEqual(roles, nodes[node]?.roles);
  }
  const terms = new Set(chains.get("a")!.blocks.map((block) => block.body.term));
  assert.ok(terms.size >= 3, `blocks from several leaders' terms (${[...terms]})`);
}

describe("attestation in the Raft simulator", () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: one identical, verifiable chain per committed role command across crashes`, () =>
      runScenario(seed));
  }
});

function proposalOf(data: Uint8Array): Proposal | undefined {
  const decoded = decodeProposal(data);
  return decoded.ok ? decoded.value : undefined;
}
