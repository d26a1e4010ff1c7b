/**
 * Goal: the decoder never trusts its input: oversized bytes are refused before parsing,
 * invalid UTF-8, invalid JSON, unknown fields, wrong types and over-long arrays come back as
 * "malformed", and a valid message round-trips.
 * Method: encode real messages, then damage them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { limits } from "../vocabulary/limits.js";
import { decodeMessage, encodeMessage, utf8Length } from "./codec.js";
import type { GossipMessage } from "./types.js";

const id = "a".repeat(64);
const ping: GossipMessage = {
  type: "ping",
  from: id,
  address: "127.0.0.1:1",
  seq: 1,
  target: "b".repeat(64),
  updates: [],
};
const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("gossip codec", () => {
  it("round-trips a message", () => {
    assert.deepEqual(decodeMessage(encodeMessage(ping), 1_400), { ok: true, message: ping });
  });

  it("refuses oversized input before parsing it", () => {
    assert.deepEqual(decodeMessage(new Uint8Array(2_000), 1_400), { ok: false, reason: "oversized" });
  });

  it("calls everything else malformed", () => {
    const cases: Uint8Array[] = [
      new Uint8Array([0xff, 0xfe, 0xfd]),
      new TextEncoder().encode("{not json"),
      text({ ...ping, extra: 1 }),
      text({ ...ping, seq: -1 }),
      text({ ...ping, from: "short" }),
      text({ ...ping, type: "nope" }),
      text({
        ...ping,
        updates: Array.from({ length: limits.piggybackUpdatesMax + 1 }, () => ({
          kind: "left",
          id,
          generation: 0,
          incarnation: 0,
        })),
      }),
      text(null),
      text([]),
    ];
    for (const bytes of cases)
      assert.deepEqual(decodeMessage(bytes, 100_000), { ok: false, reason: "malformed" });
  });

  it("measures UTF-8 without encoding", () => {
    for (const sample of ["", "abc", "é", "€", "😀", "a😀é€"]) {
      assert.equal(utf8Length(sample), new TextEncoder().encode(sample).length);
    }
  });
});
