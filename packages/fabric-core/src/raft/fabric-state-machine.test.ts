/**
 * Goal: the fabric state machine applies every command kind deterministically, rejects what
 * does not fit as a no-op that still moves the applied position, and its snapshot bytes are
 * stable (same state, same bytes; restore then snapshot gives the same bytes). Method: apply
 * entries built from canonical-JSON proposals; a fast-check property over random command
 * sequences compares two replicas and a snapshot-restored copy byte for byte.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import fc from "fast-check";
import { exampleFabricStates } from "../face/conformance/index.js";
import {
  type Command,
  encodeProposal,
  type NodeId,
  type NodeState,
  type Proposal,
  type Workload,
} from "../vocabulary/index.js";
import { FabricStateMachine } from "./fabric-state-machine.js";
import type { Entry } from "./types.js";

// Fixtures come from the face conformance kit's example "mesh" state.
const mesh = exampleFabricStates.mesh!;
const meshNode = Object.values(mesh.nodes)[0]!;
const workload: Workload = mesh.workloads["default/web"]!;
const ids = Object.keys(mesh.nodes).slice(0, 4) as NodeId[];

/** A node advertising itself with no roles. */
function node(id: NodeId, generation = 1): NodeState {
  return { ...meshNode, id, roles: [], generation };
}

function proposal(command: Command): Proposal {
  return { command, proposer: ids[0]!, issued_at_ms: 1000, origin: "policy", force: false };
}

class Log {
  index = 0;
  entry(command: Command): Entry {
    this.index += 1;
    return { index: this.index, term: 1, kind: "normal", data: encodeProposal(proposal(command)) };
  }
}

test("role commands follow the shared role semantics", () => {
  const machine = new FabricStateMachine();
  const log = new Log();
  assertStrict.equal(machine.apply(log.entry({ type: "node-join", state: node(ids[0]!) })).type, "applied");
  assertStrict.deepEqual(
    machine.state().nodes[ids[0]!]?.roles,
    ["worker"],
    "a node without roles joins as worker",
  );
  machine.apply(
    log.entry({ type: "promote", node: ids[0]!, roles: ["etcd", "api-server"], reason: "scaling-up" }),
  );
  assertStrict.deepEqual(machine.state().nodes[ids[0]!]?.roles, ["api-server", "etcd"]);
  machine.apply(
    log.entry({
      type: "demote",
      node: ids[0]!,
      roles: ["etcd", "api-server", "worker"],
      reason: "rebalance",
    }),
  );
  assertStrict.deepEqual(
    machine.state().nodes[ids[0]!]?.roles,
    ["worker"],
    "a node left with nothing is a worker",
  );
  machine.apply(log.entry({ type: "quarantine", node: ids[0]!, reason: "health-degraded" }));
  assertStrict.deepEqual(machine.state().nodes[ids[0]!]?.roles, ["quarantined"]);
  machine.apply(log.entry({ type: "restore", node: ids[0]! }));
  assertStrict.deepEqual(machine.state().nodes[ids[0]!]?.roles, ["worker"]);
  const unknown = machine.apply(log.entry({ type: "quarantine", node: ids[3]!, reason: "operator" }));
  assertStrict.deepEqual(unknown, { type: "rejected", reason: "unknown node" });
  assertStrict.deepEqual(
    machine.state().applied,
    { term: 1, index: log.index },
    "a rejection still moves applied",
  );
});

