// Writes the policy engine's golden scenario inputs (src/policy/testdata/<scenario>/inputs.json,
// or <scenario>/<step>/inputs.json for sequences) from compact descriptions, and the example
// examples/policy-inputs.json. Run it when a
// scenario changes, then `UPDATE_GOLDEN=1` the golden test and review both diffs like code.
//   node --conditions=source --import tsx scripts/policy-scenarios.ts
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  decide,
  joinNode,
  type MembershipEvent,
  nextRoundInputs,
  type PolicyInputs,
  type SyntheticNode,
  syntheticInputs,
  syntheticNodeId,
} from "../src/policy/index.js";
import { canonicalJson, homelabStrategy, type NodeRole } from "../src/vocabulary/index.js";

const controlPlane: readonly NodeRole[] = ["api-server", "controller-manager", "etcd", "scheduler", "worker"];
const worker: readonly NodeRole[] = ["worker"];

interface Scenario {
  readonly name: string;
  readonly about: string;
  /** One inputs object, or a sequence of rounds. */
  readonly rounds: () => readonly PolicyInputs[];
}

interface Step {
  readonly atMs: number;
  readonly events?: readonly MembershipEvent[];
  /** Changes the world beyond membership (a node joining the committed state). */
  readonly edit?: (inputs: PolicyInputs) => PolicyInputs;
}

/** Runs `first` and then one round per step, applying the engine's own output in between. */
function sequence(first: PolicyInputs, steps: readonly Step[]): PolicyInputs[] {
  const rounds = [first];
  for (const step of steps) {
    const previous = rounds[rounds.length - 1]!;
    const next = nextRoundInputs(previous, decide(previous), step.atMs, step.events ?? []);
    rounds.push(step.edit === undefined ? next : step.edit(next));
  }
  return rounds;
}

const id = syntheticNodeId;

const threeMasters = (overrides: Partial<Record<string, Partial<SyntheticNode>>> = {}): SyntheticNode[] =>
  [
    { name: "cp-1", zone: "zone-a", roles: controlPlane },
    { name: "cp-2", zone: "zone-b", roles: controlPlane },
    { name: "cp-3", zone: "zone-c", roles: controlPlane },
    { name: "w-1", zone: "zone-a", roles: worker },
    { name: "w-2", zone: "zone-b", roles: worker },
    { name: "w-3", zone: "zone-c", roles: worker },
  ].map((node) => ({ ...node, ...(overrides[node.name] ?? {}) }));

