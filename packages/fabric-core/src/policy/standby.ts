import { assert, type NodeId } from "../vocabulary/index.js";
import type { Cluster, NodeFacts } from "./cluster.js";
import { holdersOf, isControlPlaneNode } from "./cluster.js";
import type { TargetShape } from "./decision.js";
import { type RoundOutput, record } from "./round.js";
import { compareScored, scoreCandidate } from "./score.js";

/**
 * Warm standbys: the workers the daemon keeps as Raft learners, so a replacement voter is
 * already caught up when it is promoted. Current learners keep the job (no churn), caught-up first;
 * the rest are the best scored stable workers. Nothing here is a role shift: learners are a
 * Raft detail, so the daemon adjusts them directly from `Decision.standbys`.
 */
export function chooseStandbys(cluster: Cluster, target: TargetShape, output: RoundOutput): NodeId[] {
  const voters = holdersOf(cluster, "etcd");
  const eligible = cluster.nodes.filter(
    (node) =>
      !isControlPlaneNode(node) && !node.isQuarantined && node.isStable && !output.shifted.has(node.id),
  );
  // Learners sort first anyway; when exactly enough of them exist, nothing needs a score.
  const learners = eligible.filter((node) => node.isLearner);
  const candidates = learners.length >= target.standbys ? learners : eligible;
  const chosen = (
    candidates.length === target.standbys ? candidates : bestStandbys(cluster, candidates, voters)
  )
    .slice(0, target.standbys)
    .map((node) => node.id);
  assert(chosen.length <= target.standbys, "no more standbys than the target");
  assert(new Set(chosen).size === chosen.length, "standbys are distinct");
  if (target.standbys > 0) {
    const names = chosen.map((id) => cluster.byId.get(id)!.state.name).join(", ");
    record(output, {
      action: "standby",
      outcome: "noted",
      rule: "standby",
      subject: "cluster",
      message: `keep ${chosen.length} of ${target.standbys} warm standby learner${target.standbys === 1 ? "" : "s"}${chosen.length > 0 ? `: ${names}` : ""}`,
      facts: { wanted: target.standbys, chosen: chosen.length, candidates: eligible.length },
    });
  }
  return chosen;
}

/** Caught-up learners first, then other learners, then the best scored. */
function bestStandbys(
  cluster: Cluster,
  candidates: readonly NodeFacts[],
  voters: readonly NodeFacts[],
): NodeFacts[] {
  return candidates
    .map((node) => ({ node, score: scoreCandidate(cluster, node, voters) }))
    .sort((left, right) => {
      const caughtUp = Number(right.node.isCaughtUpLearner) - Number(left.node.isCaughtUpLearner);
      const learner = Number(right.node.isLearner) - Number(left.node.isLearner);
      return caughtUp !== 0 ? caughtUp : learner !== 0 ? learner : compareScored(left, right);
    })
    .map((entry) => entry.node);
}
