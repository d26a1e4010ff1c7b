// Goal: each rule of a policy round does what docs/policy.md says, one rule per test. Method:
// compact synthetic clusters (synthetic.ts), one round or a short sequence through the
// simulation world, assertions on commands, records and rule codes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalJson, homelabStrategy, type NodeRole, type PlacementPolicy } from "../vocabulary/index.js";
import {
  Decision,
  decide,
  defaultPolicyConfig,
  type MembershipEvent,
  nextRoundInputs,
  PolicyConfig,
  PolicyInputs,
  RoleTargets,
  resolvePolicyConfig,
  type SyntheticNode,
  syntheticInputs,
  syntheticNodeId,
} from "./index.js";

const master: readonly NodeRole[] = ["api-server", "controller-manager", "etcd", "scheduler", "worker"];
const worker: readonly NodeRole[] = ["worker"];
const id = syntheticNodeId;

function masters(count: number, extra: readonly SyntheticNode[] = []): SyntheticNode[] {
  const nodes = Array.from({ length: count }, (_, index) => ({
    name: `cp-${index + 1}`,
    zone: `zone-${"abc"[index % 3]}`,
    roles: master,
  }));
  return [...nodes, ...extra];
}

const rules = (decision: Decision) => decision.records.map((entry) => entry.rule);

describe("policy config", () => {
  it("derives its defaults from the strategy's cadences", () => {
    const config = defaultPolicyConfig(homelabStrategy);
    assert.equal(config.hysteresis_ms, 4 * homelabStrategy.reconciliation.millis);
    assert.equal(config.stabilization_ms, 5 * homelabStrategy.membership.failure_detector_timeout_ms);
    assert.equal(config.restore_window_ms, 5000);
    assert.ok(PolicyConfig.safeParse(config).success);
    const slower = { ...homelabStrategy, reconciliation: { millis: 2000 } };
    assert.equal(defaultPolicyConfig(slower).hysteresis_ms, 8000);
  });

  it("applies overrides field by field", () => {
    const config = resolvePolicyConfig(homelabStrategy, { standby_count: 3, role_targets: { scheduler: 2 } });
    assert.equal(config.standby_count, 3);
    assert.deepEqual(config.role_targets, { scheduler: 2 });
    assert.equal(config.hysteresis_ms, defaultPolicyConfig(homelabStrategy).hysteresis_ms);
  });

  it("refuses an even etcd target", () => {
    assert.equal(RoleTargets.safeParse({ etcd: 4 }).success, false);
    assert.equal(RoleTargets.safeParse({ etcd: 5 }).success, true);
  });
});

describe("target shape", () => {
  it("follows the formation with odd voters, and caps configured roles to keep workers", () => {
    const nodes = masters(
      3,
      [1, 2, 3].map((n) => ({ name: `w-${n}`, roles: worker })),
    );
    const decision = decide(
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "mesh-all-peers",
        config: { role_targets: { "api-server": 6 }, min_workers: 2 },
        nodes,
      }),
    );
    assert.equal(decision.target.voters, 5, "mesh of 6 nodes: largest odd count");
    assert.equal(decision.target.roles.etcd, 5);
    assert.equal(decision.target.roles["api-server"], 5, "capped at max(voters, nodes - min_workers)");
  });

  it("keeps a dead member's seat during the grace period, then lets it go", () => {
    const at = (nowMs: number) =>
      decide(
        syntheticInputs({
          nowMs,
          self: "cp-1",
          formation: "mesh-all-peers",
          nodes: masters(5).map((node) =>
            node.name === "cp-5" ? { ...node, status: "dead" as const, sinceMs: 0 } : node,
          ),
        }),
      );
    assert.equal(at(10_000).target.voters, 5);
    assert.equal(at(40_000).target.voters, 3);
  });
});

describe("authority", () => {
  it("proposes nothing when this node is not the leader", () => {
    const decision = decide(
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-2",
        leader: "cp-1",
        formation: "quorum-3m",
        nodes: masters(3),
      }),
    );
    assert.equal(decision.acting, false);
    assert.deepEqual(decision.commands, []);
    assert.deepEqual(rules(decision), ["not-leader"]);
  });

  it("proposes nothing when gossip shows a minority of voters, even if check-quorum still holds", () => {
    const nodes = masters(3).map((node) =>
      node.name === "cp-1" ? node : { ...node, status: "dead" as const },
    );
    const decision = decide(syntheticInputs({ nowMs: 60_000, self: "cp-1", formation: "quorum-3m", nodes }));
    assert.deepEqual(rules(decision), ["minority-partition"]);
    assert.equal(decision.records[0]!.facts.reachable_voters, 1);
  });
});

