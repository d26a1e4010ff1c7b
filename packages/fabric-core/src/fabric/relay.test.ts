// Goal: the state relay hands its driver committed entries in index order only, catches a
// subscriber up from its window (or asks for a snapshot when the window does not reach back),
// pushes what it applies, repairs gaps, bounds a follower's subscribers, and gives up a
// silent, busy or too-deep source for the next candidate; the tree gives every follower a
// parent above it, F children per node. Method: two or three relays wired by hand, with
// entries built in memory and a clock passed in.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Entry } from "../raft/index.js";
import {
  defaultRelayConfig,
  type RelayMessage,
  type RelayOutput,
  relayCandidates,
  relayViewOf,
  StateRelay,
} from "./relay.js";

function entry(index: number): Entry {
  return { index, term: 1, kind: "normal", data: new Uint8Array([index % 256]) };
}

/** A source that applied 1..count. */
function sourceWith(count: number, config = defaultRelayConfig): StateRelay {
  const source = new StateRelay("source", config);
  source.tick(0, { holding: true, candidates: [] });
  for (let index = 1; index <= count; index += 1) source.recordApplied(entry(index), "raft");
  return source;
}

function sent(outputs: readonly RelayOutput[], to: string): RelayMessage[] {
  return outputs.flatMap((output) => (output.type === "send" && output.to === to ? [output.message] : []));
}

/** A follower subscribed to `source`: its first tick sends follow(after = 0). */
function follower(id = "follower", candidates = ["source"]): StateRelay {
  const relay = new StateRelay(id);
  const outputs = relay.tick(0, { holding: false, candidates });
  assert.deepEqual(sent(outputs, candidates[0]!), [{ type: "follow", after: 0 }]);
  return relay;
}

