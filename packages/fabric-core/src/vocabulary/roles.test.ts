// Goal: the one definition of role transitions (used by the Raft state machine, the policy
// and the attestation role table) does what docs/vocabulary.md says, so the chain replays to
// the state machine's table. Method: each command on representative role sets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { NodeId } from "./index.js";
import { nextRoles } from "./index.js";

const node = "a".repeat(64) as NodeId;

describe("nextRoles", () => {
  test("promote adds roles and a control-plane node is no longer a worker", () => {
    const roles = nextRoles(["worker"], {
      type: "promote",
      node,
      roles: ["scheduler", "etcd"],
      reason: "scaling-up",
    });
    assert.deepEqual(roles, ["etcd", "scheduler"]);
    assert.deepEqual(nextRoles([], { type: "promote", node, roles: ["observer"], reason: "operator" }), [
      "observer",
    ]);
  });

  test("demote removes roles and a node left with none is a worker", () => {
    const both = ["etcd", "scheduler"] as const;
    assert.deepEqual(nextRoles(both, { type: "demote", node, roles: ["etcd"], reason: "scaling-down" }), [
      "scheduler",
    ]);
    assert.deepEqual(nextRoles(both, { type: "demote", node, roles: [...both], reason: "scaling-down" }), [
      "worker",
    ]);
  });

  test("quarantine replaces every role and restore makes a worker", () => {
    assert.deepEqual(
      nextRoles(["etcd", "api-server"], { type: "quarantine", node, reason: "health-degraded" }),
      ["quarantined"],
    );
    assert.deepEqual(nextRoles(["quarantined"], { type: "restore", node }), ["worker"]);
  });

  test("results are sorted and free of duplicates", () => {
    const roles = nextRoles(["scheduler", "etcd"], {
      type: "promote",
      node,
      roles: ["etcd", "api-server"],
      reason: "operator",
    });
    assert.deepEqual(roles, ["api-server", "etcd", "scheduler"]);
  });
});
