import { assert, type ControlPlaneRole, controlPlaneRoles, isControlPlaneRole } from "../vocabulary/index.js";
import { type Cluster, holdersOf, isControlPlaneNode, type NodeFacts } from "./cluster.js";
import type { RuleCode, TargetShape } from "./decision.js";
import type { OperatorRequest } from "./inputs.js";
import { nodeLabel } from "./round.js";

/**
 * Guards an operator shift against leaving the fabric unable to do its job:
 * - `control-plane-target`: the shift takes a control-plane role from a node, the healthy
 *   holders left are below the target, and too few stable workers exist to promote in
 *   its place;
 * - `no-workload-host`: after the shift, and after the promotions it forces to keep the
 *   control plane at its target, no node is left that can take a workload (an alive,
 *   unquarantined, non-flapping pure worker).
 * Both are rules like the others: refused without force, proposed with it. `taken` holds the
 * nodes earlier requests of the same round already take out of the workload hosts, so two
 * requests cannot each leave one host and together leave none.
 */
export interface GuardVerdict {
  readonly broken: readonly RuleCode[];
  /** One sentence per broken rule, in the order of `broken`. */
  readonly reasons: readonly string[];
  /** Nodes this request takes out of the workload hosts (the node, and replacements it forces). */
  readonly takes: readonly string[];
}

export function guardCapacity(
  cluster: Cluster,
  target: TargetShape,
  request: OperatorRequest,
  node: NodeFacts,
  taken: ReadonlySet<string>,
): GuardVerdict {
  const lostRoles = controlPlaneRolesLost(request, node);
  const candidates = cluster.nodes.filter(
    (other) => other.id !== node.id && !taken.has(other.id) && isReplacement(other),
  );
  const broken: RuleCode[] = [];
  const reasons: string[] = [];
  const short = lostRoles
    .map((role) => ({ role, short: shortfall(cluster, target, role, node.id, lostRoles) }))
    .filter((entry) => entry.short > 0);
  if (short.some((entry) => entry.short > candidates.length)) {
    broken.push("control-plane-target");
    const roles = short.map(
      (entry) => `${entry.role} ${target.roles[entry.role] - entry.short} of ${target.roles[entry.role]}`,
    );
    reasons.push(
      `it would leave the control plane below its target (healthy holders: ${roles.join(", ")}) with ${candidates.length} stable worker${candidates.length === 1 ? "" : "s"} to promote in its place`,
    );
  }
  // Hosts once the promotions the control plane needs are made, without and with this request.
  const hosts = cluster.nodes.filter((other) => isWorkloadHost(other) && !taken.has(other.id));
  const promotedWithout = candidates.slice(0, promotionsNeeded(cluster, target, node.id, []));
  const promotedWith = candidates.slice(0, promotionsNeeded(cluster, target, node.id, lostRoles));
  const loses = isWorkloadHost(node) && takesWorker(request) ? [node.id as string] : [];
  const hostsWithout = hosts.filter((host) => !promotedWithout.includes(host));
  const hostsWith = hosts.filter((host) => !promotedWith.includes(host) && !loses.includes(host.id));
  if (hostsWithout.length > 0 && hostsWith.length === 0) {
    broken.push("no-workload-host");
    const replacing =
      promotedWith.length > 0
        ? ` (${promotedWith.map(nodeLabel).join(", ")} would be promoted to keep the control plane at its target)`
        : "";
    reasons.push(`it would leave no node able to take a workload${replacing}`);
  }
  assert(broken.length === reasons.length, "one reason per broken rule");
  assert(hostsWith.length <= hosts.length, "a guarded shift adds no host");
  return { broken, reasons, takes: [...loses, ...promotedWith.map((candidate) => candidate.id as string)] };
}

/** Promotions the target needs: the largest shortfall over the control-plane roles. */
function promotionsNeeded(
  cluster: Cluster,
  target: TargetShape,
  nodeId: string,
  lostRoles: readonly ControlPlaneRole[],
): number {
  return Math.max(0, ...controlPlaneRoles.map((role) => shortfall(cluster, target, role, nodeId, lostRoles)));
}

/** An alive, unquarantined, non-flapping pure worker: where a workload without control-plane toleration can go. */
export function isWorkloadHost(node: NodeFacts): boolean {
  if (node.status !== "alive" || node.isQuarantined || node.isFlapping) return false;
  return node.isWorker && !isControlPlaneNode(node);
}

/** A worker the policy could promote now (the same test its promotions use: stable and not quarantined). */
function isReplacement(node: NodeFacts): boolean {
  return node.isStable && !node.isQuarantined && node.isWorker && !isControlPlaneNode(node);
}

/** The control-plane roles the node gives up with this request. */
function controlPlaneRolesLost(request: OperatorRequest, node: NodeFacts): ControlPlaneRole[] {
  const command = request.command;
  if (command.type === "quarantine") return [...node.controlPlaneRoles];
  if (command.type === "demote") {
    return command.roles.filter(isControlPlaneRole).filter((role) => node.controlPlaneRoles.has(role));
  }
  return [];
}

/** Whether the request stops the node from being a pure worker (quarantine, or a control-plane promotion). */
function takesWorker(request: OperatorRequest): boolean {
  const command = request.command;
  if (command.type === "quarantine") return true;
  return command.type === "promote" && command.roles.some(isControlPlaneRole);
}

/** How many healthy holders of `role` the target misses (without `nodeId` when it gives the role up). */
function shortfall(
  cluster: Cluster,
  target: TargetShape,
  role: ControlPlaneRole,
  nodeId: string,
  lostRoles: readonly ControlPlaneRole[],
): number {
  const left = holdersOf(cluster, role).filter(
    (holder) =>
      holder.isHealthy && !holder.isQuarantined && !(holder.id === nodeId && lostRoles.includes(role)),
  ).length;
  return Math.max(0, target.roles[role] - left);
}
