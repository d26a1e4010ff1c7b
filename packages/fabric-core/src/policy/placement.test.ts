// Goal: workload placement keeps replicas where they are unless a rule forces a move, and
// honours constraints, capacity and every placement policy kind. Method: small synthetic
// clusters, one round each, assertions on the placement commands and their records.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { homelabStrategy, type NodeRole, type PlacementPolicy } from "../vocabulary/index.js";
import {
  applyCommands,
  type Decision,
  decide,
  decideIncremental,
  type SyntheticNode,
  type SyntheticWorkload,
  syntheticInputs,
  syntheticNodeId,
} from "./index.js";

const controlPlane: readonly NodeRole[] = ["api-server", "controller-manager", "etcd", "scheduler"];

function round(
  placement: PlacementPolicy,
  workers: readonly Omit<SyntheticNode, "roles">[],
  workloads: readonly SyntheticWorkload[],
): Decision {
  return decide(
    syntheticInputs({
      nowMs: 60_000,
      self: "cp",
      formation: "solo",
      strategy: { ...homelabStrategy, placement },
      nodes: [
        { name: "cp", zone: "zone-a", roles: controlPlane },
        ...workers.map((w) => ({ ...w, roles: ["worker" as const] })),
      ],
      workloads,
    }),
  );
}

/** Node names of the placement proposed for `workload`, or null when it is unchanged. */
function placed(decision: Decision, workload: string): string[] | null {
  for (const { command } of decision.commands) {
    if (command.type === "placement" && command.workload === `default/${workload}`) {
      return command.nodes.map((id) => `w${Number.parseInt(id.slice(0, 2), 16) - 1}`);
    }
  }
  return null;
}

const threeZones = [
  { name: "w1", zone: "zone-a" },
  { name: "w2", zone: "zone-a" },
  { name: "w3", zone: "zone-b" },
  { name: "w4", zone: "zone-b" },
  { name: "w5", zone: "zone-c" },
];

