import { z } from "zod";
import {
  type AttestChain,
  type ChainBlocks,
  canonicalLine,
  HashHex,
  SignatureHex,
  verifyChainExtension,
} from "../attest/index.js";
import type { MemberView } from "../gossip/index.js";
import type { ConfState, Entry } from "../raft/index.js";
import { assert, blake3Hex, NodeId, type Signer, verifySignature } from "../vocabulary/index.js";
import { FabricMachine, type FabricMachineOptions } from "./machine.js";

/**
 * The commit stamp (docs/scale.md, "What is verified"): a Raft voter's signature over
 * `(index, term, state digest)`, where the digest is BLAKE3 over the machine's configuration
 * and its `snapshot()` bytes after applying `index`. Every node's machine at one index is byte
 * for byte the same (the simulator's machine-agreement invariant), so a voter's stamp vouches
 * for the state any node holds at that index, and a relay follower checks what a source gives
 * it against a stamp before it applies it and renders: entries are applied to a shadow
 * machine first (`StampVerifier`), a snapshot is hashed before it is restored.
 *
 * The signature is the node's ed25519 identity key (the NodeId is the public key), over a
 * domain line and a canonical JSON line as attestation blocks are signed (attest/block.ts).
 * Who may sign (`stampSigners`): a voter of the follower's own verified configuration; a
 * follower with no state yet trusts the members gossip shows holding `etcd`, and in both
 * cases the signer must be a voter of the state it vouches for. A signer the follower does
 * not know yet (its voters were replaced while it was behind) is trusted when the attestation
 * chain of the stamped state hands trust over to it (`chainHandsOver`): the chain extends the
 * follower's own, every new block verifies against the control plane before it, and the
 * signer holds `etcd` after the last one (docs/scale.md, "Trust across voter replacements").
 */
const uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The stamp on the wire (`POST /v1/relay` answers); every field is bounded. */
export const CommitStamp = z.strictObject({
  v: z.literal(1),
  index: uint.min(1),
  term: uint,
  /** `stateDigest` of the machine after applying `index`. */
  state: HashHex,
  signer: NodeId,
  signature: SignatureHex,
});
export type CommitStamp = z.infer<typeof CommitStamp>;

export type StampCheck =
  | {
      readonly ok: true;
      /** Present when the signer was trusted through the chain, not as a known voter. */
      readonly handover?: StampHandover;
    }
  | { readonly ok: false; readonly reason: string };

/** How the chain handed trust over to a stamp's signer: the new blocks verified on the way. */
export interface StampHandover {
  readonly signer: string;
  readonly blocks: number;
}

const encoder = new TextEncoder();
const stateDomain = encoder.encode("revoada/machine-state/v1\n");
const stampDomain = encoder.encode("revoada/commit-stamp/v1\n");

/** BLAKE3 over a domain line, the configuration's canonical line and the machine's snapshot bytes. */
export function stateDigest(snapshot: Uint8Array, conf: ConfState): string {
  const confLine = canonicalLine({
    learners: conf.learners,
    learnersNext: conf.learnersNext,
    voters: conf.voters,
    votersOutgoing: conf.votersOutgoing,
  });
  return blake3Hex(stateDomain, encoder.encode(confLine), snapshot);
}

/** The bytes a voter signs: domain line || canonical line of `{index, state, term}`. */
export function commitStampMessage(stamp: Pick<CommitStamp, "index" | "term" | "state">): Uint8Array {
  const line = canonicalLine({ index: stamp.index, state: stamp.state, term: stamp.term });
  return Buffer.concat([stampDomain, encoder.encode(line)]);
}

/**
 * A voter's stamp of its machine as applied now. `snapshot` is `machine.snapshot()` when the
 * caller has it already (it publishes the same bytes).
 */
export function signCommitStamp(machine: FabricMachine, signer: Signer, snapshot?: Uint8Array): CommitStamp {
  const conf = machine.configuration();
  assert(isVoterOf(conf, signer.nodeId), "only a voter stamps its state");
  const applied = machine.applied();
  assert(applied.index >= 1, "a stamp vouches for an applied entry");
  const state = stateDigest(snapshot ?? machine.snapshot(), conf);
  const body = { index: applied.index, term: applied.term, state };
  const signature = Buffer.from(signer.sign(commitStampMessage(body))).toString("hex");
  assert(signature.length === 128, "an ed25519 signature is 64 bytes");
  return { v: 1, ...body, signer: signer.nodeId, signature };
}

/**
 * Who may sign a stamp this node accepts: the voters of its own configuration (what it applied
 * from Raft or verified before); with none yet (a fresh node), the alive members gossip shows
 * holding `etcd` (where a fresh follower starts, `relayViewOf`).
 */
