import { type BlockRecord, fromHex, type GenesisRecord, verifyBlockSignature } from "./block.js";
import {
  type CheckpointProblem,
  checkCheckpointSignatures,
  checkpointNoteSize,
  defaultCosignaturesMin,
  parseCheckpointText,
} from "./checkpoint.js";
import { decodeRecordLine, parseRecordLine } from "./export.js";
import { MerkleTree } from "./merkle.js";
import { parseSignedNote } from "./note.js";
import { checkOperatorClaim, type OperatorRules, operatorWindowBlocks } from "./operator.js";
import { RoleTable } from "./role-table.js";

/**
 * Verifies an exported chain end to end, offline, and reports the FIRST bad record with a
 * typed reason. What is checked (docs/attestation.md, "Verifying"): genesis (and a pinned
 * genesis hash when given), each record's canonical encoding and hash, every link,
 * sequence, terms and indexes never going backwards, that each proposer was a control-plane
 * member at that point of the chain's own history, operator signatures when required,
 * each checkpoint's root against the blocks, its leader signature and its cosignatures.
 *
 * `every-block` checks every block's Ed25519 signature. `checkpoints` checks a block's
 * signature only when no later checkpoint in the export covers it: a covered block is
 * vouched for by the (verified) checkpoint signature and cosignatures over the Merkle root.
 */
export type VerifyMode = "checkpoints" | "every-block";

export type VerifyReason =
  | "empty-export"
  | "malformed-record"
  | "non-canonical-encoding"
  | "genesis-missing"
  | "genesis-hash-mismatch"
  | "genesis-not-trusted"
  | "block-hash-mismatch"
  | "sequence-mismatch"
  | "broken-link"
  | "term-regressed"
  | "index-regressed"
  | "signer-not-member"
  | "block-signature-missing"
  | "block-signature-invalid"
  | "operator-signature-missing"
  | "operator-signature-invalid"
  | "operator-signature-stale"
  | "operator-signature-replayed"
  | "checkpoint-malformed"
  | "checkpoint-origin-mismatch"
  | "checkpoint-beyond-chain"
  | "checkpoint-regressed"
  | "checkpoint-fork"
  | CheckpointProblem;

export interface VerifyFailure {
  readonly reason: VerifyReason;
  readonly message: string;
  /** 1-based line of the export. */
  readonly line: number;
  /** The block's sequence, or for a checkpoint its tree size; null when unknown. */
  readonly sequence: number | null;
}

export interface VerifyOptions {
  readonly mode?: VerifyMode;
  /** Refuse an export whose genesis hash differs (pin it out of band). */
  readonly trustedGenesisHash?: string;
}

export interface VerifySummary {
  readonly genesisHash: string;
  readonly origin: string;
  readonly blocks: number;
  readonly checkpoints: number;
  /** Largest tree size covered by a verified, cosigned checkpoint. */
  readonly sealedSize: number;
  readonly blockSignaturesChecked: number;
  readonly checkpointSignaturesChecked: number;
  readonly headHash: string;
  readonly roles: Record<string, string[]>;
  /** Every operator-signed block: what it did and which operator key signed it. */
  readonly operatorSigned: readonly OperatorSigned[];
  /** The strategy blocks (swaps) in chain order. */
  readonly strategies: readonly {
    readonly sequence: number;
    readonly name: string;
    readonly digest: string;
  }[];
}

export interface OperatorSigned {
  readonly sequence: number;
  readonly command: string;
  readonly node: string | null;
  readonly signer: string;
}

export type VerifyReport =
  | { readonly ok: true; readonly summary: VerifySummary }
  | { readonly ok: false; readonly failure: VerifyFailure; readonly verifiedBlocks: number };

interface WalkState {
  readonly genesis: GenesisRecord;
  readonly roles: RoleTable;
  readonly tree: MerkleTree;
  readonly coveredSize: number;
  readonly mode: VerifyMode;
  /** 1-based line being walked. */
  line: number;
  /** Where block signatures go instead of being checked here (ChainWalk). */
  readonly defer: ((job: DeferredSignature) => void) | undefined;
  headHash: string;
  term: number;
  index: number;
  sealedSize: number;
  checkpointSize: number;
  checkpoints: number;
  blockSignatures: number;
  checkpointSignatures: number;
  rules: OperatorRules;
  /** Head hashes after k blocks, for k within the operator window of the head. */
  readonly recentHeads: Map<number, string>;
  /** Operator signatures of the blocks within the window, by signature: the block's sequence. */
  readonly recentOperatorSignatures: Map<string, number>;
  readonly operatorSigned: OperatorSigned[];
  readonly strategies: { sequence: number; name: string; digest: string }[];
}

