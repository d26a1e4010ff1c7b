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

const anyCommand = fc.oneof(
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

test("property: replicas and snapshot restores hold byte-identical state", () => {
  const command = anyCommand;
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

/** The records each command kind may change (a refused one changes none). */
const touches: Record<string, readonly ("nodes" | "workloads" | "placements")[]> = {
  "node-join": ["nodes"],
  promote: ["nodes"],
  demote: ["nodes"],
  quarantine: ["nodes"],
  restore: ["nodes"],
  "node-remove": ["nodes", "placements"],
  "workload-upsert": ["workloads"],
  "workload-delete": ["workloads", "placements"],
  placement: ["placements"],
};

test("property: view() is the state, frozen, and keeps each record's identity until an entry changes it", () => {
  fc.assert(
    fc.property(fc.array(anyCommand, { maxLength: 40 }), (commands) => {
      const log = new Log();
      const machine = new FabricStateMachine();
      const handedOut: { view: ReturnType<FabricStateMachine["view"]>; json: string }[] = [];
      let before = machine.view();
      for (const command of commands) {
        const outcome = machine.apply(log.entry(command));
        const view = machine.view();
        assertStrict.deepEqual(view, machine.state(), "the view is the state");
        assertStrict.equal(machine.view(), view, "unchanged between entries: the same object");
        for (const name of ["nodes", "workloads", "placements"] as const) {
          const contentChanged = JSON.stringify(view[name]) !== JSON.stringify(before[name]);
          if (contentChanged)
            assertStrict.notEqual(view[name], before[name], `${name} changed: a new record`);
          const touched = outcome.type === "applied" && touches[command.type]!.includes(name);
          if (!touched) assertStrict.equal(view[name], before[name], `${command.type} keeps ${name}`);
        }
        assertStrict.ok(
          Object.isFrozen(view) && Object.isFrozen(view.nodes) && Object.isFrozen(view.placements),
        );
        for (const node of Object.values(view.nodes)) assertStrict.ok(Object.isFrozen(node.roles));
        for (const nodes of Object.values(view.placements)) assertStrict.ok(Object.isFrozen(nodes));
        handedOut.push({ view, json: JSON.stringify(view) });
        before = view;
      }
      for (const { view, json } of handedOut)
        assertStrict.equal(JSON.stringify(view), json, "a view handed out never changes afterwards");
    }),
    { seed: 11, numRuns: 200 },
  );
  const machine = new FabricStateMachine();
  const log = new Log();
  machine.apply(log.entry({ type: "node-join", state: node(ids[0]!) }));
  machine.apply(log.entry({ type: "workload-upsert", workload }));
  const view = machine.view();
  assertStrict.throws(() => {
    (view.workloads as Record<string, Workload>)["default/other"] = workload;
  }, TypeError);
  assertStrict.throws(() => {
    view.workloads["default/web"]!.replicas = 9;
  }, TypeError);
  assertStrict.throws(() => {
    view.nodes[ids[0]!]!.roles.push("etcd");
  }, TypeError);
  const copy = machine.state();
  copy.workloads["default/web"]!.replicas = 9;
  assertStrict.equal(
    machine.view().workloads["default/web"]!.replicas,
    workload.replicas,
    "state() is a copy",
  );
});
