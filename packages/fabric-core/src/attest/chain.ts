import {
  assert,
  assertUint,
  type Command,
  decodeProposal,
  isAttestedCommand,
  type Proposal,
  type Signer,
} from "../vocabulary/index.js";
import {
  type BlockBody,
  type BlockCommand,
  type BlockRecord,
  blockBodyLine,
  fromHex,
  type GenesisRecord,
  makeBlock,
  type RoleCommand,
  signBlockBody,
  strategyRecordOf,
  verifyBlockSignature,
} from "./block.js";
import { MerkleTree } from "./merkle.js";
import { type ChainView, checkOperatorClaim, type OperatorCheck, type OperatorRules } from "./operator.js";
import { RoleTable } from "./role-table.js";

/**
 * The attestation chain, derived from the committed Raft log only: feed it every committed
 * entry in order and it appends exactly one block per committed role command. Nothing here
 * reads a local clock or key, so every node derives byte-identical blocks.
 */
export interface CommittedEntry {
  readonly term: number;
  readonly index: number;
  /** Canonical JSON bytes of a `Proposal` (normal entries); anything else is skipped. */
  readonly data: Uint8Array;
  /** Raft entry kind when known; only `normal` entries carry proposals. */
  readonly kind?: "normal" | "conf-change" | "empty";
}

/** Where the next block goes: what a leader needs to sign a proposal before proposing it. */
export interface ChainHead {
  /** Sequence of the next block (= blocks so far). */
  readonly sequence: number;
  /** Hash of the last block, or of genesis. */
  readonly hash: string;
  readonly term: number;
  readonly index: number;
}

/** Why a block is recorded but would not verify: the chain records it anyway (one per command). */
export type BlockProblem =
  | "block-signature-missing"
  | "block-signature-invalid"
  | "signer-not-member"
  | "operator-signature-missing"
  | "operator-signature-invalid"
  | "operator-signature-stale"
  | "operator-signature-replayed";

/** Why a block someone else derived does not extend this chain (`AttestChain.extend`). */
export type ExtendProblem =
  | "block-hash-mismatch"
  | "sequence-mismatch"
  | "broken-link"
  | "term-regressed"
  | "index-regressed"
  | BlockProblem;

export type ApplyOutcome =
  | {
      readonly type: "skipped";
      readonly reason: "not-normal" | "not-a-proposal" | "not-a-role-command" | "already-attested";
    }
  | { readonly type: "appended"; readonly block: BlockRecord; readonly problems: readonly BlockProblem[] };

/** The command a block records for an attested command (a strategy becomes its record). */
export function blockCommandOf(command: Command): BlockCommand {
  assert(isAttestedCommand(command), "only role commands, strategies and etcd steps become blocks");
  if (command.type === "strategy") return strategyRecordOf(command.strategy);
  if (command.type === "etcd-member") return command;
  return command as RoleCommand;
}

/** The block body an attested proposal committed at (term, index) becomes after `head`. */
export function blockBodyFor(head: ChainHead, term: number, index: number, proposal: Proposal): BlockBody {
  const body: BlockBody = {
    v: 1,
    sequence: head.sequence,
    prev_hash: head.hash,
    term,
    index,
    committed_at_ms: proposal.issued_at_ms,
    proposer: proposal.proposer,
    origin: proposal.origin,
    force: proposal.force,
    command: blockCommandOf(proposal.command),
  };
  return proposal.operator_signature === undefined
    ? body
    : {
        ...body,
        ...(proposal.operator_after === undefined ? {} : { operator_after: proposal.operator_after }),
        operator_signature: proposal.operator_signature,
      };
}

/** The head after `block`. */
export function headAfter(block: BlockRecord): ChainHead {
  return {
    sequence: block.body.sequence + 1,
    hash: block.hash,
    term: block.body.term,
    index: block.body.index,
  };
}

/**
 * The leader's duty before proposing a role command at (term, index): sign the block it
 * will become. `head` is the head after every role entry already in the leader's log
 * (committed or not), because by Log Matching those entries precede this one in the chain.
 */