export function stampSigners(
  conf: ConfState,
  members: readonly Pick<MemberView, "id" | "status" | "state">[],
): ReadonlySet<string> {
  const voters = [...conf.voters, ...conf.votersOutgoing];
  if (voters.length > 0) return new Set(voters);
  return new Set(
    members
      .filter((member) => member.status === "alive" && member.state?.roles.includes("etcd") === true)
      .map((member) => member.id),
  );
}

/**
 * Whether the chain hands trust over from `trusted` (the follower's verified chain) to
 * `signer` through `candidate` (the chain of the state the signer stamped): the candidate
 * extends the trusted chain with blocks that each verify against the role table before them
 * (`verifyChainExtension`), and `signer` holds `etcd` in the table after the last one (the
 * role the Raft voters hold; quarantine takes it away).
 */
export function chainHandsOver(
  trusted: ChainBlocks,
  candidate: ChainBlocks,
  signer: string,
): { readonly ok: true; readonly handover: StampHandover } | { readonly ok: false; readonly reason: string } {
  const extension = verifyChainExtension(trusted, candidate);
  if (!extension.ok) return { ok: false, reason: `the chain does not hand over to it: ${extension.reason}` };
  if (!extension.chain.roles.rolesOf(signer).includes("etcd"))
    return { ok: false, reason: "the chain does not hand over to it: it holds no etcd role there" };
  return { ok: true, handover: { signer, blocks: extension.added } };
}

function isVoterOf(conf: ConfState, id: string): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id);
}

function refused(reason: string): StampCheck {
  return { ok: false, reason };
}

/**
 * A relay follower's check of what a source sends, against a commit stamp, before the node
 * applies it. Holds a shadow machine in step with the node's (what it applied and verified);
 * entries are applied to the shadow first and its digest compared with the stamp's; on a
 * refusal the shadow goes back to the last verified state.
 */
export class StampVerifier {
  private shadow: FabricMachine;
  /** The shadow's last verified state: what a refusal restores. */
  private verified: { snapshot: Uint8Array; conf: ConfState };
  private lastStamp: CommitStamp | null = null;

  constructor(private readonly options: FabricMachineOptions) {
    this.shadow = new FabricMachine(options);
    this.verified = { snapshot: this.shadow.snapshot(), conf: this.shadow.configuration() };
  }

  /** The index the shadow stands at (the node's verified applied index). */
  appliedIndex(): number {
    return this.shadow.applied().index;
  }

  configuration(): ConfState {
    return this.shadow.configuration();
  }

  /** The newest stamp verified (null: none, or the node's state came from elsewhere since). */
  stamp(): CommitStamp | null {
    return this.lastStamp;
  }

  /** Re-bases the shadow on the node's machine (it applied from Raft: trusted). */
  adopt(machine: FabricMachine): void {
    const snapshot = machine.snapshot();
    const restored = FabricMachine.restore(this.options, snapshot, machine.configuration());
    assert(restored.ok, "a machine's own snapshot restores");
    this.shadow = restored.value;
    this.verified = { snapshot, conf: machine.configuration() };
    this.lastStamp = null;
    assert(
      this.shadow.applied().index === machine.applied().index,
      "the shadow stands where the machine does",
    );
  }

  /**
   * Checks `entries` (the next ones, in order) against `stamp`. On `ok` the shadow has applied
   * them and the node may apply them to its machine; otherwise the shadow is unchanged.
   */
  checkEntries(entries: readonly Entry[], stamp: CommitStamp, trusted: ReadonlySet<string>): StampCheck {
    const header = this.checkHeader(stamp, trusted);
    if (!header.ok) return header;
    const before = this.shadow.applied();
    const shape = entriesShape(entries, before, stamp);
    if (shape !== null) return refused(shape);
    // The chain before the entries, kept only when the signer needs a handover.
    const chainBefore = trusted.has(stamp.signer) ? null : chainBlocksOf(this.shadow.chain);
    for (const entry of entries) this.shadow.apply(entry);
    const snapshot = this.shadow.snapshot();
    const conf = this.shadow.configuration();
    const problem = this.checkState(snapshot, conf, stamp);
    const check =
      problem !== null ? refused(problem) : this.checkTrust(stamp, trusted, chainBefore, this.shadow.chain);
    if (!check.ok) {
      this.rollBack();
      return check;
    }
    this.verified = { snapshot, conf };
    this.lastStamp = stamp;
    assert(this.shadow.applied().index === stamp.index, "the shadow stands at the stamp");
    return check;
  }

