import { z } from "zod";
import {
  assert,
  assertNever,
  blake3,
  canonicalJson,
  DemoteCommand,
  EtcdMemberCommand,
  type FabricStrategy,
  limits,
  Millis,
  NodeId,
  operatorKeyHex,
  operatorSshsigNamespace,
  PromoteCommand,
  QuarantineCommand,
  RestoreCommand,
  type Signer,
  sshsigHashAlgorithms,
  sshsigSignedData,
  verifySignature,
} from "../vocabulary/index.js";

/**
 * Attestation blocks (docs/attestation.md is the normative description). Every value that is
 * hashed or signed is the canonical JSON of a zod-validated object: keys sorted, no
 * whitespace, integers only, ES string escaping (RFC 8785 JCS for these value types), plus a
 * final newline. Each hashed or signed message starts with a domain-separation line.
 */

const uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const HashHex = z.string().regex(/^[0-9a-f]{64}$/, "a hash is 64 lowercase hex characters");
export const SignatureHex = z
  .string()
  .regex(/^[0-9a-f]{128}$/, "an ed25519 signature is 128 lowercase hex characters");

/** The role commands: Promote, Demote, Quarantine, Restore. */
export const RoleCommand = z.discriminatedUnion("type", [
  PromoteCommand,
  DemoteCommand,
  QuarantineCommand,
  RestoreCommand,
]);
export type RoleCommand = z.infer<typeof RoleCommand>;

function isSortedUnique(values: readonly string[]): boolean {
  return values.every((value, i) => i === 0 || values[i - 1]! < value);
}

/**
 * A committed strategy as the chain records it: its name, the BLAKE3 digest of the whole
 * strategy (`strategyDigest`), the voter target, and the operator rules it sets for every
 * later block (docs/attestation.md, "Strategy blocks").
 */
export const StrategyRecord = z.strictObject({
  type: z.literal("strategy"),
  name: z.string().min(1).max(limits.nameLengthMax),
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  quorum_size: z.int().min(1).max(99),
  operators: z.array(NodeId).max(16).refine(isSortedUnique, "operators are sorted and without duplicates"),
  require_operator_signature: z.boolean(),
});
export type StrategyRecord = z.infer<typeof StrategyRecord>;

/**
 * The commands that produce a block: the four role commands, strategy swaps, and each step
 * the fabric took on a managed etcd's membership (`etcd-member`: added as a learner,
 * promoted, removed), so the chain records how the control plane itself moved.
 */
export const BlockCommand = z.discriminatedUnion("type", [
  PromoteCommand,
  DemoteCommand,
  QuarantineCommand,
  RestoreCommand,
  StrategyRecord,
  EtcdMemberCommand,
]);
export type BlockCommand = z.infer<typeof BlockCommand>;

/**
 * How a block's command reads in a listing (`chain show`, the console): the role command's
 * type, `strategy NAME`, or `etcd-member EVENT MEMBER_ID`.
 */
export function blockCommandLabel(command: BlockCommand): string {
  if (command.type === "strategy") return `strategy ${command.name}`;
  if (command.type === "etcd-member") return `etcd-member ${command.event} ${command.member_id}`;
  return command.type;
}

/**
 * A C2SP checkpoint origin and signed-note key name: printable ASCII without space or '+'.
 * It should be unique to the cluster (e.g. `revoada.example/homelab-2026`).
 */
export const LogOrigin = z
  .string()
  .min(1)
  .max(limits.nameLengthMax)
  .regex(/^[!-*,-~]+$/, "an origin is printable ASCII without spaces or '+'");

/** The chain's first record: who may sign at the start, and the rules every block obeys. */
export const GenesisBody = z.strictObject({
  v: z.literal(1),
  origin: LogOrigin,
  /** Founding control-plane members (sorted): the only valid signers until the first promote. */
  control_plane: z
    .array(NodeId)
    .min(1)
    .max(limits.peersMax)
    .refine(isSortedUnique, "control_plane is sorted and without duplicates"),
  /** Operator ed25519 public keys (sorted) that may sign operator-initiated commands. */
  operators: z.array(NodeId).max(16).refine(isSortedUnique, "operators are sorted and without duplicates"),
  require_operator_signature: z.boolean(),
  /** Cosignatures a checkpoint needs; absent means a Raft majority of the control plane minus the signer. */
  cosignatures_min: z.int().min(0).max(limits.witnessesMax).optional(),
});
export type GenesisBody = z.infer<typeof GenesisBody>;

