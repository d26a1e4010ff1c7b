// Goal: the leader's clock never runs behind the committed clock and advances at the
// monotonic rate, so a leader whose wall clock is behind still measures time since committed
// events at the real rate; a leader whose wall clock is ahead reads its wall clock.
// Method: a LeaderClock over three hand-moved sources (wall, monotonic, committed); the
// executor-level consequences (hysteresis, procedure timeouts) are in execute.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LeaderClock } from "./leader-clock.js";

const minute = 60_000;

/** Hand-moved sources: `pass(ms)` moves wall and monotonic time together. */
function sources(wallMs: number, committedMs: number) {
  const now = { wall: wallMs, monotonic: 1_000, committed: committedMs };
  return {
    now,
    clock: new LeaderClock({
      wallMs: () => now.wall,
      monotonicMs: () => now.monotonic,
      committedMs: () => now.committed,
    }),
    pass(ms: number) {
      now.wall += ms;
      now.monotonic += ms;
    },
  };
}

describe("LeaderClock", () => {
  it("a wall clock 5 minutes behind the committed clock: the committed clock carried at the monotonic rate", () => {
    const committed = 1_780_000_000_000;
    const world = sources(committed - 5 * minute, committed);
    world.clock.observe();
    assert.equal(world.clock.now(), committed);
    world.pass(30_000);
    assert.equal(world.clock.now(), committed + 30_000, "30 s after the committed time, not 5 min less");
    // The wall clock catches up (a jump forward to the real time): from then on it leads.
    world.now.wall = committed + 40_000;
    assert.equal(world.clock.now(), committed + 40_000);
  });

  it("a wall clock ahead of the committed clock is read as it is", () => {
    const committed = 1_780_000_000_000;
    const world = sources(committed + 5 * minute, committed);
    world.clock.observe();
    assert.equal(world.clock.now(), committed + 5 * minute);
    world.pass(1_234);
    assert.equal(world.clock.now(), committed + 5 * minute + 1_234);
  });

  it("counts from when a committed time arrived, and a late-applied older time does not pull it back", () => {
    const committed = 1_780_000_000_000;
    const world = sources(committed - 10 * minute, committed);
    world.clock.observe();
    world.pass(5_000);
    const issued = world.clock.now();
    assert.equal(issued, committed + 5_000);
    // That proposal applies 200 ms later: the committed clock becomes its issued time.
    world.pass(200);
    world.now.committed = issued;
    world.clock.observe();
    assert.equal(world.clock.now(), committed + 5_200, "not back to the issued time");
    // A later committed time (another leader's, ahead) moves it forward from when it arrived.
    world.now.committed = committed + 60_000;
    world.clock.observe();
    world.pass(1_000);
    assert.equal(world.clock.now(), committed + 61_000);
  });

  it("before anything was committed it is the wall clock; a missed observe counts from the next reading", () => {
    const world = sources(1_780_000_000_000, 0);
    assert.equal(world.clock.now(), 1_780_000_000_000);
    world.now.committed = 1_780_000_000_000 + minute;
    world.pass(500);
    assert.equal(world.clock.now(), 1_780_000_000_000 + minute, "seen at this reading, counted from here");
    world.pass(500);
    assert.equal(world.clock.now(), 1_780_000_000_000 + minute + 500);
  });
});
