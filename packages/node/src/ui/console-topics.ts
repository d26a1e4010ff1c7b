import {
  parseChainExport,
  parseCheckpointText,
  parseSignedNote,
  verifyChain,
} from "@revoada/fabric-core/attest";
import { DecisionRecord } from "@revoada/fabric-core/policy";
import { FabricState } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { MeshMember, NodeStatusReply } from "../api/schemas.js";

/**
 * What the web console shows, as topics the node pushes over `/v1/events`: each topic is
 * one named server-sent event whose data is the JSON of its schema here. The console reads
 * the same shapes the API serves (`NodeStatusReply`, `MeshMember`, `FabricState`,
 * `DecisionRecord`); the chain topic adds the verification the node ran on its own export.
 */

/** The node serving the page. */
export const ServingTopic = z.object({ id: z.string(), name: z.string(), api: z.string() });

/** One row per known node: its own `/v1/status` (without uptime), or why it did not answer. */
export const RaftRow = z.object({
  id: z.string(),
  name: z.string(),
  api: z.string(),
  reachable: z.boolean(),
  status: NodeStatusReply.omit({ uptime_ms: true }).nullable(),
});
export type RaftRow = z.infer<typeof RaftRow>;
export const RaftTopic = z.array(RaftRow);

export const MeshTopic = z.array(MeshMember);

export const StateTopic = FabricState;

/**
 * Decisions from the leader's policy rounds: the records that acted or refused (newest last),
 * and the latest round's `noted` records, which say why nothing else happens.
 */
export const DecisionsTopic = z.object({
  source: z.string(),
  /** `repeats`: rounds in a row that made the same record (shown once, with the latest time). */
  acted: z.array(z.object({ at_ms: z.number(), record: DecisionRecord, repeats: z.number() })),
  latest_round: z.array(DecisionRecord),
});
export type DecisionsTopic = z.infer<typeof DecisionsTopic>;

export const ShiftRow = z.object({
  sequence: z.number(),
  term: z.number(),
  index: z.number(),
  committed_at_ms: z.number(),
  proposer: z.string(),
  origin: z.enum(["policy", "operator"]),
  force: z.boolean(),
  command: z.string(),
  node: z.string(),
  roles: z.array(z.string()),
  hash: z.string(),
  signed: z.boolean(),
});
export type ShiftRow = z.infer<typeof ShiftRow>;

export const CheckpointRow = z.object({
  size: z.number(),
  after_blocks: z.number(),
  origin: z.string(),
  signatures: z.number(),
});

export const ChainTopic = z.object({
  height: z.number(),
  verified: z.boolean(),
  /** `ok` or the first problem the verifier found (reason, line, message). */
  verdict: z.string(),
  sealed_size: z.number(),
  genesis_hash: z.string(),
  head_hash: z.string(),
  shifts: z.array(ShiftRow),
  checkpoints: z.array(CheckpointRow),
});
export type ChainTopic = z.infer<typeof ChainTopic>;

export const BlobsTopic = z.array(
  z.object({ hash: z.string(), size: z.number(), workloads: z.array(z.string()) }),
);

export const consoleTopics = {
  serving: ServingTopic,
  raft: RaftTopic,
  mesh: MeshTopic,
  state: StateTopic,
  decisions: DecisionsTopic,
  chain: ChainTopic,
  blobs: BlobsTopic,
} as const;
export type ConsoleTopicName = keyof typeof consoleTopics;
export type ConsoleTopics = { [K in ConsoleTopicName]: z.input<(typeof consoleTopics)[K]> };

/** Shifts shown in the history: the newest blocks, newest last. */
export const shiftRowsMax = 200;
/** Decision records pushed: the newest, newest last. */
export const decisionRowsMax = 100;

