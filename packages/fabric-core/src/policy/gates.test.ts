// Goal: `nextGateChangeMs` names the first instant ahead at which a time-based policy rule can
// change the round's answer, and at that instant `decide` does change it; null when every
// gate lies behind.
// Method: synthetic inputs (homelab strategy defaults) with one gate at a time pending, and
// `decide` run 1 ms before and at the named instant.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { homelabStrategy } from "../vocabulary/index.js";
import { defaultPolicyConfig } from "./config.js";
import { decide } from "./decide.js";
import { nextGateChangeMs } from "./gates.js";
import { type SyntheticScenario, syntheticInputs } from "./synthetic.js";

const config = defaultPolicyConfig(homelabStrategy);
const cp = ["etcd", "api-server", "scheduler", "controller-manager"] as const;
const nowMs = 1_000_000;

/** Three control-plane nodes, one of them dead since `deadSinceMs`, and two workers. */
function scenario(overrides: Partial<SyntheticScenario> = {}): SyntheticScenario {
  return {
    nowMs,
    self: "a",
    formation: "quorum-3m",
    nodes: [
      { name: "a", roles: [...cp] },
      { name: "b", roles: [...cp] },
      { name: "c", roles: [...cp], status: "dead", sinceMs: nowMs - 100 },
      { name: "d", roles: ["worker"] },
      { name: "e", roles: ["worker"] },
    ],
    learners: [
      { name: "d", caughtUp: true },
      { name: "e", caughtUp: true },
    ],
    ...overrides,
  };
}

const promotes = (inputs: SyntheticScenario) =>
  decide(syntheticInputs(inputs)).commands.some((proposed) => proposed.command.type === "promote");

describe("nextGateChangeMs", () => {
  it("every gate behind: null", () => {
    const steady = scenario({
      nodes: scenario().nodes.map((node) =>
        node.name === "c" ? { ...node, status: "alive" as const, sinceMs: 0 } : node,
      ),
    });
    const inputs = syntheticInputs(steady);
    assert.equal(nextGateChangeMs(inputs), null);
  });

  it("a replacement held by the candidates' stabilization: the instant the first becomes promotable", () => {
    const aliveSinceMs = nowMs - 200;
    const unstable = scenario({
      nodes: scenario().nodes.map((node) =>
        node.name === "d" || node.name === "e" ? { ...node, sinceMs: aliveSinceMs } : node,
      ),
    });
    const atMs = nextGateChangeMs(syntheticInputs(unstable));
    assert.equal(atMs, aliveSinceMs + config.stabilization_ms);
    assert.ok(!promotes(unstable), "both candidates unstable: held");
    assert.ok(!promotes({ ...unstable, nowMs: atMs! - 1 }), "1 ms before: still held");
    assert.ok(promotes({ ...unstable, nowMs: atMs! }), "at the instant: the replacement is proposed");
  });

  it("a replacement held by the hysteresis of both candidates' last shift: the instant it ends", () => {
    const shiftedAtMs = nowMs - 300;
    const damped = scenario({
      shifts: [
        { name: "d", atMs: shiftedAtMs, type: "demote" },
        { name: "e", atMs: shiftedAtMs + 10, type: "demote" },
      ],
    });
    const atMs = nextGateChangeMs(syntheticInputs(damped));
    assert.equal(atMs, shiftedAtMs + config.hysteresis_ms);
    assert.ok(!promotes({ ...damped, nowMs: atMs! - 1 }));
    assert.ok(promotes({ ...damped, nowMs: atMs! }));
  });

  it("counts flaps leaving their window, the restore window and the dead grace", () => {
    const flapped = scenario({ flaps: [{ name: "b", atMs: nowMs - config.flap_window_ms + 50 }] });
    assert.equal(nextGateChangeMs(syntheticInputs(flapped)), nowMs + 50, "the flap leaves its window");
    const restarted = scenario({
      ...flapped,
      nodes: flapped.nodes.map((node) =>
        node.name === "d" ? { ...node, sinceMs: nowMs - config.restore_window_ms + 30 } : node,
      ),
    });
    assert.equal(nextGateChangeMs(syntheticInputs(restarted)), nowMs + 30, "d outlives the restore window");
    // Alone, the dead member: counted while dead for at most the grace, so the ms after it.
    const deadSinceMs = nowMs - 100;
    const graceEndsMs = deadSinceMs + config.dead_grace_ms + 1;
    assert.equal(nextGateChangeMs(syntheticInputs(scenario({ nowMs: graceEndsMs - 1 }))), graceEndsMs);
  });
});
