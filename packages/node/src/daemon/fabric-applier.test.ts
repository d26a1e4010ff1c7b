// Goal: the daemon's applier drives the fabric state and the attestation chain from the
// same entries, founds the chain on log entry 1, and a snapshot carries both so a node that
// joins after compaction holds the identical chain. Method: apply a founding entry and a
// signed promote, snapshot, restore elsewhere, compare bytes; garbage snapshots are refused.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { signRoleProposal } from "@revoada/fabric-core/attest";
import { encodeConfChange } from "@revoada/fabric-core/raft";
import {
  encodeProposal,
  loadBlake3,
  type NodeState,
  type Proposal,
  signerFromSeed,
} from "@revoada/fabric-core/vocabulary";
import { StorageCorruptionError } from "../errors.js";
import { FabricApplier } from "./fabric-applier.js";
import { silentLogger } from "./log.js";

const founder = signerFromSeed(new Uint8Array(32).fill(1));
const worker = signerFromSeed(new Uint8Array(32).fill(2));

function nodeState(id: string, name: string, roles: NodeState["roles"]): NodeState {
  return {
    id: id as NodeState["id"],
    name,
    addresses: {},
    roles,
    capacity: { cpu_millis: 1000, memory_bytes: 1, storage_bytes: 1, pods: 10 },
    zone: "z",
    rack: "r",
    labels: {},
    version: "0.1.0",
    generation: 1,
  };
}

test("applier: chain founded on entry 1, one block per role command, snapshots carry both", async () => {
  await loadBlake3();
  const applier = new FabricApplier(
    await mkdtemp(join(tmpdir(), "applier-")),
    "revoada.local/test",
    false,
    silentLogger,
  );
  applier.apply({
    index: 1,
    term: 1,
    kind: "conf-change",
    data: encodeConfChange({ changes: [{ type: "add-voter", node: founder.nodeId }] }),
  });
  assert.ok(applier.chain, "entry 1 founds the chain");
  const join_ = (state: NodeState, index: number): Proposal => ({
    command: { type: "node-join", state },
    proposer: founder.nodeId,
    issued_at_ms: 1000 + index,
    origin: "policy",
    force: false,
  });
  applier.apply({
    index: 2,
    term: 1,
    kind: "normal",
    data: encodeProposal(join_(nodeState(founder.nodeId, "a", ["etcd"]), 2)),
  });
  applier.apply({
    index: 3,
    term: 1,
    kind: "normal",
    data: encodeProposal(join_(nodeState(worker.nodeId, "b", []), 3)),
  });
  const promote: Proposal = {
    command: { type: "promote", node: worker.nodeId, roles: ["etcd"], reason: "scaling-up" },
    proposer: founder.nodeId,
    issued_at_ms: 2000,
    origin: "policy",
    force: false,
  };
  const signed = signRoleProposal(applier.chain.chain.head, 1, 4, promote, founder).proposal;
  const applied = applier.apply({ index: 4, term: 1, kind: "normal", data: encodeProposal(signed) });
  assert.equal(applied.chain?.type, "appended");
  assert.deepEqual(applier.state().nodes[worker.nodeId]?.roles, ["etcd"]);
  assert.equal(applier.chain.chain.blocks.length, 1);

  const bytes = applier.snapshot();
  const elsewhere = new FabricApplier(
    await mkdtemp(join(tmpdir(), "applier-")),
    "revoada.local/test",
    false,
    silentLogger,
  );
  elsewhere.restore(bytes);
  assert.deepEqual(elsewhere.snapshot(), bytes, "byte-identical after restore");
  assert.equal(
    elsewhere.chain?.exportText(),
    applier.chain.exportText(),
    "the chain travels with the snapshot",
  );
  assert.throws(() => elsewhere.restore(Buffer.from("{}")), StorageCorruptionError);
  assert.throws(() => elsewhere.restore(Buffer.from("not json")), StorageCorruptionError);
  applier.close();
  elsewhere.close();
});
