import { assert, type ControlPlaneRole, shortNodeId } from "../vocabulary/index.js";
import type { Cluster, NodeFacts } from "./cluster.js";
import { holdersOf, isControlPlaneNode, orderedRoles } from "./cluster.js";
import type { TargetShape } from "./decision.js";
import { nodeFacts, nodeLabel, proposeShift, type RoundOutput, record } from "./round.js";
import { type CandidateScore, compareScored, scoreCandidate, scoreFacts } from "./score.js";

/** Roles are filled in this order: the voters first, since they carry the quorum. */
const fillOrder: readonly ControlPlaneRole[] = ["etcd", "api-server", "scheduler", "controller-manager"];

interface Pick {
  readonly node: NodeFacts;
  readonly roles: Set<ControlPlaneRole>;
  readonly replacing: Set<string>;
  score: CandidateScore;
  runnerUp: string | null;
  candidates: number;
}

/**
 * Promotions: for each role below its target (counting only healthy holders), choose the best
 * scored eligible candidates. A candidate must be alive, stable for the stabilization period,
 * not quarantined, not flapping and allowed by the damper. Nodes already in the control plane
 * come first (roles co-locate), then workers. All roles a node gains this round go into one
 * command: one shift per node. Returns the number of promote commands proposed.
 */
export function planPromotions(cluster: Cluster, target: TargetShape, output: RoundOutput): number {
  const picks = new Map<string, Pick>();
  const deferred = new Set<string>();
  const shortfalls: Shortfall[] = [];
  for (const role of fillOrder) {
    const holders = holdersOf(cluster, role);
    const healthy = holders.filter((node) => node.isHealthy);
    const failed = holders.filter((node) => !node.isHealthy).map((node) => node.id as string);
    const growing = failed.length === 0;
    const group = [
      ...healthy,
      ...[...picks.values()].filter((pick) => pick.roles.has(role)).map((p) => p.node),
    ];
    let need = target.roles[role] - group.length;
    for (let guard = 0; need > 0; guard += 1) {
      assert(guard < 100, "a role target is at most 99");
      const chosen = chooseCandidate(cluster, role, group, { picks, deferred, output });
      if (chosen === null) {
        shortfalls.push({ role, need, wanted: target.roles[role] });
        break;
      }
      chosen.roles.add(role);
      const replaced = failed.shift();
      if (replaced !== undefined) chosen.replacing.add(replaced);
      group.push(chosen.node);
      need -= 1;
    }
    if (role !== "etcd") continue;
    const withdrawn = growing
      ? keepVotersOdd(group.length, target, picks, deferred, output)
      : keepRemovalPossible(cluster, holders, picks, deferred, output);
    if (withdrawn > 0) {
      const earlier = shortfalls.findIndex((shortfall) => shortfall.role === role);
      const missing = withdrawn + (earlier >= 0 ? shortfalls[earlier]!.need : 0);
      if (earlier >= 0) shortfalls.splice(earlier, 1);
      shortfalls.push({ role, need: missing, wanted: target.roles[role] });
    }
  }
  if (shortfalls.length > 0) recordShortfalls(cluster, shortfalls, output);
  for (const pick of [...picks.values()].sort((left, right) => (left.node.id < right.node.id ? -1 : 1))) {
    proposePromotion(pick, output);
  }
  return picks.size;
}

/**
 * A replacement voter is promoted so that the failed one can be removed next round. When that
 * removal could never pass the (voters - 1) / 2 cap (a lone voter: 1 + 1 voters allow no
 * removal), promoting would only leave an even voter set that cannot shrink back, so the
 * voter picks wait.
 */
function keepRemovalPossible(
  cluster: Cluster,
  holders: readonly NodeFacts[],
  picks: Map<string, Pick>,
  deferred: Set<string>,
  output: RoundOutput,
): number {
  const voterPicks = [...picks.values()].filter((pick) => pick.roles.has("etcd"));
  const failedVoters = holders.filter((node) => !node.isHealthy && node.isVoter).length;
  const votersAfter = cluster.inputs.raft.voters.length + voterPicks.length;
  const removable = Math.floor((votersAfter - 1) / 2);
  if (voterPicks.length === 0 || failedVoters <= removable) return 0;
  for (const pick of voterPicks) {
    withdrawVoterPick(pick, picks, deferred);
    record(output, {
      action: "promote",
      outcome: "held",
      rule: "removal-cap",
      subject: pick.node.id,
      message: `promote ${nodeLabel(pick.node)} waits: with ${votersAfter} voters only ${removable} may go per round, so the ${failedVoters} failed voter${failedVoters === 1 ? "" : "s"} it would replace could never be removed`,
      facts: {
        ...nodeFacts(pick.node),
        voters_after: votersAfter,
        removable_voters: removable,
        failed_voters: failedVoters,
      },
    });
  }
  return voterPicks.length;
}

/** Takes a voter pick back; the node takes no other role this round either. */
function withdrawVoterPick(pick: Pick, picks: Map<string, Pick>, deferred: Set<string>): void {
  assert(pick.roles.size === 1, "etcd is filled first, so a voter pick holds no other role yet");
  picks.delete(pick.node.id);
  deferred.add(pick.node.id);
  assert(!picks.has(pick.node.id), "a withdrawn pick is gone");
}

interface Shortfall {
  readonly role: ControlPlaneRole;
  readonly need: number;
  readonly wanted: number;
}

