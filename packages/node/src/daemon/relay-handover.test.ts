// Goal: a daemon's relay follower that was behind while the policy replaced every voter, twice
// (issue 17's mass restart: `the stamp's signer … is not a known voter`, forever), catches up
// from a new voter: it trusts the new voter's commit stamp because the attestation chain the
// answer carries hands trust over from the voter it knew, and says so in its status
// (`stamp_handovers`); by entries (the source's window reaches back) and by a snapshot (it does
// not). Method: in one process, a committed log built by hand (founder v0; v0 -> v1 -> v2, each
// promotion signed by the leader of the time), the new voter's NodeRelay served over HTTP, and
// followers whose machines stand where the founder was the only voter, asking it through the
// real client; gossip shows only v2 alive holding etcd (the voters they know are gone).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { signRoleProposal } from "@revoada/fabric-core/attest";
import { defaultRelayConfig, FabricMachine, type RelayConfig } from "@revoada/fabric-core/fabric";
import type { MembershipView } from "@revoada/fabric-core/gossip";
import { type ConfChange, type Entry, encodeConfChange } from "@revoada/fabric-core/raft";
import {
  type Blake3Hash,
  type Command,
  encodeProposal,
  isAttestedCommand,
  loadBlake3,
  type NodeId,
  type Proposal,
  type Signer,
  signerFromSeed,
} from "@revoada/fabric-core/vocabulary";
import { FabricApplier } from "./fabric-applier.js";
import { createLogger } from "./log.js";
import { NodeRelay, RelayRequest } from "./relay.js";
import { testMembershipView, testNodeState } from "./test-node-state.js";

const [v0, v1, v2, follower] = [21, 22, 23, 24].map((seed) =>
  signerFromSeed(new Uint8Array(32).fill(seed)),
) as [Signer, Signer, Signer, Signer];
const machineOptions = { origin: "revoada.local/relay-handover-test", requireOperatorSignature: false };
const quick: RelayConfig = {
  ...defaultRelayConfig,
  renewMs: 100,
  silenceMs: 1_000,
  subscriptionTtlMs: 1_500,
};
const controlPlane = ["api-server", "controller-manager", "etcd", "scheduler"] as const;

/** A committed log as the leaders of the time wrote it (role commands signed against the chain). */
class Log {
  readonly entries: Entry[] = [];
  readonly machine = new FabricMachine(machineOptions);
  term = 1;
  leader = v0;

  conf(changes: ConfChange["changes"]): void {
    this.push("conf-change", encodeConfChange({ changes }));
  }

  propose(command: Command): void {
    const index = this.entries.length + 1;
    let proposal: Proposal = {
      command,
      proposer: this.leader.nodeId,
      issued_at_ms: 1_000 + index,
      origin: "policy",
      force: false,
    };
    const chain = this.machine.chain;
    if (chain !== null && isAttestedCommand(command))
      proposal = signRoleProposal(chain.head, this.term, index, proposal, this.leader).proposal;
    this.push("normal", encodeProposal(proposal));
  }

  /** `incoming` joins the voters, is promoted, leads from the next term and retires the old voters. */
  replaceVoters(incoming: Signer): void {
    const outgoing = this.machine.configuration().voters;
    this.conf([{ type: "add-voter", node: incoming.nodeId }]);
    this.conf([]);
    this.propose({
      type: "promote",
      node: incoming.nodeId,
      roles: [...controlPlane],
      reason: "replacing-failed",
    });
    this.term += 1;
    this.leader = incoming;
    for (const node of outgoing)
      this.propose({
        type: "demote",
        node: node as NodeId,
        roles: [...controlPlane],
        reason: "replacing-failed",
      });
    this.conf(outgoing.map((node) => ({ type: "remove" as const, node })));
    this.conf([]);
  }

  private push(kind: Entry["kind"], data: Uint8Array): void {
    const entry: Entry = { index: this.entries.length + 1, term: this.term, kind, data };
    this.entries.push(entry);
    this.machine.apply(entry);
  }
}

/** Gossip after the replacements: v2 alive holding etcd; v0 and v1 gone. */
const view = (): MembershipView =>
  testMembershipView(follower.nodeId, [
    { id: v2.nodeId, roles: [...controlPlane] },
    { id: follower.nodeId, roles: ["worker"] },
  ]);

