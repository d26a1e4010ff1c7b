import { assert, isControlPlaneRole, shortNodeId } from "../vocabulary/index.js";
import { guardCapacity } from "./capacity-guard.js";
import type { Cluster, NodeFacts } from "./cluster.js";
import type { RuleCode, TargetShape } from "./decision.js";
import type { OperatorRequest } from "./inputs.js";
import { nodeFacts, type RoundOutput, record } from "./round.js";

/**
 * Operator overrides enter through the same log as the policy's own shifts. Each request is
 * checked against the rules the policy keeps; a request that breaks none is proposed, one that
 * breaks some is proposed only with `force` (the record names every rule broken) and refused
 * otherwise. Returns the number of requests proposed.
 */
export function judgeOperatorRequests(cluster: Cluster, output: RoundOutput, target: TargetShape): number {
  const voterCount = cluster.inputs.raft.voters.length;
  const removableVoters = Math.floor(Math.max(0, voterCount - 1) / 2);
  let removedVoters = 0;
  let proposed = 0;
  const taken = new Set<string>();
  for (const request of cluster.inputs.operator_requests) {
    const node = cluster.byId.get(request.command.node);
    if (node === undefined) {
      recordUnknown(request, output);
      continue;
    }
    if (changesNothing(request, node)) {
      recordVerdict(request, node, "refused", ["no-op"], output);
      continue;
    }
    const removesVoter = isVoterRemoval(request, node);
    const broken = brokenRules(cluster, request, node, output);
    if (removesVoter && removedVoters + 1 > removableVoters) broken.push("removal-cap");
    if (removesVoter && voterCount - removedVoters - 1 < cluster.config.min_quorum)
      broken.push("quorum-floor");
    const guard = guardCapacity(cluster, target, request, node, taken);
    broken.push(...guard.broken);
    if (broken.length > 0 && !request.force) {
      recordVerdict(request, node, "refused", broken, output, guard.reasons);
      continue;
    }
    if (removesVoter) removedVoters += 1;
    for (const id of guard.takes) taken.add(id);
    output.commands.push({ command: request.command, origin: "operator", force: request.force });
    output.shifted.add(node.id);
    recordVerdict(request, node, broken.length > 0 ? "forced" : "proposed", broken, output, guard.reasons);
    proposed += 1;
  }
  assert(proposed <= cluster.inputs.operator_requests.length, "at most one proposal per request");
  return proposed;
}

/** A request that would change nothing (or, for restore, undo no quarantine) is refused, force or not. */
function changesNothing(request: OperatorRequest, node: NodeFacts): boolean {
  const command = request.command;
  switch (command.type) {
    case "promote":
      return command.roles.every((role) => node.state.roles.includes(role));
    case "demote":
      return command.roles.every((role) => !node.state.roles.includes(role));
    case "quarantine":
      return node.isQuarantined;
    case "restore":
      return !node.isQuarantined;
  }
}

function isVoterRemoval(request: OperatorRequest, node: NodeFacts): boolean {
  if (!node.isVoter) return false;
  if (request.command.type === "quarantine") return true;
  return request.command.type === "demote" && request.command.roles.includes("etcd");
}

/** The policy rules this request breaks, apart from the voter guards counted across requests. */
function brokenRules(
  cluster: Cluster,
  request: OperatorRequest,
  node: NodeFacts,
  output: RoundOutput,
): RuleCode[] {
  const broken: RuleCode[] = [];
  if (output.shifted.has(node.id) || !node.isShiftAllowed) broken.push("hysteresis");
  const command = request.command;
  switch (command.type) {
    case "promote":
      if (command.roles.some(isControlPlaneRole)) {
        if (node.isQuarantined) broken.push("quarantined-node");
        if (node.isFlapping) broken.push("flapping");
        if (!node.isStable && !node.isFlapping) broken.push("stabilization");
      }
      break;
    case "demote":
      if (node.id === cluster.self) broken.push("self-demotion");
      break;
    case "quarantine":
      if (node.id === cluster.self) broken.push("self-demotion");
      break;
    case "restore":
      if (node.status !== "alive" || node.stableForMs < cluster.config.restore_window_ms) {
        broken.push("quarantine-held");
      }
      break;
  }
  return broken;
}

function recordVerdict(
  request: OperatorRequest,
  node: NodeFacts,
  outcome: "proposed" | "forced" | "refused",
  broken: readonly RuleCode[],
  output: RoundOutput,
  reasons: readonly string[] = [],
): void {
  const command = request.command;
  const what = `${command.type} ${node.state.name} (${shortNodeId(node.id)})`;
  const why = reasons.length > 0 ? `: ${reasons.join("; ")}` : "";
  const message =
    outcome === "proposed"
      ? `operator ${what}: breaks no rule, proposed`
      : outcome === "forced"
        ? `operator ${what}: forced past ${broken.join(", ")}${why}`
        : broken[0] === "no-op"
          ? `operator ${what} refused: it would change nothing (force does not apply)`
          : `operator ${what} refused: breaks ${broken.join(", ")}${why}; repeat with force to override`;
  record(output, {
    action: command.type,
    outcome,
    rule: broken[0] ?? "operator-request",
    subject: node.id,
    message,
    facts: { ...nodeFacts(node), force: request.force, broken_rules: broken.join(",") || null },
  });
}

function recordUnknown(request: OperatorRequest, output: RoundOutput): void {
  record(output, {
    action: request.command.type,
    outcome: "refused",
    rule: "unknown-node",
    subject: request.command.node,
    message: `operator ${request.command.type} refused: node ${shortNodeId(request.command.node)} is not in the fabric state`,
    facts: { force: request.force },
  });
}
