/**
 * Goal: Lifeguard's dynamic suspicion: the timeout scales with log10(N), starts at the
 * maximum with a lone accuser and shrinks logarithmically to the minimum as distinct members
 * confirm; repeated or surplus confirmations change nothing; a stall shifts the deadline.
 * Method: pure computations and one Suspicion driven by hand.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Suspicion, suspicionBounds, suspicionTimeoutMs } from "./suspicion.js";

describe("suspicion timeouts", () => {
  it("scale with log10 of the cluster size, at least one probe interval multiple", () => {
    assert.equal(suspicionBounds(5, 200, 2, 6, 2).minMs, 400);
    assert.equal(suspicionBounds(100, 200, 2, 6, 2).minMs, 800);
    assert.equal(suspicionBounds(100, 200, 2, 6, 2).maxMs, 4_800);
  });

  it("shrink from the maximum to the minimum as confirmations arrive", () => {
    const bounds = suspicionBounds(50, 200, 2, 6, 2);
    const none = suspicionTimeoutMs(bounds, 0);
    const one = suspicionTimeoutMs(bounds, 1);
    const two = suspicionTimeoutMs(bounds, 2);
    assert.equal(none, bounds.maxMs);
    assert.ok(one < none && one > two);
    assert.equal(two, bounds.minMs);
    assert.equal(suspicionTimeoutMs(bounds, 5), bounds.minMs);
  });

  it("count each accuser once and stop at the expected number", () => {
    const bounds = suspicionBounds(50, 200, 2, 6, 2);
    const suspicion = new Suspicion(1, 0, 1_000, bounds, "a");
    assert.equal(suspicion.deadlineMs(), 1_000 + bounds.maxMs);
    assert.equal(suspicion.confirm("a"), false);
    assert.equal(suspicion.confirm("b"), true);
    assert.equal(suspicion.confirm("b"), false);
    assert.equal(suspicion.confirm("c"), true);
    assert.equal(suspicion.confirm("d"), false);
    assert.equal(suspicion.confirmations(), 2);
    assert.equal(suspicion.deadlineMs(), 1_000 + bounds.minMs);
    suspicion.shift(2_000);
    assert.equal(suspicion.deadlineMs(), 3_000 + bounds.minMs);
  });
});
