import { z } from "zod";
import { assert, type FabricIssue, failed, issuesFromZod, ok, type Result } from "../vocabulary/index.js";
import {
  BlockRecord,
  blockBodyLine,
  blockHashOf,
  canonicalLine,
  GenesisRecord,
  genesisHash,
  hex,
  isCanonicalBlockLine,
} from "./block.js";
import { fastDecodeBlockLine } from "./fast-decode.js";

/**
 * The chain export (and the node's durable chain file, byte for byte): UTF-8 JSON Lines,
 * each line the canonical JSON of one record. Line 1 is the genesis record; block records
 * follow in sequence; a checkpoint record may follow any block at or after its tree size.
 * A running node serves the same bytes (GET /v1/chain/export).
 */
export const CheckpointRecord = z.strictObject({
  kind: z.literal("checkpoint"),
  /** The whole signed note: checkpoint text, blank line, signature lines. */
  note: z
    .string()
    .min(1)
    .max(64 * 1024),
});
export type CheckpointRecord = z.infer<typeof CheckpointRecord>;

export const ChainRecord = z.discriminatedUnion("kind", [GenesisRecord, BlockRecord, CheckpointRecord]);
export type ChainRecord = z.infer<typeof ChainRecord>;

export interface ChainExport {
  readonly genesis: GenesisRecord;
  readonly blocks: readonly BlockRecord[];
  /** Checkpoint notes with the line they appeared on. */
  readonly checkpoints: readonly { readonly note: string; readonly afterBlocks: number }[];
}

export function recordLine(record: ChainRecord): string {
  return canonicalLine(record);
}

/** Writes an export: genesis, blocks, each checkpoint right after the block that completes its size. */
export function formatChainExport(
  genesis: GenesisRecord,
  blocks: readonly BlockRecord[],
  checkpoints: readonly { readonly size: number; readonly note: string }[],
): string {
  const ordered = [...checkpoints].sort((a, b) => a.size - b.size);
  const lines: string[] = [recordLine(genesis)];
  let next = 0;
  for (let count = 0; count <= blocks.length; count += 1) {
    while (next < ordered.length && ordered[next]!.size === count) {
      lines.push(recordLine({ kind: "checkpoint", note: ordered[next]!.note }));
      next += 1;
    }
    if (count < blocks.length) lines.push(recordLine(blocks[count]!));
  }
  assert(next === ordered.length, "every checkpoint is within the chain");
  return lines.join("");
}

/**
 * Writes an export in log order: genesis, then blocks, each checkpoint after the number of
 * blocks the chain held when it was recorded (`afterBlocks`), which is how a node's chain
 * file grows, so a chain rebuilt from a snapshot writes the same bytes as one that grew.
 */
export function formatChainLog(
  genesis: GenesisRecord,
  blocks: readonly BlockRecord[],
  checkpoints: readonly { readonly note: string; readonly afterBlocks: number }[],
): string {
  const lines: string[] = [recordLine(genesis)];
  let next = 0;
  for (let count = 0; count <= blocks.length; count += 1) {
    while (next < checkpoints.length && checkpoints[next]!.afterBlocks === count) {
      lines.push(recordLine({ kind: "checkpoint", note: checkpoints[next]!.note }));
      next += 1;
    }
    if (count < blocks.length) lines.push(recordLine(blocks[count]!));
  }
  assert(next === checkpoints.length, "checkpoints are in log order, within the chain");
  return lines.join("");
}

/** Parses an export's records (schemas only: no hashes or signatures are checked here). */
export function parseChainExport(text: string): Result<ChainExport> {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const blocks: BlockRecord[] = [];
  const checkpoints: { note: string; afterBlocks: number }[] = [];
  let genesis: GenesisRecord | undefined;
  for (const [i, line] of lines.entries()) {
    const record = parseRecordLine(line);
    if (!record.ok) return failed(record.issues.map((issue) => ({ ...issue, line: i + 1, column: 1 })));
    const value = record.value;
    if (i === 0 && value.kind !== "genesis") return failed([issueAt(i, "the first record is the genesis")]);
    if (i > 0 && value.kind === "genesis") return failed([issueAt(i, "only the first record is a genesis")]);
    if (value.kind === "genesis") genesis = value;
    else if (value.kind === "block") blocks.push(value);
    else checkpoints.push({ note: value.note, afterBlocks: blocks.length });
  }
  if (genesis === undefined) return failed([issueAt(0, "an export starts with a genesis record")]);
  return ok({ genesis, blocks, checkpoints });
}

export function parseRecordLine(line: string): Result<ChainRecord> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (error) {
    return failed([
      { code: "syntax", message: error instanceof Error ? error.message : "bad JSON", path: [] },
    ]);
  }
  const parsed = ChainRecord.safeParse(json);
  return parsed.success ? ok(parsed.data) : failed(issuesFromZod(parsed.error));
}

function issueAt(index: number, message: string): FabricIssue {
  return { code: "custom", message, path: [], line: index + 1, column: 1 };
}

export type DecodedLine =
  | { readonly ok: true; readonly record: ChainRecord; readonly bodyLine: string | null }
  | {
      readonly ok: false;
      readonly reason:
        | "malformed-record"
        | "non-canonical-encoding"
        | "block-hash-mismatch"
        | "genesis-hash-mismatch";
      readonly message: string;
    };

/**
 * Decodes one export line (without its newline) and checks what needs no context: the
 * schema, that the line is the record's canonical JSON, and that a block's or genesis's
 * hash is the hash of its content. Links, signatures and membership need the chain.
 */
export function decodeRecordLine(line: string): DecodedLine {
  const fast = fastDecodeBlockLine(line);
  if (fast !== undefined) {
    const hash = hex(blockHashOf(fast.bodyLine, fast.block.signature));
    if (hash !== fast.block.hash)
      return { ok: false, reason: "block-hash-mismatch", message: `computed ${hash}` };
    return { ok: true, record: fast.block, bodyLine: fast.bodyLine };
  }
  const parsed = parseRecordLine(line);
  if (!parsed.ok)
    return { ok: false, reason: "malformed-record", message: parsed.issues[0]?.message ?? "bad record" };
  const record = parsed.value;
  if (record.kind === "block") {
    const bodyLine = blockBodyLine(record.body);
    if (!isCanonicalBlockLine(line, bodyLine, record.hash, record.signature)) {
      return {
        ok: false,
        reason: "non-canonical-encoding",
        message: "the line is not the record's canonical JSON",
      };
    }
    const hash = hex(blockHashOf(bodyLine, record.signature));
    if (hash !== record.hash)
      return { ok: false, reason: "block-hash-mismatch", message: `computed ${hash}` };
    return { ok: true, record, bodyLine };
  }
  if (canonicalLine(record) !== `${line}\n`) {
    return {
      ok: false,
      reason: "non-canonical-encoding",
      message: "the line is not the record's canonical JSON",
    };
  }
  if (record.kind === "genesis") {
    const hash = genesisHash(record.body);
    if (hash !== record.hash)
      return { ok: false, reason: "genesis-hash-mismatch", message: `computed ${hash}` };
  }
  return { ok: true, record, bodyLine: null };
}
