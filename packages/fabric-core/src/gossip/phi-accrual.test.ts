/**
 * Goal: the phi-accrual detector turns silence into a suspicion level the way the paper and
 * Akka do: low right after a heartbeat, rising with silence, faster for a regular member
 * than for an irregular one, never below the minimum standard deviation's damping, and
 * blind to silence caused by this node's own stall (shift).
 * Method: feed heartbeat times by hand and read phi at chosen instants.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PhiAccrualDetector, phiOf } from "./phi-accrual.js";

const settings = { window: 100, minStdDevMs: 20, acceptablePauseMs: 0, firstIntervalMs: 200 };

function regular(detector: PhiAccrualDetector, count: number, intervalMs: number): number {
  let now = 0;
  for (let i = 0; i < count; i += 1) {
    detector.heartbeat(now);
    now += intervalMs;
  }
  return now - intervalMs;
}

describe("phi-accrual detector", () => {
  it("is 0 before any heartbeat and low right after one", () => {
    const detector = new PhiAccrualDetector(settings);
    assert.equal(detector.phi(10_000), 0);
    const last = regular(detector, 50, 200);
    assert.ok(detector.phi(last + 10) < 0.5);
  });

  it("rises monotonically with silence and crosses 8 a few deviations past the mean", () => {
    const detector = new PhiAccrualDetector(settings);
    const last = regular(detector, 50, 200);
    let previous = -1;
    for (let silence = 0; silence <= 1_000; silence += 50) {
      const phi = detector.phi(last + silence);
      assert.ok(phi >= previous, `phi fell at ${silence} ms`);
      previous = phi;
    }
    assert.ok(detector.phi(last + 250) < 8);
    assert.ok(detector.phi(last + 400) >= 8);
  });

  it("is more patient with a member whose heartbeats are irregular", () => {
    const steady = new PhiAccrualDetector(settings);
    const jittery = new PhiAccrualDetector(settings);
    const last = regular(steady, 50, 200);
    let now = 0;
    for (let i = 0; i < 50; i += 1) {
      jittery.heartbeat(now);
      now += i % 2 === 0 ? 100 : 300;
    }
    const jitteryLast = jittery.lastHeartbeatMs();
    assert.ok(jittery.phi(jitteryLast + 450) < steady.phi(last + 450));
  });

  it("forgets silence that happened while this node was stalled", () => {
    const detector = new PhiAccrualDetector(settings);
    const last = regular(detector, 50, 200);
    assert.ok(detector.phi(last + 2_000) >= 8);
    detector.shift(2_000);
    assert.ok(detector.phi(last + 2_000) < 1);
    assert.equal(detector.silenceMs(last + 2_000), 0);
  });

  it("keeps a bounded window: old intervals stop counting", () => {
    const detector = new PhiAccrualDetector({ ...settings, window: 10 });
    let now = regular(detector, 20, 1_000);
    for (let i = 0; i < 10; i += 1) {
      now += 100;
      detector.heartbeat(now);
    }
    assert.ok(detector.phi(now + 500) >= 8, "the 1 s intervals left the window");
  });

  it("phiOf is capped and never negative", () => {
    assert.equal(phiOf(1e9, 100, 10), 1000);
    assert.ok(phiOf(0, 100, 10) >= 0);
    assert.ok(Math.abs(phiOf(100, 100, 10) - Math.log10(2)) < 0.01, "half the mass lies past the mean");
  });
});
