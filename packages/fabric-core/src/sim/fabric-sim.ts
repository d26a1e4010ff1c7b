import { verifyChain } from "../attest/index.js";
import { FabricCluster, type FabricClusterOptions, type FabricRunStats } from "./fabric-cluster.js";
import type { NetworkFaults } from "./network.js";
import { SeededRandom } from "./random.js";

/**
 * One seeded run of the whole-fabric simulator: the mesh forms, then a nemesis drawn from
 * the seed acts for `faultMs` of virtual time (leader and follower kills, restarts,
 * partitions, lossy links, operator quarantines and restores, some forced), then everything
 * heals and restarts, and the fabric must settle within `settleMs`: a leader, no procedure
 * open, the policy idle, every node at the same machine, and a chain
 * that verifies. Invariants (`FabricCluster`) are checked as entries apply and after every
 * step; a violation throws `SimViolation` with the seed and step in its message.
 *
 * Replay one seed: `pnpm sim:fabric --seed N --profile P` (prints the report, or the
 * violation).
 */
export const fabricSimProfiles = ["leader-kill", "operator", "partition", "lossy", "etcd", "mixed"] as const;
export type FabricSimProfile = (typeof fabricSimProfiles)[number];

export interface FabricSimOptions {
  readonly seed: number;
  readonly profile?: FabricSimProfile;
  readonly nodes?: number;
  /** Virtual ms of the fault phase. */
  readonly faultMs?: number;
  /** Virtual ms the fabric gets to settle after healing. */
  readonly settleMs?: number;
  readonly sabotage?: FabricClusterOptions["sabotage"];
  readonly relaySabotage?: FabricClusterOptions["relaySabotage"];
  /** Learners besides the voters (the cluster's default, 4, when absent; null: all). */
  readonly learnersMax?: number | null;
}

export interface FabricSimReport {
  readonly seed: number;
  readonly profile: FabricSimProfile;
  readonly nodes: number;
  readonly virtualMs: number;
  readonly steps: number;
  readonly faults: number;
  readonly operatorRequests: number;
  readonly operatorRefused: number;
  readonly committedIndex: number;
  readonly terms: number;
  readonly voters: number;
  readonly chainBlocks: number;
  readonly stats: FabricRunStats;
  /** Virtual ms from healing to settled. */
  readonly settleMs: number;
}

const lossyLinks: NetworkFaults = { dropRate: 0.02, duplicateRate: 0.01, delayMsMin: 1, delayMsMax: 15 };

export function runFabricSimulation(options: FabricSimOptions): FabricSimReport {
  const profile = options.profile ?? "mixed";
  const size = options.nodes ?? 5;
  const faultMs = options.faultMs ?? 20_000;
  const settleLimitMs = options.settleMs ?? 30_000;
  const random = new SeededRandom(options.seed * 7919 + fabricSimProfiles.indexOf(profile));
  const cluster = new FabricCluster({
    seed: options.seed,
    size,
    ...(options.sabotage === undefined ? {} : { sabotage: options.sabotage }),
    ...(options.relaySabotage === undefined ? {} : { relaySabotage: options.relaySabotage }),
    ...(options.learnersMax === undefined ? {} : { learnersMax: options.learnersMax }),
    // etcd: the fabric manages a modelled etcd whose calls fail one time in ten.
    ...(profile === "etcd" ? { manageEtcd: true, etcdFailRate: 0.1 } : {}),
    ...(profile === "lossy" || (profile === "mixed" && random.chance(0.5)) ? { faults: lossyLinks } : {}),
  });
  const formed = cluster.runUntil(() => settled(cluster), 20_000);
  if (!formed) cluster.fail("liveness", "the mesh did not form within 20 s");
  let faults = 0;
  let operatorRequests = 0;
  const end = cluster.nowMs + faultMs;
  while (cluster.nowMs < end) {
    cluster.runFor(200 + random.int(1800));
    faults += nemesis(cluster, profile, random);
    if (profile === "operator" || profile === "mixed") operatorRequests += operate(cluster, random);
  }
  for (let index = 0; index < size; index += 1) if (!cluster.isUp(index)) cluster.restart(index);
  cluster.heal();
  const healedAt = cluster.nowMs;
  const ok = cluster.runUntil(() => settled(cluster), settleLimitMs);
  if (!ok) {
    const node = cluster.mostAdvanced();
    cluster.fail(
      "liveness",
      `not settled ${settleLimitMs} ms after healing: leader ${cluster.leaderIndex()}, ` +
        `procedures ${JSON.stringify(node.machine.procedures().map((p) => [p.shift.type, p.phase]))}, ` +
        `voters ${node.machine.configuration().voters.length}, last step ${JSON.stringify(cluster.node(cluster.leaderIndex() ?? 0).lastExecution?.step ?? null)}`,
    );
  }
  const settledAt = cluster.nowMs;
  const node = cluster.mostAdvanced();
  const chain = node.machine.chainExport();
  if (chain !== null) {
    const verdict = verifyChain(chain);
    if (!verdict.ok)
      cluster.fail("chain-verifies", `the chain does not verify: ${JSON.stringify(verdict).slice(0, 300)}`);
  }
  return {
    seed: options.seed,
    profile,
    nodes: size,
    virtualMs: cluster.nowMs,
    steps: cluster.raft.stepCount,
    faults,
    operatorRequests,
    operatorRefused: cluster.operatorOutcomes.filter((outcome) => outcome.outcome === "refused").length,
    committedIndex: node.machine.applied().index,
    terms: cluster.raft.leaders.size,
    voters: node.machine.configuration().voters.length,
    chainBlocks: node.machine.chain?.blocks.length ?? 0,
    stats: cluster.stats,
    settleMs: settledAt - healedAt,
  };
}