const scenarios: readonly Scenario[] = [
  {
    name: "typical",
    about: "Three masters, three workers, everything healthy: nothing to do, and the records say so.",
    rounds: () => [
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "cluster-3m-nw",
        nodes: threeMasters(),
        learners: [{ name: "w-2", caughtUp: true }],
        workloads: [{ name: "web", replicas: 2, placedOn: ["w-1", "w-2"] }],
      }),
    ],
  },
  {
    name: "one-failed-voter",
    about:
      "cp-3 dies. Round 1 promotes the caught-up standby w-3 (same zone) to replace it; round 2 demotes the dead voter; round 3 is quiet.",
    rounds: () =>
      sequence(
        syntheticInputs({
          nowMs: 60_000,
          self: "cp-1",
          formation: "cluster-3m-nw",
          nodes: threeMasters({ "cp-3": { status: "dead", sinceMs: 59_000 } }),
          learners: [{ name: "w-3", caughtUp: true }],
          workloads: [{ name: "web", replicas: 2, placedOn: ["w-1", "w-3"] }],
        }),
        [{ atMs: 60_500 }, { atMs: 61_000 }],
      ),
  },
  {
    name: "failed-leader",
    about:
      "The leader cp-1 dies and cp-2 wins the election. With no warm standby, zone-aware spread picks w-1 (zone-a, the zone that lost its master).",
    rounds: () => [
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-2",
        formation: "cluster-3m-nw",
        nodes: threeMasters({ "cp-1": { status: "dead", sinceMs: 59_200 } }),
      }),
    ],
  },
  {
    name: "minority-partition",
    about:
      "A stale leader on the two-node side of a 2/3 partition of five voters: check-quorum failed, it proposes nothing, and an operator request is refused too.",
    rounds: () => [
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "mesh-all-peers",
        quorumVisible: false,
        nodes: [
          { name: "cp-1", zone: "zone-a", roles: controlPlane },
          { name: "cp-2", zone: "zone-a", roles: controlPlane },
          { name: "cp-3", zone: "zone-b", roles: controlPlane, status: "dead", sinceMs: 59_000 },
          { name: "cp-4", zone: "zone-b", roles: controlPlane, status: "dead", sinceMs: 59_000 },
          { name: "cp-5", zone: "zone-b", roles: controlPlane, status: "dead", sinceMs: 59_000 },
        ],
        requests: [
          { command: { type: "demote", node: id(3), roles: ["etcd"], reason: "operator" }, force: true },
        ],
      }),
    ],
  },
  {
    name: "two-failures",
    about:
      "Five voters (role_targets.etcd = 5), two die at once. Round 1 promotes two workers; round 2 removes both dead voters ((7 - 1) / 2 = 3 may go).",
    rounds: () =>
      sequence(
        syntheticInputs({
          nowMs: 60_000,
          self: "cp-1",
          formation: "quorum-3m",
          config: { role_targets: { etcd: 5 } },
          nodes: [
            { name: "cp-1", zone: "zone-a", roles: controlPlane },
            { name: "cp-2", zone: "zone-b", roles: controlPlane },
            { name: "cp-3", zone: "zone-c", roles: controlPlane },
            { name: "cp-4", zone: "zone-a", roles: controlPlane, status: "dead", sinceMs: 59_000 },
            { name: "cp-5", zone: "zone-b", roles: controlPlane, status: "dead", sinceMs: 59_000 },
            { name: "w-1", zone: "zone-a", roles: worker },
            { name: "w-2", zone: "zone-b", roles: worker },
            { name: "w-3", zone: "zone-c", roles: worker },
            { name: "w-4", zone: "zone-c", roles: worker },
          ],
          learners: [{ name: "w-2", caughtUp: true }],
        }),
        [{ atMs: 60_500 }],
      ),
  },
  {
    name: "rolling-restart",
    about:
      "Every master restarts in turn, 2 s apart, each down for 1 s; rounds every 500 ms. A replacement is promoted before each dead master is demoted, so a majority of voters is alive in every round.",
    rounds: () => {
      const steps: Step[] = [];
      const down = (position: number): MembershipEvent[] => [{ node: id(position), status: "dead" }];
      const up = (position: number): MembershipEvent[] => [{ node: id(position), status: "alive" }];
      const events = new Map<number, MembershipEvent[]>([
        [62_000, down(2)],
        [63_000, up(2)],
        [64_000, down(3)],
        [65_000, up(3)],
      ]);
      for (let atMs = 60_500; atMs <= 66_000; atMs += 500) {
        steps.push({ atMs, events: [...(events.get(atMs) ?? []), ...(atMs === 61_000 ? up(1) : [])] });
      }
      return sequence(
        syntheticInputs({
          nowMs: 60_000,
          self: "cp-2",
          leader: "cp-2",
          formation: "cluster-3m-nw",
          nodes: threeMasters({ "cp-1": { status: "dead", sinceMs: 60_000 } }),
          learners: [{ name: "w-1", caughtUp: true }],
        }),
        steps,
      );
    },
  },
  {
    name: "flapping-node",
    about:
      "w-2 flapped three times in 30 s and is quarantined; cp-3 flaps too and is replaced first (a master is demoted before it can be quarantined); w-3 has been stable for 6 s and is restored; w-4 was quarantined by an operator and stays.",
    rounds: () => [
      syntheticInputs({
        nowMs: 100_000,
        self: "cp-1",
        formation: "cluster-3m-nw",
        nodes: [
          ...threeMasters({
            "cp-3": { sinceMs: 99_000 },
            "w-2": { sinceMs: 99_500 },
            "w-3": { roles: ["quarantined"], sinceMs: 94_000 },
          }),
          { name: "w-4", zone: "zone-a", roles: ["quarantined"] },
          { name: "w-5", zone: "zone-c", roles: worker },
        ],
        flaps: [
          { name: "w-2", atMs: 80_000 },
          { name: "w-2", atMs: 90_000 },
          { name: "w-2", atMs: 99_000 },
          { name: "cp-3", atMs: 85_000 },
          { name: "cp-3", atMs: 92_000 },
          { name: "cp-3", atMs: 98_500 },
          { name: "w-3", atMs: 75_000 },
        ],
        operatorHolds: ["w-4"],
      }),
    ],
  },
  {
    name: "zone-loss",
    about:
      "zone-c (cp-3, w-5, w-6) is lost. The master is replaced from a surviving zone, and replicas on zone-c move to keep two zones per workload (zone-aware, min_zones 2).",
    rounds: () => {
      const strategy = { ...homelabStrategy, placement: { kind: "zone-aware" as const, min_zones: 2 } };
      const dead = { status: "dead" as const, sinceMs: 59_000 };
      return [
        syntheticInputs({
          nowMs: 60_000,
          self: "cp-1",
          formation: "cluster-3m-nw",
          strategy,
          nodes: [
            { name: "cp-1", zone: "zone-a", roles: controlPlane },
            { name: "cp-2", zone: "zone-b", roles: controlPlane },
            { name: "cp-3", zone: "zone-c", roles: controlPlane, ...dead },
            { name: "w-1", zone: "zone-a", roles: worker },
            { name: "w-2", zone: "zone-a", roles: worker },
            { name: "w-3", zone: "zone-b", roles: worker },
            { name: "w-4", zone: "zone-b", roles: worker },
            { name: "w-5", zone: "zone-c", roles: worker, ...dead },
            { name: "w-6", zone: "zone-c", roles: worker, ...dead },
          ],
          workloads: [
            { name: "api", replicas: 3, placedOn: ["w-1", "w-3", "w-5"] },
            { name: "cache", replicas: 2, placedOn: ["w-5", "w-6"] },
            { name: "db", replicas: 2, placedOn: ["w-2", "w-6"] },
            { name: "edge", replicas: 1, zones: ["zone-c"], placedOn: ["w-6"] },
          ],
        }),
      ];
    },
  },
  {
    name: "adding-nodes",
    about:
      "mesh-all-peers grows from 1 to 9 nodes, one joining every 5 s. Each joiner gets the worker role at once; when the odd target grows it is promoted after its stabilization period and the damper window.",
    rounds: () => {
      const steps: Step[] = [];
      for (let position = 2; position <= 9; position += 1) {
        const joinMs = position * 5000;
        steps.push({
          atMs: joinMs,
          events: [{ node: id(position), status: "alive" }],
          edit: (inputs) => joinNode(inputs, first.state.nodes[id(position)]!),
        });
        steps.push({ atMs: joinMs + 2000 });
      }
      const first = syntheticInputs({
        nowMs: 5000,
        self: "node-1",
        formation: "mesh-all-peers",
        nodes: Array.from({ length: 9 }, (_, index) => ({
          name: `node-${index + 1}`,
          zone: `zone-${"abc"[index % 3]}`,
          roles: index === 0 ? controlPlane : [],
          absent: index > 0,
        })),
      });
      // Nodes join the committed state as they appear; until then they are not in it.
      return sequence(onlyFirstNode(first), steps);
    },
  },
  {
    name: "scaling-down",
    about:
      "Seven voters in mesh-all-peers; three nodes leave, so the target drops to three voters for four nodes. Round 1 removes the three that left ((7 - 1) / 2 = 3 may go) and holds the healthy extra; round 2 removes it ((4 - 1) / 2 = 1).",
    rounds: () => {
      const left = { status: "left" as const, sinceMs: 59_000 };
      return sequence(
        syntheticInputs({
          nowMs: 60_000,
          self: "node-1",
          formation: "mesh-all-peers",
          nodes: Array.from({ length: 7 }, (_, index) => ({
            name: `node-${index + 1}`,
            zone: `zone-${"abc"[index % 3]}`,
            roles: controlPlane,
            ...(index >= 4 ? left : {}),
          })),
        }),
        [{ atMs: 60_500 }, { atMs: 61_000 }],
      );
    },
  },
  {
    name: "operator-override",
    about:
      "Operator requests judged against the rules: a promotion of an unstable node without force (refused, stabilization), the same rule broken with force (forced), a demotion that breaks nothing (proposed).",
    rounds: () => [
      syntheticInputs({
        nowMs: 60_000,
        self: "cp-1",
        formation: "cluster-3m-nw",
        nodes: threeMasters({ "w-1": { sinceMs: 59_900 }, "w-2": { sinceMs: 59_900 } }),
        requests: [
          { command: { type: "promote", node: id(4), roles: ["etcd"], reason: "operator" }, force: false },
          {
            command: { type: "promote", node: id(5), roles: ["api-server"], reason: "operator" },
            force: true,
          },
          {
            command: { type: "demote", node: id(3), roles: ["scheduler"], reason: "operator" },
            force: false,
          },
        ],
      }),
    ],
  },
  {
    name: "two-voters-refuse",
    about:
      "Anchors R5: a three-voter cluster lost one master long ago and has no spare node. The dead voter went; of the two left, neither may go: (2 - 1) / 2 = 0.",
    rounds: () =>
      sequence(
        syntheticInputs({
          nowMs: 600_000,
          self: "cp-1",
          formation: "quorum-3m",
          config: { min_workers: 0 },
          nodes: [
            { name: "cp-1", zone: "zone-a", roles: controlPlane },
            { name: "cp-2", zone: "zone-b", roles: controlPlane },
            { name: "cp-3", zone: "zone-c", roles: controlPlane, status: "dead", sinceMs: 100_000 },
          ],
        }),
        [{ atMs: 600_500 }],
      ),
  },
  {
    name: "readme-walkthrough",
    about:
      "The README's walk-through after `revoada kill node-1` healed: node-4 took node-1's seat, node-5 is the last worker. Quarantining node-5 would leave no node to take a workload; quarantining node-4 would force node-5's promotion, with the same result. Both are refused without force, and say why.",
    rounds: () => [
      syntheticInputs({
        nowMs: 600_000,
        self: "node-2",
        formation: "quorum-3m",
        nodes: [
          { name: "node-1", zone: "zone-a", roles: controlPlane, status: "dead", sinceMs: 595_000 },
          { name: "node-2", zone: "zone-b", roles: controlPlane },
          { name: "node-3", zone: "zone-c", roles: controlPlane },
          { name: "node-4", zone: "zone-a", roles: controlPlane, sinceMs: 400_000 },
          { name: "node-5", zone: "zone-b", roles: worker },
        ],
        voters: ["node-2", "node-3", "node-4"],
        workloads: [{ name: "web", replicas: 2, placedOn: ["node-5"] }],
        requests: [
          { command: { type: "quarantine", node: id(5), reason: "operator" }, force: false },
          { command: { type: "quarantine", node: id(4), reason: "operator" }, force: false },
        ],
      }),
    ],
  },
];

