// Goal: `revoada node --config FILE repair --peer API` discards the Raft state (and the chain
// derived from it) of a stopped node whose log is damaged, keeping its identity, so it
// rejoins from the leader; and it refuses, changing nothing, when the cluster would lack a
// majority without this node, when no peer answers, when the state is not damaged (without
// --force), when the node runs, or when the config would found a new cluster. Method: a
// generated mesh layout, a real Raft log written through RaftStorage with one flipped byte,
// and two fake peers (the node's own HTTP layer serving /v1/status and /v1/mesh) on 127.0.0.1;
// the quorum rule itself is checked on gathered surveys.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type NodeId, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { createApiServer, route } from "../src/api/http-server.js";
import { MeshMember, NodeStatusReply } from "../src/api/schemas.js";
import { judgeRepair, type RepairSurvey } from "../src/cli/commands/repair.js";
import { silentLogger } from "../src/daemon/log.js";
import { pidFileName } from "../src/daemon/pid-file.js";
import { loadOrCreateIdentity } from "../src/identity.js";
import { createMeshLayout } from "../src/mesh/mesh-setup.js";
import { RaftStorage } from "../src/storage/index.js";
import { runCli } from "./cli-harness.js";

const idOf = (n: number) => signerFromSeed(Buffer.alloc(32, n)).nodeId;

describe("judgeRepair", () => {
  const self = idOf(1);
  const [a, b, c, d] = [idOf(2), idOf(3), idOf(4), idOf(5)];
  const survey = (changes: Partial<RepairSurvey>): RepairSurvey => ({
    self,
    peer: "127.0.0.1:1",
    leader: a,
    voters: [self, a, b],
    votersAnswering: [a, b],
    ...changes,
  });

  it("allows a voter whose peers form a majority without it", () => {
    assert.equal(judgeRepair(survey({})).safe, true);
    assert.equal(judgeRepair(survey({ voters: [self, a, b, c, d], votersAnswering: [a, b, c] })).safe, true);
  });

  it("refuses a voter the majority needs", () => {
    const three = judgeRepair(survey({ votersAnswering: [a] }));
    assert.equal(three.safe, false);
    assert.match(three.reason, /one of 3 voters \(quorum 2\); only 1 of the 2 others answer/);
    assert.equal(judgeRepair(survey({ voters: [self, a, b, c, d], votersAnswering: [a, b] })).safe, false);
    // Two voters: the other alone is not a majority of two.
    assert.equal(judgeRepair(survey({ voters: [self, a], votersAnswering: [a] })).safe, false);
  });

  it("allows a non-voter whatever the voters do; refuses with no leader or as the leader", () => {
    assert.equal(judgeRepair(survey({ voters: [a, b, c], votersAnswering: [] })).safe, true);
    assert.match(judgeRepair(survey({ leader: null })).reason, /knows no leader/);
    assert.equal(judgeRepair(survey({ leader: self })).safe, false);
  });
});

