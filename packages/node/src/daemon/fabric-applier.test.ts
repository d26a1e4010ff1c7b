// Goal: the daemon's applier drives the fabric machine and keeps the chain file in step with
// it: founded on log entry 1, one block per role command, a snapshot that carries everything
// (a node that joins after compaction holds the identical chain file), and a restart that
// replays the log over an existing file appends nothing twice. Method: apply a founding
// entry and a signed promote, snapshot, restore elsewhere, compare bytes; replay into a new
// applier on the same directory; garbage snapshots are refused.
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { signRoleProposal } from "@revoada/fabric-core/attest";
import { type Entry, emptyConfState, encodeConfChange } from "@revoada/fabric-core/raft";
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
import { testNodeState } from "./test-node-state.js";

const founder = signerFromSeed(new Uint8Array(32).fill(1));
const worker = signerFromSeed(new Uint8Array(32).fill(2));

const machineOptions = { origin: "revoada.local/test", requireOperatorSignature: false };
const founderConf = { ...emptyConfState(), voters: [founder.nodeId] };

test("applier: chain founded on entry 1, one block per role command, snapshots carry both", async () => {
  await loadBlake3();
  const applier = new FabricApplier(await mkdtemp(join(tmpdir(), "applier-")), machineOptions, silentLogger);
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
    data: encodeProposal(join_(testNodeState(founder.nodeId, ["etcd"], "a"), 2)),
  });
  applier.apply({
    index: 3,
    term: 1,
    kind: "normal",
    data: encodeProposal(join_(testNodeState(worker.nodeId, [], "b"), 3)),
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
    machineOptions,
    silentLogger,
  );
  elsewhere.restore(bytes, { index: 4, term: 1, conf: founderConf });
  assert.deepEqual(elsewhere.snapshot(), bytes, "byte-identical after restore");
  assert.equal(
    elsewhere.chain?.exportText(),
    applier.chain.exportText(),
    "the chain travels with the snapshot",
  );
  const metadata = { index: 5, term: 1, conf: founderConf };
  assert.throws(() => elsewhere.restore(Buffer.from("{}"), metadata), StorageCorruptionError);
  assert.throws(() => elsewhere.restore(Buffer.from("not json"), metadata), StorageCorruptionError);
  applier.close();
  elsewhere.close();
});

test("applier: a restart replays the log over the chain file without appending twice", async () => {
  await loadBlake3();
  const directory = await mkdtemp(join(tmpdir(), "applier-"));
  const entries: Entry[] = [
    {
      index: 1,
      term: 1,
      kind: "conf-change",
      data: encodeConfChange({ changes: [{ type: "add-voter", node: founder.nodeId }] }),
    },
  ];
  const first = new FabricApplier(directory, machineOptions, silentLogger);
  first.apply(entries[0]!);
  const proposals: Proposal[] = [
    {
      command: { type: "node-join", state: testNodeState(founder.nodeId, ["etcd"], "a") },
      proposer: founder.nodeId,
      issued_at_ms: 1,
      origin: "policy",
      force: false,
    },
    {
      command: { type: "node-join", state: testNodeState(worker.nodeId, [], "b") },
      proposer: founder.nodeId,
      issued_at_ms: 2,
      origin: "policy",
      force: false,
    },
  ];
  for (const proposal of proposals) {
    const entry: Entry = {
      index: entries.length + 1,
      term: 1,
      kind: "normal",
      data: encodeProposal(proposal),
    };
    entries.push(entry);
    first.apply(entry);
  }
  const promote: Proposal = {
    command: { type: "promote", node: worker.nodeId, roles: ["etcd"], reason: "scaling-up" },
    proposer: founder.nodeId,
    issued_at_ms: 3,
    origin: "policy",
    force: false,
  };
  const signed = signRoleProposal(first.machine.chain!.head, 1, 4, promote, founder).proposal;
  entries.push({ index: 4, term: 1, kind: "normal", data: encodeProposal(signed) });
  first.apply(entries[3]!);
  first.close();
  const file = join(directory, "chain.jsonl");
  const before = await readFile(file, "utf8");
  assert.equal(before.split("\n").length - 1, 2, "genesis and one block");

  const second = new FabricApplier(directory, machineOptions, silentLogger);
  for (const entry of entries) second.apply(entry);
  second.close();
  assert.equal(await readFile(file, "utf8"), before, "the replay appended nothing");
  assert.equal(second.machine.chainExport(), before, "the file is the machine's chain, byte for byte");
});
