import { join } from "node:path";
import {
  type CosignRequest,
  defaultCosignaturesMin,
  formatSignedNote,
  parseSignedNote,
  Sealer,
  type SignedNote,
  Witness,
} from "@revoada/fabric-core/attest";
import type { NodeId, Signer } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { WitnessStore } from "../attest/witness-store.js";
import { type ApiAccess, apiClientFor } from "../mesh/api-client.js";
import type { FabricApplier } from "./fabric-applier.js";
import type { Logger } from "./log.js";

/**
 * Sealing the chain in a running mesh. The leader cuts checkpoints of the chain's Merkle
 * tree (C2SP tlog-checkpoint shape, signed by itself), asks the other control-plane
 * members to cosign them as witnesses over the HTTP API, and once enough cosigned
 * (default: a Raft majority minus the leader) proposes the sealed note through the log, so
 * every node's chain records the same checkpoints. Every node is a witness: it cosigns only
 * a checkpoint signed by a control-plane member of its own chain and consistent with the
 * last one it cosigned (the split-view defence), and persists that before answering.
 */
export const CosignRequestBody = z.strictObject({
  note: z.string().min(1).max(65_536),
  old_size: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  proof: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64),
});
export type CosignRequestBody = z.infer<typeof CosignRequestBody>;

export const CosignReply = z.union([
  z.object({ ok: z.literal(true), cosigned_note: z.string() }),
  z.object({ ok: z.literal(false), refusal: z.string(), message: z.string(), size: z.number() }),
]);
export type CosignReply = z.infer<typeof CosignReply>;

export interface SealingContext {
  readonly signer: Signer;
  readonly applier: FabricApplier;
  readonly dataDirectory: string;
  /** The committed strategy's `seal_interval_ms`, read at every tick (a swap takes effect at once). */
  readonly sealIntervalMs: () => number;
  readonly logger: Logger;
  /** Alive peers with their API addresses; the control-plane members among them are the witnesses. */
  readonly witnesses: () => readonly { readonly id: NodeId; readonly api: string }[];
  /** How to reach a witness's API (the API token; the cluster CA when the APIs are HTTPS). */
  readonly api: ApiAccess;
  readonly proposeCheckpoint: (size: number, note: string) => Promise<void>;
}

export class Sealing {
  private sealer: Sealer | null = null;
  private witness: Witness | null = null;
  private witnessStore: WitnessStore | null = null;
  /** The size each witness last cosigned, as far as the leader knows. */
  private readonly witnessSizes = new Map<NodeId, number>();
  private busy = false;
  private sealerMin = 0;
  private sealerIntervalMs = 0;

  constructor(private readonly context: SealingContext) {}

  /** The leader's tick: cut a checkpoint when due and gather cosignatures for it. */
  async leaderTick(isLeader: boolean): Promise<void> {
    if (!isLeader) {
      this.sealer = null;
      return;
    }
    const chain = this.context.applier.chain;
    if (chain === null || this.busy) return;
    this.busy = true;
    try {
      const sealedSize = chain.checkpoints.at(-1)?.size ?? 0;
      // The verifier asks for a majority of the control plane the chain itself names (at
      // the checkpoint's size) minus the signer; the sealer asks for the same.
      const members = this.members();
      const cosignaturesMin = Math.max(1, defaultCosignaturesMin(members.size));
      const sealIntervalMs = this.context.sealIntervalMs();
      if (
        this.sealer === null ||
        this.sealerMin !== cosignaturesMin ||
        this.sealerIntervalMs !== sealIntervalMs
      ) {
        this.sealerMin = cosignaturesMin;
        this.sealerIntervalMs = sealIntervalMs;
        this.sealer = new Sealer(
          {
            origin: chain.chain.genesis.body.origin,
            cosignaturesMin,
            sealIntervalMs,
            blocksPerCheckpointMax: 64,
          },
          this.context.signer,
          sealedSize,
        );
      }
      // The sealer's clock only times the cut interval: monotonic, so a jump of the wall clock
      // neither holds checkpoints back (behind) nor cuts them early (ahead).
      const note = this.sealer.maybeCheckpoint(chain.chain.tree, Math.floor(performance.now()));
      if (note === null) return;
      const size = chain.chain.tree.size;
      const witnesses = this.context.witnesses().filter((witness) => members.has(witness.id));
      await Promise.all(witnesses.map((witness) => this.askWitness(witness, note, size)));
    } finally {
      this.busy = false;
    }
  }