export const BlockBody = z.strictObject({
  v: z.literal(1),
  /** 0-based position in the chain; also the block's Merkle leaf index. */
  sequence: uint,
  /** BLAKE3 hash of the previous block, or of the genesis record for sequence 0. */
  prev_hash: HashHex,
  /** Raft term and index of the committed log entry that carried the command. */
  term: uint,
  index: uint.min(1),
  /** The proposing leader's clock, carried in the log entry (Proposal.issued_at_ms). */
  committed_at_ms: Millis,
  proposer: NodeId,
  origin: z.enum(["policy", "operator"]),
  force: z.boolean(),
  command: BlockCommand,
  /** Blocks in the chain when the operator signed (the head the signature is bound to). */
  operator_after: uint.optional(),
  operator_signature: SignatureHex.optional(),
});
export type BlockBody = z.infer<typeof BlockBody>;

export const GenesisRecord = z.strictObject({
  kind: z.literal("genesis"),
  body: GenesisBody,
  hash: HashHex,
});
export type GenesisRecord = z.infer<typeof GenesisRecord>;

export const BlockRecord = z.strictObject({
  kind: z.literal("block"),
  body: BlockBody,
  /** The proposer's signature over the block signing message; null when the entry carried none. */
  signature: SignatureHex.nullable(),
  hash: HashHex,
});
export type BlockRecord = z.infer<typeof BlockRecord>;

const encoder = new TextEncoder();
const genesisDomain = encoder.encode("revoada/genesis/v1\n");
const blockDomain = encoder.encode("revoada/block/v1\n");
const signatureDomain = encoder.encode("revoada/block-signature/v1\n");
const operatorDomain = encoder.encode("revoada/operator-command/v2\n");
const strategyDomain = encoder.encode("revoada/strategy/v1\n");

