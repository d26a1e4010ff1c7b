import { assertNever } from "./assert.js";
import type { Command } from "./command.js";
import { isControlPlaneRole, type NodeRole } from "./node.js";

export type RoleCommand = Extract<Command, { type: "promote" | "demote" | "quarantine" | "restore" }>;

/**
 * The one definition of what a role command does to a node's roles, shared by the Raft
 * state machine, the policy engine and the attestation role table (the chain must replay
 * to the same table the state machine holds):
 * - promote adds the roles; a node holding a control-plane role is no longer a `worker`;
 * - demote removes them, and a node left with no role is a worker;
 * - quarantine leaves only `quarantined`;
 * - restore makes the node a worker.
 * The result is sorted and free of duplicates, so equal role sets compare equal.
 */
export function nextRoles(roles: readonly NodeRole[], command: RoleCommand): NodeRole[] {
  switch (command.type) {
    case "promote": {
      const promoted = sortedRoles([...roles, ...command.roles]);
      const controlPlane = promoted.some((role) => isControlPlaneRole(role));
      return controlPlane ? promoted.filter((role) => role !== "worker") : promoted;
    }
    case "demote": {
      const left = roles.filter((role) => !command.roles.includes(role));
      return left.length === 0 ? ["worker"] : sortedRoles(left);
    }
    case "quarantine":
      return ["quarantined"];
    case "restore":
      return ["worker"];
    default:
      return assertNever(command);
  }
}

export function sortedRoles(roles: readonly NodeRole[]): NodeRole[] {
  return [...new Set(roles)].sort();
}
