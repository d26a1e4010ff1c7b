import { assert } from "../vocabulary/index.js";
import { type Cluster, freeShareOf, type NodeFacts } from "./cluster.js";
import type { FactValue } from "./decision.js";

/**
 * Candidate scores: a weighted sum, so one strong reason can beat several weak ones, with the
 * weights in one place. A caught-up warm standby comes first; then spread under the placement
 * policy (zone, rack or latency); then health (phi), stability and free capacity. Ties break on
 * the node id, so the choice is deterministic.
 */
export const scoreWeights = {
  standby: 8,
  spread: 4,
  health: 2,
  stability: 1,
  capacity: 1,
} as const;

export interface CandidateScore {
  readonly total: number;
  readonly standby: number;
  readonly spread: number;
  readonly health: number;
  readonly stability: number;
  readonly capacity: number;
}

/** Scores `node` as a member of the group `peers` (the other holders of a role). */
export function scoreCandidate(
  cluster: Cluster,
  node: NodeFacts,
  peers: readonly NodeFacts[],
): CandidateScore {
  const phiThreshold = cluster.inputs.strategy.membership.phi_threshold;
  const standby = node.isCaughtUpLearner ? 1 : 0;
  const spread = spreadScore(cluster, node, peers);
  const health = 1 - Math.min(node.phi / phiThreshold, 1);
  const stability = Math.min(node.stableForMs / (10 * cluster.config.stabilization_ms), 1);
  const capacity = freeShareOf(cluster, node);
  const total =
    scoreWeights.standby * standby +
    scoreWeights.spread * spread +
    scoreWeights.health * health +
    scoreWeights.stability * stability +
    scoreWeights.capacity * capacity;
  assert(spread >= 0 && spread <= 1, "spread score is a fraction");
  assert(Number.isFinite(total), "a score is finite");
  return { total, standby, spread, health, stability, capacity };
}

function spreadScore(cluster: Cluster, node: NodeFacts, peers: readonly NodeFacts[]): number {
  const policy = cluster.placementPolicy;
  const others = peers.filter((peer) => peer.id !== node.id);
  const sameZone = others.filter((peer) => peer.state.zone === node.state.zone).length;
  const sameRack = others.filter(
    (peer) => peer.state.zone === node.state.zone && peer.state.rack === node.state.rack,
  ).length;
  switch (policy.kind) {
    case "zone-aware":
      return 1 / (1 + sameZone);
    case "rack-aware":
      return 1 / (1 + sameRack);
    case "spread":
      return (1 / (1 + sameZone) + 1 / (1 + sameRack)) / 2;
    case "latency-aware": {
      if (node.latencyP99Ms === null) return 0.5;
      if (node.latencyP99Ms > policy.max_p99_ms) return 0;
      return 1 - (0.5 * node.latencyP99Ms) / policy.max_p99_ms;
    }
    case "none":
      return 0;
  }
}

/** Orders best first: higher total, then lower id. */
export function compareScored(
  left: { node: NodeFacts; score: CandidateScore },
  right: { node: NodeFacts; score: CandidateScore },
): number {
  if (left.score.total !== right.score.total) return right.score.total - left.score.total;
  return left.node.id < right.node.id ? -1 : left.node.id > right.node.id ? 1 : 0;
}

/** The score as decision-record facts, rounded so records stay readable and byte-stable. */
export function scoreFacts(score: CandidateScore): Record<string, FactValue> {
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    score: round(score.total),
    score_standby: round(score.standby),
    score_spread: round(score.spread),
    score_health: round(score.health),
    score_stability: round(score.stability),
    score_capacity: round(score.capacity),
  };
}