/** The template with every node but the first taken out of the state and the view. */
function onlyFirstNode(template: PolicyInputs): PolicyInputs {
  const first = id(1);
  return {
    ...template,
    state: {
      ...template.state,
      nodes: { [first]: template.state.nodes[first]! } as PolicyInputs["state"]["nodes"],
    },
    membership: { members: template.membership.members.filter((member) => member.id === first) },
  };
}

const root = new URL("../src/policy/testdata/", import.meta.url).pathname;
for (const scenario of scenarios) {
  const directory = join(root, scenario.name);
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "about.txt"), `${scenario.about}\n`);
  const rounds = scenario.rounds();
  // Goldens stay (the golden test compares against them); rounds that no longer exist go.
  for (const entry of readdirSync(directory)) {
    const index = entry.startsWith("round-") ? Number(entry.slice("round-".length)) : 0;
    if (index > (rounds.length === 1 ? 0 : rounds.length))
      rmSync(join(directory, entry), { recursive: true });
  }
  rounds.forEach((inputs, index) => {
    const target =
      rounds.length === 1 ? directory : join(directory, `round-${String(index + 1).padStart(2, "0")}`);
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, "inputs.json"), canonicalJson(inputs));
  });
  process.stdout.write(`${scenario.name}: ${rounds.length} round${rounds.length === 1 ? "" : "s"}\n`);
  // The zone-loss round doubles as the example `revoada policy explain --state` reads.
  if (scenario.name === "zone-loss") {
    writeFileSync(new URL("../../../examples/policy-inputs.json", import.meta.url), canonicalJson(rounds[0]));
  }
}
