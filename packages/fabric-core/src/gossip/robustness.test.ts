/**
 * Goal: nothing a peer sends can crash a GossipNode or break its invariants: random bytes,
 * valid messages with one field replaced by anything, and long random sequences of valid
 * messages (liveness claims about a few ids, digests, deltas, probes) interleaved with ticks.
 * Method: fast-check with fixed seeds; after every input the node must still answer
 * `nextTickAtMs()` (not in the past), `membershipView()` and `ready()`/`advance()`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "../sim/random.js";
import { homelabStrategy, signerFromSeed } from "../vocabulary/index.js";
import { encodeMessage } from "./codec.js";
import { GossipNode } from "./gossip-node.js";
import { defaultGossipConfig, type GossipMessage } from "./types.js";

const self = signerFromSeed(new Uint8Array(32).fill(1));
const ids = [self.nodeId, ...[2, 3, 4].map((seed) => signerFromSeed(new Uint8Array(32).fill(seed)).nodeId)];

function freshNode(): GossipNode {
  const config = defaultGossipConfig(
    { id: self.nodeId, address: "self:1", generation: 5 },
    homelabStrategy.membership,
  );
  const created = GossipNode.create(config, self, new SeededRandom(1), 0);
  assert.ok(created.ok);
  return created.value;
}

function drain(node: GossipNode, nowMs: number): void {
  while (node.hasReady()) node.advance(node.ready());
  assert.ok(node.nextTickAtMs() >= nowMs, "a deadline in the past");
  for (const member of node.membershipView(nowMs).members) {
    assert.ok(["alive", "suspect", "dead", "left"].includes(member.status));
  }
}

const id = fc.constantFrom(...ids);
const small = fc.integer({ min: 0, max: 6 });
const liveness = fc.record({ id, generation: small, incarnation: small });
const update = fc.oneof(
  liveness.map((l) => ({ kind: "alive" as const, ...l, address: `${l.id.slice(0, 4)}:1` })),
  fc.tuple(liveness, id).map(([l, accuser]) => ({ kind: "suspect" as const, ...l, accuser })),
  fc.tuple(liveness, id).map(([l, accuser]) => ({ kind: "dead" as const, ...l, accuser })),
  liveness.map((l) => ({ kind: "left" as const, ...l })),
);
const header = id.map((from) => ({ from, address: `${from.slice(0, 4)}:1` }));
const message: fc.Arbitrary<GossipMessage> = fc.oneof(
  fc
    .tuple(header, small, id, fc.array(update, { maxLength: 5 }))
    .map(([h, seq, target, updates]) => ({ type: "ping" as const, ...h, seq, target, updates })),
  fc
    .tuple(header, small, id, fc.array(update, { maxLength: 5 }))
    .map(([h, seq, target, updates]) => ({ type: "ack" as const, ...h, seq, target, updates })),
  fc.tuple(header, small, id).map(([h, seq, target]) => ({ type: "nack" as const, ...h, seq, target })),
  fc.tuple(header, small, id).map(([h, seq, target]) => ({
    type: "pingRequest" as const,
    ...h,
    seq,
    target,
    targetAddress: "x:1",
    updates: [],
  })),
  fc
    .tuple(header, fc.array(update, { maxLength: 8 }))
    .map(([h, updates]) => ({ type: "push" as const, ...h, updates })),
  fc
    .tuple(
      header,
      fc.array(
        fc.tuple(
          liveness,
          fc.constantFrom("alive", "suspect", "dead", "left") as fc.Arbitrary<"alive">,
          small,
        ),
        { maxLength: 6 },
      ),
      fc.boolean(),
    )
    .map(([h, entries, reply]) => ({
      type: "syncDigest" as const,
      ...h,
      entries: entries.map(([l, status, version]) => ({
        ...l,
        status,
        version,
        address: `${l.id.slice(0, 4)}:1`,
      })),
      reply,
    })),
  fc.tuple(header, fc.array(fc.tuple(id, small, small), { maxLength: 3 })).map(([h, deltas]) => ({
    type: "syncDelta" as const,
    ...h,
    deltas: deltas.map(([deltaId, generation, version]) => ({
      id: deltaId,
      generation,
      fromVersion: version,
      toVersion: version + 1,
      records: [{ key: "k", version: version + 1, value: "v", signature: "A".repeat(86) + "==" }],
    })),
  })),
);

describe("gossip node robustness", () => {
  it("survives random bytes", () => {
    const node = freshNode();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3_000 }), (bytes) => {
        node.receive(bytes, 1);
        drain(node, 1);
      }),
      { seed: 11, numRuns: 500 },
    );
  });

  it("survives a valid message with one field replaced by anything", () => {
    const node = freshNode();
    fc.assert(
      fc.property(message, fc.string({ maxLength: 12 }), fc.anything(), (valid, field, value) => {
        const damaged = { ...valid, [field in valid ? field : "seq"]: value };
        node.receive(new TextEncoder().encode(JSON.stringify(damaged) ?? "null"), 1);
        drain(node, 1);
      }),
      { seed: 12, numRuns: 500 },
    );
  });

  it("keeps its invariants through random message sequences and ticks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, fc.integer({ min: 0, max: 700 })), { maxLength: 60 }),
        (inputs) => {
          const node = freshNode();
          node.join(["seed:1"], 0);
          let now = 0;
          for (const [input, advanceMs] of inputs) {
            now += advanceMs;
            node.tick(now);
            node.receive(encodeMessage(input), now);
            drain(node, now);
          }
          const me = node.membershipView(now).members.find((member) => member.id === self.nodeId);
          assert.equal(me?.status, "alive", "no claim makes a node give itself up");
        },
      ),
      { seed: 13, numRuns: 200 },
    );
  });
});
