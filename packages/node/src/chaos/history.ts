import { appendFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { parseSourceText, type Result } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * A chaos campaign's history, Jepsen style: one JSON object per line, in the order the events
 * happened. A client operation is an `invoke` followed by its completion by the same process:
 * `ok` (it happened), `fail` (it certainly did not) or `info` (unknown: it may have happened,
 * at any time after its invoke, or never). The nemesis records its faults as `info` events of
 * process "nemesis". `time_ns` is monotonic (process.hrtime) from the campaign's start.
 */
export const HistoryFunction = z.enum([
  // client operations
  "apply",
  "delete",
  "read",
  "add",
  "shift",
  // nemesis
  "fault-start",
  "fault-stop",
  "heal-all",
]);
export type HistoryFunction = z.infer<typeof HistoryFunction>;

export const HistoryEvent = z.strictObject({
  process: z.union([z.int().min(0).max(1000), z.literal("nemesis")]),
  type: z.enum(["invoke", "ok", "fail", "info"]),
  f: HistoryFunction,
  /**
   * apply: {key, value}; delete: {key}; add: {key, value}; shift: {action, node};
   * read (completion): {values: key -> value or null}; nemesis: the fault.
   */
  value: z.record(z.string(), z.unknown()),
  time_ns: z.int().min(0),
  /** The node the request went to. */
  node: z.string().max(64).optional(),
  /** What the reply (or its absence) was, for people reading the history. */
  error: z.string().max(2000).optional(),
  /** ok writes: the Raft position the leader committed them at. */
  index: z.int().min(0).optional(),
  term: z.int().min(0).optional(),
});
export type HistoryEvent = z.infer<typeof HistoryEvent>;

/** Appends events to a JSON-lines file as they happen (synchronously: a crash keeps all but the last). */
export class HistoryWriter {
  private readonly started = process.hrtime.bigint();
  readonly events: HistoryEvent[] = [];

  constructor(readonly path: string) {}

  nowNs(): number {
    return Number(process.hrtime.bigint() - this.started);
  }

  record(event: Omit<HistoryEvent, "time_ns">): HistoryEvent {
    const full = HistoryEvent.parse({ ...event, time_ns: this.nowNs() });
    this.events.push(full);
    appendFileSync(this.path, `${JSON.stringify(full)}\n`);
    return full;
  }
}

/** Reads a history file; every line must validate (the issue names the line). */
export async function readHistory(path: string): Promise<Result<HistoryEvent[]>> {
  const text = await readFile(path, "utf8");
  const events: HistoryEvent[] = [];
  const lines = text.split("\n").filter((line) => line.length > 0);
  for (const [index, line] of lines.entries()) {
    const parsed = parseSourceText(HistoryEvent, line, `${path}:${index + 1}`);
    if (!parsed.ok) return parsed;
    events.push(parsed.value);
  }
  return { ok: true, value: events };
}
