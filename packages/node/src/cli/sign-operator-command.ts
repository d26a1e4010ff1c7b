import { readFile, stat } from "node:fs/promises";
import {
  type BlockCommand,
  type OperatorHead,
  operatorSigningMessage,
  signOperatorCommand,
} from "@revoada/fabric-core/attest";
import { FabricState, NodeRole, operatorSshsigNamespace } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { z } from "zod";
import type { ShiftRequest } from "../api/schemas.js";
import { shiftCommandOf } from "../api/shift-command.js";
import { ChainHeadReply } from "../api/strategy-routes.js";
import type { ApiClient } from "../mesh/api-client.js";
import { findNode } from "../render/index.js";
import { CliError, exitCodes } from "./exit-codes.js";
import { readOperatorKey } from "./operator-key.js";
import { readSshsig, sshsigVerifies } from "./sshsig.js";

/**
 * Operator-signed commands from the CLI (docs/attestation.md §5, docs/cli.md "Operator
 * keys"): `revoada shift ...` and `revoada strategy apply ...` sign the exact command the
 * leader will record, bound to the committed chain head, in one of three ways that work the
 * same for both: `--sign-with KEYFILE` signs here; `--print-message` prints the message for
 * `ssh-keygen -Y sign -n revoada-shift`; `--sshsig FILE.sig` sends that detached signature
 * once it is checked here. The command kind is inside the signed message (`"type":
 * "quarantine"`, `"type":"strategy"`), so one SSHSIG namespace serves every operator command.
 */
export interface OperatorCommandToSign {
  /** The command exactly as the leader will record it (`shiftCommandOf`, `strategyRecordOf`). */
  readonly command: BlockCommand;
  /** How messages name it: "shift", "strategy swap". */
  readonly noun: string;
  /** The CLI line that prints its message (for the error that asks for it again). */
  readonly printedBy: string;
}

/** A signature the API takes beside the command: the chain position it was made against. */
export interface OperatorSignature {
  readonly operator_after: number;
  readonly operator_signature: string;
}

async function chainHead(leader: ApiClient): Promise<OperatorHead> {
  const head = await leader.get("/v1/chain/head", ChainHeadReply);
  return { sequence: head.sequence, hash: head.hash };
}

/**
 * `--sign-with KEYFILE`: the operator key signs the command against the committed chain head
 * it reads from the leader. If another block commits first, the signature still counts (within
 * 256 blocks, once). The key is read first, so a bad key file fails before the network does.
 */
export async function signOperator(
  leader: ApiClient,
  toSign: OperatorCommandToSign,
  keyFile: string,
): Promise<OperatorSignature> {
  const signer = await readOperatorKey(keyFile);
  const head = await chainHead(leader);
  return {
    operator_after: head.sequence,
    operator_signature: signOperatorCommand(toSign.command, head, signer),
  };
}

/**
 * `--print-message`: the exact bytes an operator signs for this command now (docs/attestation.md
 * §5), for `ssh-keygen -Y sign -n revoada-shift -f KEY FILE`.
 */
export async function operatorMessage(leader: ApiClient, toSign: OperatorCommandToSign): Promise<Uint8Array> {
  return operatorSigningMessage(toSign.command, await chainHead(leader));
}

const messageBytesMax = 64 * 1024;
const messageDomain = "revoada/operator-command/v2\n";

/** The chain position a printed message names (its JSON line), checked again below byte for byte. */
const PrintedMessage = z.object({ after: z.int().min(0), head: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * `--sshsig FILE.sig [--message FILE]`: a detached SSHSIG signature (made by `ssh-keygen -Y
 * sign -n revoada-shift`) over the message `--print-message` printed. The message must be this
 * command's, byte for byte, against the chain position it names; the signature must verify
 * over it here before anything is sent (every node checks it again, with the operator keys in
 * force and the position still in the window, before it applies the command).
 */
export async function sshsigOperator(
  toSign: OperatorCommandToSign,
  sigFile: string,
  messageFile: string | undefined,
): Promise<OperatorSignature> {
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
  const text = message.toString("utf8");
  const printed = text.startsWith(messageDomain)
    ? PrintedMessage.safeParse(jsonOrNull(text.slice(messageDomain.length)))
    : undefined;
  if (printed === undefined || !printed.success)
    throw new CliError(
      `${messagePath}: not an operator command message (${toSign.printedBy} writes one)`,
      exitCodes.invalidInput,
    );
  const head = { sequence: printed.data.after, hash: printed.data.head };
  if (!Buffer.from(operatorSigningMessage(toSign.command, head)).equals(message))
    throw new CliError(
      `${messagePath}: the message is not this ${toSign.noun}'s (printed for another command, or changed): print it again with ${toSign.printedBy}`,
      exitCodes.invalidInput,
    );
  if (!sshsigVerifies(signature, message))
    throw new CliError(
      `${sigFile}: the signature does not verify over ${messagePath} (another message was signed, or the file was changed)`,
      exitCodes.invalidInput,
    );
  return { operator_after: printed.data.after, operator_signature: signature.signature };
}

/**
 * The role command the leader will build for a shift request (same node resolution, same
 * default roles), to sign.
 */
export async function shiftToSign(
  leader: ApiClient,
  request: Pick<ShiftRequest, "action" | "node"> & { roles?: string[] },
): Promise<OperatorCommandToSign> {
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
  return { command, noun: "shift", printedBy: "revoada shift ... --print-message" };
}

/** The signing options `shift` and `strategy apply` share, as commander parses them. */
export interface OperatorSigningOptions {
  readonly signWith?: string;
  readonly printMessage: boolean;
  readonly sshsig?: string;
  readonly message?: string;
}

/**
 * Adds the signing options to a command: `subject` names what is signed in the help ("the
 * shift", "the swap"); `required` says when a signature is required.
 */
export function addOperatorSigningOptions(command: Command, subject: string): Command {
  return command
    .option(
      "--sign-with <keyfile>",
      `sign ${subject} with an operator key (raw ed25519 seed or OpenSSH private key), bound to the chain head; required when the committed strategy requires operator signatures`,
    )
    .option(
      "--print-message",
      `print the exact message an operator signs for ${subject} now and exit, sending nothing (for ssh-keygen -Y sign -n ${operatorSshsigNamespace})`,
      false,
    )
    .option(
      "--sshsig <sigfile>",
      `sign ${subject} with a detached signature by ssh-keygen -Y sign -n ${operatorSshsigNamespace} over the --print-message output (checked here before anything is sent)`,
    )
    .option("--message <file>", "the message --sshsig signed (default: SIGFILE without .sig)");
}

/** At most one way of signing, and `--message` only with `--sshsig` (exit 2 otherwise). */
export function checkOperatorSigningOptions(options: OperatorSigningOptions): void {
  const ways = [options.signWith, options.sshsig, options.printMessage ? true : undefined];
  if (ways.filter((way) => way !== undefined).length > 1)
    throw new CliError("--sign-with, --sshsig and --print-message exclude each other", exitCodes.usage);
  if (options.message !== undefined && options.sshsig === undefined)
    throw new CliError("--message goes with --sshsig", exitCodes.usage);
}

/** The signature the options ask for (`--sign-with` or `--sshsig`), or none. */
export async function operatorSignatureOf(
  leader: ApiClient,
  toSign: OperatorCommandToSign,
  options: OperatorSigningOptions,
): Promise<OperatorSignature | undefined> {
  if (options.signWith !== undefined) return signOperator(leader, toSign, options.signWith);
  if (options.sshsig !== undefined) return sshsigOperator(toSign, options.sshsig, options.message);
  return undefined;
}

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