/**
 * Settled: one leader whose policy round found nothing to do, no procedure open, every node
 * up, admitted, and at the leader's machine (log holders through Raft, the others through the
 * relay). (The voter count is the policy's to judge: it may
 * hold a demotion on purpose, e.g. its removal cap with two voters left.)
 */
function settled(cluster: FabricCluster): boolean {
  const leader = cluster.leaderIndex();
  if (leader === null) return false;
  const node = cluster.node(leader);
  const decision = node.lastExecution?.decision;
  if (decision === undefined || decision === null || decision.commands.length > 0) return false;
  const machine = node.machine;
  if (Object.keys(machine.state().nodes).length < cluster.nodes.length) return false;
  if (machine.procedures().length > 0) return false;
  const conf = machine.configuration();
  // Every node holds the log, or (with a learner bound) the voters and a full learner set do.
  const holders =
    cluster.learnersMax === null
      ? cluster.nodes.length
      : Math.min(cluster.nodes.length, conf.voters.length + cluster.learnersMax);
  if (conf.votersOutgoing.length > 0 || conf.voters.length + conf.learners.length < holders) return false;
  const applied = machine.applied().index;
  const caughtUp = cluster.nodes.every(
    (other) => cluster.isUp(other.index) && other.machine.applied().index === applied,
  );
  return caughtUp && etcdAgrees(cluster);
}

/** etcd's voting members are the Raft voters and the etcd holders, with no learner left over. */
function etcdAgrees(cluster: FabricCluster): boolean {
  const etcd = cluster.etcd;
  if (etcd === null) return true;
  const machine = cluster.mostAdvanced().machine;
  const voting = etcd.votingNodes().join(",");
  const holders = Object.values(machine.state().nodes)
    .filter((node) => node.roles.includes("etcd"))
    .map((node) => node.id)
    .sort()
    .join(",");
  const recorded = machine
    .etcdMembers()
    .filter((member) => !member.learner)
    .map((member) => member.node)
    .join(",");
  const voters = [...machine.configuration().voters].sort().join(",");
  return etcd.learnerNodes().length === 0 && voting === holders && voting === voters && recorded === voting;
}

/** One fault (or none) of the profile's kind; returns how many were injected. */
function nemesis(cluster: FabricCluster, profile: FabricSimProfile, random: SeededRandom): number {
  const size = cluster.nodes.length;
  const down = cluster.nodes.filter((node) => !cluster.isUp(node.index)).map((node) => node.index);
  // Bring nodes back often enough that a majority is usually up.
  if (down.length > 0 && (down.length * 2 >= size || random.chance(0.5))) {
    cluster.restart(random.pick(down));
    return 1;
  }
  const kind =
    profile === "mixed"
      ? random.pick(["leader-kill", "kill", "partition", "heal"] as const)
      : profile === "partition"
        ? random.pick(["partition", "heal", "heal"] as const)
        : profile === "operator"
          ? random.pick(["leader-kill", "none", "none"] as const)
          : profile === "etcd"
            ? random.pick(["leader-kill", "kill", "none"] as const)
            : random.pick(["leader-kill", "kill"] as const);
  switch (kind) {
    case "leader-kill": {
      const leader = cluster.leaderIndex();
      if (leader === null) return 0;
      cluster.crash(leader);
      return 1;
    }
    case "kill":
      cluster.crash(random.int(size));
      return 1;
    case "partition": {
      const order = [...Array(size).keys()].map((index) => ({ index, key: random.next() }));
      order.sort((a, b) => a.key - b.key);
      const cut = 1 + random.int(Math.floor((size - 1) / 2));
      cluster.partition([
        order.slice(0, cut).map((item) => item.index),
        order.slice(cut).map((item) => item.index),
      ]);
      return 1;
    }
    case "heal":
      cluster.heal();
      return 0;
    default:
      return 0;
  }
}

/** Sometimes an operator quarantines or restores a node (forced one time in four). */
function operate(cluster: FabricCluster, random: SeededRandom): number {
  if (!random.chance(0.4)) return 0;
  const state = cluster.mostAdvanced().machine.state();
  const node = cluster.nodes[random.int(cluster.nodes.length)]!;
  const roles = state.nodes[node.id]?.roles;
  if (roles === undefined) return 0;
  const force = random.chance(0.25);
  if (roles.includes("quarantined")) cluster.operator({ type: "restore", node: node.id }, force);
  else cluster.operator({ type: "quarantine", node: node.id, reason: "operator" }, force);
  return 1;
}
