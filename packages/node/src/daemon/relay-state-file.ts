import { open, unlink } from "node:fs/promises";
import { HashHex } from "@revoada/fabric-core/attest";
import { CommitStamp } from "@revoada/fabric-core/fabric";
import { ConfState, type Entry, EntryKind } from "@revoada/fabric-core/raft";
import { limits } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { writeFileAtomic } from "../fs/durable.js";
import { recordBodyBytesMax } from "../storage/record.js";

/**
 * A relay follower's applied machine on disk (docs/scale.md, "A restarted follower resumes
 * from its own state"): a log holder restarts from its Raft log, a follower from this file,
 * so after a mass restart it renders its last known state at once and asks its source only
 * for the entries after it, not for a whole-machine snapshot.
 *
 * Format: one JSON header line (`RelayStateHeader`), then the machine's `snapshot()` bytes,
 * then the relay window (the entries applied last, up to the machine's index) as one JSON
 * array: restored into the relay core, it lets this node answer its own children, restarted
 * a little behind it, with entries rather than a snapshot.
 * The header's commit stamp covers the machine and its configuration (`stateDigest`), so the
 * stamp check when the file is read is also its integrity check. Written with
 * `writeFileAtomic`: a crash leaves the old file or the new one.
 */
export const relayStateFileName = "relay-state";

/** The header line is small (a configuration and a stamp); anything longer is not one. */
const headerBytesMax = 256 * 1024;
/** The machine is bounded as a Raft snapshot is (one storage record). */
const machineBytesMax = recordBodyBytesMax;
/** The window's bytes at most (the writer keeps the newest entries that fit). */
export const relayWindowBytesMax = 4 * 1024 * 1024;
/** Entries the window holds at most (the relay core's default window is 512). */
const windowEntriesMax = 4096;
const newline = 0x0a;

const uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const RelayStateHeader = z.strictObject({
  v: z.literal(1),
  /** The machine's origin option (`revoada.local/<strategy>`): another cluster's file is refused. */
  origin: z.string().min(1).max(1024),
  /** The attestation genesis of the stored machine (null: it holds no chain). */
  genesis: HashHex.nullable(),
  index: uint.min(1),
  conf: ConfState,
  /** The commit stamp the machine was accepted under, at `index`. */
  stamp: CommitStamp,
  machine_bytes: z.int().min(1).max(machineBytesMax),
  /** The window section's bytes (0: no window). */
  window_bytes: z.int().min(0).max(relayWindowBytesMax),
});
export type RelayStateHeader = z.infer<typeof RelayStateHeader>;

const StoredEntry = z.strictObject({
  term: uint,
  index: uint.min(1),
  kind: EntryKind,
  /** The entry's bytes, base64. */
  data: z.base64().max(Math.ceil((limits.frameBytesMax * 4) / 3) + 4),
});
const StoredWindow = z.array(StoredEntry).max(windowEntriesMax);

export interface StoredRelayState {
  readonly header: RelayStateHeader;
  /** The machine's `snapshot()` bytes at `header.index`. */
  readonly machine: Uint8Array;
  /** The relay window: consecutive entries ending at `header.index` (may be empty). */
  readonly window: readonly Entry[];
}

/** The window section of `entries`: the newest ones whose encoding fits `relayWindowBytesMax`. */
export function encodeRelayWindow(entries: readonly Entry[]): Uint8Array {
  const kept: z.infer<typeof StoredEntry>[] = [];
  let bytes = 2;
  for (let at = entries.length - 1; at >= 0 && kept.length < windowEntriesMax; at -= 1) {
    const entry = entries[at]!;
    const stored = {
      term: entry.term,
      index: entry.index,
      kind: entry.kind,
      data: Buffer.from(entry.data).toString("base64"),
    };
    bytes += JSON.stringify(stored).length + 1;
    if (bytes > relayWindowBytesMax) break;
    kept.push(stored);
  }
  return kept.length === 0 ? new Uint8Array(0) : Buffer.from(JSON.stringify(kept.reverse()), "utf8");
}