describe("StateRelay", () => {
  it("answers a follow with the entries after it, then pushes what it applies", () => {
    const source = sourceWith(3);
    const relay = follower();
    const [answer] = source.receive("follower", { type: "follow", after: 0 }, 10).outputs;
    assert.ok(answer?.type === "send" && answer.message.type === "entries");
    assert.deepEqual(
      answer.message.entries.map((item) => item.index),
      [1, 2, 3],
    );
    assert.equal(answer.message.depth, 0, "a holder is at depth 0");
    const receipt = relay.receive("source", answer.message, 11);
    assert.deepEqual(
      receipt.apply.map((item) => item.index),
      [1, 2, 3],
    );
    for (const item of receipt.apply) relay.recordApplied(item, "relay");
    assert.equal(relay.depth(), 1);
    source.recordApplied(entry(4), "raft");
    const pushed = sent(source.flush(20), "follower");
    assert.equal(pushed.length, 1);
    assert.ok(pushed[0]!.type === "entries");
    assert.deepEqual(
      pushed[0]!.entries.map((item) => item.index),
      [4],
    );
    assert.deepEqual(sent(source.flush(21), "follower"), [], "nothing twice");
  });

  it("hands over entries in order only, and asks again after a gap", () => {
    const relay = follower();
    const gap = relay.receive(
      "source",
      { type: "entries", depth: 0, applied: 5, entries: [entry(2), entry(3)] },
      5,
    );
    assert.deepEqual(gap.apply, [], "entry 1 is missing: nothing applies");
    assert.deepEqual(sent(gap.outputs, "source"), [{ type: "follow", after: 0 }]);
    const stranger = relay.receive(
      "other",
      { type: "entries", depth: 0, applied: 1, entries: [entry(1)] },
      6,
    );
    assert.deepEqual(stranger.apply, [], "only the chosen source is heard");
  });

  it("asks its driver for a snapshot when the window does not reach back", () => {
    const source = sourceWith(20, { ...defaultRelayConfig, windowEntries: 8 });
    const outputs = source.receive("late", { type: "follow", after: 2 }, 1).outputs;
    assert.deepEqual(outputs, [{ type: "send-snapshot", to: "late", depth: 0 }]);
    const recent = source.receive("recent", { type: "follow", after: 15 }, 1).outputs;
    assert.ok(recent[0]?.type === "send" && recent[0].message.type === "entries");
    assert.deepEqual(
      recent[0].message.entries.map((item) => item.index),
      [16, 17, 18, 19, 20],
    );
  });

  it("restores a snapshot only ahead of what it applied", () => {
    const relay = follower();
    relay.recordApplied(entry(1), "relay");
    const conf = { voters: ["a"], votersOutgoing: [], learners: [], learnersNext: [] };
    const machine = new Uint8Array([1]);
    const behind = relay.receive("source", { type: "snapshot", depth: 0, index: 1, machine, conf }, 1);
    assert.equal(behind.restore, null);
    const ahead = relay.receive("source", { type: "snapshot", depth: 0, index: 9, machine, conf }, 2);
    assert.deepEqual(ahead.restore, { index: 9, machine, conf });
  });

  it("a follower serves a bounded number of subscribers; a holder serves all", () => {
    const config = { ...defaultRelayConfig, subscribersMax: 2 };
    const middle = new StateRelay("middle", config);
    middle.tick(0, { holding: false, candidates: ["source"] });
    middle.receive("a", { type: "follow", after: 0 }, 1);
    middle.receive("b", { type: "follow", after: 0 }, 1);
    assert.deepEqual(sent(middle.receive("c", { type: "follow", after: 0 }, 1).outputs, "c"), [
      { type: "busy" },
    ]);
    const holder = sourceWith(1, config);
    for (const id of ["a", "b", "c"]) holder.receive(id, { type: "follow", after: 0 }, 1);
    assert.equal(holder.subscriberCount(), 3);
  });

  it("gives up a silent, busy or too-deep source for the next candidate", () => {
    const candidates = ["parent", "holder"];
    const silent = follower("f1", candidates);
    const later = silent.tick(defaultRelayConfig.silenceMs + 1, { holding: false, candidates });
    assert.equal(silent.currentSource(), "holder");
    assert.deepEqual(sent(later, "holder"), [{ type: "follow", after: 0 }]);

    const busy = follower("f2", candidates);
    busy.receive("parent", { type: "busy" }, 5);
    busy.tick(10, { holding: false, candidates });
    assert.equal(busy.currentSource(), "holder");
    // Its status names the candidates and the one it skips, and until when.
    const sourcing = busy.sourcing(10);
    assert.deepEqual(sourcing.candidates, candidates);
    assert.deepEqual(sourcing.skipped, [{ id: "parent", untilMs: 5 + 4 * defaultRelayConfig.silenceMs }]);
    assert.equal(busy.sourcing(6 + 4 * defaultRelayConfig.silenceMs).skipped.length, 0, "the skip ends");

    const deep = follower("f3", candidates);
    const tooDeep = defaultRelayConfig.depthMax;
    const receipt = deep.receive(
      "parent",
      { type: "entries", depth: tooDeep, applied: 1, entries: [entry(1)] },
      5,
    );
    assert.deepEqual(receipt.apply, [], "nothing from a source past depthMax");
    deep.tick(10, { holding: false, candidates });
    assert.equal(deep.currentSource(), "holder");

    // The driver refused an answer (its commit stamp did not check out): the next candidate.
    const refused = follower("f4", candidates);
    refused.refuse("parent", 5);
    refused.tick(10, { holding: false, candidates });
    assert.equal(refused.currentSource(), "holder");
  });

  it("a source that owes an answer to an open request is neither silent nor traded for another", () => {
    // A slow machine: the first answer (a snapshot, published, then fetched) takes longer than
    // silenceMs. Giving the source up then drops the answer, and the next source is as slow.
    const { silenceMs } = defaultRelayConfig;
    const conf = { voters: ["parent"], votersOutgoing: [], learners: [], learnersNext: [] };
    const machine = new Uint8Array([7]);
    const relay = follower("f", ["parent", "holder"]);
    relay.awaitAnswer("parent", 3 * silenceMs);
    relay.tick(silenceMs + 1, { holding: false, candidates: ["parent", "holder"] });
    assert.equal(relay.currentSource(), "parent", "an open request is not silence");
    relay.tick(2 * silenceMs, { holding: false, candidates: ["holder", "parent"] });
    assert.equal(relay.currentSource(), "parent", "a better candidate waits for the answer");
    const late = relay.receive(
      "parent",
      { type: "snapshot", depth: 0, index: 9, machine, conf },
      2 * silenceMs + 1,
    );
    assert.deepEqual(late.restore, { index: 9, machine, conf }, "the slow answer counts");
    relay.recordRestored(9);
    relay.tick(3 * silenceMs + 2, { holding: false, candidates: ["holder", "parent"] });
    assert.equal(relay.currentSource(), "holder", "answered, and still preferred: the better candidate now");

    // An answer that does not count (no depth yet) still settles what the source owed.
    const empty = follower("g", ["parent", "holder"]);
    empty.awaitAnswer("parent", 10 * silenceMs);
    empty.receive("parent", { type: "entries", depth: null, applied: 0, entries: [] }, 1);
    empty.tick(silenceMs + 1, { holding: false, candidates: ["parent", "holder"] });
    assert.equal(empty.currentSource(), "holder");

    // Past the request's deadline the source is silent; an unreachable one is given up at once.
    const overdue = follower("h", ["parent", "holder"]);
    overdue.awaitAnswer("parent", 2 * silenceMs);
    overdue.tick(2 * silenceMs + 1, { holding: false, candidates: ["parent", "holder"] });
    assert.equal(overdue.currentSource(), "holder");
    const unreachable = follower("i", ["parent", "holder"]);
    unreachable.awaitAnswer("parent", 10 * silenceMs);
    unreachable.unreachable("parent", 5);
    unreachable.tick(6, { holding: false, candidates: ["parent", "holder"] });
    assert.equal(unreachable.currentSource(), "holder");
  });

  it("a source in use is kept while the preferred candidate flaps, and left once the preference holds", () => {
    const { silenceMs } = defaultRelayConfig;
    const relay = follower("f", ["a", "b"]);
    relay.receive("a", { type: "entries", depth: 0, applied: 0, entries: [] }, 1);
    for (let nowMs = 100; nowMs < 10 * silenceMs; nowMs += 100) {
      // The tree parent alternates between views (a member suspected, then alive again).
      const candidates = (nowMs / 100) % 20 < 10 ? ["a", "b"] : ["b", "a"];
      relay.tick(nowMs, { holding: false, candidates });
      relay.receive("a", { type: "entries", depth: 0, applied: 0, entries: [] }, nowMs);
      assert.equal(relay.currentSource(), "a", `at ${nowMs} ms`);
    }
    relay.tick(10 * silenceMs, { holding: false, candidates: ["b", "a"] });
    relay.tick(11 * silenceMs, { holding: false, candidates: ["b", "a"] });
    assert.equal(relay.currentSource(), "b");
  });

  it("a source with no depth yet does not count as heard", () => {
    const relay = follower("f", ["parent", "holder"]);
    const receipt = relay.receive(
      "parent",
      { type: "entries", depth: null, applied: 3, entries: [entry(1)] },
      5,
    );
    assert.deepEqual(receipt.apply, []);
    assert.equal(relay.depth(), null);
  });

  it("a holder that stays behind the holder it probes follows through the relay", () => {
    const holder = new StateRelay("learner");
    const probe = holder.tick(0, { holding: true, candidates: ["voter"] });
    assert.deepEqual(sent(probe, "voter"), [{ type: "probe", applied: 0 }]);
    const voter = sourceWith(5);
    const [answer] = voter.receive("learner", { type: "probe", applied: 0 }, 1).outputs;
    assert.ok(answer?.type === "send" && answer.message.type === "entries");
    assert.deepEqual(answer.message.entries, [], "a probe is answered with a heartbeat");
    assert.equal(voter.subscriberCount(), 0, "a probe subscribes nobody");
    holder.receive("voter", answer.message, 1);
    assert.equal(holder.isStale(), false, "behind for a moment: Raft may still be on its way");
    holder.receive("voter", answer.message, 1 + defaultRelayConfig.silenceMs);
    assert.equal(holder.isStale(), true);
    const follow = holder.tick(2 + defaultRelayConfig.silenceMs, { holding: true, candidates: ["voter"] });
    assert.deepEqual(sent(follow, "voter"), [{ type: "follow", after: 0 }]);
  });

  it("a holder that Raft keeps feeding is not stale while it trails the holder it probes", () => {
    // Under load a voter applies each commit a little after the holder it probes: every probe
    // answer shows it one entry behind. It is fed, not dropped; a stale voter signs no stamp in
    // the daemon and answers its followers `busy` (docs/scale.md, issue 17's mass restart).
    const { renewMs, silenceMs } = defaultRelayConfig;
    const view = { holding: true, candidates: ["voter"] };
    const holder = new StateRelay("lagging");
    for (let nowMs = 0, index = 1; nowMs <= 4 * silenceMs; nowMs += renewMs, index += 1) {
      holder.tick(nowMs, view);
      holder.recordApplied(entry(index), "raft");
      holder.receive("voter", { type: "entries", depth: 0, applied: index + 1, entries: [] }, nowMs + 1);
      assert.equal(holder.isStale(), false, `at ${nowMs} ms`);
    }
    assert.equal(holder.depth(), 0);
  });

  it("a stale holder that Raft feeds again holds the log again", () => {
    const { silenceMs } = defaultRelayConfig;
    const view = { holding: true, candidates: ["voter"] };
    const holder = new StateRelay("voter-2");
    holder.tick(0, view);
    holder.recordApplied(entry(1), "raft");
    const ahead: RelayMessage = { type: "entries", depth: 0, applied: 3, entries: [] };
    holder.receive("voter", ahead, 1);
    holder.receive("voter", ahead, 2 + silenceMs);
    assert.equal(holder.isStale(), true, "Raft fed it nothing while the other holder was ahead");
    holder.tick(3 + silenceMs, view);
    assert.equal(holder.depth(), 1, "stale: it follows through the relay, below the voter");
    // What the relay hands it does not end it: a removed learner is fed that way too.
    holder.receive("voter", { type: "entries", depth: 0, applied: 3, entries: [entry(2)] }, 4 + silenceMs);
    holder.recordApplied(entry(2), "relay");
    assert.equal(holder.isStale(), true);
    // Raft applies the next entry: the configuration that names it is live again.
    holder.recordApplied(entry(3), "raft");
    const probe = holder.tick(5 + silenceMs + defaultRelayConfig.renewMs, view);
    assert.equal(holder.isStale(), false);
    assert.equal(holder.depth(), 0);
    assert.deepEqual(sent(probe, "voter"), [{ type: "probe", applied: 3 }]);
  });

  it("subscriptions end when not renewed", () => {
    const source = sourceWith(1);
    source.receive("gone", { type: "follow", after: 1 }, 0);
    source.recordApplied(entry(2), "raft");
    assert.equal(sent(source.flush(defaultRelayConfig.subscriptionTtlMs + 1), "gone").length, 0);
    assert.equal(source.subscriberCount(), 0);
  });
});