type Step = {
  readonly reason: VerifyReason;
  readonly message: string;
  readonly sequence: number | null;
} | null;

export function verifyChain(text: string, options: VerifyOptions = {}): VerifyReport {
  const walk = new ChainWalk(text, options);
  walk.advance(Number.POSITIVE_INFINITY);
  return walk.report();
}

/**
 * A block signature the walk left to its caller (`ChainWalk` with a `deferSignature` sink):
 * the caller checks `verifyBlockSignature`'s message, `blockSigningMessage(bodyLine)`, under the
 * proposer's key, on whatever thread it likes, and hands the first bad one back to `report()`.
 */
export interface DeferredSignature {
  /** 1-based line of the export. */
  readonly line: number;
  readonly sequence: number;
  readonly proposer: string;
  readonly bodyLine: string;
  /** 128 hex digits. */
  readonly signature: string;
}

/** The first (lowest line) deferred signature that did not verify. */
export interface BadSignature {
  readonly line: number;
  readonly sequence: number;
  readonly proposer: string;
}

/**
 * `verifyChain` in steps: `advance(n)` walks up to `n` more lines, so a caller can yield to
 * its event loop and report progress. With `deferSignature`, block signatures are handed to
 * the sink instead of checked in place (everything else, checkpoint and operator signatures
 * included, is still checked here); `report(firstBad)` then gives the report the sequential
 * walk would have given: the walk's state does not depend on block signatures, so a bad
 * signature on an earlier line than the walk's own first failure is the first failure.
 */
export class ChainWalk {
  private readonly lines: string[];
  private readonly state: WalkState | null;
  private readonly deferSignature: ((job: DeferredSignature) => void) | undefined;
  private next = 1;
  private outcome: VerifyReport | null = null;

  constructor(text: string, options: VerifyOptions = {}, deferSignature?: (job: DeferredSignature) => void) {
    this.deferSignature = deferSignature;
    const lines = text.split("\n");
    this.lines = lines;
    this.state = null;
    if (lines[lines.length - 1] === "") lines.pop();
    else if (lines.length > 0) {
      this.outcome = failure(
        "non-canonical-encoding",
        "the export does not end in a newline",
        lines.length,
        null,
        0,
      );
      return;
    }
    if (lines.length === 0) {
      this.outcome = failure("empty-export", "the export is empty", 1, null, 0);
      return;
    }
    const genesisStep = verifyGenesis(lines[0]!, options);
    if ("reason" in genesisStep) {
      this.outcome = failure(genesisStep.reason, genesisStep.message, 1, null, 0);
      return;
    }
    const mode = options.mode ?? "checkpoints";
    this.state = {
      genesis: genesisStep,
      roles: new RoleTable(genesisStep.body.control_plane),
      tree: new MerkleTree(),
      coveredSize: mode === "checkpoints" ? claimedCheckpointSize(lines) : 0,
      mode,
      line: 1,
      defer: deferSignature,
      headHash: genesisStep.hash,
      term: 0,
      index: 0,
      sealedSize: 0,
      checkpointSize: 0,
      checkpoints: 0,
      blockSignatures: 0,
      checkpointSignatures: 0,
      rules: {
        operators: genesisStep.body.operators,
        require: genesisStep.body.require_operator_signature,
      },
      recentHeads: new Map([[0, genesisStep.hash]]),
      recentOperatorSignatures: new Map(),
      operatorSigned: [],
      strategies: [],
    };
  }

  /** Lines of the export (the genesis included). */
  get lineCount(): number {
    return this.lines.length;
  }

  /** Lines walked so far (the genesis included). */
  get linesDone(): number {
    return this.outcome === null ? this.next : this.lines.length;
  }

  /** Blocks walked so far. */
  get blocksDone(): number {
    return this.state?.tree.size ?? 0;
  }

  get done(): boolean {
    return this.outcome !== null;
  }

  /** Walks up to `maxLines` more lines; true once the walk is over (a failure or the end). */
  advance(maxLines: number): boolean {
    const state = this.state;
    if (this.outcome !== null || state === null) return true;
    const end = Math.min(this.lines.length, this.next + maxLines);
    for (let i = this.next; i < end; i += 1) {
      const line = this.lines[i]!;
      state.line = i + 1;
      const step = line.startsWith('{"body"') ? verifyBlockLine(state, line) : verifyOtherLine(state, line);
      if (step !== null) {
        this.next = i + 1;
        this.outcome = failure(step.reason, step.message, i + 1, step.sequence, state.tree.size);
        return true;
      }
    }
    this.next = end;
    if (end < this.lines.length) return false;
    this.outcome = { ok: true, summary: summaryOf(state) };
    return true;
  }

