import { assert, controlPlaneRoles, shortNodeId } from "../vocabulary/index.js";
import { type Cluster, gatherCluster, holdersOf } from "./cluster.js";
import { resolvePolicyConfig } from "./config.js";
import { planDamper } from "./damper.js";
import type { Decision, TargetShape } from "./decision.js";
import { planDemotions, removalsOf } from "./demote.js";
import type { PolicyInputs } from "./inputs.js";
import { judgeOperatorRequests } from "./overrides.js";
import { type PlacementMemo, planPlacements, reuseUsage } from "./placement.js";
import { planPromotions } from "./promote.js";
import { emptyRoundOutput, nodeLabel, type RoundOutput, record } from "./round.js";
import { chooseStandbys } from "./standby.js";
import { targetShape } from "./target.js";

/**
 * One policy round: pure and deterministic (raft-autopilot's "gather, then compute"). The
 * caller gathers `PolicyInputs`; this returns what to propose and why. Only a leader that sees
 * a majority of voters acts. A round then runs in a fixed order:
 *   1. operator requests (a round that proposes one stops its own role shifts there);
 *   2. the damper: quarantine flapping workers, restore stable quarantined nodes;
 *   3. promotions; a round that promoted stops its role shifts there;
 *   4. demotions, capped at (voters - 1) / 2 voters and never below the quorum floor;
 * then warm standbys and workload placement, which never change the voter set.
 */
export function decide(inputs: PolicyInputs): Decision {
  return decideRound(inputs, null, false).decision;
}

/**
 * `decide`, handing on what this round learned about settled workloads (`PlacementMemo`) so the
 * next round checks only what may have changed. The decision is `decide(inputs)`'s, whatever
 * `previous` is (a property test holds it to that): a memo from other inputs only costs the full
 * walk. The memo relies on the caller never editing a workloads or placements record in place
 * (replacing it, as `applyCommands` and `FabricStateMachine.view()` do, is what it detects).
 * `incremental` says whether the memo matched (only what may have changed was checked).
 */
export function decideIncremental(inputs: PolicyInputs, previous: PlacementMemo | null): IncrementalRound {
  return decideRound(inputs, previous, true);
}

export interface IncrementalRound {
  readonly decision: Decision;
  readonly memo: PlacementMemo | null;
  /** The placement walk used `previous` (false: every workload was walked, or none: not acting). */
  readonly incremental: boolean;
}

function decideRound(
  inputs: PolicyInputs,
  previous: PlacementMemo | null,
  wantMemo: boolean,
): IncrementalRound {
  const config = resolvePolicyConfig(inputs.strategy, inputs.config);
  const cluster = gatherCluster(inputs, config);
  reuseUsage(cluster, previous);
  const target = targetShape(cluster);
  const output = emptyRoundOutput();
  const acting = checkAuthority(cluster, output);
  if (!acting) {
    const decision: Decision = {
      now_ms: inputs.now_ms,
      self: inputs.self,
      acting,
      target,
      commands: [],
      standbys: [],
      records: output.records,
    };
    return { decision, memo: previous, incremental: false };
  }
  const operatorShifts = judgeOperatorRequests(cluster, output, target);
  if (operatorShifts > 0) {
    record(output, {
      action: "none",
      outcome: "noted",
      rule: "operator-round",
      subject: "cluster",
      message: `${operatorShifts} operator shift${operatorShifts === 1 ? "" : "s"} this round: the policy's own role shifts wait for the next round`,
      facts: { operator_shifts: operatorShifts },
    });
  } else {
    planControlPlane(cluster, target, output);
  }
  const standbys = chooseStandbys(cluster, target, output);
  const placed = planPlacements(cluster, output, previous, wantMemo);
  assert(
    output.commands.every((proposed) => proposed.origin === "operator" || !proposed.force),
    "the policy never forces its own commands",
  );
  assert(output.records.length > 0, "every round explains itself");
  const decision: Decision = {
    now_ms: inputs.now_ms,
    self: inputs.self,
    acting,
    target,
    commands: output.commands,
    standbys,
    records: output.records,
  };
  return { decision, memo: placed.memo, incremental: placed.incremental };
}

function planControlPlane(cluster: Cluster, target: TargetShape, output: RoundOutput): void {
  planDamper(cluster, output);
  const promoted = planPromotions(cluster, target, output);
  if (promoted > 0) {
    for (const removal of removalsOf(cluster, target)) {
      record(output, {
        action: "demote",
        outcome: "held",
        rule: "promotions-first",
        subject: removal.node.id,
        message: `demote ${nodeLabel(removal.node)} waits: this round promoted, and demotions wait until the promotions have committed`,
        facts: { promoted, removed_roles: [...removal.roles].join(",") },
      });
    }
    return;
  }
  const before = output.commands.length;
  planDemotions(cluster, target, output);
  const shapeRecords = output.records.filter(
    (entry) => entry.action === "promote" || entry.action === "demote",
  );
  if (output.commands.length === before && shapeRecords.length === 0)
    recordShapeSatisfied(cluster, target, output);
}

/** Only the leader acts, and only while it sees a majority of the voters (Raft and gossip agree). */
function checkAuthority(cluster: Cluster, output: RoundOutput): boolean {
  const raft = cluster.inputs.raft;
  const members = new Map(cluster.inputs.membership.members.map((member) => [member.id as string, member]));
  const reachable = raft.voters.filter((id) => {
    const status = members.get(id)?.status;
    return id === cluster.self || status === "alive" || status === "suspect";
  }).length;
  const facts = {
    leader: raft.leader === null ? null : shortNodeId(raft.leader),
    quorum_visible: raft.quorum_visible,
    voters: raft.voters.length,
    reachable_voters: reachable,
  };
  if (raft.leader !== cluster.self) {
    const message = `${shortNodeId(cluster.self)} is not the Raft leader (${facts.leader ?? "none known"}): it proposes nothing`;
    record(output, {
      action: "none",
      outcome: "noted",
      rule: "not-leader",
      subject: "cluster",
      message,
      facts,
    });
  } else if (!raft.quorum_visible || 2 * reachable <= raft.voters.length) {
    const message = `this leader sees ${reachable} of ${raft.voters.length} voters${raft.quorum_visible ? "" : " and check-quorum failed"}: on the minority side of a partition it proposes nothing`;
    record(output, {
      action: "none",
      outcome: "noted",
      rule: "minority-partition",
      subject: "cluster",
      message,
      facts,
    });
  } else {
    return true;
  }
  for (const request of cluster.inputs.operator_requests) {
    record(output, {
      action: request.command.type,
      outcome: "refused",
      rule: output.records[0]!.rule,
      subject: request.command.node,
      message: `operator ${request.command.type} not judged here: ${output.records[0]!.message}`,
      facts: { force: request.force },
    });
  }
  return false;
}

function recordShapeSatisfied(cluster: Cluster, target: TargetShape, output: RoundOutput): void {
  const facts: Record<string, number> = { eligible: target.eligible };
  for (const role of controlPlaneRoles) {
    facts[`${role}_holders`] = holdersOf(cluster, role).length;
    facts[`${role}_target`] = target.roles[role];
  }
  record(output, {
    action: "none",
    outcome: "noted",
    rule: "shape-satisfied",
    subject: "cluster",
    message: `the control plane matches the ${cluster.inputs.formation} target: ${target.voters} voter${target.voters === 1 ? "" : "s"} for ${target.eligible} counted node${target.eligible === 1 ? "" : "s"}`,
    facts,
  });
}