describe("role shifts", () => {
  it("never demotes the node running the round", () => {
    const nodes = masters(5);
    const decision = decide(
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "quorum-3m",
        nodes: nodes.map((node) => ({ ...node, phi: node.name === "cp-1" ? 20 : 0.1 })),
      }),
    );
    const demoted = decision.commands.flatMap(({ command }) =>
      command.type === "demote" ? [command.node] : [],
    );
    assert.equal(demoted.length, 2, "five voters shrink to three, two at a time is within (5 - 1) / 2");
    assert.ok(!demoted.includes(id(1)), "the leader is not demoted even with the worst score");
  });

  it("holds a promotion for a node that shifted within the hysteresis window", () => {
    const decision = decide(
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "quorum-3m",
        nodes: masters(3, [{ name: "w-1", roles: worker }]).map((node) =>
          node.name === "cp-3" ? { ...node, status: "dead" as const, sinceMs: 59_000 } : node,
        ),
        shifts: [{ name: "w-1", atMs: 59_500, type: "restore" }],
      }),
    );
    assert.deepEqual(
      decision.commands.filter(({ command }) => command.type === "promote"),
      [],
    );
    assert.ok(rules(decision).includes("hysteresis"));
  });

  it("prefers a caught-up warm standby over a healthier worker", () => {
    const decision = decide(
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "quorum-3m",
        nodes: masters(3, [
          { name: "w-1", zone: "zone-c", roles: worker, phi: 0 },
          { name: "w-2", zone: "zone-c", roles: worker, phi: 3 },
        ]).map((node) =>
          node.name === "cp-3" ? { ...node, status: "dead" as const, sinceMs: 59_000 } : node,
        ),
        learners: [{ name: "w-2", caughtUp: true }],
      }),
    );
    const promoted = decision.commands.find(({ command }) => command.type === "promote");
    assert.equal(promoted?.command.type === "promote" ? promoted.command.node : null, id(5));
  });

  it("spreads masters by the placement policy: a new rack, or the lowest measured latency", () => {
    const promotedUnder = (placement: PlacementPolicy, workers: readonly SyntheticNode[]) => {
      const decision = decide(
        syntheticInputs({
          nowMs: 60_000,
          self: "cp-1",
          formation: "quorum-3m",
          strategy: { ...homelabStrategy, placement },
          nodes: [
            { name: "cp-1", zone: "zone-a", rack: "r1", roles: master },
            { name: "cp-2", zone: "zone-a", rack: "r2", roles: master },
            { name: "cp-3", zone: "zone-a", rack: "r3", roles: master, status: "dead", sinceMs: 59_000 },
            ...workers,
          ],
        }),
      );
      const promoted = decision.commands.find(({ command }) => command.type === "promote");
      return promoted?.command.type === "promote" ? promoted.command.node : null;
    };
    const racks = [
      { name: "w-1", zone: "zone-a", rack: "r1", roles: worker },
      { name: "w-2", zone: "zone-a", rack: "r3", roles: worker },
    ];
    assert.equal(
      promotedUnder({ kind: "rack-aware", min_racks: 3 }, racks),
      id(5),
      "r3 has no live master left",
    );
    const latencies = [
      { name: "w-1", zone: "zone-a", roles: worker, latencyP99Ms: 30 },
      { name: "w-2", zone: "zone-a", roles: worker, latencyP99Ms: 2 },
    ];
    assert.equal(
      promotedUnder({ kind: "latency-aware", max_p99_ms: 10 }, latencies),
      id(5),
      "w-1 is above max_p99_ms",
    );
  });

  it("keeps a live majority of voters through a rolling restart of every master (anchors R3)", () => {
    for (const downMs of [400, 1000, 1800]) {
      let inputs = syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "cluster-3m-nw",
        nodes: masters(
          3,
          [1, 2, 3].map((n) => ({ name: `w-${n}`, zone: `zone-${"abc"[n - 1]}`, roles: worker })),
        ),
        learners: [{ name: "w-1", caughtUp: true }],
      });
      for (let tick = 1; tick <= 30; tick += 1) {
        const nowMs = 60_000 + tick * 250;
        const events = [1, 2, 3].flatMap((position): MembershipEvent[] => {
          const downAt = 60_000 + position * 2000;
          if (nowMs === downAt) return [{ node: id(position), status: "dead" as const }];
          if (nowMs === downAt + downMs - (downMs % 250))
            return [{ node: id(position), status: "alive" as const }];
          return [];
        });
        inputs = nextRoundInputs(inputs, decide(inputs), nowMs, events);
        const alive = new Set(inputs.membership.members.filter((m) => m.status === "alive").map((m) => m.id));
        const live = inputs.raft.voters.filter((voter) => alive.has(voter)).length;
        assert.ok(2 * live > inputs.raft.voters.length, `majority alive at ${nowMs} ms (down ${downMs} ms)`);
      }
    }
  });
});

