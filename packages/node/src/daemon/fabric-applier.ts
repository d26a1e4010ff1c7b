import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ApplyOutcome as ChainOutcome,
  makeGenesis,
  parseChainExport,
} from "@revoada/fabric-core/attest";
import {
  decodeConfChange,
  type Entry,
  FabricStateMachine,
  type ApplyOutcome as StateOutcome,
} from "@revoada/fabric-core/raft";
import {
  canonicalJson,
  decodeProposal,
  type FabricState,
  type NodeId,
  type NodeState,
  type Proposal,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { ChainStore, chainFileName } from "../attest/chain-store.js";
import { StorageCorruptionError } from "../errors.js";
import { writeFileAtomicSync } from "../fs/durable.js";
import type { RaftApplier } from "../raft/index.js";
import type { Logger } from "./log.js";

/**
 * What the node's Raft log drives: the fabric state machine and the attestation chain, fed
 * the same committed entries in the same order, so the chain replays to the state's role
 * table on every node. The genesis of the chain is the founding membership (log entry 1:
 * its voters are the founding control plane), so every node derives the same genesis
 * without being told.
 *
 * A Raft snapshot carries both: the state and the chain export, so a node that joins after
 * compaction still holds the whole, identical chain.
 */
export interface AppliedEntry {
  readonly state: StateOutcome;
  readonly chain: ChainOutcome | null;
  readonly proposal: Proposal | null;
}

const SnapshotPayload = z.strictObject({ state: z.string(), chain: z.string().nullable() });

export class FabricApplier implements RaftApplier<AppliedEntry> {
  private machine = new FabricStateMachine();
  private chainStore: ChainStore | null;

  constructor(
    private readonly chainDirectory: string,
    private readonly origin: string,
    private readonly requireOperatorSignature: boolean,
    private readonly logger: Logger,
  ) {
    this.chainStore = existsSync(join(chainDirectory, chainFileName)) ? this.openExistingChain() : null;
  }

  get chain(): ChainStore | null {
    return this.chainStore;
  }

  state(): FabricState {
    return this.machine.state();
  }

  /** One node's committed state, without copying the whole state (hot paths: status, gossip). */
  node(id: NodeId): NodeState | undefined {
    return this.machine.node(id);
  }

  hasWorkload(key: string): boolean {
    return this.machine.hasWorkload(key);
  }

  apply(entry: Entry): AppliedEntry {
    if (this.chainStore === null && entry.kind === "conf-change") this.maybeFound(entry);
    const state = this.machine.apply(entry);
    const chain =
      this.chainStore === null
        ? null
        : this.chainStore.chain.applyCommitted({
            term: entry.term,
            index: entry.index,
            data: entry.data,
            kind: entry.kind,
          });
    if (chain?.type === "appended") this.chainStore?.persistBlocks();
    if (chain?.type === "appended" && chain.problems.length > 0) {
      this.logger.warn("attested block has problems", {
        index: entry.index,
        problems: chain.problems.join(","),
      });
    }
    const decoded = entry.kind === "normal" ? decodeProposal(entry.data) : undefined;
    const proposal = decoded?.ok === true ? decoded.value : null;
    if (proposal?.command.type === "attest-checkpoint") this.recordCheckpoint(proposal.command);
    return { state, chain, proposal };
  }

  snapshot(): Uint8Array {
    const payload = {
      state: new TextDecoder().decode(this.machine.snapshot()),
      chain: this.chainStore?.exportText() ?? null,
    };
    return new TextEncoder().encode(canonicalJson(payload, 0));
  }

  restore(data: Uint8Array): void {
    const payload = SnapshotPayload.safeParse(parseJson(new TextDecoder().decode(data)));
    if (!payload.success) throw new StorageCorruptionError("raft snapshot", 0, "not a fabric snapshot");
    const machine = FabricStateMachine.restore(new TextEncoder().encode(payload.data.state));
    if (!machine.ok) {
      const reason = machine.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
      throw new StorageCorruptionError("raft snapshot", 0, `snapshot state is not a fabric state: ${reason}`);
    }
    this.machine = machine.value;
    if (payload.data.chain !== null) {
      // The snapshot's chain is at least as long as anything local (it covers a later index).
      this.chainStore?.close();
      mkdirSync(this.chainDirectory, { recursive: true });
      writeFileAtomicSync(join(this.chainDirectory, chainFileName), payload.data.chain);
      this.chainStore = this.openExistingChain();
    }
  }

  close(): void {
    this.chainStore?.close();
  }

  /** A sealed checkpoint from the log; replays (after a restart) are skipped. */
  private recordCheckpoint(command: { readonly size: number; readonly note: string }): void {
    const store = this.chainStore;
    if (store === null) return;
    const latest = store.checkpoints.at(-1)?.size ?? 0;
    if (command.size <= latest || command.size > store.chain.blocks.length) return;
    store.appendCheckpoint(command.size, command.note);
  }

  /** Log entry 1 founds the cluster: its voters are the genesis control plane. */
  private maybeFound(entry: Entry): void {
    if (entry.index !== 1) return;
    const change = decodeConfChange(entry.data);
    if (!change.ok) return;
    const founders = change.value.changes
      .filter((item) => item.type === "add-voter")
      .map((item) => item.node as NodeId)
      .sort();
    if (founders.length === 0) return;
    const genesis = makeGenesis({
      v: 1,
      origin: this.origin,
      control_plane: founders,
      operators: [],
      require_operator_signature: this.requireOperatorSignature,
    });
    this.chainStore = ChainStore.open(this.chainDirectory, genesis);
    this.logger.info("attestation chain founded", { genesis: genesis.hash, founders: founders.length });
  }

  private openExistingChain(): ChainStore {
    const path = join(this.chainDirectory, chainFileName);
    const firstLine = readFileSync(path, "utf8").split("\n")[0] ?? "";
    const parsed = parseChainExport(`${firstLine}\n`);
    if (!parsed.ok) throw new Error(`${path}: the first record is not a valid genesis`);
    return ChainStore.open(this.chainDirectory, parsed.value.genesis);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
