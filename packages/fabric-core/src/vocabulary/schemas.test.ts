// Goal: the node, command, workload and fabric-state schemas accept well-formed values and
// reject the mistakes that matter (a malformed NodeId, an unknown command type, a bad hash),
// and every catalogued type exports a JSON Schema. Method: fixed examples per schema.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command, Proposal } from "./command.js";
import { emptyFabricState, FabricState } from "./fabric-state.js";
import { Blake3Hash, NodeId, shortNodeId } from "./ids.js";
import { parseWith } from "./issue.js";
import { NodeState } from "./node.js";
import { schemaCatalog, toJsonSchema } from "./schema-catalog.js";
import { Workload } from "./workload.js";

const nodeA = "a".repeat(64);
const nodeB = "0123456789abcdef".repeat(4);

const workload = {
  name: "web",
  namespace: "default",
  image: "registry.local/web:1.2",
  command: ["/bin/web"],
  args: ["--port", "8080"],
  env: { LOG_LEVEL: "info" },
  ports: [{ name: "http", container_port: 8080, protocol: "tcp" }],
  replicas: 2,
  resources: { cpu_millis: 250, memory_bytes: 128 * 1024 * 1024 },
  config_blobs: [{ name: "config", hash: "f".repeat(64), mount_path: "/etc/web" }],
  placement: { zones: ["a"], labels: { tier: "front" }, tolerate_control_plane: false },
};

const nodeState = {
  id: nodeA,
  name: "node-a",
  addresses: { gossip: "127.0.0.1:7946", raft: "[::1]:7000" },
  roles: ["etcd", "api-server"],
  capacity: { cpu_millis: 4000, memory_bytes: 8e9, storage_bytes: 1e11, pods: 110 },
  zone: "a",
  rack: "r1",
  labels: { "kubernetes.io/hostname": "node-a" },
  version: "0.1.0",
  generation: 3,
};

describe("ids", () => {
  it("accepts a NodeId of 64 lowercase hex characters and shortens it to 8", () => {
    assert.equal(NodeId.parse(nodeB), nodeB);
    assert.equal(shortNodeId(NodeId.parse(nodeB)), "01234567");
  });

  it("rejects malformed NodeIds and hashes", () => {
    for (const bad of ["A".repeat(64), "a".repeat(63), "a".repeat(65), "g".repeat(64), ""]) {
      assert.equal(NodeId.safeParse(bad).success, false, bad);
      assert.equal(Blake3Hash.safeParse(bad).success, false, bad);
    }
  });
});

describe("commands", () => {
  it("are discriminated by type", () => {
    const promote = Command.parse({ type: "promote", node: nodeA, roles: ["etcd"], reason: "scaling-up" });
    assert.equal(promote.type, "promote");
    const restore = Command.parse({ type: "restore", node: nodeA });
    assert.equal(restore.type, "restore");
    const upsert = Command.parse({ type: "workload-upsert", workload });
    assert.equal(upsert.type === "workload-upsert" && upsert.workload.replicas, 2);
    const placement = Command.parse({ type: "placement", workload: "default/web", nodes: [nodeA, nodeB] });
    assert.equal(placement.type === "placement" && placement.nodes.length, 2);
  });

  it("reject an unknown type, a bad node and fields of another variant", () => {
    const unknown = parseWith(Command, { type: "evict", node: nodeA });
    assert.equal(unknown.ok, false);
    assert.deepEqual(!unknown.ok && unknown.issues[0]!.path, ["type"]);
    const badNode = parseWith(Command, { type: "quarantine", node: "node-a", reason: "operator" });
    assert.deepEqual(!badNode.ok && badNode.issues[0]!.path, ["node"]);
    const mixed = parseWith(Command, { type: "restore", node: nodeA, roles: ["etcd"] });
    assert.equal(mixed.ok, false);
    const noRoles = parseWith(Command, { type: "promote", node: nodeA, roles: [], reason: "operator" });
    assert.deepEqual(!noRoles.ok && noRoles.issues[0]!.path, ["roles"]);
  });

  it("carry proposals with an optional operator signature", () => {
    const proposal = {
      command: { type: "restore", node: nodeA },
      proposer: nodeB,
      issued_at_ms: 1,
      origin: "operator",
      force: false,
    };
    assert.ok(Proposal.safeParse(proposal).success);
    assert.ok(Proposal.safeParse({ ...proposal, operator_signature: "ab".repeat(64) }).success);
    assert.equal(Proposal.safeParse({ ...proposal, operator_signature: "ab" }).success, false);
  });
});

describe("workloads, nodes and the fabric state", () => {
  it("accept a full workload and reject a bad config blob hash with its path", () => {
    assert.deepEqual(Workload.parse(workload), workload);
    const bad = parseWith(Workload, {
      ...workload,
      config_blobs: [{ ...workload.config_blobs[0], hash: "xyz" }],
    });
    assert.deepEqual(!bad.ok && bad.issues[0]!.path, ["config_blobs", 0, "hash"]);
    assert.equal(Workload.safeParse({ ...workload, name: "Web_1" }).success, false);
    assert.equal(Workload.safeParse({ ...workload, env: { "1BAD": "x" } }).success, false);
  });

  it("accept a node state and reject an unknown role", () => {
    assert.deepEqual(NodeState.parse(nodeState), nodeState);
    const bad = parseWith(NodeState, { ...nodeState, roles: ["king"] });
    assert.deepEqual(!bad.ok && bad.issues[0]!.path, ["roles", 0]);
    assert.equal(NodeState.safeParse({ ...nodeState, addresses: { raft: "nohost" } }).success, false);
  });

  it("accept the empty state and a populated one keyed by NodeId", () => {
    assert.ok(FabricState.safeParse(emptyFabricState()).success);
    const state = {
      nodes: { [nodeA]: nodeState },
      workloads: { "default/web": workload },
      placements: { "default/web": [nodeA, nodeA] },
      applied: { term: 2, index: 10 },
    };
    assert.deepEqual(FabricState.parse(state), state);
    const badKey = parseWith(FabricState, { ...state, nodes: { "node-a": nodeState } });
    assert.equal(badKey.ok, false);
  });
});

describe("schema catalog", () => {
  it("exports a draft 2020-12 JSON Schema for every type", () => {
    for (const [name, schema] of Object.entries(schemaCatalog)) {
      const json = toJsonSchema(schema) as Record<string, unknown>;
      assert.equal(json.$schema, "https://json-schema.org/draft/2020-12/schema", name);
      assert.ok(JSON.stringify(json).length > 20, name);
    }
    const strategy = toJsonSchema(schemaCatalog.FabricStrategy!) as { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(strategy.properties).sort(), [
      "attestation",
      "consensus",
      "content",
      "membership",
      "name",
      "placement",
      "reconciliation",
    ]);
  });
});