test("joins keep committed roles; removals clear placements; workloads and placements", () => {
  const machine = new FabricStateMachine();
  const log = new Log();
  machine.apply(log.entry({ type: "node-join", state: node(ids[0]!) }));
  machine.apply(log.entry({ type: "node-join", state: node(ids[1]!) }));
  machine.apply(log.entry({ type: "promote", node: ids[1]!, roles: ["etcd"], reason: "scaling-up" }));
  const rejoin = machine.apply(
    log.entry({ type: "node-join", state: { ...node(ids[1]!, 2), roles: [], zone: "z2" } }),
  );
  assertStrict.equal(rejoin.type, "applied");
  assertStrict.deepEqual(
    machine.state().nodes[ids[1]!]?.roles,
    ["etcd"],
    "roles change only by role commands",
  );
  assertStrict.equal(machine.state().nodes[ids[1]!]?.zone, "z2");
  const stale = machine.apply(log.entry({ type: "node-join", state: node(ids[1]!, 1) }));
  assertStrict.equal(stale.type, "rejected");
  assertStrict.equal(
    machine.apply(log.entry({ type: "placement", workload: "default/web", nodes: [ids[0]!] })).type,
    "rejected",
  );
  machine.apply(log.entry({ type: "workload-upsert", workload }));
  machine.apply(log.entry({ type: "placement", workload: "default/web", nodes: [ids[0]!, ids[1]!] }));
  assertStrict.deepEqual(machine.state().placements["default/web"], [ids[0], ids[1]]);
  machine.apply(log.entry({ type: "node-remove", node: ids[0]! }));
  assertStrict.deepEqual(machine.state().placements["default/web"], [ids[1]]);
  machine.apply(log.entry({ type: "workload-delete", namespace: "default", name: "web" }));
  assertStrict.deepEqual(machine.state().workloads, {});
  assertStrict.deepEqual(machine.state().placements, {});
});

test("entries apply in order exactly once; non-normal entries only move the position", () => {
  const machine = new FabricStateMachine();
  assertStrict.deepEqual(machine.apply({ index: 1, term: 1, kind: "empty", data: new Uint8Array() }), {
    type: "skipped",
  });
  assertStrict.throws(() => machine.apply({ index: 1, term: 1, kind: "empty", data: new Uint8Array() }));
  assertStrict.throws(() => machine.apply({ index: 3, term: 1, kind: "empty", data: new Uint8Array() }));
  const malformed = machine.apply({ index: 2, term: 1, kind: "normal", data: new TextEncoder().encode("{") });
  assertStrict.equal(malformed.type, "rejected");
});

test("property: replicas and snapshot restores hold byte-identical state", () => {
  const command = fc.oneof(
    fc.constantFrom(...ids).map((id): Command => ({ type: "node-join", state: node(id) })),
    fc
      .constantFrom(...ids)
      .map((id): Command => ({ type: "promote", node: id, roles: ["etcd"], reason: "scaling-up" })),
    fc
      .constantFrom(...ids)
      .map((id): Command => ({ type: "demote", node: id, roles: ["etcd"], reason: "rebalance" })),
    fc.constantFrom(...ids).map((id): Command => ({ type: "quarantine", node: id, reason: "operator" })),
    fc.constantFrom(...ids).map((id): Command => ({ type: "restore", node: id })),
    fc.constantFrom(...ids).map((id): Command => ({ type: "node-remove", node: id })),
    fc.constant<Command>({ type: "workload-upsert", workload }),
    fc.constant<Command>({ type: "workload-delete", namespace: "default", name: "web" }),
    fc.subarray(ids).map((nodes): Command => ({ type: "placement", workload: "default/web", nodes })),
  );
  fc.assert(
    fc.property(fc.array(command, { maxLength: 40 }), fc.nat(40), (commands, cut) => {
      const log = new Log();
      const entries = commands.map((each) => log.entry(each));
      const first = new FabricStateMachine();
      const second = new FabricStateMachine();
      for (const entry of entries) first.apply(entry);
      const split = Math.min(cut, entries.length);
      for (const entry of entries.slice(0, split)) second.apply(entry);
      const restored = FabricStateMachine.restore(second.snapshot());
      assertStrict.ok(restored.ok);
      for (const entry of entries.slice(split)) restored.value.apply(entry);
      assertStrict.deepEqual(restored.value.snapshot(), first.snapshot());
      const again = FabricStateMachine.restore(first.snapshot());
      assertStrict.ok(again.ok);
      assertStrict.deepEqual(
        again.value.snapshot(),
        first.snapshot(),
        "restore then snapshot is byte-stable",
      );
    }),
    { seed: 7, numRuns: 300 },
  );
});