export type RelayStateRead =
  | { readonly type: "none" }
  | { readonly type: "read"; readonly state: StoredRelayState }
  | { readonly type: "refused"; readonly reason: string };

/** The file's bytes; `window` is `encodeRelayWindow`'s section, counted in the header. */
export function encodeRelayState(
  header: Omit<RelayStateHeader, "machine_bytes" | "window_bytes">,
  machine: Uint8Array,
  window: Uint8Array,
): Uint8Array {
  const full = RelayStateHeader.parse({
    ...header,
    machine_bytes: machine.length,
    window_bytes: window.length,
  });
  return Buffer.concat([Buffer.from(`${JSON.stringify(full)}\n`, "utf8"), machine, window]);
}

/** Decodes a whole file; every part is bounded and checked against the header. */
export function decodeRelayState(bytes: Uint8Array): RelayStateRead {
  const end = Buffer.from(bytes.subarray(0, headerBytesMax + 1)).indexOf(newline);
  if (end < 0) return { type: "refused", reason: "no header line" };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end)));
  } catch (error) {
    return { type: "refused", reason: `header is not JSON: ${error instanceof Error ? error.message : ""}` };
  }
  const header = RelayStateHeader.safeParse(json);
  if (!header.success)
    return { type: "refused", reason: `header: ${header.error.issues[0]?.message ?? "invalid"}` };
  const body = bytes.subarray(end + 1);
  const { machine_bytes: machineBytes, window_bytes: windowBytes, index } = header.data;
  if (body.length !== machineBytes + windowBytes)
    return {
      type: "refused",
      reason: `${body.length} bytes after the header, the header says ${machineBytes} + ${windowBytes}`,
    };
  if (header.data.stamp.index !== index)
    return { type: "refused", reason: `stamp at ${header.data.stamp.index}, machine at ${index}` };
  const window = decodeWindow(body.subarray(machineBytes), index);
  if (typeof window === "string") return { type: "refused", reason: `window: ${window}` };
  return { type: "read", state: { header: header.data, machine: body.subarray(0, machineBytes), window } };
}

/** The window section: consecutive entries ending at `index`; the reason when it is not. */
function decodeWindow(bytes: Uint8Array, index: number): Entry[] | string {
  if (bytes.length === 0) return [];
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "not JSON";
  }
  const parsed = StoredWindow.safeParse(json);
  if (!parsed.success) return parsed.error.issues[0]?.message ?? "invalid";
  const entries = parsed.data.map((entry) => ({
    term: entry.term,
    index: entry.index,
    kind: entry.kind,
    data: new Uint8Array(Buffer.from(entry.data, "base64")),
  }));
  for (const [at, entry] of entries.entries())
    if (entry.index !== index - (entries.length - 1 - at)) return `entry ${at} is not at its index`;
  return entries;
}

export class RelayStateFile {
  constructor(readonly path: string) {}

  /** The stored state; `none` when there is no file; never throws for what the file holds. */
  async read(): Promise<RelayStateRead> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { type: "none" };
      return { type: "refused", reason: `cannot open: ${(error as Error).message}` };
    }
    try {
      const stats = await handle.stat();
      const bytesMax = headerBytesMax + 1 + machineBytesMax + relayWindowBytesMax;
      if (!stats.isFile()) return { type: "refused", reason: "not a regular file" };
      if (stats.size > bytesMax) return { type: "refused", reason: `${stats.size} bytes, over ${bytesMax}` };
      const bytes = Buffer.alloc(stats.size);
      const { bytesRead } = await handle.read(bytes, 0, stats.size, 0);
      return decodeRelayState(bytes.subarray(0, bytesRead));
    } catch (error) {
      return { type: "refused", reason: `cannot read: ${(error as Error).message}` };
    } finally {
      await handle.close();
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(this.path, bytes, { mode: 0o600 });
  }

  /** Removes the file (a log holder's Raft log wins); no file is fine. */
  async remove(): Promise<void> {
    await unlink(this.path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
  }
}
