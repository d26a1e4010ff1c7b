/**
 * Goal: the broadcast queue's transmit accounting: an update a peer gossips back to us counts
 * as one of our transmissions (rumor mongering's "counter"), but only once we sent it
 * ourselves and only for the same claim.
 * Method: one queue, updates taken and heard by hand.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { BroadcastQueue } from "./broadcast-queue.js";
import type { GossipUpdate } from "./types.js";

const alive = (incarnation: number): GossipUpdate => ({
  kind: "alive",
  id: "a".repeat(64),
  generation: 1,
  incarnation,
  address: "10.0.0.1:7946",
});
const same = (incarnation: number) => (update: GossipUpdate) =>
  update.kind === "alive" && update.incarnation === incarnation;

it("an update heard back counts as a transmission, once sent, for the same claim only", () => {
  const queue = new BroadcastQueue();
  queue.enqueue("m:a", alive(1));
  queue.heard("m:a", same(1), 4);
  assert.equal(queue.size(), 1, "not sent yet: hearing it does not count");
  assert.equal(queue.take(10_000, 16, 4).length, 1);
  queue.heard("m:a", same(2), 4);
  queue.heard("m:b", same(1), 4);
  assert.equal(queue.size(), 1, "another claim, another subject: no count");
  queue.heard("m:a", same(1), 4);
  queue.heard("m:a", same(1), 4);
  assert.equal(queue.size(), 1, "1 sent + 2 heard < 4");
  queue.heard("m:a", same(1), 4);
  assert.equal(queue.size(), 0, "1 sent + 3 heard: done, the neighbourhood has it");
});