  private async askWitness(
    witness: { id: NodeId; api: string },
    note: SignedNote,
    size: number,
  ): Promise<void> {
    const tree = this.context.applier.chain?.chain.tree;
    if (tree === undefined) return;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const oldSize = Math.min(this.witnessSizes.get(witness.id) ?? 0, size);
      const body: CosignRequestBody = {
        note: formatSignedNote(note),
        old_size: oldSize,
        proof:
          oldSize === 0
            ? []
            : tree.consistencyProof(oldSize, size).map((h) => Buffer.from(h).toString("hex")),
      };
      const reply = await postCosign(witness.api, this.context.api, body);
      if (reply === undefined) return;
      if (!reply.ok) {
        // A witness that cosigned a different size says which: retry once from there.
        if (reply.refusal === "conflict" && reply.size !== oldSize) {
          this.witnessSizes.set(witness.id, reply.size);
          continue;
        }
        this.context.logger.warn("witness refused to cosign", {
          witness: witness.id,
          refusal: reply.refusal,
        });
        return;
      }
      this.witnessSizes.set(witness.id, size);
      const parsed = parseSignedNote(reply.cosigned_note);
      const cosignature = parsed.ok ? parsed.note.signatures.find((s) => s.name === witness.id) : undefined;
      if (cosignature === undefined || this.sealer === null) return;
      const members = new Set(
        this.context.applier.chain?.chain.roles.membersAt(this.context.applier.chain.chain.blocks.length) ??
          [],
      );
      const sealed = this.sealer.addCosignature(size, cosignature, members);
      if (sealed !== null) await this.context.proposeCheckpoint(size, formatSignedNote(sealed));
      return;
    }
  }

  /** Control-plane members as the chain's own role table names them now. */
  private members(): ReadonlySet<string> {
    const chain = this.context.applier.chain;
    return new Set<string>(chain === null ? [] : chain.chain.roles.membersAt(chain.chain.blocks.length));
  }

  /** The witness side (every node): cosign when consistent, persisting before replying. */
  cosign(body: CosignRequestBody): CosignReply {
    const chain = this.context.applier.chain;
    if (chain === null)
      return { ok: false, refusal: "malformed", message: "this node has no chain yet", size: 0 };
    const origin = chain.chain.genesis.body.origin;
    if (this.witness === null) {
      this.witnessStore = WitnessStore.open(join(this.context.dataDirectory, "witness"));
      this.witness = new Witness(this.context.signer, origin, this.witnessStore.state);
    }
    const request: CosignRequest = {
      note: body.note,
      oldSize: body.old_size,
      proof: body.proof.map((hex) => new Uint8Array(Buffer.from(hex, "hex"))),
    };
    const signers = new Set<string>(chain.chain.roles.membersAt(chain.chain.blocks.length));
    const outcome = this.witness.cosign(request, signers, Date.now());
    if (!outcome.ok)
      return { ok: false, refusal: outcome.refusal, message: outcome.message, size: outcome.size };
    this.witnessStore?.save(outcome.state);
    const parsed = parseSignedNote(body.note);
    const text = parsed.ok ? parsed.note.text : "";
    return { ok: true, cosigned_note: formatSignedNote({ text, signatures: [outcome.cosignature] }) };
  }

  close(): void {
    this.witnessStore?.close();
  }
}

async function postCosign(
  api: string,
  access: ApiAccess,
  body: CosignRequestBody,
): Promise<CosignReply | undefined> {
  try {
    const response = await apiClientFor(api, access, 2000).fetch("POST", "/v1/attest/cosign", body);
    const parsed = CosignReply.safeParse(await response.json());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
