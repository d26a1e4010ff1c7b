import { assert, type ControlPlaneRole, largestOddAtMost, votersFor } from "../vocabulary/index.js";
import type { Cluster } from "./cluster.js";
import type { TargetShape } from "./decision.js";

/**
 * The shape the control plane should have now: the formation applied to the counted nodes
 * (not left, not quarantined, not flapping; a dead member keeps its seat for the dead grace
 * period, so a failure is answered by a replacement, not by shrinking the quorum). etcd holders are the Raft voters and their count is
 * odd. The other roles follow the voter count unless configured; a configured count above the
 * voters is capped so that `min_workers` nodes stay pure workers when the node count allows.
 */
export function targetShape(cluster: Cluster): TargetShape {
  const eligible = cluster.nodes.filter((node) => node.isCounted).length;
  const config = cluster.config;
  if (eligible === 0) {
    const roles = { "api-server": 0, etcd: 0, scheduler: 0, "controller-manager": 0 };
    return { eligible, voters: 0, roles, workers_min: 0, standbys: 0 };
  }
  // The strategy's quorum_size is the voter target of the quorum formations.
  const quorumSize = cluster.inputs.strategy.consensus.kind.quorum_size;
  const formationVoters = votersFor(cluster.inputs.formation, eligible, quorumSize);
  const voters = largestOddAtMost(Math.min(config.role_targets.etcd ?? formationVoters, eligible));
  const controlPlaneNodesMax = Math.max(voters, eligible - config.min_workers);
  const other = (role: Exclude<ControlPlaneRole, "etcd">) =>
    Math.min(config.role_targets[role] ?? voters, eligible, controlPlaneNodesMax);
  const roles = {
    "api-server": other("api-server"),
    etcd: voters,
    scheduler: other("scheduler"),
    "controller-manager": other("controller-manager"),
  };
  const controlPlaneNodes = Math.max(...Object.values(roles));
  const workers = eligible - controlPlaneNodes;
  const shape = {
    eligible,
    voters,
    roles,
    workers_min: Math.min(config.min_workers, workers),
    standbys: Math.min(config.standby_count, workers),
  };
  assert(voters % 2 === 1, `voter target ${voters} is odd`);
  assert(controlPlaneNodes <= eligible, "the control plane fits in the eligible nodes");
  return shape;
}
