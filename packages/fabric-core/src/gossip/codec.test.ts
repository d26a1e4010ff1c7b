/**
 * Goal: the decoder never trusts its input: oversized bytes are refused before parsing,
 * invalid UTF-8, invalid JSON, unknown fields, wrong types and over-long arrays come back as
 * "malformed", and a valid message round-trips.
 * Method: encode real messages, then damage them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { limits } from "../vocabulary/limits.js";
import { bareProbe, decodeMessage, encodeMessage, utf8Length } from "./codec.js";
import { GossipMessage } from "./types.js";

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

  it("checks bare probes by hand as the schema does: accepts only what it accepts, as the same value", () => {
    // Valid probes, and probes with one field swapped for an odd value, removed or added.
    const memberId = fc.oneof(fc.constant(id), fc.stringMatching(/^[0-9a-f]{64}$/));
    const probe = fc.record({
      type: fc.constantFrom("ping", "ack", "nack", "push", "pingRequest"),
      from: memberId,
      address: fc.string({ minLength: 1, maxLength: 300 }),
      seq: fc.nat(),
      target: memberId,
      updates: fc.constant([] as unknown[]),
    });
    const odd = fc.constantFrom<unknown>(
      -1,
      1.5,
      -0,
      Number.NaN,
      2 ** 53,
      "",
      "x".repeat(301),
      "A".repeat(64),
      null,
      [],
      [{ kind: "left", id, generation: 0, incarnation: 0 }],
      {},
      true,
    );
    const key = fc.constantFrom("type", "from", "address", "seq", "target", "updates", "extra");
    const mutation = fc.oneof(
      fc.constant({ kind: "none" as const }),
      fc.record({ kind: fc.constant("set" as const), key, value: odd }),
      fc.record({ kind: fc.constant("drop" as const), key }),
    );
    fc.assert(
      fc.property(probe, mutation, (base, change) => {
        const candidate: Record<string, unknown> = structuredClone(base);
        if (candidate.type === "nack") delete candidate.updates;
        if (change.kind === "set") candidate[change.key] = change.value;
        if (change.kind === "drop") delete candidate[change.key];
        const json = JSON.parse(JSON.stringify(candidate)) as unknown;
        const fast = bareProbe(json);
        const schema = GossipMessage.safeParse(json);
        if (fast !== null) {
          assert.ok(schema.success, `accepted by hand, refused by the schema: ${JSON.stringify(json)}`);
          assert.deepEqual(fast, schema.data);
        }
        if (change.kind === "none" && candidate.type !== "push" && candidate.type !== "pingRequest")
          assert.notEqual(fast, null, "a valid bare probe goes the hand-checked way");
      }),
      { seed: 17, numRuns: 2_000 },
    );
  });

  it("measures UTF-8 without encoding", () => {
    for (const sample of ["", "abc", "é", "€", "😀", "a😀é€"]) {
      assert.equal(utf8Length(sample), new TextEncoder().encode(sample).length);
    }
  });
});