  /** Checks a whole machine (`snapshot()` bytes and its configuration) against `stamp`; on `ok` the shadow is it. */
  checkSnapshot(
    snapshot: Uint8Array,
    conf: ConfState,
    stamp: CommitStamp,
    trusted: ReadonlySet<string>,
  ): StampCheck {
    const header = this.checkHeader(stamp, trusted);
    if (!header.ok) return header;
    if (stateDigest(snapshot, conf) !== stamp.state)
      return refused(`the snapshot's digest is not the stamp's (index ${stamp.index})`);
    const restored = FabricMachine.restore(this.options, snapshot, conf);
    if (!restored.ok) return refused(`the stamped snapshot does not restore: ${restored.issues[0]?.message}`);
    const applied = restored.value.applied();
    if (applied.index !== stamp.index || applied.term !== stamp.term)
      return refused(
        `the snapshot stands at ${applied.index}/${applied.term}, the stamp at ${stamp.index}/${stamp.term}`,
      );
    if (!isVoterOf(conf, stamp.signer)) return refused("the signer is not a voter of the state it stamped");
    const check = this.checkTrust(stamp, trusted, this.shadow.chain, restored.value.chain);
    if (!check.ok) return check;
    this.shadow = restored.value;
    this.verified = { snapshot, conf };
    this.lastStamp = stamp;
    return check;
  }

  /**
   * Signature, signer and index: what needs no state. A signer that is no known voter is
   * refused here already when this node holds no chain to hand trust over from (a fresh node).
   */
  private checkHeader(stamp: CommitStamp, trusted: ReadonlySet<string>): StampCheck {
    if (!trusted.has(stamp.signer) && this.shadow.chain === null)
      return refused(`the stamp's signer ${stamp.signer.slice(0, 16)} is not a known voter`);
    const signature = Buffer.from(stamp.signature, "hex");
    if (!verifySignature(stamp.signer, commitStampMessage(stamp), signature))
      return refused("the stamp's signature does not verify");
    const applied = this.shadow.applied().index;
    if (stamp.index <= applied)
      return refused(`stale stamp: index ${stamp.index}, this node applied ${applied} already`);
    return { ok: true };
  }

  /**
   * A signer that is no known voter, once its stamp checked out against the state: trusted
   * only if the stamped state's chain hands trust over to it from this node's chain.
   */
  private checkTrust(
    stamp: CommitStamp,
    trusted: ReadonlySet<string>,
    before: ChainBlocks | null,
    after: AttestChain | null,
  ): StampCheck {
    if (trusted.has(stamp.signer)) return { ok: true };
    const unknown = `the stamp's signer ${stamp.signer.slice(0, 16)} is not a known voter`;
    if (before === null) return refused(unknown);
    if (after === null) return refused(`${unknown}, and the stamped state holds no chain`);
    const handover = chainHandsOver(before, after, stamp.signer);
    return handover.ok
      ? { ok: true, handover: handover.handover }
      : refused(`${unknown}, and ${handover.reason}`);
  }

  private checkState(snapshot: Uint8Array, conf: ConfState, stamp: CommitStamp): string | null {
    const applied = this.shadow.applied();
    if (applied.term !== stamp.term)
      return `the entries end in term ${applied.term}, the stamp's is ${stamp.term}`;
    if (stateDigest(snapshot, conf) !== stamp.state)
      return `the state after the entries is not the stamped state (index ${stamp.index})`;
    if (!isVoterOf(conf, stamp.signer)) return "the signer is not a voter of the state it stamped";
    return null;
  }

  private rollBack(): void {
    const restored = FabricMachine.restore(this.options, this.verified.snapshot, this.verified.conf);
    assert(restored.ok, "the verified state restores");
    this.shadow = restored.value;
  }
}

/** A chain's genesis and a copy of its blocks as they are now (null: no chain). */
function chainBlocksOf(chain: AttestChain | null): ChainBlocks | null {
  return chain === null ? null : { genesis: chain.genesis, blocks: chain.blocks.slice() };
}

/** Why `entries` cannot be the next ones up to the stamp (null: they can). */
function entriesShape(
  entries: readonly Entry[],
  before: { readonly index: number; readonly term: number },
  stamp: CommitStamp,
): string | null {
  if (entries.length === 0) return "a stamp with no entries";
  let index = before.index;
  let term = before.term;
  for (const entry of entries) {
    if (entry.index !== index + 1) return `the entries skip from ${index} to ${entry.index}`;
    if (entry.term < term) return `the entries go back from term ${term} to ${entry.term}`;
    index = entry.index;
    term = entry.term;
  }
  if (index !== stamp.index) return `the entries end at ${index}, the stamp is at ${stamp.index}`;
  return null;
}