describe("revoada node repair", { timeout: 300_000 }, () => {
  let layout: { configs: string[] };
  let root = "";
  let dataDir = "";
  let self: NodeId;
  const servers: Server[] = [];
  let peerA = "";
  let peerB = "";
  let closedAddress = "";
  const [voterA, voterB] = [idOf(7), idOf(8)];

  /** A fake node API that answers /v1/status and /v1/mesh like a member of the cluster. */
  async function fakePeer(id: NodeId, voters: () => NodeId[], mesh: () => MeshMember[]): Promise<string> {
    const status = (): NodeStatusReply => ({
      id,
      name: id.slice(0, 8),
      roles: ["etcd"],
      raft: {
        term: 4,
        state: id === voterA ? "leader" : "follower",
        leader: voterA,
        commit_index: 40,
        applied_index: 40,
        voters: voters(),
        learners: [],
        data_generation: 1,
        rollback: null,
      },
      members: { alive: 2, suspect: 0, dead: 1 },
      chain_height: 3,
      procedures: [],
      actuator: null,
      last_decision: null,
      face: "systemd",
      uptime_ms: 1,
    });
    const server = createApiServer({
      token: "t",
      openReads: true,
      logger: silentLogger,
      routes: [
        route({
          method: "GET",
          path: "/v1/status",
          summary: "status",
          mutates: false,
          reply: NodeStatusReply,
          handle: async () => ({ status: 200, body: status() }),
        }),
        route({
          method: "GET",
          path: "/v1/mesh",
          summary: "mesh",
          mutates: false,
          reply: z.array(MeshMember),
          handle: async () => ({ status: 200, body: mesh() }),
        }),
      ],
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const member = (id: NodeId, api: string): MeshMember => ({
    id,
    name: id.slice(0, 8),
    status: "alive",
    phi: 0,
    roles: ["etcd"],
    addresses: { api },
    zone: "zone-a",
  });

  /** A real Raft log with a flipped byte in the middle, and a chain directory beside it. */
  async function damagedState(): Promise<string> {
    const raftDir = join(dataDir, "raft");
    await rm(raftDir, { recursive: true, force: true });
    const { storage } = RaftStorage.open(raftDir);
    const entries = Array.from({ length: 10 }, (_, i) => ({
      index: i + 1,
      term: 1,
      data: Buffer.from(`command-${i + 1}`),
    }));
    storage.persist({ entries, hardState: { term: 1, vote: null, commit: 10 } });
    storage.close();
    const walDir = join(raftDir, "wal");
    const segment = join(walDir, readdirSync(walDir)[0]!);
    const bytes = readFileSync(segment);
    bytes[bytes.indexOf("command-5") + 3]! ^= 0x01;
    writeFileSync(segment, bytes);
    await mkdir(join(dataDir, "chain"), { recursive: true });
    await writeFile(join(dataDir, "chain", "chain.jsonl"), "old chain\n");
    return segment;
  }

  const repair = (...args: string[]) => runCli(["node", "--config", layout.configs[1]!, "repair", ...args]);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "revoada-repair-"));
    layout = await createMeshLayout({ directory: root, nodes: 2, faceId: "systemd" });
    dataDir = join(root, "node-2", "data");
    self = (await loadOrCreateIdentity(dataDir)).nodeId;
    const closed = await fakePeer(
      idOf(9),
      () => [],
      () => [],
    );
    closedAddress = closed;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const voters = () => [self, voterA, voterB];
    peerB = await fakePeer(voterB, voters, () => []);
    peerA = await fakePeer(voterA, voters, () => [member(voterA, peerA), member(voterB, peerB)]);
  });

  after(async () => {
    for (const server of servers) server.close();
    await rm(root, { recursive: true, force: true });
  });

  it("refuses a state that opens cleanly unless --force", async () => {
    const run = await repair("--peer", peerA);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /not damaged; repair discards a healthy state only with --force/);
  });

  it("refuses when no peer answers (exit 5), changing nothing", async () => {
    const segment = await damagedState();
    const run = await repair("--peer", closedAddress);
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /damaged: .*corrupt at byte offset/);
    assert.match(run.stderr, /no peer answers/);
    assert.ok(existsSync(segment), "the damaged log is still there");
  });

  it("refuses while the node runs", async () => {
    await damagedState();
    await writeFile(join(dataDir, pidFileName), `${process.pid}\n`);
    try {
      const run = await repair("--peer", peerA);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /the node runs .*stop it before repairing/);
    } finally {
      await rm(join(dataDir, pidFileName), { force: true });
    }
  });

  it("refuses a voter the majority needs, changing nothing", async () => {
    const segment = await damagedState();
    // Only voter A answers; voter B's API is down: 1 of 2 others, below the quorum of 2.
    const lonely = await fakePeer(
      voterA,
      () => [self, voterA, voterB],
      () => [member(voterA, peerA), member(voterB, closedAddress)],
    );
    const run = await repair("--peer", lonely);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /refused: this node is one of 3 voters \(quorum 2\); only 1 of the 2 others answer/,
    );
    assert.ok(existsSync(segment), "the damaged log is still there");
    assert.ok(existsSync(join(dataDir, "chain", "chain.jsonl")));
  });

  it("--check judges without changing anything", async () => {
    const segment = await damagedState();
    const run = await repair("--peer", closedAddress, peerA, "--check");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /safe: 2 of the other 2 voters answer/);
    assert.ok(existsSync(segment));
  });

  it("moves the Raft state and the chain aside when the others hold a majority, keeping the identity", async () => {
    await damagedState();
    const identity = await readFile(join(dataDir, "identity.key"), "utf8");
    const run = await repair("--peer", peerA);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`moved raft, chain to .*discarded-.*rejoins from leader ${voterA}`));
    assert.equal(existsSync(join(dataDir, "raft")), false);
    assert.equal(existsSync(join(dataDir, "chain")), false);
    const discarded = readdirSync(dataDir).filter((name) => name.startsWith("discarded-"));
    assert.equal(discarded.length, 1);
    assert.equal(readFileSync(join(dataDir, discarded[0]!, "chain", "chain.jsonl"), "utf8"), "old chain\n");
    assert.equal(
      await readFile(join(dataDir, "identity.key"), "utf8"),
      identity,
      "same identity, same voter",
    );
    // The node starts from an empty log: storage opens with nothing in it.
    const { storage, recovery } = RaftStorage.open(join(dataDir, "raft"));
    storage.close();
    assert.equal(recovery.entries.length, 0);
  });

  it("refuses a config that would found a new cluster on an empty log (exit 3)", async () => {
    const run = await runCli(["node", "--config", layout.configs[0]!, "repair", "--peer", peerA]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /bootstrap: true would found a new cluster/);
  });
});
