import { readFile, stat } from "node:fs/promises";
import {
  type BlockCommand,
  type OperatorHead,
  operatorSigningMessage,
  signOperatorCommand,
} from "@revoada/fabric-core/attest";
import { FabricState, NodeRole } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { ShiftRequest } from "../api/schemas.js";
import { shiftCommandOf } from "../api/shift-command.js";
import { ChainHeadReply } from "../api/strategy-routes.js";
import type { ApiClient } from "../mesh/api-client.js";
import { findNode } from "../render/index.js";
import { CliError, exitCodes } from "./exit-codes.js";
import { readOperatorKey } from "./operator-key.js";
import { readSshsig, sshsigVerifies } from "./sshsig.js";

/** The exact role command the leader will build for this request, and the head to sign against. */
async function shiftToSign(
  leader: ApiClient,
  request: Pick<ShiftRequest, "action" | "node"> & { roles?: string[] },
): Promise<{ command: BlockCommand; head: OperatorHead }> {
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
  return { command, head: { sequence: head.sequence, hash: head.hash } };
}

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
  const { command, head } = await shiftToSign(leader, request);
  return {
    operator_after: head.sequence,
    operator_signature: signOperatorCommand(command, head, signer),
  };
}

/**
 * `revoada shift ... --print-message`: the exact bytes an operator signs for this shift now
 * (docs/attestation.md §5), for `ssh-keygen -Y sign -n revoada-shift -f KEY FILE`.
 */
export async function shiftMessage(
  leader: ApiClient,
  request: Pick<ShiftRequest, "action" | "node"> & { roles?: string[] },
): Promise<Uint8Array> {
  const { command, head } = await shiftToSign(leader, request);
  return operatorSigningMessage(command, head);
}

const messageBytesMax = 64 * 1024;

/** The chain position a printed message names (its JSON line), checked again below byte for byte. */
const PrintedMessage = z.object({ after: z.int().min(0), head: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * `revoada shift ... --sshsig FILE.sig [--message FILE]`: a detached SSHSIG signature (made by
 * `ssh-keygen -Y sign -n revoada-shift`) over the message `--print-message` printed. The
 * message must be this shift's, byte for byte, against a chain position the node still
 * accepts; the signature must verify over it here before anything is sent (every node checks
 * it again, with the operator keys in force, before it applies the shift).
 */
export async function sshsigShift(
  leader: ApiClient,
  request: Pick<ShiftRequest, "action" | "node"> & { roles?: string[] },
  sigFile: string,
  messageFile: string | undefined,
): Promise<{ operator_after: number; operator_signature: string }> {
  const messagePath = messageFile ?? (sigFile.endsWith(".sig") ? sigFile.slice(0, -4) : undefined);
  if (messagePath === undefined)
    throw new CliError(
      `--sshsig ${sigFile}: name the signed message with --message FILE (ssh-keygen writes FILE.sig beside FILE)`,
      exitCodes.usage,
    );
  const info = await stat(messagePath).catch(() => null);
  if (info === null || !info.isFile())
    throw new CliError(`${messagePath}: no such message file`, exitCodes.notFound);
  if (info.size > messageBytesMax)
    throw new CliError(
      `${messagePath}: a message is at most ${messageBytesMax} bytes`,
      exitCodes.invalidInput,
    );
  const message = await readFile(messagePath);
  const signature = await readSshsig(sigFile);
  const domain = "revoada/operator-command/v2\n";
  const text = message.toString("utf8");
  const printed = text.startsWith(domain)
    ? PrintedMessage.safeParse(jsonOrNull(text.slice(domain.length)))
    : undefined;
  if (printed === undefined || !printed.success)
    throw new CliError(
      `${messagePath}: not an operator command message (revoada shift ... --print-message writes one)`,
      exitCodes.invalidInput,
    );
  const { command } = await shiftToSign(leader, request);
  const expected = operatorSigningMessage(command, { sequence: printed.data.after, hash: printed.data.head });
  if (!Buffer.from(expected).equals(message))
    throw new CliError(
      `${messagePath}: the message is not this shift's (printed for another command, or changed): print it again with --print-message`,
      exitCodes.invalidInput,
    );
  if (!sshsigVerifies(signature, message))
    throw new CliError(
      `${sigFile}: the signature does not verify over ${messagePath} (another message was signed, or the file was changed)`,
      exitCodes.invalidInput,
    );
  return { operator_after: printed.data.after, operator_signature: signature.signature };
}

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
