/**
 * Goal: the byte encodings the drivers use round-trip exactly and refuse bad input with
 * issues instead of throwing (a bad frame is dropped with a log line, never a crash).
 * Method: encode/decode every message shape; feed truncated, non-JSON and wrong-shape bytes.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import fc from "fast-check";
import { replicationMessage } from "./codec.js";
import {
  decodeConfChange,
  decodeEntry,
  decodeRaftMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeEntry,
  encodeRaftMessage,
  encodeSnapshot,
  RaftMessage,
} from "./index.js";

const data = new Uint8Array([0, 1, 2, 250, 255]);
const conf = { voters: ["a", "b"], votersOutgoing: [], learners: ["c"], learnersNext: [] };
const messages: RaftMessage[] = [
  {
    type: "requestVote",
    from: "a",
    to: "b",
    term: 3,
    preVote: true,
    lastLogIndex: 9,
    lastLogTerm: 2,
    transfer: false,
  },
  { type: "voteResponse", from: "b", to: "a", term: 3, preVote: false, granted: true },
  {
    type: "append",
    from: "a",
    to: "b",
    term: 3,
    prevLogIndex: 4,
    prevLogTerm: 2,
    commit: 4,
    entries: [{ index: 5, term: 3, kind: "normal", data }],
  },
  {
    type: "appendResponse",
    from: "b",
    to: "a",
    term: 3,
    success: false,
    index: 4,
    hintIndex: 2,
    hintTerm: 1,
  },
  { type: "heartbeat", from: "a", to: "b", term: 3, commit: 4, readRound: 7 },
  { type: "heartbeatResponse", from: "b", to: "a", term: 3, readRound: 7, lastIndex: 5 },
  {
    type: "snapshotChunk",
    from: "a",
    to: "b",
    term: 3,
    metadata: { index: 9, term: 2, conf },
    offset: 0,
    totalBytes: 5,
    chunk: data,
  },
  { type: "snapshotResponse", from: "b", to: "a", term: 3, snapshotIndex: 9, nextOffset: 5, done: true },
  { type: "timeoutNow", from: "a", to: "b", term: 3 },
];

test("every message shape round-trips, bytes included", () => {
  for (const message of messages) {
    const decoded = decodeRaftMessage(encodeRaftMessage(message));
    assertStrict.ok(decoded.ok, `${message.type} decodes`);
    assertStrict.deepEqual(decoded.value, message);
  }
});

test("the generations and the rolled-back flag a message carries round-trip", () => {
  const generations = {
    generation: { count: 4, nonce: 0xffff_fffe },
    recipientGeneration: { count: 9, nonce: 1 },
  };
  for (const message of messages) {
    const stamped = { ...message, ...generations } as RaftMessage;
    if (stamped.type === "append" || stamped.type === "heartbeat") stamped.rolledBack = true;
    const decoded = decodeRaftMessage(encodeRaftMessage(stamped));
    assertStrict.ok(decoded.ok, `${message.type} with generations decodes`);
    assertStrict.deepEqual(decoded.value, stamped);
  }
});

test("entries, snapshots and conf changes round-trip", () => {
  const entry = { index: 1, term: 1, kind: "conf-change" as const, data };
  assertStrict.deepEqual(decodeEntry(encodeEntry(entry)), { ok: true, value: entry });
  const snapshot = { metadata: { index: 9, term: 2, conf }, data };
  assertStrict.deepEqual(decodeSnapshot(encodeSnapshot(snapshot)), { ok: true, value: snapshot });
  const change = { changes: [{ type: "add-voter" as const, node: "d" }] };
  assertStrict.deepEqual(decodeConfChange(encodeConfChange(change)), { ok: true, value: change });
});

test("bad frames are refused with issues, never thrown", () => {
  const good = encodeRaftMessage(messages[2]!);
  const truncated = decodeRaftMessage(good.subarray(0, good.length - 3));
  assertStrict.equal(truncated.ok, false);
  assertStrict.equal(decodeRaftMessage(new Uint8Array([0xff, 0xfe])).ok, false, "not UTF-8");
  const wrongShape = decodeRaftMessage(new TextEncoder().encode('{"type":"append","term":-1}'));
  assertStrict.equal(wrongShape.ok, false);
  if (!wrongShape.ok) assertStrict.ok(wrongShape.issues.length > 0);
  const unknownType = decodeRaftMessage(new TextEncoder().encode('{"type":"nope"}'));
  assertStrict.equal(unknownType.ok, false);
});

test("the older all-JSON form (base64 byte arrays) still decodes", () => {
  const legacy = new TextEncoder().encode(
    JSON.stringify({
      metadata: { index: 9, term: 2, conf },
      data: { $bytes: Buffer.from(data).toString("base64") },
    }),
  );
  assertStrict.deepEqual(decodeSnapshot(legacy), {
    ok: true,
    value: { metadata: { index: 9, term: 2, conf }, data },
  });
});

test("frames that lie about lengths are refused", () => {
  const good = encodeRaftMessage(messages[2]!);
  const headerTooLong = good.slice();
  new DataView(headerTooLong.buffer).setUint32(1, good.length);
  assertStrict.equal(decodeRaftMessage(headerTooLong).ok, false, "header length beyond the frame");
  const blobOutside = good.subarray(0, good.length - 1);
  const refused = decodeRaftMessage(blobOutside);
  assertStrict.equal(refused.ok, false, "a byte reference beyond the payload area");
  assertStrict.equal(
    decodeRaftMessage(new Uint8Array([0, 0, 0])).ok,
    false,
    "shorter than the header length field",
  );
});

test("property: appends with arbitrary entry bytes round-trip", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.nat(1000),
      (payloads, commit) => {
        const message: RaftMessage = {
          type: "append",
          from: "a",
          to: "b",
          term: 7,
          prevLogIndex: 10,
          prevLogTerm: 6,
          commit,
          entries: payloads.map((bytes, i) => ({
            index: 11 + i,
            term: 7,
            kind: "normal" as const,
            data: bytes,
          })),
        };
        assertStrict.deepEqual(decodeRaftMessage(encodeRaftMessage(message)), { ok: true, value: message });
      },
    ),
    { seed: 11, numRuns: 200 },
  );
});

test("the hand-written replication check accepts only what the schema accepts, and the same value", () => {
  const peer = fc.string({ minLength: 1, maxLength: 12 });
  const uint = fc.nat({ max: 2 ** 40 });
  const generation = fc.record({ count: uint, nonce: uint });
  const entry = fc.record({
    term: uint,
    index: fc.integer({ min: 1, max: 2 ** 40 }),
    kind: fc.constantFrom("normal", "conf-change", "empty"),
    data: fc.uint8Array({ maxLength: 16 }),
  });
  const header = {
    from: peer,
    to: peer,
    term: uint,
    generation,
    recipientGeneration: generation,
  };
  const append = fc.record(
    {
      type: fc.constant("append"),
      ...header,
      prevLogIndex: uint,
      prevLogTerm: uint,
      entries: fc.array(entry, { maxLength: 4 }),
      commit: uint,
      rolledBack: fc.boolean(),
    },
    { requiredKeys: ["type", "from", "to", "term", "prevLogIndex", "prevLogTerm", "entries", "commit"] },
  );
  const appendResponse = fc.record(
    {
      type: fc.constant("appendResponse"),
      ...header,
      success: fc.boolean(),
      index: uint,
      hintIndex: uint,
      hintTerm: uint,
    },
    { requiredKeys: ["type", "from", "to", "term", "success", "index", "hintIndex", "hintTerm"] },
  );
  const heartbeat = fc.record(
    {
      type: fc.constant("heartbeat"),
      ...header,
      commit: uint,
      readRound: uint,
      rolledBack: fc.boolean(),
    },
    { requiredKeys: ["type", "from", "to", "term", "commit", "readRound"] },
  );
  const heartbeatResponse = fc.record(
    {
      type: fc.constant("heartbeatResponse"),
      ...header,
      readRound: uint,
      lastIndex: uint,
    },
    { requiredKeys: ["type", "from", "to", "term", "readRound", "lastIndex"] },
  );
  // Plain objects, as JSON.parse makes them (fast-check's records may have no prototype).
  const valid = fc
    .oneof(append, appendResponse, heartbeat, heartbeatResponse)
    .map((message) => structuredClone(message));
  const odd = fc.constantFrom<unknown>(
    -1,
    1.5,
    Number.NaN,
    2 ** 53,
    "",
    "x".repeat(129),
    null,
    [],
    {},
    true,
    "empty",
    new Uint8Array(1),
    { count: 1 },
    { count: 1, nonce: -1 },
    { count: 1, nonce: 2, extra: 3 },
    [{ term: 1, index: 0, kind: "normal", data: new Uint8Array(0) }],
    [{ term: 1, index: 1, kind: "other", data: new Uint8Array(0) }],
    [{ term: 1, index: 1, kind: "normal", data: [1] }],
    [{ term: 1, index: 1, kind: "normal", data: new Uint8Array(0), extra: 1 }],
  );
  // A valid message with one key removed, added or replaced by an odd value.
  const mutated = fc
    .tuple(valid, fc.nat(), fc.constantFrom("delete", "add", "replace"), odd)
    .map(([message, pick, how, value]) => {
      const copy: Record<string, unknown> = { ...message };
      const keys = [...Object.keys(copy), "__proto__", "extra", "type"];
      const key = keys[pick % keys.length]!;
      if (how === "delete") delete copy[key];
      else if (how === "add") Object.defineProperty(copy, `${key}2`, { value, enumerable: true });
      else Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
      return copy;
    });
  fc.assert(
    fc.property(valid, (message) => {
      const fast = replicationMessage(message);
      assertStrict.ok(fast !== null, "a valid message takes the fast path");
      assertStrict.deepEqual(fast, RaftMessage.parse(message));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(mutated, (candidate) => {
      const fast = replicationMessage(candidate);
      const schema = RaftMessage.safeParse(candidate);
      if (fast !== null) {
        assertStrict.ok(schema.success, `accepted what the schema refuses: ${JSON.stringify(candidate)}`);
        assertStrict.deepEqual(fast, schema.data);
      }
    }),
    { numRuns: 3000 },
  );
});