describe("operator overrides", () => {
  const base = (requests: PolicyInputs["operator_requests"]) =>
    decide(
      syntheticInputs({ nowMs: 60_000, self: "cp-1", formation: "quorum-3m", nodes: masters(3), requests }),
    );

  it("refuses a demotion past the removal cap without force and proposes it with force", () => {
    const demote = (node: number) => ({
      command: {
        type: "demote" as const,
        node: id(node),
        roles: ["etcd" as const],
        reason: "operator" as const,
      },
      force: false,
    });
    // Two workers stand by, so one demotion keeps the control plane at its target.
    const withWorkers = (requests: PolicyInputs["operator_requests"]) =>
      decide(
        syntheticInputs({
          nowMs: 60_000,
          self: "cp-1",
          formation: "quorum-3m",
          nodes: masters(3, [
            { name: "w-1", zone: "zone-a", roles: worker },
            { name: "w-2", zone: "zone-b", roles: worker },
          ]),
          requests,
        }),
      );
    const refused = withWorkers([demote(2), demote(3)]);
    assert.equal(refused.commands.length, 1);
    assert.equal(refused.records[1]!.outcome, "refused");
    assert.equal(refused.records[1]!.rule, "removal-cap");
    const forced = withWorkers([demote(2), { ...demote(3), force: true }]);
    const operatorCommands = forced.commands.filter((proposed) => proposed.origin === "operator");
    assert.equal(operatorCommands.length, 2);
    assert.equal(operatorCommands[1]!.force, true);
    assert.equal(forced.records[1]!.outcome, "forced");
    assert.ok(rules(forced).includes("operator-round"), "a round with operator shifts makes no policy shift");
  });

  it("refuses requests that change nothing or name unknown nodes, force or not", () => {
    const decision = base([
      { command: { type: "restore", node: id(2) }, force: true },
      { command: { type: "quarantine", node: id(9), reason: "operator" }, force: true },
    ]);
    assert.deepEqual(
      decision.records.slice(0, 2).map((entry) => [entry.outcome, entry.rule]),
      [
        ["refused", "no-op"],
        ["refused", "unknown-node"],
      ],
    );
    assert.deepEqual(decision.commands, []);
  });
});

describe("determinism and schemas", () => {
  it("decides the same bytes whatever the key order of its inputs", () => {
    const inputs = syntheticInputs({
      nowMs: 60_000,
      self: "cp-1",
      formation: "quorum-3m",
      nodes: masters(3, [{ name: "w-1", roles: [] }]),
      workloads: [
        { name: "a", replicas: 1 },
        { name: "b", replicas: 1 },
      ],
    });
    const reversed = {
      ...inputs,
      state: {
        ...inputs.state,
        nodes: Object.fromEntries(Object.entries(inputs.state.nodes).reverse()),
        workloads: Object.fromEntries(Object.entries(inputs.state.workloads).reverse()),
      },
    } as PolicyInputs;
    assert.equal(canonicalJson(decide(reversed)), canonicalJson(decide(inputs)));
  });

  it("takes inputs that validate and returns decisions that validate", () => {
    const inputs = syntheticInputs({ nowMs: 1, self: "cp-1", formation: "solo", nodes: masters(1) });
    assert.ok(PolicyInputs.safeParse(JSON.parse(JSON.stringify(inputs))).success);
    assert.ok(Decision.safeParse(decide(inputs)).success);
  });
});