  /**
   * The report once `advance` returned true, or once the walk is past `firstBad`'s line (the
   * rest cannot change it). `firstBad` is the first deferred signature that did not verify
   * (null when all did, or none was deferred).
   */
  report(firstBad: BadSignature | null = null): VerifyReport {
    const outcome = this.outcome;
    if (firstBad !== null && this.deferSignature === undefined) throw new Error("no signature was deferred");
    if (outcome === null) {
      // Stopped early: a walk past the bad signature's line has not failed before it.
      if (firstBad === null || firstBad.line > this.linesDone) {
        throw new Error("ChainWalk.report before the walk is over");
      }
    } else if (firstBad === null) return outcome;
    else if (!outcome.ok && outcome.failure.line < firstBad.line) return outcome;
    return failure(
      "block-signature-invalid",
      `bad signature by ${firstBad.proposer}`,
      firstBad.line,
      firstBad.sequence,
      firstBad.sequence,
    );
  }
}

function summaryOf(state: WalkState): VerifySummary {
  return {
    genesisHash: state.genesis.hash,
    origin: state.genesis.body.origin,
    blocks: state.tree.size,
    checkpoints: state.checkpoints,
    sealedSize: state.sealedSize,
    blockSignaturesChecked: state.blockSignatures,
    checkpointSignaturesChecked: state.checkpointSignatures,
    headHash: state.headHash,
    roles: state.roles.snapshot(),
    operatorSigned: state.operatorSigned,
    strategies: state.strategies,
  };
}

function failure(
  reason: VerifyReason,
  message: string,
  line: number,
  sequence: number | null,
  verifiedBlocks: number,
): VerifyReport {
  return { ok: false, failure: { reason, message, line, sequence }, verifiedBlocks };
}

function verifyGenesis(
  line: string,
  options: VerifyOptions,
): GenesisRecord | { reason: VerifyReason; message: string } {
  const decoded = decodeRecordLine(line);
  if (!decoded.ok) return { reason: decoded.reason, message: decoded.message };
  if (decoded.record.kind !== "genesis") {
    return { reason: "genesis-missing", message: "line 1 is not a genesis record" };
  }
  const genesis = decoded.record;
  if (options.trustedGenesisHash !== undefined && options.trustedGenesisHash !== genesis.hash) {
    return {
      reason: "genesis-not-trusted",
      message: `genesis ${genesis.hash} is not the pinned ${options.trustedGenesisHash}`,
    };
  }
  return genesis;
}

/** The largest tree size any checkpoint line claims (a cheap pre-scan; each is verified in turn). */
function claimedCheckpointSize(lines: readonly string[]): number {
  let size = 0;
  for (const line of lines) {
    if (!line.startsWith('{"kind":"checkpoint"')) continue;
    const record = parseRecordLine(line);
    if (!record.ok || record.value.kind !== "checkpoint") continue;
    const sizeLine = checkpointNoteSize(record.value.note);
    if (sizeLine !== null && sizeLine > size) size = sizeLine;
  }
  return size;
}

function verifyBlockLine(state: WalkState, line: string): Step {
  const sequence = state.tree.size;
  const decoded = decodeRecordLine(line);
  if (!decoded.ok) return { reason: decoded.reason, message: decoded.message, sequence };
  if (decoded.record.kind !== "block" || decoded.bodyLine === null) {
    return { reason: "malformed-record", message: "expected a block", sequence };
  }
  const block = decoded.record;
  const bodyLine = decoded.bodyLine;
  const linkStep = checkLink(state, block, sequence);
  if (linkStep !== null) return linkStep;
  const signatureStep = checkSignatures(state, block, bodyLine);
  if (signatureStep !== null) return signatureStep;
  state.roles.apply(block.body.command);
  state.tree.append(fromHex(block.hash));
  state.headHash = block.hash;
  rememberHead(state, block);
  state.term = block.body.term;
  state.index = block.body.index;
  return null;
}

function checkLink(state: WalkState, block: BlockRecord, sequence: number): Step {
  const body = block.body;
  if (body.sequence !== sequence) {
    return {
      reason: "sequence-mismatch",
      message: `block ${body.sequence} where ${sequence} belongs`,
      sequence,
    };
  }
  if (body.prev_hash !== state.headHash) {
    return {
      reason: "broken-link",
      message: `prev_hash ${body.prev_hash} is not ${state.headHash}`,
      sequence,
    };
  }
  if (body.term < state.term) {
    return { reason: "term-regressed", message: `term ${body.term} after ${state.term}`, sequence };
  }
  if (body.index <= state.index) {
    return { reason: "index-regressed", message: `raft index ${body.index} after ${state.index}`, sequence };
  }
  return null;
}

