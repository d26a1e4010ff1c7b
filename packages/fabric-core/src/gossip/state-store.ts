import { assert, NodeState } from "../vocabulary/index.js";
import { gossipLimits, type StateDelta, type StateRecord } from "./types.js";

/**
 * One member's versioned key-value state (scuttlebutt, as chitchat keeps it). Every write
 * of the owner bumps its version; each record carries the version it was written at and
 * the owner's ed25519 signature over (owner, generation, key, version, value), so a relay
 * cannot change a record, move it to another node or generation, or pass an old record off
 * as new. A delta carries every record newer than the receiver's version, in version order,
 * so the receiver's version is always "complete up to here".
 *
 * Deletions are tombstones (value null) kept for a grace period, then removed; a peer whose
 * version is below the highest removed tombstone gets the whole state (fromVersion 0).
 */

export interface StateVerifier {
  verify(id: string, message: Uint8Array, signature: Uint8Array): boolean;
}

const encoder = new TextEncoder();

export function stateRecordSigningBytes(
  id: string,
  generation: number,
  key: string,
  version: number,
  value: string | null,
): Uint8Array {
  const body = value === null ? "t\n" : `v\n${value}`;
  return encoder.encode(`revoada-gossip-state/v1\n${id}\n${generation}\n${key}\n${version}\n${body}`);
}

export function recordBytes(record: StateRecord): number {
  return record.key.length + (record.value?.length ?? 0) + record.signature.length + 32;
}

export type ApplyOutcome =
  | { readonly type: "applied"; readonly keys: readonly string[] }
  | { readonly type: "stale" }
  | { readonly type: "gap" }
  | { readonly type: "bad-signature" }
  | { readonly type: "malformed" }
  | { readonly type: "over-limit" };

interface StoredRecord {
  readonly record: StateRecord;
  /** When a tombstone was stored (tombstones only), on this node's clock. */
  readonly deletedAtMs: number;
}

export class MemberState {
  /** Invariant: every record's version <= version; version is 0 iff there are no records. */
  version = 0;
  /** Highest version of a removed tombstone; peers below it need the whole state. */
  private gcVersion = 0;
  private readonly records = new Map<string, StoredRecord>();
  private bytes = 0;
  /** The parsed "node" key, when it is a valid NodeState of this member. */
  nodeState: NodeState | null = null;

  constructor(
    readonly id: string,
    readonly generation: number,
  ) {}

  keyCount(): number {
    return this.records.size;
  }