describe("placement", () => {
  it("places new replicas on distinct workers across zones, never on the control plane", () => {
    const decision = round({ kind: "spread" }, threeZones, [{ name: "web", replicas: 3 }]);
    const nodes = placed(decision, "web")!;
    assert.equal(nodes.length, 3);
    assert.equal(new Set(nodes).size, 3);
    assert.ok(!nodes.includes("w0"), "the control-plane node takes no intolerant workload");
    const zones = new Set(nodes.map((name) => threeZones.find((w) => w.name === name)!.zone));
    assert.equal(zones.size, 3, "spread prefers a new zone for each replica");
  });

  it("keeps a valid placement untouched", () => {
    const decision = round({ kind: "zone-aware", min_zones: 2 }, threeZones, [
      { name: "web", replicas: 2, placedOn: ["w1", "w3"] },
    ]);
    assert.equal(placed(decision, "web"), null);
    assert.ok(
      decision.records.some((entry) => entry.rule === "placement-stable" && entry.facts.stable === 1),
    );
  });

  it("moves only the replica on a dead node, into its slot", () => {
    const workers = threeZones.map((w) => (w.name === "w3" ? { ...w, status: "dead" as const } : w));
    const decision = round({ kind: "zone-aware", min_zones: 2 }, workers, [
      { name: "web", replicas: 3, placedOn: ["w1", "w3", "w5"] },
    ]);
    const nodes = placed(decision, "web")!;
    assert.equal(nodes[0], "w1");
    assert.equal(nodes[2], "w5");
    assert.equal(nodes[1], "w4", "the replacement lands in zone-b, the zone with no replica left");
    assert.ok(decision.records.some((entry) => entry.rule === "placement-replace"));
  });

  it("keeps replicas on a suspect node (no move on suspicion alone)", () => {
    const workers = threeZones.map((w) => (w.name === "w3" ? { ...w, status: "suspect" as const } : w));
    const decision = round({ kind: "spread" }, workers, [
      { name: "web", replicas: 2, placedOn: ["w1", "w3"] },
    ]);
    assert.equal(placed(decision, "web"), null);
  });

  it("evicts the fewest replicas needed to reach min_zones", () => {
    const decision = round({ kind: "zone-aware", min_zones: 2 }, threeZones, [
      { name: "web", replicas: 3, placedOn: ["w1", "w2", "w1"] },
    ]);
    const nodes = placed(decision, "web")!;
    assert.equal(nodes[0], "w1", "replica 0 stays");
    assert.equal(nodes[1], "w2", "replica 1 stays");
    assert.notEqual(
      threeZones.find((w) => w.name === nodes[2])!.zone,
      "zone-a",
      "the duplicate moves to another zone",
    );
  });

  it("moves a replica out of the crowded zone when the kept ones cover too few zones", () => {
    const decision = round({ kind: "zone-aware", min_zones: 2 }, threeZones, [
      { name: "web", replicas: 2, placedOn: ["w1", "w2"] },
    ]);
    const nodes = placed(decision, "web")!;
    assert.equal(nodes[0], "w1");
    assert.notEqual(threeZones.find((w) => w.name === nodes[1])!.zone, "zone-a");
    assert.ok(
      decision.records.some((entry) => entry.rule === "placement-policy" && entry.facts.evicted === 1),
    );
  });

  it("spreads over racks under rack-aware placement", () => {
    const racks = [
      { name: "w1", zone: "zone-a", rack: "r1" },
      { name: "w2", zone: "zone-a", rack: "r1" },
      { name: "w3", zone: "zone-a", rack: "r2" },
    ];
    const decision = round({ kind: "rack-aware", min_racks: 2 }, racks, [
      { name: "web", replicas: 2, placedOn: ["w1", "w2"] },
    ]);
    assert.deepEqual(placed(decision, "web"), ["w1", "w3"]);
  });

  it("avoids nodes measured slower than max_p99_ms under latency-aware placement", () => {
    const workers = [
      { name: "w1", zone: "zone-a", latencyP99Ms: 80 },
      { name: "w2", zone: "zone-a", latencyP99Ms: 4 },
      { name: "w3", zone: "zone-a" },
    ];
    const decision = round({ kind: "latency-aware", max_p99_ms: 20 }, workers, [
      { name: "web", replicas: 2, placedOn: ["w1"] },
    ]);
    const nodes = placed(decision, "web")!;
    assert.ok(!nodes.includes("w1"), "the slow node loses its replica");
    assert.deepEqual([...nodes].sort(), ["w2", "w3"]);
  });

  it("honours zones, labels and control-plane toleration", () => {
    const workers = [
      { name: "w1", zone: "zone-a", labels: { disk: "ssd" } },
      { name: "w2", zone: "zone-b", labels: { disk: "ssd" } },
      { name: "w3", zone: "zone-b", labels: { disk: "hdd" } },
    ];
    const decision = round({ kind: "none" }, workers, [
      { name: "db", replicas: 3, zones: ["zone-b"], labels: { disk: "ssd" } },
      { name: "agent", replicas: 4, tolerateControlPlane: true },
    ]);
    assert.deepEqual(
      placed(decision, "db"),
      ["w2", "w2", "w2"],
      "only w2 is in zone-b with an ssd: replicas share it",
    );
    assert.ok(
      decision.records.some((entry) => entry.rule === "placement-stacked" && entry.subject === "default/db"),
    );
    assert.equal(placed(decision, "agent")!.length, 4, "a tolerant workload may use the control-plane node");
  });

  it("respects capacity and counts what is already placed", () => {
    const workers = [
      { name: "w1", zone: "zone-a", cpuMillis: 1000 },
      { name: "w2", zone: "zone-a", cpuMillis: 1000 },
    ];
    const decision = round({ kind: "none" }, workers, [
      { name: "big", replicas: 1, cpuMillis: 900, placedOn: ["w1"] },
      { name: "next", replicas: 2, cpuMillis: 200 },
    ]);
    assert.deepEqual(placed(decision, "next"), ["w2", "w2"], "w1 has 100 millicores left, too few for 200");
    const short = round({ kind: "none" }, workers, [
      { name: "big", replicas: 1, cpuMillis: 900, placedOn: ["w1"] },
      { name: "next", replicas: 6, cpuMillis: 200 },
    ]);
    assert.equal(placed(short, "next")!.length, 5, "w2 fits five replicas of 200 in 1000 millicores");
    assert.ok(short.records.some((entry) => entry.rule === "placement-short"));
  });

  it("keeps stacked replicas where they are until a distinct node fits, and never drops one", () => {
    const alone = round(
      { kind: "spread" },
      [{ name: "w1", zone: "zone-a" }],
      [{ name: "web", replicas: 2, placedOn: ["w1", "w1"] }],
    );
    assert.equal(placed(alone, "web"), null, "no distinct node: the stacked replica stays");
    assert.ok(alone.records.some((entry) => entry.rule === "placement-stacked" && entry.outcome === "held"));
    const spare = round({ kind: "spread" }, threeZones, [
      { name: "web", replicas: 2, placedOn: ["w1", "w1"] },
    ]);
    const nodes = placed(spare, "web")!;
    assert.equal(nodes[0], "w1");
    assert.notEqual(nodes[1], "w1", "a distinct node exists: the second replica moves there");
  });

  it("trims replicas beyond the count from the most crowded zone", () => {
    const decision = round({ kind: "spread" }, threeZones, [
      { name: "web", replicas: 2, placedOn: ["w1", "w2", "w3"] },
    ]);
    assert.deepEqual(placed(decision, "web"), ["w1", "w3"]);
    assert.ok(decision.records.some((entry) => entry.rule === "placement-trim"));
  });

  it("moves replicas off a node quarantined in this round", () => {
    const inputs = syntheticInputs({
      nowMs: 100_000,
      self: "cp",
      formation: "solo",
      nodes: [
        { name: "cp", zone: "zone-a", roles: controlPlane },
        { name: "w1", zone: "zone-a", roles: ["worker"], sinceMs: 99_000 },
        { name: "w2", zone: "zone-a", roles: ["worker"] },
      ],
      flaps: [
        { name: "w1", atMs: 90_000 },
        { name: "w1", atMs: 95_000 },
        { name: "w1", atMs: 98_000 },
      ],
      workloads: [{ name: "web", replicas: 1, placedOn: ["w1"] }],
    });
    const decision = decide(inputs);
    assert.ok(
      decision.commands.some(
        ({ command }) => command.type === "quarantine" && command.node === syntheticNodeId(2),
      ),
    );
    assert.deepEqual(placed(decision, "web"), ["w2"]);
  });
});

