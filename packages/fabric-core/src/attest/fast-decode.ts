import { type NodeId, NodeRole, ShiftReason } from "../vocabulary/index.js";
import type { BlockBody, BlockRecord, RoleCommand } from "./block.js";

/**
 * The verifier's fast path for block lines. A block line must be canonical JSON, and the
 * canonical form of a valid block is so regular that one regular expression recognises it
 * exactly: fixed key order, no whitespace, integers without leading zeros, hex and enum
 * strings that JSON writes without escapes. A match is decoded from its captures, without
 * JSON.parse, zod or re-encoding, and the body's canonical line is a slice of the input.
 *
 * The regular expression may reject more than the schema does, never less: a line it does
 * not match takes the general path (JSON.parse, the zod schema, canonical re-encoding), which
 * also names the precise problem. A property test holds that whatever this accepts, the
 * general path accepts with an equal record. Enum alternatives come from the vocabulary's
 * schemas, so a new role or reason is picked up here.
 */
const hex64 = "[0-9a-f]{64}";
const hex128 = "[0-9a-f]{128}";
const uint = "(0|[1-9][0-9]{0,15})";
const role = `(?:${NodeRole.options.join("|")})`;
const reason = ShiftReason.options.join("|");
const command =
  `\\{"node":"(${hex64})",(?:"reason":"(${reason})",)?(?:"roles":(\\["${role}"(?:,"${role}"){0,7}\\]),)?` +
  `"type":"(promote|demote|quarantine|restore)"\\}`;
const body =
  `(\\{"command":${command},"committed_at_ms":${uint},"force":(true|false),"index":${uint},` +
  `(?:"operator_after":${uint},)?(?:"operator_signature":"(${hex128})",)?"origin":"(policy|operator)","prev_hash":"(${hex64})",` +
  `"proposer":"(${hex64})","sequence":${uint},"term":${uint},"v":1\\})`;
const blockLinePattern = new RegExp(
  `^\\{"body":${body},"hash":"(${hex64})","kind":"block","signature":(?:"(${hex128})"|null)\\}$`,
);

export interface FastBlock {
  readonly block: BlockRecord;
  /** The body's canonical line (with its newline): what the hash and the signature cover. */
  readonly bodyLine: string;
}

/** Decodes a canonical block line, or returns undefined (the caller takes the general path). */
export function fastDecodeBlockLine(line: string): FastBlock | undefined {
  const match = blockLinePattern.exec(line);
  if (match === null) return undefined;
  const [, bodyText, node, reasonText, rolesText, type, committedAt, force, index, operatorAfter] = match;
  const operatorSignature = match[10];
  const [origin, prevHash, proposer, sequence, term, hash, signature] = match.slice(11);
  const roleCommand = commandOf(type!, node!, reasonText, rolesText);
  const numbers = [Number(committedAt), Number(index), Number(sequence), Number(term)];
  if (roleCommand === undefined || !numbers.every(Number.isSafeInteger) || numbers[1]! < 1) return undefined;
  const decoded: BlockBody = {
    v: 1,
    sequence: numbers[2]!,
    prev_hash: prevHash!,
    term: numbers[3]!,
    index: numbers[1]!,
    committed_at_ms: numbers[0]!,
    proposer: proposer as NodeId,
    origin: origin as BlockBody["origin"],
    force: force === "true",
    command: roleCommand,
  };
  const after = operatorAfter === undefined ? undefined : Number(operatorAfter);
  if (after !== undefined && (!Number.isSafeInteger(after) || operatorSignature === undefined))
    return undefined;
  const withOperator =
    operatorSignature === undefined
      ? decoded
      : {
          ...decoded,
          ...(after === undefined ? {} : { operator_after: after }),
          operator_signature: operatorSignature,
        };
  return {
    block: { kind: "block", body: withOperator, signature: signature ?? null, hash: hash! },
    bodyLine: `${bodyText}\n`,
  };
}

function commandOf(
  type: string,
  node: string,
  reasonText: string | undefined,
  rolesText: string | undefined,
): RoleCommand | undefined {
  const id = node as NodeId;
  const shiftReason = reasonText as ShiftReason | undefined;
  if (type === "restore") {
    return reasonText === undefined && rolesText === undefined ? { type, node: id } : undefined;
  }
  if (shiftReason === undefined) return undefined;
  if (type === "quarantine")
    return rolesText === undefined ? { type, node: id, reason: shiftReason } : undefined;
  if (rolesText === undefined || (type !== "promote" && type !== "demote")) return undefined;
  const roles = rolesText.slice(2, -2).split('","') as NodeRole[];
  return { type, node: id, roles, reason: shiftReason };
}