  /** Live keys and values (tombstones excluded). */
  entries(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, stored] of this.records) {
      if (stored.record.value !== null) result[key] = stored.record.value;
    }
    return result;
  }

  /** The owner writes: the next version, signed. Returns null when a limit would be broken. */
  write(
    key: string,
    value: string | null,
    sign: (message: Uint8Array) => Uint8Array,
    nowMs: number,
  ): StateRecord | null {
    const version = this.version + 1;
    const signature = Buffer.from(
      sign(stateRecordSigningBytes(this.id, this.generation, key, version, value)),
    ).toString("base64");
    const record: StateRecord = { key, version, value, signature };
    if (!this.fits([record])) return null;
    this.store(record, nowMs);
    assert(this.version === version, "write did not advance the version");
    return record;
  }

  /** Every record with version > fromVersion, ascending, at most `bytesMax` of them. */
  deltaSince(fromVersion: number, bytesMax: number): StateDelta {
    assert(fromVersion >= 0, "negative version");
    const from = fromVersion < this.gcVersion ? 0 : fromVersion;
    const newer = [...this.records.values()]
      .map((stored) => stored.record)
      .filter((record) => record.version > from)
      .sort((a, b) => a.version - b.version);
    const records: StateRecord[] = [];
    let bytes = 0;
    for (const record of newer) {
      if (records.length >= gossipLimits.recordsPerDeltaMax) break;
      bytes += recordBytes(record);
      // A full state (from 0) is never cut: the receiver replaces its copy with it.
      if (from > 0 && records.length > 0 && bytes > bytesMax) break;
      records.push(record);
    }
    const toVersion = records.length === 0 ? from : records[records.length - 1]!.version;
    return { id: this.id, generation: this.generation, fromVersion: from, toVersion, records };
  }

  /**
   * Applies a delta of the same generation (a newer generation replaces the whole
   * MemberState, which the caller does). Verifies every new record before changing anything.
   */
  apply(delta: StateDelta, verifier: StateVerifier, nowMs: number): ApplyOutcome {
    assert(delta.id === this.id, "delta of another member");
    if (delta.generation !== this.generation) return { type: "stale" };
    const shape = checkDeltaShape(delta);
    if (!shape) return { type: "malformed" };
    if (delta.toVersion <= this.version) return { type: "stale" };
    if (delta.fromVersion > this.version) return { type: "gap" };
    const fresh = delta.records.filter((record) => record.version > this.version);
    for (const record of fresh) {
      const message = stateRecordSigningBytes(
        this.id,
        this.generation,
        record.key,
        record.version,
        record.value,
      );
      if (!verifier.verify(this.id, message, Buffer.from(record.signature, "base64"))) {
        return { type: "bad-signature" };
      }
    }
    if (delta.fromVersion === 0) {
      // The whole state: keys missing from it were tombstones the owner has removed.
      const kept = new Set(delta.records.map((record) => record.key));
      for (const key of [...this.records.keys()]) if (!kept.has(key)) this.remove(key);
    }
    if (!this.fits(fresh)) return { type: "over-limit" };
    for (const record of fresh) this.store(record, nowMs);
    this.version = Math.max(this.version, delta.toVersion);
    assert(this.version === delta.toVersion, "apply did not reach the delta's version");
    return { type: "applied", keys: fresh.map((record) => record.key) };
  }

  /** Removes tombstones older than the grace, never the newest record (it carries the version). */
  collectTombstones(nowMs: number, graceMs: number): number {
    let removed = 0;
    for (const [key, stored] of [...this.records]) {
      if (stored.record.value !== null) continue;
      if (stored.record.version === this.version) continue;
      if (nowMs - stored.deletedAtMs < graceMs) continue;
      this.gcVersion = Math.max(this.gcVersion, stored.record.version);
      this.remove(key);
      removed += 1;
    }
    assert(this.gcVersion <= this.version, "removed a tombstone above the version");
    return removed;
  }

  private fits(incoming: readonly StateRecord[]): boolean {
    let bytes = this.bytes;
    let keys = this.records.size;
    for (const record of incoming) {
      const existing = this.records.get(record.key);
      if (existing === undefined) keys += 1;
      else bytes -= recordBytes(existing.record);
      bytes += recordBytes(record);
    }
    return bytes <= gossipLimits.stateBytesPerNodeMax && keys <= gossipLimits.keysPerNodeMax;
  }

  private store(record: StateRecord, nowMs: number): void {
    const existing = this.records.get(record.key);
    if (existing !== undefined) this.bytes -= recordBytes(existing.record);
    this.records.set(record.key, { record, deletedAtMs: record.value === null ? nowMs : 0 });
    this.bytes += recordBytes(record);
    this.version = Math.max(this.version, record.version);
    if (record.key === "node") this.nodeState = parseNodeState(this.id, record.value);
  }

  private remove(key: string): void {
    const existing = this.records.get(key);
    if (existing === undefined) return;
    this.bytes -= recordBytes(existing.record);
    this.records.delete(key);
    if (key === "node") this.nodeState = null;
  }
}

/** Versions strictly ascending inside (fromVersion, toVersion], keys distinct. */
function checkDeltaShape(delta: StateDelta): boolean {
  if (delta.toVersion < delta.fromVersion) return false;
  const keys = new Set<string>();
  let previous = delta.fromVersion;
  for (const record of delta.records) {
    if (record.version <= previous || record.version > delta.toVersion) return false;
    if (keys.has(record.key)) return false;
    keys.add(record.key);
    previous = record.version;
  }
  return delta.records.length === 0 ? delta.toVersion === delta.fromVersion : previous === delta.toVersion;
}

function parseNodeState(id: string, value: string | null): NodeState | null {
  if (value === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return null;
  }
  const parsed = NodeState.safeParse(json);
  if (!parsed.success || parsed.data.id !== id) return null;
  return parsed.data;
}