export function signRoleProposal(
  head: ChainHead,
  term: number,
  index: number,
  proposal: Proposal,
  leader: Signer,
): { readonly proposal: Proposal; readonly block: BlockRecord } {
  assert(proposal.proposer === leader.nodeId, "the leader proposes in its own name");
  assert(index > head.index, "a proposal goes after the chain head");
  const unsigned: Proposal = { ...proposal };
  delete unsigned.leader_signature;
  const body = blockBodyFor(head, term, index, unsigned);
  const signature = signBlockBody(body, leader);
  return { proposal: { ...unsigned, leader_signature: signature }, block: makeBlock(body, signature) };
}

type Derived =
  | { readonly type: "skipped"; readonly reason: "not-normal" | "not-a-proposal" | "not-a-role-command" }
  | { readonly type: "block"; readonly block: BlockRecord };

/** The block a committed (or, for a leader, an uncommitted) entry becomes after `head`. */
function blockForEntry(head: ChainHead, entry: CommittedEntry): Derived {
  if (entry.kind !== undefined && entry.kind !== "normal") return { type: "skipped", reason: "not-normal" };
  const decoded = decodeProposal(entry.data);
  return blockForProposal(head, entry.term, entry.index, decoded.ok ? decoded.value : null);
}

/** The block an already decoded proposal at (term, index) becomes after `head`. */
function blockForProposal(head: ChainHead, term: number, index: number, proposal: Proposal | null): Derived {
  if (proposal === null) return { type: "skipped", reason: "not-a-proposal" };
  if (!isAttestedCommand(proposal.command)) return { type: "skipped", reason: "not-a-role-command" };
  const body = blockBodyFor(head, term, index, proposal);
  return { type: "block", block: makeBlock(body, proposal.leader_signature ?? null) };
}

/**
 * The head after the role entries among `entries` (in log order; those at or below
 * `head.index` are skipped). A leader passes the entries of its log above the committed
 * chain head, committed or not, to learn where its next proposal's block goes.
 */
export function prospectiveHead(head: ChainHead, entries: readonly CommittedEntry[]): ChainHead {
  let current = head;
  for (const entry of entries) {
    if (entry.index <= current.index) continue;
    const derived = blockForEntry(current, entry);
    if (derived.type === "block") current = headAfter(derived.block);
  }
  assert(current.sequence >= head.sequence, "a prospective head never moves back");
  return current;
}

export class AttestChain {
  readonly tree = new MerkleTree();
  readonly roles: RoleTable;
  private readonly records: BlockRecord[] = [];
  private current: ChainHead;
  private rules: OperatorRules;

  /**
   * `verifySignatures: false` skips the Ed25519 checks in `applyCommitted` (a leader
   * applying blocks it signed itself); membership and operator rules are always checked.
   */
  constructor(
    readonly genesis: GenesisRecord,
    private readonly options: { readonly verifySignatures: boolean } = { verifySignatures: true },
  ) {
    this.roles = new RoleTable(genesis.body.control_plane);
    this.current = { sequence: 0, hash: genesis.hash, term: 0, index: 0 };
    this.rules = { operators: genesis.body.operators, require: genesis.body.require_operator_signature };
  }

  /** The operator rules in force: genesis's, then the last strategy block's. */
  get operatorRules(): OperatorRules {
    return this.rules;
  }

  /** Checks an operator claim for the next block against the rules in force and this chain. */
  checkOperator(claim: Parameters<typeof checkOperatorClaim>[0]): OperatorCheck {
    return checkOperatorClaim(claim, this.rules, this.view());
  }

  /** The chain as the operator check reads it. */
  private view(): ChainView {
    const records = this.records;
    const genesisHash = this.genesis.hash;
    return {
      size: records.length,
      hashAt: (sequence) => (sequence === 0 ? genesisHash : records[sequence - 1]?.hash),
      usedSince: (signature, sequence) => {
        for (let i = Math.max(0, sequence); i < records.length; i += 1) {
          if (records[i]!.body.operator_signature === signature) return true;
        }
        return false;
      },
    };
  }

