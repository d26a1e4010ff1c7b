import {
  closeSync,
  existsSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  AttestChain,
  type BlockRecord,
  checkpointNoteSize,
  decodeRecordLine,
  type GenesisRecord,
  parseChainExport,
  recordLine,
} from "@revoada/fabric-core/attest";
import { assert } from "@revoada/fabric-core/vocabulary";
import { StorageCorruptionError, StorageStateError } from "../errors.js";
import { fsyncDirectorySync, writeFileAtomicSync } from "../fs/durable.js";

/**
 * The node's durable attestation chain: `chain.jsonl` in the data directory, byte for byte
 * the export format (docs/attestation.md), so `revoada chain verify --file` reads it as is
 * and the HTTP API serves it unchanged. Appends are one write and one fdatasync per batch;
 * nothing is rewritten in place.
 *
 * Recovery on open: every line is decoded and re-linked. A damaged tail (a partial last line,
 * or undecodable lines with no valid record after them: a write torn by a crash) is cut off
 * and the cut is synced; damage followed by valid records is corruption and refuses to open.
 * Blocks lost with a torn tail are re-derived from the Raft log, which is the source of truth.
 * This node's witness state lives beside it in `witness-store.ts`.
 */
export const chainFileName = "chain.jsonl";

export interface ChainStoreOptions {
  /**
   * Check each new block's leader signature in `chain.applyCommitted` (default true); a
   * leader applying blocks it signed itself may skip it (the attest benchmark does). The
   * daemon appends blocks the fabric machine already checked (`appendBlock`).
   */
  readonly verifySignatures?: boolean;
}

export interface ChainRecovery {
  /** Bytes cut from a torn tail (0 when the file ended cleanly). */
  readonly truncatedBytes: number;
  readonly blocks: number;
  readonly checkpoints: number;
}

export class ChainStore {
  readonly chain: AttestChain;
  readonly recovery: ChainRecovery;
  private readonly checkpointNotes: { size: number; note: string }[] = [];
  private descriptor: number | null;
  private bytes: number;
  /** Blocks of `chain` already in the file; the rest await `persistBlocks`. */
  private storedBlocks = 0;

  private constructor(
    readonly directory: string,
    genesis: GenesisRecord,
    options: ChainStoreOptions,
  ) {
    mkdirSync(directory, { recursive: true });
    const path = this.path;
    if (!existsSync(path)) createChainFile(directory, path, genesis);
    // Stored blocks are re-linked, not re-verified (`append`).
    this.chain = new AttestChain(genesis, { verifySignatures: options.verifySignatures ?? true });
    const replayed = this.replay(readFileSync(path), genesis);
    this.descriptor = openSync(path, "r+");
    if (replayed.validBytes < replayed.fileBytes) {
      ftruncateSync(this.descriptor, replayed.validBytes);
      fdatasyncSync(this.descriptor);
    }
    this.bytes = replayed.validBytes;
    this.recovery = {
      truncatedBytes: replayed.fileBytes - replayed.validBytes,
      blocks: this.chain.blocks.length,
      checkpoints: this.checkpointNotes.length,
    };
  }

  /** Opens (or creates) the chain of `genesis` in `directory`; synchronous, like the WAL. */
  static open(directory: string, genesis: GenesisRecord, options: ChainStoreOptions = {}): ChainStore {
    return new ChainStore(directory, genesis, options);
  }

  get path(): string {
    return join(this.directory, chainFileName);
  }

  get checkpoints(): readonly { readonly size: number; readonly note: string }[] {
    return this.checkpointNotes;
  }

  /** Appends `block` (the next one of the chain) and stores it: one write, one fdatasync. */
  appendBlock(block: BlockRecord): void {
    this.chain.append(block);
    this.persistBlocks();
  }

  /**
   * Appends blocks the chain already holds beyond what is stored (fed to `chain.append` or
   * `chain.applyCommitted` first) in one write and one fdatasync.
   */
  persistBlocks(): number {
    const stored = this.storedBlocks;
    const pending = this.chain.blocks.slice(stored);
    if (pending.length === 0) return 0;
    this.write(pending.map((block) => recordLine(block)).join(""));
    this.storedBlocks = this.chain.blocks.length;
    return pending.length;
  }