describe("relayCandidates", () => {
  const holders = ["h1", "h2", "h3"];
  const others = Array.from({ length: 40 }, (_, index) => `n${String(index).padStart(2, "0")}`);

  it("gives every follower a parent above it, at most fanout children each", () => {
    const fanout = 4;
    const order = [...holders, ...others];
    const children = new Map<string, number>();
    const depth = new Map<string, number>(holders.map((holder) => [holder, 0]));
    for (const self of others) {
      const [parent, ...rest] = relayCandidates(self, holders, others, fanout);
      assert.ok(parent !== undefined);
      assert.ok(order.indexOf(parent) < order.indexOf(self), `${parent} sits above ${self}`);
      children.set(parent, (children.get(parent) ?? 0) + 1);
      depth.set(self, depth.get(parent)! + 1);
      assert.deepEqual(
        [...rest].sort(),
        holders.filter((holder) => holder !== parent).sort(),
        "then every holder",
      );
    }
    assert.ok(Math.max(...children.values()) <= fanout);
    // 3 holders feed 12, those feed 48 >= 28 more: two hops reach all 40.
    assert.equal(Math.max(...depth.values()), 2);
  });

  it("a holder probes the next holder round the ring; with no holder known, a follower has no parent", () => {
    assert.deepEqual(relayCandidates("h2", holders, others, 8), ["h3", "h1"]);
    assert.deepEqual(relayCandidates("h3", holders, others, 8), ["h1", "h2"]);
    assert.deepEqual(relayCandidates("n01", [], others, 8), []);
  });
});

