import { createHash } from "node:crypto";
import { signRoleProposal } from "../attest/index.js";
import type { MemberView as GossipMember } from "../gossip/index.js";
import {
  type ConfChange,
  defaultRaftConfig,
  type Entry,
  emptyConfState,
  encodeConfChange,
  type ProgressStatus,
  RaftNode,
  type RaftStatus,
} from "../raft/index.js";
import { SeededRandom } from "../sim/index.js";
import {
  assert,
  type Command,
  encodeProposal,
  homelabStrategy,
  isAttestedCommand,
  type NodeId,
  type NodeState,
  type Proposal,
  type Signer,
  signerFromSeed,
} from "../vocabulary/index.js";
import { FabricMachine, type MachineOutcome } from "./machine.js";

/**
 * Test support (not exported from the layer): committed logs built by hand, applied to a
 * `FabricMachine` the way Raft would, with the leader (signer 0) signing role commands.
 */
export const testSigners: readonly Signer[] = [0, 1, 2, 3, 4].map((index) =>
  signerFromSeed(createHash("sha256").update(`revoada-machine-test/${index}`).digest()),
);

export function nodeState(signer: Signer, roles: NodeState["roles"] = ["worker"]): NodeState {
  return {
    id: signer.nodeId,
    name: `node-${signer.nodeId.slice(0, 4)}`,
    addresses: { gossip: "127.0.0.1:7946" },
    roles,
    capacity: { cpu_millis: 2000, memory_bytes: 2 ** 32, storage_bytes: 2 ** 36, pods: 110 },
    zone: "zone-a",
    rack: "rack-1",
    labels: {},
    version: "0.1.0",
    generation: 1,
  };
}

/** A committed log built by hand, applied to a machine as it grows (the leader is signer 0 unless moved). */
export class TestLog {
  readonly entries: Entry[] = [];
  readonly outcomes: MachineOutcome[] = [];
  term = 1;
  clockMs = 1_000;
  /** Proposes, and signs role commands: set it (and `term`) to move leadership. */
  leader: Signer = testSigners[0]!;

  constructor(readonly machine: FabricMachine = newMachine()) {}

  private push(entry: Omit<Entry, "index" | "term">): MachineOutcome {
    const full = { ...entry, index: this.entries.length + 1, term: this.term } as Entry;
    this.entries.push(full);
    const outcome = this.machine.apply(full);
    this.outcomes.push(outcome);
    return outcome;
  }

  conf(changes: ConfChange["changes"]): MachineOutcome {
    return this.push({ kind: "conf-change", data: encodeConfChange({ changes }) });
  }

  propose(command: Command, origin: Proposal["origin"] = "policy", force = false): MachineOutcome {
    this.clockMs += 10;
    let proposal: Proposal = {
      command,
      proposer: this.leader.nodeId,
      issued_at_ms: this.clockMs,
      origin,
      force,
    };
    const chain = this.machine.chain;
    if (chain !== null && isAttestedCommand(command)) {
      proposal = signRoleProposal(
        chain.head,
        this.term,
        this.entries.length + 1,
        proposal,
        this.leader,
      ).proposal;
    }
    return this.push({ kind: "normal", data: encodeProposal(proposal) });
  }

  empty(): MachineOutcome {
    return this.push({ kind: "empty", data: new Uint8Array() });
  }
}

export function newMachine(): FabricMachine {
  return new FabricMachine({ origin: "revoada.test/machine", requireOperatorSignature: false });
}

/** Founder (signer 0) bootstrapped, nodes 1..3 joined as workers and learners. */
export function foundedLog(): TestLog {
  const log = new TestLog();
  log.conf([{ type: "add-voter", node: testSigners[0]!.nodeId }]);
  log.empty();
  log.propose({ type: "strategy", strategy: homelabStrategy });
  log.propose({
    type: "node-join",
    state: nodeState(testSigners[0]!, ["api-server", "controller-manager", "etcd", "scheduler"]),
  });
  for (const signer of testSigners.slice(1, 4)) log.propose({ type: "node-join", state: nodeState(signer) });
  log.conf(testSigners.slice(1, 4).map((signer) => ({ type: "add-learner" as const, node: signer.nodeId })));
  return log;
}

/** A real Raft status (every field the core reports), set to lead `term` at `commit`. */
export function leaderStatus(
  term: number,
  commit: number,
  progress: Record<string, Partial<ProgressStatus>> = {},
  id: NodeId = testSigners[0]!.nodeId,
): RaftStatus {
  const created = RaftNode.create(
    defaultRaftConfig(id),
    {
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
      initialConf: { ...emptyConfState(), voters: [id] },
    },
    new SeededRandom(1),
  );
  assert(created.ok, "a Raft core for the status");
  const base = created.value.status();
  const full: Record<string, ProgressStatus> = {};
  for (const [id, partial] of Object.entries(progress)) {
    full[id] = {
      match: 0,
      next: 1,
      state: "replicate",
      inflightMessages: 0,
      inflightBytes: 0,
      recentActive: true,
      learner: false,
      ...(base.progress[testSigners[0]!.nodeId] ?? {}),
      ...partial,
    } as ProgressStatus;
  }
  return { ...base, role: "leader", term, leader: id, commit, lastIndex: commit, progress: full };
}

/** A gossip member as the leader's view holds it, advertising `state`. */
export function gossipMember(
  signer: Signer,
  status: GossipMember["status"] = "alive",
  state: NodeState = nodeState(signer),
): GossipMember {
  return {
    id: signer.nodeId,
    address: "127.0.0.1:7946",
    status,
    phi: 0,
    stableSinceMs: 0,
    generation: 1,
    incarnation: 1,
    state,
    keys: {},
  };
}
