import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { GenesisRecord } from "@revoada/fabric-core/attest";
import { FabricMachine, type FabricMachineOptions, type MachineOutcome } from "@revoada/fabric-core/fabric";
import type { Entry, SnapshotMetadata } from "@revoada/fabric-core/raft";
import type { FabricState, NodeId, NodeState } from "@revoada/fabric-core/vocabulary";
import { ChainStore, chainFileName, readChainGenesis } from "../attest/chain-store.js";
import { StorageCorruptionError } from "../errors.js";
import { writeFileAtomicSync } from "../fs/durable.js";
import type { RaftApplier } from "../raft/index.js";
import type { Logger } from "./log.js";

/**
 * The thin driver of the `FabricMachine` (fabric-core/fabric): Raft hands it every committed
 * entry, the machine decodes and applies it once, and this driver does the IO the outcome
 * asks for: the chain file (`chain.jsonl`, byte for byte the machine's chain in log order)
 * gets the new block or sealed checkpoint, fsynced before the next entry applies. A Raft
 * snapshot is the machine's snapshot; restoring one rewrites the chain file from it.
 *
 * The chain file is derived state (the log is the source of truth): after a restart the
 * machine re-derives every block, and blocks the file already holds are checked, not
 * appended again; a file that disagrees with the log is rewritten from the machine.
 */
export class FabricApplier implements RaftApplier<MachineOutcome> {
  private machineState: FabricMachine;
  private store: ChainStore | null;
  /** Told when a snapshot replaced the machine (the state relay restarts its window there). */
  onRestored: ((index: number) => void) | null = null;

  constructor(
    private readonly chainDirectory: string,
    readonly machineOptions: FabricMachineOptions,
    private readonly logger: Logger,
  ) {
    this.machineState = new FabricMachine(machineOptions);
    const path = join(chainDirectory, chainFileName);
    this.store = existsSync(path) ? ChainStore.open(chainDirectory, readChainGenesis(path)) : null;
  }

  /** The replicated machine (reads only: it changes only through committed entries). */
  get machine(): FabricMachine {
    return this.machineState;
  }

  /** The durable chain file, in step with the machine's chain. */
  get chain(): ChainStore | null {
    return this.store;
  }

  state(): FabricState {
    return this.machineState.state();
  }

  /** One node's committed state, without copying the whole state (hot paths: status, gossip). */
  node(id: NodeId): NodeState | undefined {
    return this.machineState.node(id);
  }

  hasWorkload(key: string): boolean {
    return this.machineState.hasWorkload(key);
  }

  apply(entry: Entry): MachineOutcome {
    // A node that followed through the state relay before it held the log (docs/scale.md)
    // has these already: Raft replays them to it from the start of its own log.
    if (entry.index <= this.machineState.applied().index) return replayed(entry);
    const outcome = this.machineState.apply(entry);
    if (outcome.founded !== null) this.found(outcome.founded);
    if (outcome.chain?.type === "appended") {
      if (outcome.chain.problems.length > 0) {
        this.logger.warn("attested block has problems", {
          index: entry.index,
          problems: outcome.chain.problems.join(","),
        });
      }
      this.persistBlock(outcome.chain.block.body.sequence);
    }
    if (outcome.checkpoint !== null) this.persistCheckpoint();
    return outcome;
  }

  snapshot(): Uint8Array {
    return this.machineState.snapshot();
  }

  restore(data: Uint8Array, metadata: SnapshotMetadata): void {
    const restored = FabricMachine.restore(this.machineOptions, data, metadata.conf);
    if (!restored.ok) {
      const reason = restored.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
      throw new StorageCorruptionError("raft snapshot", 0, `not a fabric snapshot: ${reason}`);
    }
    this.machineState = restored.value;
    // The snapshot's chain covers a later index than anything local: the file follows it.
    if (restored.value.chain !== null) this.rewriteChainFile();
    this.onRestored?.(restored.value.applied().index);
  }

  close(): void {
    this.store?.close();
  }

  /** Log entry 1 founded the chain: the file starts with its genesis. */
  private found(genesis: GenesisRecord): void {
    if (this.store !== null && this.store.chain.genesis.hash === genesis.hash) return;
    if (this.store !== null) {
      this.logger.warn("chain file belongs to another genesis; rewriting it from the log", {
        file: this.store.path,
      });
      this.rewriteChainFile();
      return;
    }
    this.store = ChainStore.open(this.chainDirectory, genesis);
    this.logger.info("attestation chain founded", {
      genesis: genesis.hash,
      founders: genesis.body.control_plane.length,
    });
  }

  /** Appends block `sequence` unless the file holds it already (a replay after a restart). */
  private persistBlock(sequence: number): void {
    const block = this.machineState.chain?.blocks[sequence];
    const store = this.store;
    if (block === undefined || store === null) return;
    const stored = store.chain.blocks[sequence];
    if (stored === undefined && store.chain.blocks.length === sequence) store.appendBlock(block);
    else if (stored?.hash !== block.hash) {
      this.logger.warn("chain file disagrees with the log; rewriting it", { sequence });
      this.rewriteChainFile();
    }
  }

  private persistCheckpoint(): void {
    const store = this.store;
    const ordinal = this.machineState.checkpoints.length - 1;
    const checkpoint = this.machineState.checkpoints[ordinal];
    if (store === null || checkpoint === undefined) return;
    const stored = store.checkpoints[ordinal];
    if (stored === undefined && store.checkpoints.length === ordinal) {
      store.appendCheckpoint(checkpoint.size, checkpoint.note);
    } else if (stored?.note !== checkpoint.note) {
      this.logger.warn("chain file checkpoints disagree with the log; rewriting it", { ordinal });
      this.rewriteChainFile();
    }
  }

  /** The file becomes the machine's chain export (atomically) and is reopened. */
  private rewriteChainFile(): void {
    const text = this.machineState.chainExport();
    const genesis = this.machineState.chain?.genesis;
    if (text === null || genesis === undefined) return;
    this.store?.close();
    mkdirSync(this.chainDirectory, { recursive: true });
    writeFileAtomicSync(join(this.chainDirectory, chainFileName), text);
    this.store = ChainStore.open(this.chainDirectory, genesis);
  }
}

/** An entry the machine applied already (through the relay): nothing happens again. */
function replayed(entry: Entry): MachineOutcome {
  return {
    index: entry.index,
    term: entry.term,
    kind: entry.kind,
    proposal: null,
    state: { type: "skipped" },
    chain: null,
    founded: null,
    checkpoint: null,
    procedure: null,
    procedureRejected: null,
  };
}
