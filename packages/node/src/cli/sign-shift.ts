import { signOperatorCommand } from "@revoada/fabric-core/attest";
import { FabricState, NodeRole } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { ShiftRequest } from "../api/schemas.js";
import { shiftCommandOf } from "../api/shift-command.js";
import { ChainHeadReply } from "../api/strategy-routes.js";
import type { ApiClient } from "../mesh/api-client.js";
import { findNode } from "../render/index.js";
import { CliError, exitCodes } from "./exit-codes.js";
import { readOperatorKey } from "./operator-key.js";

/**
 * `revoada shift ... --sign-with KEYFILE`: the operator signs the exact role command the
 * leader will build (same node resolution, same default roles), bound to the committed chain
 * head it reads from the leader (docs/attestation.md, "Operator signatures"). If another
 * block commits first, the signature still counts (within 256 blocks, once).
 */
export async function signShift(
  leader: ApiClient,
  request: Pick<ShiftRequest, "action" | "node"> & { roles?: string[] },
  keyFile: string,
): Promise<{ operator_after: number; operator_signature: string }> {
  const signer = await readOperatorKey(keyFile);
  const roles = request.roles === undefined ? undefined : z.array(NodeRole).safeParse(request.roles);
  if (roles !== undefined && !roles.success)
    throw new CliError(`--roles: not node roles: ${request.roles?.join(",")}`, exitCodes.invalidInput);
  const state = await leader.get("/v1/state", FabricState);
  const found = findNode(state, request.node);
  if (found === undefined) throw new CliError(`no node ${request.node}`, exitCodes.notFound);
  if (found === "ambiguous") throw new CliError(`${request.node} matches several nodes`, exitCodes.usage);
  const command = shiftCommandOf(
    { action: request.action, ...(roles === undefined ? {} : { roles: roles.data }) },
    found.id,
  );
  const head = await leader.get("/v1/chain/head", ChainHeadReply);
  return {
    operator_after: head.sequence,
    operator_signature: signOperatorCommand(command, head, signer),
  };
}
