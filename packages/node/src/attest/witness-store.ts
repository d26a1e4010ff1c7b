import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { WitnessState } from "@revoada/fabric-core/attest";
import { assert } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { StorageCorruptionError } from "../errors.js";
import { writeFileAtomicSync } from "../fs/durable.js";

/**
 * A witness's durable memory: the largest checkpoint it cosigned (docs/attestation.md,
 * "Witnesses"). It must be on disk before the cosignature leaves the node, so that a
 * restarted witness still refuses a fork; one save is one positioned write and one
 * fdatasync. The file holds two fixed slots written alternately, each
 *
 *   0  u32 LE  payload length n (1 <= n <= slotBytes - 16)
 *   4  u32 LE  CRC-32 of bytes 8 .. 16 + n
 *   8  u64 LE  save counter (as two u32 halves)
 *  16  ...     payload: the state as JSON
 *
 * so a write torn by a crash damages only the slot being written and the other slot still
 * holds the previous state. Opening takes the valid slot with the higher counter.
 */
export const witnessStateFileName = "witness.state";
const slotBytes = 512;
const headerBytes = 16;

const WitnessStateRecord = z.strictObject({
  origin: z.string().min(1).max(253),
  size: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  root: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
});

export class WitnessStore {
  private descriptor: number | null;
  private counter: number;
  private current: WitnessState | null;

  private constructor(readonly path: string) {
    if (!existsSync(path)) writeFileAtomicSync(path, Buffer.alloc(2 * slotBytes), { mode: 0o600 });
    this.descriptor = openSync(path, "r+");
    const slots = [0, 1].map((slot) => this.readSlot(slot));
    const newest = slots.reduce(
      (best, slot) => (slot !== null && (best === null || slot.counter > best.counter) ? slot : best),
      null,
    );
    this.counter = newest?.counter ?? 0;
    this.current = newest?.state ?? null;
  }

  static open(directory: string): WitnessStore {
    mkdirSync(directory, { recursive: true });
    return new WitnessStore(join(directory, witnessStateFileName));
  }

  get state(): WitnessState | null {
    return this.current;
  }

  /** Makes `state` durable (one write, one fdatasync); call before sending the cosignature. */
  save(state: WitnessState): void {
    assert(this.descriptor !== null, "the witness store is open");
    const payload = Buffer.from(JSON.stringify(WitnessStateRecord.parse(state)), "utf8");
    assert(payload.length + headerBytes <= slotBytes, "witness state fits a slot");
    const counter = this.counter + 1;
    const slot = Buffer.alloc(slotBytes);
    slot.writeUInt32LE(payload.length, 0);
    slot.writeUInt32LE(counter % 2 ** 32, 8);
    slot.writeUInt32LE(Math.floor(counter / 2 ** 32), 12);
    payload.copy(slot, headerBytes);
    slot.writeUInt32LE(crc32(slot.subarray(8, headerBytes + payload.length)), 4);
    writeSync(this.descriptor, slot, 0, slotBytes, (counter % 2) * slotBytes);
    fdatasyncSync(this.descriptor);
    this.counter = counter;
    this.current = state;
  }

  close(): void {
    if (this.descriptor !== null) closeSync(this.descriptor);
    this.descriptor = null;
  }

  private readSlot(slot: number): { counter: number; state: WitnessState } | null {
    assert(this.descriptor !== null, "the witness store is open");
    const bytes = Buffer.alloc(slotBytes);
    const read = readSync(this.descriptor, bytes, 0, slotBytes, slot * slotBytes);
    if (read < headerBytes) return null;
    const length = bytes.readUInt32LE(0);
    if (length === 0 || length > read - headerBytes) return null;
    if (crc32(bytes.subarray(8, headerBytes + length)) !== bytes.readUInt32LE(4)) return null;
    const counter = bytes.readUInt32LE(12) * 2 ** 32 + bytes.readUInt32LE(8);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8", headerBytes, headerBytes + length));
    } catch {
      throw new StorageCorruptionError(
        this.path,
        slot * slotBytes,
        "witness state with a valid checksum is not JSON",
      );
    }
    const parsed = WitnessStateRecord.safeParse(json);
    if (!parsed.success)
      throw new StorageCorruptionError(this.path, slot * slotBytes, "witness state does not validate");
    return { counter, state: parsed.data };
  }
}
