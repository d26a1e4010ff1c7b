import {
  assert,
  blake3,
  encodeProposal,
  type NodeId,
  type Proposal,
  type Signer,
  signerFromSeed,
} from "../vocabulary/index.js";
import {
  type BlockRecord,
  type GenesisRecord,
  makeGenesis,
  type OperatorHead,
  type RoleCommand,
  signOperatorCommand,
} from "./block.js";
import { AttestChain, signRoleProposal } from "./chain.js";
import {
  defaultCosignaturesMin,
  formatCheckpointNote,
  signCheckpoint,
  withCosignatures,
} from "./checkpoint.js";
import { formatChainExport } from "./export.js";
import type { NoteSignature } from "./note.js";
import { Witness } from "./witness.js";

/**
 * A deterministic sample history for tests, the benchmark and `revoada chain sample`: a
 * founding control plane, workers promoted, demoted, quarantined and restored, leader
 * changes with term bumps, operator overrides, and checkpoints cut every
 * `checkpointEvery` blocks and cosigned by witnesses through the real `Witness` (so each
 * cosignature was given only after a consistency proof). Keys derive from the seed; call
 * `await loadBlake3()` first.
 */
export interface SampleChainOptions {
  readonly blocks: number;
  readonly seed?: number;
  readonly controlPlane?: number;
  readonly workers?: number;
  readonly checkpointEvery?: number;
  readonly leaderBlocks?: number;
  readonly origin?: string;
  readonly requireOperatorSignature?: boolean;
}

export interface SampleChain {
  readonly text: string;
  readonly genesis: GenesisRecord;
  readonly blocks: readonly BlockRecord[];
  readonly checkpoints: readonly { readonly size: number; readonly note: string }[];
  /** Every node's signer by NodeId (founders first, then workers). */
  readonly signers: ReadonlyMap<string, Signer>;
  readonly founders: readonly Signer[];
  readonly operator: Signer;
  /** A key that is never a member: for forgery tests. */
  readonly outsider: Signer;
  readonly chain: AttestChain;
}

export function sampleSigner(seed: number, name: string): Signer {
  return signerFromSeed(blake3(new TextEncoder().encode(`revoada-sample/${seed}/${name}`)));
}

export function generateSampleChain(options: SampleChainOptions): SampleChain {
  const seed = options.seed ?? 1;
  const founders = range(options.controlPlane ?? 3).map((i) => sampleSigner(seed, `founder-${i}`));
  const workers = range(options.workers ?? 8).map((i) => sampleSigner(seed, `worker-${i}`));
  const operator = sampleSigner(seed, "operator");
  const signers = new Map<string, Signer>([...founders, ...workers].map((signer) => [signer.nodeId, signer]));
  const genesis = makeGenesis({
    v: 1,
    origin: options.origin ?? `revoada.example/sample-${seed}`,
    control_plane: founders.map((signer) => signer.nodeId).sort(),
    operators: [operator.nodeId],
    require_operator_signature: options.requireOperatorSignature ?? true,
  });
  const chain = new AttestChain(genesis, { verifySignatures: false });
  const witnesses = new Map<string, Witness>();
  const checkpoints: { size: number; note: string }[] = [];
  const checkpointEvery = options.checkpointEvery ?? 64;
  const leaderBlocks = options.leaderBlocks ?? 500;
  let index = 0;
  for (let sequence = 0; sequence < options.blocks; sequence += 1) {
    const term = 1 + Math.floor(sequence / leaderBlocks);
    const leader = founders[(term - 1) % founders.length]!;
    index += 1 + (sequence % 3);
    const issuedAtMs = 1_780_000_000_000 + sequence * 10;
    const proposal = sampleProposal(sequence, workers, leader.nodeId, issuedAtMs, operator, chain.head);
    const signed = signRoleProposal(chain.head, term, index, proposal, leader);
    const outcome = chain.applyCommitted({ term, index, data: encodeProposal(signed.proposal) });
    assert(outcome.type === "appended", "every sample proposal is a role command");
    const size = chain.tree.size;
    if (size % checkpointEvery === 0 || size === options.blocks) {
      checkpoints.push({ size, note: sealSample(chain, leader, signers, witnesses, issuedAtMs) });
    }
  }
  const text = formatChainExport(genesis, chain.blocks, checkpoints);
  return {
    text,
    genesis,
    blocks: chain.blocks,
    checkpoints,
    signers,
    founders,
    operator,
    outsider: sampleSigner(seed, "outsider"),
    chain,
  };
}

function sampleProposal(
  sequence: number,
  workers: readonly Signer[],
  proposer: NodeId,
  issuedAtMs: number,
  operator: Signer,
  head: OperatorHead,
): Proposal {
  const worker = workers[Math.floor(sequence / 4) % workers.length]!.nodeId;
  const step = sequence % 4;
  const command: RoleCommand =
    step === 0
      ? { type: "promote", node: worker, roles: ["api-server", "scheduler"], reason: "scaling-up" }
      : step === 1
        ? { type: "demote", node: worker, roles: ["api-server", "scheduler"], reason: "scaling-down" }
        : step === 2
          ? { type: "quarantine", node: worker, reason: "health-degraded" }
          : { type: "restore", node: worker };
  // Operator overrides are rare in a real cluster; one in 200 keeps them in every sample.
  const byOperator = sequence % 200 === 199;
  const proposal: Proposal = {
    command,
    proposer,
    issued_at_ms: issuedAtMs,
    origin: byOperator ? "operator" : "policy",
    force: byOperator,
  };
  if (!byOperator) return proposal;
  // The operator signs against the head it sees: the block goes right after it.
  return {
    ...proposal,
    operator_after: head.sequence,
    operator_signature: signOperatorCommand(command, head, operator),
  };
}

/** The leader cuts a checkpoint; the first `k` other members cosign it through their witnesses. */
function sealSample(
  chain: AttestChain,
  leader: Signer,
  signers: ReadonlyMap<string, Signer>,
  witnesses: Map<string, Witness>,
  nowMs: number,
): string {
  const members = chain.roles.members();
  const required = chain.genesis.body.cosignatures_min ?? defaultCosignaturesMin(members.size);
  const note = signCheckpoint(
    { origin: chain.genesis.body.origin, size: chain.tree.size, root: chain.tree.rootAt() },
    leader,
  );
  const text = formatCheckpointNote(note);
  const cosignatures: NoteSignature[] = [];
  for (const member of [...members].sort()) {
    if (cosignatures.length >= required) break;
    if (member === leader.nodeId) continue;
    const witness = witnessFor(member, signers, witnesses, chain.genesis.body.origin);
    const oldSize = witness.state?.size ?? 0;
    const proof = chain.tree.consistencyProof(oldSize, chain.tree.size);
    const outcome = witness.cosign({ note: text, oldSize, proof }, members, nowMs);
    assert(outcome.ok, "an honest sample witness cosigns");
    cosignatures.push(outcome.cosignature);
  }
  return formatCheckpointNote(withCosignatures(note, cosignatures));
}

function witnessFor(
  member: string,
  signers: ReadonlyMap<string, Signer>,
  witnesses: Map<string, Witness>,
  origin: string,
): Witness {
  const existing = witnesses.get(member);
  if (existing !== undefined) return existing;
  const signer = signers.get(member);
  assert(signer !== undefined, "every sample member has a key");
  const witness = new Witness(signer, origin, null);
  witnesses.set(member, witness);
  return witness;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