const silent = createLogger({ level: "error", write: () => {} });
const directories: string[] = [];
const servers: Server[] = [];
const relays: NodeRelay[] = [];
const blobs = new Map<string, Uint8Array>();
let log: Log;
/** Where the followers stand: the founder is the only voter they know. */
let behindAt = 0;

async function newApplier(): Promise<FabricApplier> {
  const directory = await mkdtemp(join(tmpdir(), "relay-handover-"));
  directories.push(directory);
  return new FabricApplier(directory, machineOptions, silent);
}

/** v2's relay, holding the whole log, served over HTTP: its address. */
async function serveNewVoter(config: RelayConfig): Promise<string> {
  const applier = await newApplier();
  const source = new NodeRelay({
    self: v2.nodeId,
    signer: v2,
    machineOptions,
    applier,
    view,
    apiOf: () => undefined,
    api: { token: undefined, caPem: undefined },
    publish: async (bytes) => {
      const hash = Buffer.from(bytes.subarray(-32)).toString("hex").padEnd(64, "0") as Blake3Hash;
      blobs.set(hash, bytes);
      return hash;
    },
    fetch: async () => null,
    onApplied: () => {},
    logger: silent,
    config,
    tickMs: 10,
  });
  for (const entry of log.entries) {
    applier.apply(entry);
    source.recordApplied(entry, "raft");
  }
  source.start();
  relays.push(source);
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      source.serve(RelayRequest.parse(JSON.parse(body))).then(
        (reply) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify(reply));
        },
        (error: unknown) => {
          response.writeHead(500, { "content-type": "application/json" });
          response.end(JSON.stringify({ error: String(error) }));
        },
      );
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A follower whose machine stands where only v0 was a voter, asking v2 at `address`. */
async function behindFollower(address: string): Promise<{ relay: NodeRelay; applier: FabricApplier }> {
  const applier = await newApplier();
  for (const entry of log.entries.slice(0, behindAt)) applier.apply(entry);
  assert.deepEqual(applier.machine.configuration().voters, [v0.nodeId]);
  const relay = new NodeRelay({
    self: follower.nodeId,
    signer: follower,
    machineOptions,
    applier,
    view,
    apiOf: (id) => (id === v2.nodeId ? address : undefined),
    api: { token: undefined, caPem: undefined },
    publish: async () => "0".repeat(64) as Blake3Hash,
    fetch: async (hash) => blobs.get(hash) ?? null,
    onApplied: () => {},
    logger: silent,
    config: quick,
    waitMs: 50,
    tickMs: 10,
  });
  // As the daemon does at start (fabric-node.ts): the relay stands where the machine does.
  relay.recordRestored(applier.machine.applied().index);
  relays.push(relay);
  return { relay, applier };
}

before(async () => {
  await loadBlake3();
  log = new Log();
  log.conf([{ type: "add-voter", node: v0.nodeId }]);
  log.propose({ type: "node-join", state: testNodeState(v0.nodeId, [...controlPlane]) });
  for (const signer of [v1, v2, follower])
    log.propose({ type: "node-join", state: testNodeState(signer.nodeId, ["worker"]) });
  behindAt = log.entries.length;
  log.replaceVoters(v1);
  log.replaceVoters(v2);
  assert.deepEqual(log.machine.configuration().voters, [v2.nodeId]);
});

after(async () => {
  for (const relay of relays) relay.stop();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

for (const path of ["entries", "snapshot"] as const) {
  test(`a follower whose voters were replaced twice trusts the new voter through the chain (${path})`, async () => {
    // A window of 2 entries does not reach back to the follower: the source sends its machine.
    const address = await serveNewVoter(path === "entries" ? quick : { ...quick, windowEntries: 2 });
    const { relay, applier } = await behindFollower(address);
    relay.start();
    const caughtUp = await until(() => applier.machine.applied().index === log.entries.length, 10_000);
    const status = relay.status();
    assert.ok(
      caughtUp,
      `the follower catches up (refused ${status.answers_refused}: ${status.last_refusal})`,
    );
    assert.deepEqual(applier.machine.configuration().voters, [v2.nodeId]);
    assert.equal(status.source, v2.nodeId);
    assert.equal(status.stamp_handovers, 1);
    assert.equal(status.answers_refused, 0);
    assert.equal(status.last_refusal, null);
    if (path === "snapshot") assert.equal(status.snapshots_restored, 1);
    else assert.equal(status.entries_relayed, log.entries.length - behindAt);
    relay.stop();
  });
}
