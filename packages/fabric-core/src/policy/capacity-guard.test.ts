// Goal: an operator shift that would leave no node able to take a workload, or the control
// plane below its target with nobody to promote, is refused without force (the record names
// the rule and says why) and proposed with force; one that leaves both intact is proposed.
// Method: the README's walk-through state as fixed cases (five nodes, node-1 killed and
// replaced, one worker left), then a fast-check property over random small clusters and
// random unforced requests: whatever the engine proposes keeps another workload host when it
// takes one away, and keeps every control-plane role reachable at its target.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { controlPlaneRoles, isControlPlaneRole, type NodeRole } from "../vocabulary/index.js";
import {
  type Decision,
  decide,
  type OperatorRequest,
  type SyntheticNode,
  syntheticInputs,
  syntheticNodeId,
} from "./index.js";

const controlPlane: readonly NodeRole[] = ["api-server", "controller-manager", "etcd", "scheduler"];
const worker: readonly NodeRole[] = ["worker"];
const id = syntheticNodeId;
const nowMs = 600_000;

/** After `revoada kill node-1` healed: node-4 was promoted in node-1's place, node-5 is the last worker. */
const afterLeaderKill: readonly SyntheticNode[] = [
  { name: "node-1", zone: "zone-a", roles: controlPlane, status: "dead", sinceMs: nowMs - 5000 },
  { name: "node-2", zone: "zone-b", roles: controlPlane },
  { name: "node-3", zone: "zone-c", roles: controlPlane },
  { name: "node-4", zone: "zone-a", roles: controlPlane, sinceMs: nowMs - 200_000 },
  { name: "node-5", zone: "zone-b", roles: worker },
];

function judge(nodes: readonly SyntheticNode[], requests: readonly OperatorRequest[]): Decision {
  return decide(
    syntheticInputs({
      nowMs,
      self: "node-2",
      formation: "quorum-3m",
      nodes,
      voters: ["node-2", "node-3", "node-4"],
      requests,
    }),
  );
}

const quarantine = (position: number, force = false): OperatorRequest => ({
  command: { type: "quarantine", node: id(position), reason: "operator" },
  force,
});

