// Goal: a failing etcd step is not called again before its backoff, however often the
// reconciler runs; another step is not held back; success and "not ready" behave as stated.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EtcdRetryGate, etcdNotReadyMs, etcdRetryMaxMs, etcdRetryMinMs } from "./etcd-retry.js";

describe("etcd retry gate", () => {
  test("a failed step waits out a backoff that doubles to the cap, whatever wakes the reconciler", () => {
    const gate = new EtcdRetryGate();
    const step = "etcd-adopt node-3";
    assert.equal(gate.waitMs(step, 0), 0, "a first call goes at once");
    let now = 0;
    const delays: number[] = [];
    for (let failure = 0; failure < 8; failure += 1) {
      const delay = gate.failed(step, now);
      delays.push(delay);
      // Woken by applied entries meanwhile: still refused until the delay has passed.
      assert.equal(gate.waitMs(step, now + 1), delay - 1);
      assert.equal(gate.waitMs(step, now + delay - 1), 1);
      now += delay;
      assert.equal(gate.waitMs(step, now), 0);
    }
    assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    assert.equal(delays[0], etcdRetryMinMs);
    assert.equal(Math.max(...delays), etcdRetryMaxMs);
  });

  test("another step is not held back, and starts its own backoff afresh", () => {
    const gate = new EtcdRetryGate();
    gate.failed("etcd-adopt node-3", 0);
    gate.failed("etcd-adopt node-3", 250);
    assert.equal(gate.waitMs("etcd-promote node-4", 300), 0);
    assert.equal(gate.failed("etcd-promote node-4", 300), etcdRetryMinMs);
  });

  test("success clears the backoff; not-ready pauses without growing it", () => {
    const gate = new EtcdRetryGate();
    const step = "etcd-promote node-4";
    gate.failed(step, 0);
    gate.failed(step, 250);
    gate.succeeded();
    assert.equal(gate.waitMs(step, 251), 0);
    assert.equal(gate.notReady(step, 1_000), etcdNotReadyMs);
    assert.equal(gate.waitMs(step, 1_000 + etcdNotReadyMs - 1), 1);
    assert.equal(gate.failed(step, 2_000), etcdRetryMinMs, "a pause is not a failure");
  });
});