/** Canonical JSON on one line with a final newline: what every hash and signature covers. */
export function canonicalLine(value: unknown): string {
  return canonicalJson(value, 0);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

function fromHex(text: string): Uint8Array {
  return Buffer.from(text, "hex");
}

export function genesisHash(body: GenesisBody): string {
  return hex(blake3(genesisDomain, encoder.encode(canonicalLine(body))));
}

export function makeGenesis(body: GenesisBody): GenesisRecord {
  const parsed = GenesisBody.parse(body);
  return { kind: "genesis", body: parsed, hash: genesisHash(parsed) };
}

/**
 * `canonicalLine(body)` for a block body, written field by field in sorted-key order instead
 * of sorting at run time (the verifier's hot path). Every string field of a valid role
 * block is lowercase hex or an enum value, which JSON writes as is, so quoting them is the
 * canonical escaping (a strategy record's name is written by `canonicalLine`). Only for
 * schema-valid bodies; a property test holds it equal to `canonicalLine`.
 */
export function blockBodyLine(body: BlockBody): string {
  const after = body.operator_after === undefined ? "" : `"operator_after":${body.operator_after},`;
  const operator =
    after +
    (body.operator_signature === undefined ? "" : `"operator_signature":"${body.operator_signature}",`);
  return (
    `{"command":${commandJson(body.command)},"committed_at_ms":${body.committed_at_ms},"force":${body.force},` +
    `"index":${body.index},${operator}"origin":"${body.origin}","prev_hash":"${body.prev_hash}",` +
    `"proposer":"${body.proposer}","sequence":${body.sequence},"term":${body.term},"v":${body.v}}\n`
  );
}

function commandJson(command: BlockCommand): string {
  switch (command.type) {
    case "strategy":
    case "etcd-member":
      return canonicalLine(command).slice(0, -1);
    case "promote":
    case "demote":
      return `{"node":"${command.node}","reason":"${command.reason}","roles":["${command.roles.join('","')}"],"type":"${command.type}"}`;
    case "quarantine":
      return `{"node":"${command.node}","reason":"${command.reason}","type":"quarantine"}`;
    case "restore":
      return `{"node":"${command.node}","type":"restore"}`;
    default:
      return assertNever(command);
  }
}

/** The bytes the proposing leader signs: domain line || canonical body line. */
export function blockSigningMessage(bodyLine: string): Uint8Array {
  return Buffer.concat([signatureDomain, Buffer.from(bodyLine, "utf8")]);
}

/**
 * The hashed bytes of a block, written in place: the verifier hashes every block, and one
 * hasher update of a reused buffer costs less than an encoded body, a decoded signature and
 * three updates (each a copy into the hasher's memory).
 */
let blockHashInput = Buffer.allocUnsafeSlow(4096);
blockHashInput.set(blockDomain);

/** BLAKE3(domain line || canonical body line || 64 signature bytes when signed). */
export function blockHashOf(bodyLine: string, signature: string | null): Uint8Array {
  const room = blockDomain.length + 3 * bodyLine.length + (signature?.length ?? 0);
  if (room > blockHashInput.length) {
    blockHashInput = Buffer.allocUnsafeSlow(2 * room);
    blockHashInput.set(blockDomain);
  }
  let end = blockDomain.length + blockHashInput.write(bodyLine, blockDomain.length, "utf8");
  // The bytes `Buffer.from(signature, "hex")` gives (up to the first non-hex digit).
  if (signature !== null) end += blockHashInput.write(signature, end, "hex");
  return blake3(blockHashInput.subarray(0, end));
}

export function signBlockBody(body: BlockBody, signer: Signer): string {
  assert(body.proposer === signer.nodeId, "the proposer signs its own block");
  const signature = hex(signer.sign(blockSigningMessage(blockBodyLine(body))));
  assert(signature.length === 128, "an ed25519 signature is 64 bytes");
  return signature;
}

export function makeBlock(body: BlockBody, signature: string | null): BlockRecord {
  const line = blockBodyLine(body);
  return { kind: "block", body, signature, hash: hex(blockHashOf(line, signature)) };
}

export function verifyBlockSignature(body: BlockBody, bodyLine: string, signature: string): boolean {
  return verifySignature(body.proposer, blockSigningMessage(bodyLine), fromHex(signature));
}

/**
 * The canonical line of a block record, built from the body's canonical line without
 * re-sorting the body (the verifier's hot path). Equal to `canonicalLine(record)`.
 */
export function blockRecordLine(bodyLine: string, hash: string, signature: string | null): string {
  return `{"body":${bodyLine.slice(0, -1)}${blockRecordSuffix(hash, signature)}\n`;
}

/** What follows the body in a block record's canonical line (without the newline). */
function blockRecordSuffix(hash: string, signature: string | null): string {
  const signatureJson = signature === null ? "null" : `"${signature}"`;
  return `,"hash":"${hash}","kind":"block","signature":${signatureJson}}`;
}

/**
 * True when `line` (without its newline) is the canonical line of the record with this body
 * line, hash and signature; compares in place instead of building the whole line.
 */
export function isCanonicalBlockLine(
  line: string,
  bodyLine: string,
  hash: string,
  signature: string | null,
): boolean {
  const prefix = '{"body":';
  const suffix = blockRecordSuffix(hash, signature);
  const bodyLength = bodyLine.length - 1;
  if (line.length !== prefix.length + bodyLength + suffix.length) return false;
  if (!line.startsWith(prefix) || !line.endsWith(suffix)) return false;
  return line.startsWith(bodyLine.slice(0, -1), prefix.length);
}

/** The chain head an operator signs against: blocks so far, and the hash of the last (or genesis). */
export interface OperatorHead {
  readonly sequence: number;
  readonly hash: string;
}

/**
 * The bytes an operator key signs for an operator-initiated command: domain line ||
 * canonical line of `{after, command, head}`, where `command` is the command as the block
 * records it and `after`/`head` the chain head at signing. Bound to the head, a signature
 * cannot be replayed on another chain, and the chain accepts it once, within
 * `operatorWindowBlocks` blocks of that head.
 */
export function operatorSigningMessage(command: BlockCommand, head: OperatorHead): Uint8Array {
  return Buffer.concat([
    operatorDomain,
    encoder.encode(canonicalLine({ after: head.sequence, command, head: head.hash })),
  ]);
}

export function signOperatorCommand(command: BlockCommand, head: OperatorHead, operator: Signer): string {
  return hex(operator.sign(operatorSigningMessage(command, head)));
}

/**
 * The key among `operators` that signed `command` against `head`, or null. An operator signs
 * the message itself (`--sign-with KEY`), or its SSHSIG signed data under the namespace
 * `revoada-shift` (`ssh-keygen -Y sign -n revoada-shift`, sha512 or sha256): the two are
 * different bytes, so a signature verifies over at most one of them.
 */
export function operatorSignerOf(
  command: BlockCommand,
  head: OperatorHead,
  signature: string,
  operators: readonly string[],
): string | null {
  const message = operatorSigningMessage(command, head);
  const signatureBytes = fromHex(signature);
  const messages = [
    message,
    ...sshsigHashAlgorithms.map((algorithm) => sshsigSignedData(message, operatorSshsigNamespace, algorithm)),
  ];
  return (
    operators.find((operator) =>
      messages.some((candidate) => verifySignature(operator, candidate, signatureBytes)),
    ) ?? null
  );
}

/** A strategy's digest: BLAKE3 over a domain line and its canonical JSON line. */
export function strategyDigest(strategy: FabricStrategy): string {
  return hex(blake3(strategyDomain, encoder.encode(canonicalLine(strategy))));
}

/** The block command a strategy swap becomes. */
export function strategyRecordOf(strategy: FabricStrategy): StrategyRecord {
  return {
    type: "strategy",
    name: strategy.name,
    digest: strategyDigest(strategy),
    quorum_size: strategy.consensus.kind.quorum_size,
    operators: [...new Set((strategy.attestation.operators ?? []).map(operatorKeyHex))].sort() as NodeId[],
    require_operator_signature: strategy.attestation.require_operator_signature,
  };
}

export { fromHex, hex };