function checkSignatures(state: WalkState, block: BlockRecord, bodyLine: string): Step {
  const body = block.body;
  const sequence = body.sequence;
  if (!state.roles.isMember(body.proposer)) {
    return {
      reason: "signer-not-member",
      message: `${body.proposer} is not a control-plane member`,
      sequence,
    };
  }
  if (block.signature === null)
    return { reason: "block-signature-missing", message: "unsigned block", sequence };
  if (state.mode === "every-block" || sequence >= state.coveredSize) {
    state.blockSignatures += 1;
    if (state.defer !== undefined) {
      state.defer({
        line: state.line,
        sequence,
        proposer: body.proposer,
        bodyLine,
        signature: block.signature,
      });
    } else if (!verifyBlockSignature(body, bodyLine, block.signature)) {
      return { reason: "block-signature-invalid", message: `bad signature by ${body.proposer}`, sequence };
    }
  }
  const operator = checkOperatorClaim(
    {
      command: body.command,
      origin: body.origin,
      signature: body.operator_signature,
      after: body.operator_after,
    },
    state.rules,
    {
      size: sequence,
      hashAt: (at) => state.recentHeads.get(at),
      usedSince: (signature, at) => (state.recentOperatorSignatures.get(signature) ?? -1) >= at,
    },
  );
  if (!operator.ok) return { reason: operator.problem, message: operator.message, sequence };
  if (operator.signer !== null) {
    const command = body.command;
    state.operatorSigned.push({
      sequence,
      command: command.type,
      node: command.type === "strategy" ? null : command.node,
      signer: operator.signer,
    });
  }
  return null;
}

/** The operator window's memory after `block`, and the rules a strategy block sets. */
function rememberHead(state: WalkState, block: BlockRecord): void {
  const size = block.body.sequence + 1;
  state.recentHeads.set(size, block.hash);
  state.recentHeads.delete(size - operatorWindowBlocks - 1);
  const signature = block.body.operator_signature;
  if (signature !== undefined) state.recentOperatorSignatures.set(signature, block.body.sequence);
  if (state.recentOperatorSignatures.size > 0) {
    for (const [seen, at] of state.recentOperatorSignatures) {
      if (at < size - operatorWindowBlocks - 1) state.recentOperatorSignatures.delete(seen);
    }
  }
  const command = block.body.command;
  if (command.type === "strategy") {
    state.rules = { operators: command.operators, require: command.require_operator_signature };
    state.strategies.push({ sequence: block.body.sequence, name: command.name, digest: command.digest });
  }
}

function verifyOtherLine(state: WalkState, line: string): Step {
  const decoded = decodeRecordLine(line);
  if (!decoded.ok) return { reason: decoded.reason, message: decoded.message, sequence: null };
  if (decoded.record.kind === "genesis") {
    return { reason: "malformed-record", message: "a second genesis", sequence: null };
  }
  if (decoded.record.kind === "block") return verifyBlockLine(state, line);
  return verifyCheckpoint(state, decoded.record.note);
}

function verifyCheckpoint(state: WalkState, noteText: string): Step {
  const note = parseSignedNote(noteText);
  if (!note.ok) return { reason: "checkpoint-malformed", message: note.reason, sequence: null };
  const checkpoint = parseCheckpointText(note.note.text);
  if (checkpoint === undefined)
    return { reason: "checkpoint-malformed", message: "not a checkpoint", sequence: null };
  const size = checkpoint.size;
  if (checkpoint.origin !== state.genesis.body.origin) {
    return { reason: "checkpoint-origin-mismatch", message: checkpoint.origin, sequence: size };
  }
  if (size > state.tree.size) {
    return {
      reason: "checkpoint-beyond-chain",
      message: `size ${size} but ${state.tree.size} blocks so far`,
      sequence: size,
    };
  }
  if (size < state.checkpointSize) {
    return {
      reason: "checkpoint-regressed",
      message: `size ${size} after ${state.checkpointSize}`,
      sequence: size,
    };
  }
  if (!Buffer.from(state.tree.rootAt(size)).equals(checkpoint.root)) {
    return {
      reason: "checkpoint-fork",
      message: `root for size ${size} differs from the blocks' tree`,
      sequence: size,
    };
  }
  const members = state.roles.membersAt(size);
  const cosignaturesMin = state.genesis.body.cosignatures_min ?? defaultCosignaturesMin(members.size);
  const check = checkCheckpointSignatures(note.note, members, cosignaturesMin);
  state.checkpointSignatures += note.note.signatures.length;
  if (!check.ok) return { reason: check.problem, message: check.message, sequence: size };
  state.checkpointSize = size;
  state.sealedSize = Math.max(state.sealedSize, size);
  state.checkpoints += 1;
  return null;
}
