// Goal: `revoada up --no-view` (and any run whose stdout is not a terminal) prints one line per
// node whose shape changed (health, roles, Raft role, leader, term, members, last decision),
// and nothing on a tick where only the counters of a live mesh moved (commit index, chain
// height); the terminal view redraws the whole table. Method: feed viewTick, the function
// the live loop prints through, the rows of three polls of a two-node mesh.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type MeshRow, viewTick } from "../src/cli/commands/up.js";

const row = (node: string, raft: string, commit: number, extra: Partial<MeshRow> = {}): MeshRow => ({
  node,
  id: `${node}-id`,
  roles: "etcd,worker",
  health: "alive",
  raft,
  leader: "aaaa",
  term: 2,
  commit,
  chain: commit,
  members: "2/2",
  last_decision: "-",
  ...extra,
});

describe("revoada up --no-view", () => {
  const first = [row("node-1", "leader", 10), row("node-2", "follower", 10)];
  const counters = [row("node-1", "leader", 11), row("node-2", "follower", 12)];

  it("prints every node once on the first poll", () => {
    const out = viewTick("changes", [], first, "T0");
    assert.deepEqual(out.trim().split("\n"), [
      "T0 node-1: health=alive, roles=etcd,worker, raft=leader, leader=aaaa, term=2, members=2/2, last_decision=-",
      "T0 node-2: health=alive, roles=etcd,worker, raft=follower, leader=aaaa, term=2, members=2/2, last_decision=-",
    ]);
  });

  it("prints nothing when only commit index and chain height moved", () => {
    assert.equal(viewTick("changes", first, counters, "T1"), "");
    assert.equal(viewTick("changes", counters, counters, "T2"), "");
  });

  it("prints one line per node that changed, naming what changed", () => {
    const failover = [
      { node: "node-1", id: "-", roles: "-", health: "unreachable" },
      row("node-2", "leader", 13, { leader: "bbbb", term: 3, members: "1/2" }),
    ];
    const out = viewTick("changes", counters, failover, "T3");
    assert.deepEqual(out.trim().split("\n"), [
      "T3 node-1: health alive -> unreachable, roles etcd,worker -> -, raft leader -> -, leader aaaa -> -, term 2 -> -, members 2/2 -> -",
      "T3 node-2: raft follower -> leader, leader aaaa -> bbbb, term 2 -> 3, members 2/2 -> 1/2",
    ]);
  });

  it("the terminal view redraws the whole table, counters included", () => {
    const out = viewTick("screen", first, counters, "T4");
    assert.ok(out.startsWith("\x1b[H\x1b[2JT4  revoada mesh"));
    assert.match(out, /node-2 .* 12 /);
  });
});