describe("incremental placement rounds (decideIncremental)", () => {
  const placedInputs = () => {
    const fresh = syntheticInputs({
      nowMs: 60_000,
      self: "cp",
      formation: "solo",
      strategy: { ...homelabStrategy, placement: { kind: "zone-aware", min_zones: 2 } },
      nodes: [
        { name: "cp", zone: "zone-a", roles: controlPlane },
        ...threeZones.map((w, i) => ({
          ...w,
          roles: ["worker" as const],
          labels: { disk: i % 2 === 0 ? "ssd" : "hdd" },
        })),
      ],
      workloads: [
        { name: "web", replicas: 3 },
        { name: "db", replicas: 2, labels: { disk: "ssd" } },
        { name: "api", replicas: 2 },
      ],
    });
    return { ...fresh, state: applyCommands(fresh.state, decide(fresh).commands) };
  };

  /** The same inputs (the very same workload and placement records) with one member dead. */
  const withDead = (inputs: ReturnType<typeof placedInputs>, victim: string) => ({
    ...inputs,
    membership: {
      members: inputs.membership.members.map((member) =>
        member.id === victim ? { ...member, status: "dead" as const } : member,
      ),
    },
  });

  it("a steady round reuses the memo and decides what decide does", () => {
    const steady = placedInputs();
    const first = decideIncremental(steady, null);
    assert.deepEqual(first.decision, decide(steady));
    assert.ok(first.memo !== null);
    assert.deepEqual(first.memo.unsettled, [], "every workload settled");
    const second = decideIncremental(steady, first.memo);
    assert.deepEqual(second.decision, decide(steady));
    assert.equal(second.memo?.byNode, first.memo.byNode, "the index of the round before is kept");
  });

  it("a node that dies moves its replicas although workloads and placements are the same objects", () => {
    const steady = placedInputs();
    const { memo } = decideIncremental(steady, null);
    const victim = steady.state.placements["default/web"]![0]!;
    const after = withDead(steady, victim);
    const expected = decide(after);
    const incremental = decideIncremental(after, memo);
    assert.deepEqual(incremental.decision, expected);
    const moved = expected.commands.filter(({ command }) => command.type === "placement");
    assert.ok(moved.length > 0, "the dead node's replicas move");
    for (const { command } of moved) {
      assert.ok(command.type === "placement" && !command.nodes.includes(victim));
    }
    // A label that no longer fits: a change of node facts, not of the placement records.
    const relabelled = {
      ...steady,
      state: {
        ...steady.state,
        nodes: Object.fromEntries(
          Object.entries(steady.state.nodes).map(([id, node]) => [id, { ...node, labels: {} }]),
        ) as typeof steady.state.nodes,
      },
    };
    assert.deepEqual(decideIncremental(relabelled, memo).decision, decide(relabelled));
  });

  it("reuses each node's usage while the records are the same, and sums it again once they change", () => {
    const steady = placedInputs();
    const deadVictim = withDead(steady, steady.state.placements["default/web"]![0]!);
    // Re-placing the dead node's replicas needs each node's usage: the memo keeps it.
    const first = decideIncremental(deadVictim, null);
    assert.ok(first.memo?.usage != null, "the round that placed replicas kept the usage");
    const again = decideIncremental(deadVictim, first.memo);
    assert.deepEqual(again.decision, decide(deadVictim));
    assert.equal(again.memo?.usage, first.memo.usage, "the same records: the same usage map");
    // The placements the round asked for, committed: new records, so the usage is summed anew.
    const moved = { ...deadVictim, state: applyCommands(deadVictim.state, first.decision.commands) };
    const next = decideIncremental(moved, again.memo);
    assert.deepEqual(next.decision, decide(moved));
    assert.notEqual(next.memo?.usage ?? null, first.memo.usage);
  });
});