/** Reads and verifies a chain export (`checkpoints` mode, as `revoada chain verify` does by default). */
export function chainTopic(text: string): ChainTopic {
  if (text.length === 0) {
    return {
      height: 0,
      verified: false,
      verdict: "no chain yet",
      sealed_size: 0,
      genesis_hash: "",
      head_hash: "",
      shifts: [],
      checkpoints: [],
    };
  }
  const report = verifyChain(text);
  const parsed = parseChainExport(text);
  const blocks = parsed.ok ? parsed.value.blocks : [];
  const checkpoints = parsed.ok ? parsed.value.checkpoints : [];
  return {
    height: blocks.length,
    verified: report.ok,
    verdict: report.ok
      ? "ok"
      : `${report.failure.reason} at line ${report.failure.line}: ${report.failure.message}`,
    sealed_size: report.ok ? report.summary.sealedSize : 0,
    genesis_hash: report.ok ? report.summary.genesisHash : "",
    head_hash: report.ok ? report.summary.headHash : (blocks.at(-1)?.hash ?? ""),
    shifts: blocks.slice(-shiftRowsMax).map((block) => ({
      sequence: block.body.sequence,
      term: block.body.term,
      index: block.body.index,
      committed_at_ms: block.body.committed_at_ms,
      proposer: block.body.proposer,
      origin: block.body.origin,
      force: block.body.force,
      command: block.body.command.type,
      node: block.body.command.type === "strategy" ? block.body.command.name : block.body.command.node,
      roles: "roles" in block.body.command ? [...block.body.command.roles] : [],
      hash: block.hash,
      signed: block.signature !== null,
    })),
    checkpoints: checkpoints.map((checkpoint) => checkpointRow(checkpoint.note, checkpoint.afterBlocks)),
  };
}

function checkpointRow(note: string, afterBlocks: number): z.input<typeof CheckpointRow> {
  const signed = parseSignedNote(note);
  const text = signed.ok ? parseCheckpointText(signed.note.text) : undefined;
  return {
    size: text?.size ?? 0,
    after_blocks: afterBlocks,
    origin: text?.origin ?? "",
    signatures: signed.ok ? signed.note.signatures.length : 0,
  };
}

/** Which workloads name each blob as a config blob, so the content view says what a blob is for. */
export function blobRows(
  blobs: readonly { hash: string; size: number }[],
  state: FabricState,
): z.input<typeof BlobsTopic> {
  const users = new Map<string, string[]>();
  for (const [key, workload] of Object.entries(state.workloads)) {
    for (const blob of workload.config_blobs) {
      users.set(blob.hash, [...(users.get(blob.hash) ?? []), key]);
    }
  }
  return [...blobs]
    .sort((a, b) => a.hash.localeCompare(b.hash))
    .map((blob) => ({ hash: blob.hash, size: blob.size, workloads: users.get(blob.hash) ?? [] }));
}

/** Splits decision records into those that acted or refused and the latest round's notes. */
export function decisionsTopic(
  source: string,
  decisions: readonly { at_ms: number; record: DecisionRecord }[],
): DecisionsTopic {
  const acted: DecisionsTopic["acted"] = [];
  for (const entry of decisions) {
    if (entry.record.outcome === "noted") continue;
    const previous = acted.at(-1);
    if (previous !== undefined && sameRecord(previous.record, entry.record)) {
      acted[acted.length - 1] = { ...entry, repeats: previous.repeats + 1 };
    } else {
      acted.push({ ...entry, repeats: 1 });
    }
  }
  const lastAt = decisions.at(-1)?.at_ms;
  const latest = decisions.filter((entry) => entry.record.outcome === "noted" && entry.at_ms === lastAt);
  return { source, acted: acted.slice(-decisionRowsMax), latest_round: latest.map((entry) => entry.record) };
}

function sameRecord(left: DecisionRecord, right: DecisionRecord): boolean {
  return (
    left.outcome === right.outcome &&
    left.rule === right.rule &&
    left.subject === right.subject &&
    left.message === right.message
  );
}
