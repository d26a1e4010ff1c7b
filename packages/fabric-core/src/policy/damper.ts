import type { Cluster, NodeFacts } from "./cluster.js";
import { isControlPlaneNode } from "./cluster.js";
import { nodeFacts, nodeLabel, proposeShift, type RoundOutput, record } from "./round.js";

/**
 * The damper's own shifts, planned before the control plane: quarantine a flapping worker,
 * restore a quarantined node once it has been stable for the restore window, and give a node
 * that joined with no role the worker role. None of them changes the voter set, so they may
 * share a round with promotions. A flapping control-plane member is not quarantined here: it
 * is replaced and demoted like a failed one first, and quarantined once it is a worker.
 */
export function planDamper(cluster: Cluster, output: RoundOutput): void {
  const holds = new Set<string>(cluster.inputs.history.operator_holds);
  for (const node of cluster.nodes) {
    if (node.isQuarantined) {
      planRestore(cluster, node, holds.has(node.id), output);
    } else if (node.isFlapping && !isControlPlaneNode(node)) {
      planQuarantine(cluster, node, output);
    } else if (node.state.roles.length === 0 && node.status === "alive") {
      planWorker(node, output);
    }
  }
}

function planRestore(cluster: Cluster, node: NodeFacts, held: boolean, output: RoundOutput): void {
  const windowMs = cluster.config.restore_window_ms;
  const facts = { ...nodeFacts(node), restore_window_ms: windowMs, flaps: node.flapCount };
  if (held) {
    record(output, {
      action: "restore",
      outcome: "noted",
      rule: "operator-hold",
      subject: node.id,
      message: `${nodeLabel(node)} stays quarantined: an operator quarantined it, and only an operator restores it`,
      facts,
    });
    return;
  }
  if (node.status !== "alive" || node.stableForMs < windowMs) {
    record(output, {
      action: "restore",
      outcome: "noted",
      rule: "quarantine-held",
      subject: node.id,
      message: `${nodeLabel(node)} stays quarantined: ${node.status}, stable for ${node.stableForMs} ms of the ${windowMs} ms restore window`,
      facts,
    });
    return;
  }
  if (!node.isShiftAllowed) {
    recordHysteresis(cluster, node, "restore", output);
    return;
  }
  proposeShift(output, node, { type: "restore", node: node.id });
  record(output, {
    action: "restore",
    outcome: "proposed",
    rule: "restore-stable",
    subject: node.id,
    message: `restore ${nodeLabel(node)}: stable for ${node.stableForMs} ms (window ${windowMs} ms)`,
    facts,
  });
}

function planQuarantine(cluster: Cluster, node: NodeFacts, output: RoundOutput): void {
  if (!node.isShiftAllowed) {
    recordHysteresis(cluster, node, "quarantine", output);
    return;
  }
  proposeShift(output, node, { type: "quarantine", node: node.id, reason: "health-degraded" });
  record(output, {
    action: "quarantine",
    outcome: "proposed",
    rule: "flapping",
    subject: node.id,
    message: `quarantine ${nodeLabel(node)}: ${node.flapCount} flaps within ${cluster.config.flap_window_ms} ms (threshold ${cluster.config.flap_threshold})`,
    facts: { ...nodeFacts(node), flaps: node.flapCount, flap_threshold: cluster.config.flap_threshold },
  });
}

function planWorker(node: NodeFacts, output: RoundOutput): void {
  if (!node.isShiftAllowed) return;
  proposeShift(output, node, { type: "promote", node: node.id, roles: ["worker"], reason: "scaling-up" });
  record(output, {
    action: "promote",
    outcome: "proposed",
    rule: "assign-worker",
    subject: node.id,
    message: `give ${nodeLabel(node)} the worker role: it joined with no role`,
    facts: nodeFacts(node),
  });
}

/** The damper's refusal, shared by every planner. */
export function recordHysteresis(
  cluster: Cluster,
  node: NodeFacts,
  action: "promote" | "demote" | "quarantine" | "restore",
  output: RoundOutput,
): void {
  const sinceMs = node.lastShiftMs === null ? null : cluster.nowMs - node.lastShiftMs;
  record(output, {
    action,
    outcome: "held",
    rule: "hysteresis",
    subject: node.id,
    message: `${action} ${nodeLabel(node)} waits: it shifted ${sinceMs} ms ago, within the ${cluster.config.hysteresis_ms} ms hysteresis window`,
    facts: {
      ...nodeFacts(node),
      last_shift_ms: node.lastShiftMs,
      hysteresis_ms: cluster.config.hysteresis_ms,
    },
  });
}
