import { assert, type ControlPlaneRole, controlPlaneRoles } from "../vocabulary/index.js";
import type { Cluster, NodeFacts } from "./cluster.js";
import { holdersOf, orderedRoles } from "./cluster.js";
import { recordHysteresis } from "./damper.js";
import type { TargetShape } from "./decision.js";
import { nodeFacts, nodeLabel, proposeShift, type RoundOutput, record } from "./round.js";
import { scoreCandidate } from "./score.js";

/**
 * Demotions: holders beyond a role's target go, failed ones first (dead, left or unknown, then
 * flapping, then suspect), then the lowest scored; the node running the round goes last and
 * never by its own hand (leadership moves first). Voter removals follow autopilot: at most
 * (voters - 1) / 2 per round, never below the quorum floor `min_quorum`. A failed holder within
 * the target stays until a replacement is promoted: removing it first would not add tolerance.
 */
export interface Removal {
  readonly node: NodeFacts;
  readonly roles: Set<ControlPlaneRole>;
}

export function planDemotions(cluster: Cluster, target: TargetShape, output: RoundOutput): void {
  const removals = removalsOf(cluster, target);
  const voterCount = cluster.inputs.raft.voters.length;
  const removableVoters = Math.floor(Math.max(0, voterCount - 1) / 2);
  let removedVoters = 0;
  for (const removal of removals) {
    const node = removal.node;
    const removesVoter = removal.roles.has("etcd") && node.isVoter;
    if (node.id === cluster.self) {
      recordSelfDemotion(removal, output);
    } else if (output.shifted.has(node.id) || !node.isShiftAllowed) {
      recordHysteresis(cluster, node, "demote", output);
    } else if (removesVoter && removedVoters + 1 > removableVoters) {
      recordVoterGuard(cluster, removal, "removal-cap", removableVoters, output);
    } else if (removesVoter && voterCount - removedVoters - 1 < cluster.config.min_quorum) {
      recordVoterGuard(cluster, removal, "quorum-floor", removableVoters, output);
    } else {
      if (removesVoter) removedVoters += 1;
      proposeDemotion(removal, output);
    }
  }
  assert(removedVoters <= removableVoters, "voter removals stay within (voters - 1) / 2");
  assert(voterCount - removedVoters >= Math.min(voterCount, cluster.config.min_quorum), "quorum floor kept");
}

/** Which roles leave which node, most urgent first. One entry per node. */
export function removalsOf(cluster: Cluster, target: TargetShape): Removal[] {
  const byNode = new Map<string, Removal>();
  for (const role of controlPlaneRoles) {
    const holders = holdersOf(cluster, role);
    const extra = holders.length - target.roles[role];
    if (extra <= 0) continue;
    const ranked = holders
      .map((node) => ({ node, rank: removalRank(cluster, node, holders) }))
      .sort((left, right) => compareRank(left.rank, right.rank) || (left.node.id < right.node.id ? -1 : 1));
    for (const { node } of ranked.slice(0, extra)) {
      const removal = byNode.get(node.id) ?? { node, roles: new Set<ControlPlaneRole>() };
      removal.roles.add(role);
      byNode.set(node.id, removal);
    }
  }
  return [...byNode.values()].sort(
    (left, right) =>
      compareRank(removalRank(cluster, left.node, []), removalRank(cluster, right.node, [])) ||
      (left.node.id < right.node.id ? -1 : 1),
  );
}

/** [failure class, keep score, is self]: lower goes first. */
function removalRank(
  cluster: Cluster,
  node: NodeFacts,
  holders: readonly NodeFacts[],
): [number, number, number] {
  const failure =
    node.status === "dead" || node.status === "left" || node.status === "unknown"
      ? 0
      : node.isFlapping
        ? 1
        : node.status === "suspect"
          ? 2
          : 3;
  return [node.id === cluster.self ? 1 : 0, failure, scoreCandidate(cluster, node, holders).total];
}

function compareRank(left: readonly number[], right: readonly number[]): number {
  for (let i = 0; i < left.length; i += 1) {
    const difference = left[i]! - right[i]!;
    if (difference !== 0) return difference;
  }
  return 0;
}

function proposeDemotion(removal: Removal, output: RoundOutput): void {
  const node = removal.node;
  const roles = orderedRoles(removal.roles);
  const failed = node.status === "dead" || node.status === "left" || node.status === "unknown";
  const degraded = !failed && (node.isFlapping || node.status === "suspect");
  const reason = failed ? "replacing-failed" : degraded ? "health-degraded" : "scaling-down";
  proposeShift(output, node, { type: "demote", node: node.id, roles, reason });
  record(output, {
    action: "demote",
    outcome: "proposed",
    rule: failed || degraded ? "replace-failed" : "scale-down",
    subject: node.id,
    message: `demote ${nodeLabel(node)} from ${roles.join(",")}: ${failed ? node.status : degraded ? "unhealthy" : "healthy"}, and those roles have more holders than their targets`,
    facts: {
      ...nodeFacts(node),
      removed_roles: roles.join(","),
      voter: node.isVoter,
      flapping: node.isFlapping,
    },
  });
}

function recordSelfDemotion(removal: Removal, output: RoundOutput): void {
  record(output, {
    action: "demote",
    outcome: "held",
    rule: "self-demotion",
    subject: removal.node.id,
    message: `${nodeLabel(removal.node)} runs this round as leader: leadership moves to another voter before it is demoted`,
    facts: { ...nodeFacts(removal.node), removed_roles: orderedRoles(removal.roles).join(",") },
  });
}

function recordVoterGuard(
  cluster: Cluster,
  removal: Removal,
  rule: "removal-cap" | "quorum-floor",
  removableVoters: number,
  output: RoundOutput,
): void {
  const voters = cluster.inputs.raft.voters.length;
  const why =
    rule === "removal-cap"
      ? `at most ${removableVoters} of ${voters} voters may go in one round ((voters - 1) / 2), so a majority always survives`
      : `the voter count may not drop below the quorum floor of ${cluster.config.min_quorum}`;
  record(output, {
    action: "demote",
    outcome: "held",
    rule,
    subject: removal.node.id,
    message: `demote ${nodeLabel(removal.node)} waits: ${why}`,
    facts: {
      ...nodeFacts(removal.node),
      voters,
      removable_voters: removableVoters,
      min_quorum: cluster.config.min_quorum,
    },
  });
}