describe("operator shifts that would leave the fabric unable to work", () => {
  it("refuses to quarantine the last worker, says why, and proposes it with force", () => {
    const refused = judge(afterLeaderKill, [quarantine(5)]);
    const record = refused.records[0]!;
    assert.equal(record.outcome, "refused");
    assert.equal(record.rule, "no-workload-host");
    assert.match(record.message, /refused: .*it would leave no node able to take a workload/);
    assert.match(record.message, /repeat with force/);
    assert.equal(refused.commands.filter((proposed) => proposed.origin === "operator").length, 0);

    const forced = judge(afterLeaderKill, [quarantine(5, true)]);
    assert.equal(forced.records[0]!.outcome, "forced");
    assert.deepEqual(
      forced.commands
        .filter((proposed) => proposed.origin === "operator")
        .map((proposed) => proposed.command),
      [quarantine(5).command],
    );
  });

  it("refuses to quarantine a node that just joined the control plane when its replacement is the last worker", () => {
    const decision = judge(afterLeaderKill, [quarantine(4)]);
    const record = decision.records[0]!;
    assert.equal(record.outcome, "refused");
    assert.equal(record.rule, "no-workload-host");
    assert.match(record.message, /node-5 .*would be promoted to keep the control plane at its target/);
  });

  it("refuses a quarantine that leaves the control plane below target with nobody to promote", () => {
    const nodes: SyntheticNode[] = [
      { name: "node-1", roles: controlPlane },
      { name: "node-2", roles: controlPlane },
      { name: "node-3", roles: controlPlane },
    ];
    const decision = decide(
      syntheticInputs({ nowMs, self: "node-1", formation: "quorum-3m", nodes, requests: [quarantine(2)] }),
    );
    const record = decision.records[0]!;
    assert.equal(record.outcome, "refused");
    assert.equal(record.rule, "control-plane-target");
    assert.match(record.message, /below its target \(healthy holders: .*etcd 2 of 3/);
  });

  it("proposes a quarantine that leaves a worker and a replacement", () => {
    const nodes = [...afterLeaderKill, { name: "node-6", zone: "zone-c", roles: worker }];
    const decision = judge(nodes, [quarantine(5)]);
    assert.equal(decision.records[0]!.outcome, "proposed");
    assert.equal(decision.records[0]!.rule, "operator-request");
  });

  it("does not let two requests of one round each leave one host and together leave none", () => {
    const nodes = [...afterLeaderKill, { name: "node-6", zone: "zone-c", roles: worker }];
    const decision = judge(nodes, [quarantine(5), quarantine(6)]);
    assert.deepEqual(
      decision.records.slice(0, 2).map((entry) => [entry.outcome, entry.rule]),
      [
        ["proposed", "operator-request"],
        ["refused", "no-workload-host"],
      ],
    );
  });
});

const status = fc.constantFrom("alive", "alive", "alive", "suspect", "dead") as fc.Arbitrary<
  "alive" | "suspect" | "dead"
>;
const cluster = fc.array(fc.record({ controlPlane: fc.boolean(), status, stable: fc.boolean() }), {
  minLength: 2,
  maxLength: 7,
});
const requestKind = fc.constantFrom("quarantine", "demote", "promote") as fc.Arbitrary<
  "quarantine" | "demote" | "promote"
>;

describe("capacity guard properties", () => {
  it("an unforced shift the engine proposes keeps a workload host and a reachable control-plane target", () => {
    let proposedCount = 0;
    let refusedCount = 0;
    fc.assert(
      fc.property(cluster, requestKind, fc.nat(), (drawn, kind, pick) => {
        const nodes: SyntheticNode[] = [
          { name: "n1", roles: controlPlane },
          ...drawn.map((node, index) => ({
            name: `n${index + 2}`,
            roles: node.controlPlane ? controlPlane : worker,
            status: node.status,
            sinceMs: node.stable ? 0 : nowMs - 10,
          })),
        ];
        const position = 2 + (pick % drawn.length);
        const command: OperatorRequest["command"] =
          kind === "quarantine"
            ? { type: "quarantine", node: id(position), reason: "operator" }
            : { type: kind, node: id(position), roles: ["etcd"], reason: "operator" };
        const inputs = syntheticInputs({
          nowMs,
          self: "n1",
          formation: "quorum-3m",
          nodes,
          requests: [{ command, force: false }],
        });
        const decision = decide(inputs);
        const record = decision.records.find(
          (entry) => entry.subject === id(position) && entry.action === kind && entry.outcome !== "noted",
        );
        assert.ok(record, "the request is answered");
        if (record.outcome === "refused") {
          refusedCount += 1;
          if (record.rule === "no-workload-host" || record.rule === "control-plane-target") {
            assert.match(record.message, /it would leave/);
          }
          return;
        }
        assert.equal(record.outcome, "proposed");
        assert.ok(decision.commands.some((proposed) => proposed.origin === "operator"));
        proposedCount += 1;
        const target = decision.target;
        const isHost = (node: SyntheticNode) =>
          (node.status ?? "alive") === "alive" && !node.roles.some(isControlPlaneRole);
        const subject = nodes[position - 1]!;
        const takesHost = isHost(subject) && (kind === "quarantine" || kind === "promote");
        if (takesHost) {
          assert.ok(
            nodes.some((node) => node !== subject && isHost(node)),
            `${kind} of ${subject.name} left another workload host`,
          );
        }
        const losesRoles =
          subject.roles.some(isControlPlaneRole) && (kind === "quarantine" || kind === "demote");
        if (losesRoles) {
          const spare = nodes.filter(
            (node) => node !== subject && isHost(node) && (node.sinceMs ?? 0) === 0,
          ).length;
          for (const role of kind === "quarantine" ? controlPlaneRoles : (["etcd"] as const)) {
            const healthy = nodes.filter(
              (node) => node !== subject && node.roles.includes(role) && (node.status ?? "alive") !== "dead",
            ).length;
            assert.ok(healthy + spare >= target.roles[role], `${role} can be brought back to its target`);
          }
        }
      }),
      { numRuns: 400, seed: 15 },
    );
    assert.ok(proposedCount > 0, "some requests were proposed");
    assert.ok(refusedCount > 0, "some requests were refused");
  });
});
