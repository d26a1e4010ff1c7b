import {
  controlPlaneRoles,
  type NodeId,
  type NodeRole,
  type RoleCommand,
} from "@revoada/fabric-core/vocabulary";
import type { ShiftRequest } from "./schemas.js";

/**
 * The role command an operator's shift request becomes: the one definition the API
 * (`POST /v1/shifts`) and `revoada shift --sign-with` (which signs exactly this command)
 * share. Promote and demote default to every control-plane role.
 */
export function shiftCommandOf(request: Pick<ShiftRequest, "action" | "roles">, node: NodeId): RoleCommand {
  const roles: NodeRole[] = request.roles ?? [...controlPlaneRoles];
  if (request.action === "promote" || request.action === "demote")
    return { type: request.action, node, roles, reason: "operator" };
  if (request.action === "quarantine") return { type: "quarantine", node, reason: "operator" };
  return { type: "restore", node };
}
