import { assert, type NodeId } from "../vocabulary/index.js";
import type { Cluster } from "./cluster.js";
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
  const pool = cluster.nodes
    .filter((node) => !isControlPlaneNode(node) && !node.isQuarantined && node.isStable)
    .filter((node) => !output.shifted.has(node.id))
    .map((node) => ({ node, score: scoreCandidate(cluster, node, voters) }))
    .sort((left, right) => {
      const caughtUp = Number(right.node.isCaughtUpLearner) - Number(left.node.isCaughtUpLearner);
      const learner = Number(right.node.isLearner) - Number(left.node.isLearner);
      return caughtUp !== 0 ? caughtUp : learner !== 0 ? learner : compareScored(left, right);
    });
  const chosen = pool.slice(0, target.standbys).map((entry) => entry.node.id);
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
      facts: { wanted: target.standbys, chosen: chosen.length, candidates: pool.length },
    });
  }
  return chosen;
}
