import { open, unlink } from "node:fs/promises";
import { HashHex } from "@revoada/fabric-core/attest";
import { CommitStamp } from "@revoada/fabric-core/fabric";
import { ConfState } from "@revoada/fabric-core/raft";
import { z } from "zod";
import { writeFileAtomic } from "../fs/durable.js";
import { recordBodyBytesMax } from "../storage/record.js";

/**
 * A relay follower's applied machine on disk (docs/scale.md, "A restarted follower resumes
 * from its own state"): a log holder restarts from its Raft log, a follower from this file,
 * so after a mass restart it renders its last known state at once and asks its source only
 * for the entries after it, not for a whole-machine snapshot.
 *
 * Format: one JSON header line (`RelayStateHeader`), then the machine's `snapshot()` bytes.
 * The header's commit stamp covers the machine and its configuration (`stateDigest`), so the
 * stamp check when the file is read is also its integrity check. Written with
 * `writeFileAtomic`: a crash leaves the old file or the new one.
 */
export const relayStateFileName = "relay-state";

/** The header line is small (a configuration and a stamp); anything longer is not one. */
const headerBytesMax = 256 * 1024;
/** The machine is bounded as a Raft snapshot is (one storage record). */
const machineBytesMax = recordBodyBytesMax;
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
});
export type RelayStateHeader = z.infer<typeof RelayStateHeader>;

export interface StoredRelayState {
  readonly header: RelayStateHeader;
  /** The machine's `snapshot()` bytes at `header.index`. */
  readonly machine: Uint8Array;
}

export type RelayStateRead =
  | { readonly type: "none" }
  | { readonly type: "read"; readonly state: StoredRelayState }
  | { readonly type: "refused"; readonly reason: string };

export function encodeRelayState(state: StoredRelayState): Uint8Array {
  const header = Buffer.from(`${JSON.stringify(RelayStateHeader.parse(state.header))}\n`, "utf8");
  return Buffer.concat([header, state.machine]);
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
  const machine = bytes.subarray(end + 1);
  if (machine.length !== header.data.machine_bytes)
    return {
      type: "refused",
      reason: `machine is ${machine.length} bytes, the header says ${header.data.machine_bytes}`,
    };
  if (header.data.stamp.index !== header.data.index)
    return {
      type: "refused",
      reason: `stamp at ${header.data.stamp.index}, machine at ${header.data.index}`,
    };
  return { type: "read", state: { header: header.data, machine } };
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
      const bytesMax = headerBytesMax + 1 + machineBytesMax;
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

  async write(state: StoredRelayState): Promise<void> {
    await writeFileAtomic(this.path, encodeRelayState(state), { mode: 0o600 });
  }

  /** Removes the file (a log holder's Raft log wins); no file is fine. */
  async remove(): Promise<void> {
    await unlink(this.path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
  }
}