describe("relayViewOf rooted at the voters (the daemon: only voters sign commit stamps)", () => {
  const conf = { voters: ["v1", "v2", "v3"], votersOutgoing: [], learners: ["l1", "l2"], learnersNext: [] };
  const members = ["v1", "v2", "v3", "l1", "l2", "f1", "f2", "f3"].map((id) => ({
    id,
    status: "alive" as const,
    state: null,
  }));

  it("learners feed nobody: a follower's sources are voters and followers, a learner probes a voter", () => {
    for (const self of ["f1", "f2", "f3"]) {
      const view = relayViewOf(self, conf, members, 1, "voters");
      assert.equal(view.holding, false);
      assert.ok(
        view.candidates.every((candidate) => !candidate.startsWith("l")),
        `${self}: ${view.candidates.join(",")}`,
      );
    }
    const learner = relayViewOf("l1", conf, members, 1, "voters");
    assert.equal(learner.holding, true);
    assert.ok(
      learner.candidates.length > 0 && learner.candidates.every((candidate) => candidate.startsWith("v")),
    );
    // Rooted at every holder (the simulator), a learner is a parent of followers.
    const holders = ["f1", "f2", "f3"].flatMap((self) => relayViewOf(self, conf, members, 1).candidates);
    assert.ok(holders.some((candidate) => candidate.startsWith("l")));
  });
});