  get head(): ChainHead {
    return this.current;
  }

  get blocks(): readonly BlockRecord[] {
    return this.records;
  }

  /** Feeds one committed entry; entries must arrive in log order (replays are skipped). */
  applyCommitted(entry: CommittedEntry): ApplyOutcome {
    if (entry.kind !== undefined && entry.kind !== "normal") return this.applyDecoded(entry, null);
    const decoded = decodeProposal(entry.data);
    return this.applyDecoded(entry, decoded.ok ? decoded.value : null);
  }

  /**
   * Feeds one committed entry whose proposal the caller already decoded (null: not a
   * proposal; entries of another kind than `normal` are skipped as such), so a state machine
   * that drives the chain decodes each entry once.
   */
  applyDecoded(
    entry: { readonly term: number; readonly index: number; readonly kind?: CommittedEntry["kind"] },
    proposal: Proposal | null,
  ): ApplyOutcome {
    assertUint(entry.index, "entry index");
    assertUint(entry.term, "entry term");
    if (entry.index <= this.current.index) return { type: "skipped", reason: "already-attested" };
    if (entry.kind !== undefined && entry.kind !== "normal") return { type: "skipped", reason: "not-normal" };
    const derived = blockForProposal(this.current, entry.term, entry.index, proposal);
    if (derived.type === "skipped") return derived;
    assert(entry.term >= this.current.term, "committed terms never go backwards");
    const problems = this.problemsOf(derived.block);
    this.append(derived.block);
    return { type: "appended", block: derived.block, problems };
  }

  /** Appends a block read back from storage or built by `applyCommitted`; checks the link. */
  append(block: BlockRecord): void {
    assert(block.body.sequence === this.current.sequence, "blocks append in sequence");
    assert(block.body.prev_hash === this.current.hash, "a block links to the chain head");
    assert(block.body.index > this.current.index, "raft indexes grow along the chain");
    this.roles.apply(block.body.command);
    this.tree.append(fromHex(block.hash));
    this.records.push(block);
    const command = block.body.command;
    if (command.type === "strategy") {
      this.rules = { operators: command.operators, require: command.require_operator_signature };
    }
    this.current = headAfter(block);
    assert(this.tree.size === this.records.length, "one Merkle leaf per block");
  }

  /**
   * Appends a block this node did not derive itself (one from a relay source's chain) only if
   * it verifies as `chain verify --mode every-block` checks it: its hash is its content's,
   * it links to the head, its term and index do not go back, its proposer is a control-plane
   * member of the table so far and signed it, and it keeps the operator rules. Returns the
   * first problem (the chain is then unchanged), or null once it is appended.
   */
  extend(block: BlockRecord): ExtendProblem | null {
    const body = block.body;
    if (makeBlock(body, block.signature).hash !== block.hash) return "block-hash-mismatch";
    if (body.sequence !== this.current.sequence) return "sequence-mismatch";
    if (body.prev_hash !== this.current.hash) return "broken-link";
    if (body.term < this.current.term) return "term-regressed";
    if (body.index <= this.current.index) return "index-regressed";
    const problem = this.problemsOf(block)[0];
    if (problem !== undefined) return problem;
    this.append(block);
    return null;
  }

  private problemsOf(block: BlockRecord): BlockProblem[] {
    const problems: BlockProblem[] = [];
    const body = block.body;
    if (!this.roles.isMember(body.proposer)) problems.push("signer-not-member");
    if (block.signature === null) problems.push("block-signature-missing");
    else if (
      this.options.verifySignatures &&
      !verifyBlockSignature(body, blockBodyLine(body), block.signature)
    )
      problems.push("block-signature-invalid");
    const operator = this.checkOperator({
      command: body.command,
      origin: body.origin,
      signature: body.operator_signature,
      after: body.operator_after,
    });
    if (!operator.ok) problems.push(operator.problem);
    return problems;
  }
}