/**
 * Growing the voter set one node short of an odd count would leave an even count, which
 * tolerates no more failures and needs more nodes alive (two voters need both): when no failed
 * voter is being replaced, the last voter pick waits for a second candidate, and that node
 * takes no other role this round either.
 */
function keepVotersOdd(
  voters: number,
  target: TargetShape,
  picks: Map<string, Pick>,
  deferred: Set<string>,
  output: RoundOutput,
): number {
  if (voters % 2 === 1 || voters >= target.voters) return 0;
  const voterPicks = [...picks.values()].filter((pick) => pick.roles.has("etcd"));
  const last = voterPicks[voterPicks.length - 1];
  if (last === undefined) return 0;
  withdrawVoterPick(last, picks, deferred);
  record(output, {
    action: "promote",
    outcome: "held",
    rule: "odd-voters",
    subject: last.node.id,
    message: `promote ${nodeLabel(last.node)} waits: it would make ${voters} voters, an even count, and no second candidate is eligible yet (target ${target.voters})`,
    facts: { ...nodeFacts(last.node), voters_after: voters, target_voters: target.voters },
  });
  return 1;
}

function chooseCandidate(
  cluster: Cluster,
  role: ControlPlaneRole,
  group: readonly NodeFacts[],
  round: { picks: Map<string, Pick>; deferred: ReadonlySet<string>; output: RoundOutput },
): Pick | null {
  const { picks, deferred, output } = round;
  const scored = cluster.nodes
    .filter((node) => !node.controlPlaneRoles.has(role) && !picks.get(node.id)?.roles.has(role))
    .filter((node) => isPromotable(node) && !output.shifted.has(node.id) && !deferred.has(node.id))
    .map((node) => ({ node, score: scoreCandidate(cluster, node, group) }))
    .sort((left, right) => {
      const leftControl = isControlPlaneNode(left.node) || picks.has(left.node.id) ? 0 : 1;
      const rightControl = isControlPlaneNode(right.node) || picks.has(right.node.id) ? 0 : 1;
      return leftControl !== rightControl ? leftControl - rightControl : compareScored(left, right);
    });
  const best = scored[0];
  if (best === undefined) return null;
  const existing = picks.get(best.node.id);
  const pick = existing ?? {
    node: best.node,
    roles: new Set<ControlPlaneRole>(),
    replacing: new Set<string>(),
    score: best.score,
    runnerUp: null,
    candidates: 0,
  };
  if (existing === undefined) {
    pick.runnerUp = scored[1]?.node.id ?? null;
    pick.candidates = scored.length;
    picks.set(best.node.id, pick);
  }
  return pick;
}

/** Alive, stable, unquarantined, not flapping, and the damper allows a shift. */
export function isPromotable(node: NodeFacts): boolean {
  return node.isStable && !node.isQuarantined && node.isShiftAllowed;
}

function proposePromotion(pick: Pick, output: RoundOutput): void {
  const roles = orderedRoles(pick.roles);
  assert(roles.length > 0, "a promotion adds a role");
  assert(isPromotable(pick.node), "only promotable nodes are promoted");
  const replacing = pick.replacing.size > 0;
  proposeShift(output, pick.node, {
    type: "promote",
    node: pick.node.id,
    roles,
    reason: replacing ? "replacing-failed" : "scaling-up",
  });
  const replaced = [...pick.replacing].map((id) => shortNodeId(id)).join(",");
  record(output, {
    action: "promote",
    outcome: "proposed",
    rule: replacing ? "replace-failed" : "scale-up",
    subject: pick.node.id,
    message: `promote ${nodeLabel(pick.node)} to ${roles.join(",")}${replacing ? `, replacing ${replaced}` : ""}: best of ${pick.candidates} candidates`,
    facts: {
      ...nodeFacts(pick.node),
      ...scoreFacts(pick.score),
      added_roles: roles.join(","),
      replacing: replacing ? replaced : null,
      caught_up_learner: pick.node.isCaughtUpLearner,
      candidates: pick.candidates,
      runner_up: pick.runnerUp === null ? null : shortNodeId(pick.runnerUp),
    },
  });
}

function recordShortfalls(cluster: Cluster, shortfalls: readonly Shortfall[], output: RoundOutput): void {
  const outside = cluster.nodes.filter((node) => !isControlPlaneNode(node) && !node.isQuarantined);
  const alive = outside.filter((node) => node.status === "alive" && !node.isFlapping);
  const unstable = alive.filter((node) => !node.isStable).length;
  const damped = alive.filter((node) => node.isStable && !node.isShiftAllowed).length;
  const rule = unstable > 0 ? "stabilization" : damped > 0 ? "hysteresis" : "no-candidate";
  const missing = shortfalls.map(
    (shortfall) => `${shortfall.role} +${shortfall.need} for ${shortfall.wanted}`,
  );
  const quarantined = cluster.nodes.filter((node) => node.isQuarantined).length;
  record(output, {
    action: "promote",
    outcome: "held",
    rule,
    subject: "cluster",
    message: `short of holders (${missing.join(", ")}) and no further candidate is eligible: ${unstable} worker${unstable === 1 ? "" : "s"} not yet stable for ${cluster.config.stabilization_ms} ms, ${damped} within the hysteresis window, ${quarantined} quarantined`,
    facts: {
      missing: missing.join(", "),
      unstable,
      within_hysteresis: damped,
      flapping: outside.filter((node) => node.isFlapping).length,
      quarantined,
      stabilization_ms: cluster.config.stabilization_ms,
    },
  });
}