  /**
   * Appends a sealed checkpoint note (its size must not exceed the stored blocks). With
   * `sync: false` the note rides the next fdatasync (group commit): a crash before it may lose
   * the note, and the leader then seals that size again (witnesses cosign the same root twice).
   */
  appendCheckpoint(size: number, note: string, options: { readonly sync: boolean } = { sync: true }): void {
    assert(size <= this.storedBlocks, "a checkpoint covers stored blocks only");
    this.write(recordLine({ kind: "checkpoint", note }), options.sync);
    this.checkpointNotes.push({ size, note });
  }

  /** The export: exactly the file's bytes. */
  exportText(): string {
    return readFileSync(this.path, "utf8").slice(0, this.bytes);
  }

  close(): void {
    if (this.descriptor !== null) closeSync(this.descriptor);
    this.descriptor = null;
  }

  private write(text: string, sync = true): void {
    assert(this.descriptor !== null, "the chain store is open");
    const data = Buffer.from(text, "utf8");
    let written = 0;
    while (written < data.length) {
      written += writeSync(this.descriptor, data, written, data.length - written, this.bytes + written);
    }
    if (sync) fdatasyncSync(this.descriptor);
    this.bytes += data.length;
  }

  private replay(file: Buffer, genesis: GenesisRecord): { validBytes: number; fileBytes: number } {
    const path = this.path;
    const expectedGenesis = Buffer.from(recordLine(genesis), "utf8");
    if (!file.subarray(0, expectedGenesis.length).equals(expectedGenesis)) {
      throw new StorageStateError(path, "the chain file belongs to a different genesis");
    }
    let offset = expectedGenesis.length;
    while (offset < file.length) {
      const end = file.indexOf(0x0a, offset);
      const problem = end < 0 ? "partial last line" : this.replayLine(file.toString("utf8", offset, end));
      if (problem !== null) {
        if (hasValidLineAfter(file, offset)) throw new StorageCorruptionError(path, offset, problem);
        return { validBytes: offset, fileBytes: file.length };
      }
      offset = end + 1;
    }
    this.storedBlocks = this.chain.blocks.length;
    return { validBytes: offset, fileBytes: file.length };
  }

  /** Applies one stored line; returns why it cannot be applied, or null. */
  private replayLine(line: string): string | null {
    const decoded = decodeRecordLine(line);
    if (!decoded.ok) return `${decoded.reason}: ${decoded.message}`;
    const record = decoded.record;
    if (record.kind === "genesis") return "a second genesis";
    if (record.kind === "checkpoint") {
      const size = checkpointNoteSize(record.note);
      if (size === null || size > this.chain.blocks.length) return "checkpoint beyond the blocks";
      this.checkpointNotes.push({ size, note: record.note });
      return null;
    }
    const linkProblem = linkProblemOf(this.chain, record);
    if (linkProblem !== null) return linkProblem;
    this.chain.append(record);
    this.storedBlocks = this.chain.blocks.length;
    return null;
  }
}

/** The genesis on the first line of a chain file (the rest is checked by `ChainStore.open`). */
export function readChainGenesis(path: string): GenesisRecord {
  const text = readFileSync(path, "utf8");
  const firstLine = text.slice(0, text.indexOf("\n") + 1);
  const parsed = parseChainExport(firstLine);
  if (!parsed.ok) throw new StorageCorruptionError(path, 0, "the first record is not a valid genesis");
  return parsed.value.genesis;
}

function linkProblemOf(chain: AttestChain, block: BlockRecord): string | null {
  const head = chain.head;
  if (block.body.sequence !== head.sequence)
    return `block ${block.body.sequence} where ${head.sequence} belongs`;
  if (block.body.prev_hash !== head.hash) return "block does not link to the previous one";
  if (block.body.index <= head.index) return "raft index does not grow";
  return null;
}

/** True when a decodable record starts on any later line: damage in the middle, not a torn tail. */
function hasValidLineAfter(file: Buffer, offset: number): boolean {
  let start = file.indexOf(0x0a, offset);
  while (start >= 0 && start + 1 < file.length) {
    const end = file.indexOf(0x0a, start + 1);
    if (end < 0) return false;
    if (decodeRecordLine(file.toString("utf8", start + 1, end)).ok) return true;
    start = end;
  }
  return false;
}

function createChainFile(directory: string, path: string, genesis: GenesisRecord): void {
  writeFileAtomicSync(path, recordLine(genesis));
  fsyncDirectorySync(directory);
}
