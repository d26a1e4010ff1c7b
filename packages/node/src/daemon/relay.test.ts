// Goal: the daemon's relay follower applies only what a voter's commit stamp vouches for: a
// source that tampers with an entry, or puts a stamp by a key that is no voter, is refused
// with the reason logged and counted (`answers_refused`), nothing is applied, and once the
// source answers truly the follower catches up. Method: in one process, a voter's NodeRelay
// (a real applier with a founded log) served over a small HTTP server that can lie, and a
// follower's NodeRelay asking it through the real client, with short relay timers. And a
// fresh follower whose source answers only after more than `silenceMs` (a loaded machine,
// docs/scale.md "Issue 17") still applies that answer.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { commitStampMessage, defaultRelayConfig } from "@revoada/fabric-core/fabric";
import type { MembershipView } from "@revoada/fabric-core/gossip";
import { type Entry, encodeConfChange } from "@revoada/fabric-core/raft";
import {
  type Blake3Hash,
  encodeProposal,
  loadBlake3,
  type NodeState,
  signerFromSeed,
} from "@revoada/fabric-core/vocabulary";
import { FabricApplier } from "./fabric-applier.js";
import { createLogger, type Logger } from "./log.js";
import { NodeRelay, type NodeRelayOptions, type RelayReply, RelayRequest } from "./relay.js";
import { RelayStateFile, relayStateFileName } from "./relay-state-file.js";
import { testMembershipView, testNodeState } from "./test-node-state.js";

const voter = signerFromSeed(new Uint8Array(32).fill(7));
const follower = signerFromSeed(new Uint8Array(32).fill(8));
const outsider = signerFromSeed(new Uint8Array(32).fill(9));
const machineOptions = { origin: "revoada.local/relay-test", requireOperatorSignature: false };
/** A refused source is retried after 4 silences: 4 s here (the only source). */
const quick = { ...defaultRelayConfig, renewMs: 100, silenceMs: 1_000, subscriptionTtlMs: 1_500 };

/** A committed `node-join` of `state` at `index`. */
function join_(state: NodeState, index: number): Entry {
  return {
    index,
    term: 1,
    kind: "normal",
    data: encodeProposal({
      command: { type: "node-join", state },
      proposer: voter.nodeId,
      issued_at_ms: 1000 + index,
      origin: "policy",
      force: false,
    }),
  };
}

/** The founding entries: the voter founds the log and records itself, then the follower joins. */
function foundingEntries(): Entry[] {
  return [
    {
      index: 1,
      term: 1,
      kind: "conf-change",
      data: encodeConfChange({ changes: [{ type: "add-voter", node: voter.nodeId }] }),
    },
    join_(testNodeState(voter.nodeId, ["api-server", "controller-manager", "etcd", "scheduler"]), 2),
    join_(testNodeState(follower.nodeId, ["worker"]), 3),
  ];
}

const view = (): MembershipView =>
  testMembershipView(follower.nodeId, [
    { id: voter.nodeId, roles: ["etcd"] },
    { id: follower.nodeId, roles: ["worker"] },
  ]);

type Lie = "none" | "tamper-entry" | "outsider-stamp";
let lie: Lie = "none";
/** How long the source takes to answer (a loaded machine). */
let answerDelayMs = 0;
let server: Server;
let address = "";
let directories: string[] = [];
const blobs = new Map<string, Uint8Array>();
const warnings: string[] = [];
let source: NodeRelay;
let relay: NodeRelay;
let followerApplier: FabricApplier;
let sourceApplier: FabricApplier;

/** What the lying source does to a true answer. */
function lieAbout(reply: RelayReply): RelayReply {
  if (reply.type !== "entries" || reply.entries.length === 0 || reply.stamp === null) return reply;
  if (lie === "tamper-entry") {
    const last = reply.entries[reply.entries.length - 1]!;
    // The follower joins in another zone than the one committed.
    const text = Buffer.from(last.data, "base64").toString("utf8").replace('"zone":"z"', '"zone":"x"');
    const data = Buffer.from(text, "utf8").toString("base64");
    return { ...reply, entries: [...reply.entries.slice(0, -1), { ...last, data }] };
  }
  if (lie === "outsider-stamp") {
    const signature = Buffer.from(outsider.sign(commitStampMessage(reply.stamp))).toString("hex");
    return { ...reply, stamp: { ...reply.stamp, signer: outsider.nodeId, signature } };
  }
  return reply;
}

async function newDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "relay-stamp-"));
  directories.push(directory);
  return directory;
}

/** An applier over `directory`'s chain file (a restarted node: the same directory). */
async function newApplier(directory?: string): Promise<FabricApplier> {
  return new FabricApplier(
    directory ?? (await newDirectory()),
    machineOptions,
    createLogger({ level: "error", write: () => {} }),
  );
}

before(async () => {
  await loadBlake3();
  sourceApplier = await newApplier();
  source = new NodeRelay({
    self: voter.nodeId,
    signer: voter,
    machineOptions,
    applier: sourceApplier,
    view,
    apiOf: () => undefined,
    api: { token: undefined, caPem: undefined },
    publish: async (bytes) => {
      const hash = Buffer.from(bytes).toString("hex").slice(0, 64) as Blake3Hash;
      blobs.set(hash, bytes);
      return hash;
    },
    fetch: async () => null,
    onApplied: () => {},
    logger: createLogger({ level: "error", write: () => {} }),
    config: quick,
    tickMs: 10,
  });
  for (const entry of foundingEntries()) {
    sourceApplier.apply(entry);
    source.recordApplied(entry, "raft");
  }
  source.start();
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      const answer = async () => {
        await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
        return lieAbout(await source.serve(RelayRequest.parse(JSON.parse(body))));
      };
      answer().then(
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  followerApplier = await newApplier();
  relay = followerRelay(
    followerApplier,
    createLogger({ level: "warn", write: (line) => warnings.push(line) }),
  );
});

/** The follower's relay over `applier`, asking the voter's HTTP source. */
function followerRelay(
  applier: FabricApplier,
  logger: Logger,
  more: Partial<NodeRelayOptions> = {},
): NodeRelay {
  return new NodeRelay({
    self: follower.nodeId,
    signer: follower,
    machineOptions,
    applier,
    view,
    apiOf: (id) => (id === voter.nodeId ? address : undefined),
    api: { token: undefined, caPem: undefined },
    publish: async () => "0".repeat(64) as Blake3Hash,
    fetch: async (hash) => blobs.get(hash) ?? null,
    onApplied: () => {},
    logger,
    config: quick,
    waitMs: 50,
    tickMs: 10,
    ...more,
  });
}

after(async () => {
  relay.stop();
  source.stop();
  await new Promise((resolve) => server.close(resolve));
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
  directories = [];
});

async function until(condition: () => boolean, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

test("a relay follower refuses a lying source (tampered entry, outsider's stamp) and applies the truth", async () => {
  lie = "tamper-entry";
  relay.start();
  assert.ok(await until(() => relay.status().answers_refused >= 1), "the tampered answer is refused");
  assert.equal(followerApplier.machine.applied().index, 0, "nothing of it was applied");
  // The status says why it has no source now: its one candidate is skipped for a while.
  const why = relay.status();
  assert.equal(why.source, null);
  assert.deepEqual(why.candidates, [voter.nodeId]);
  assert.deepEqual(
    why.skipped.map((skip) => skip.id),
    [voter.nodeId],
  );
  assert.ok(why.skipped[0]!.for_ms > 0);
  assert.equal(why.stale, false);
  assert.match(
    warnings.join(""),
    /relay answer refused.*the state after the entries is not the stamped state/,
  );

  lie = "outsider-stamp";
  const refused = relay.status().answers_refused;
  assert.ok(await until(() => relay.status().answers_refused > refused), "the outsider's stamp is refused");
  assert.equal(followerApplier.machine.applied().index, 0);
  assert.match(warnings.join(""), /relay answer refused.*is not a known voter/);

  lie = "none";
  assert.ok(await until(() => followerApplier.machine.applied().index === 3), "the true answer is applied");
  assert.ok(
    followerApplier.machine.node(follower.nodeId) !== undefined,
    "the follower's join is in its state",
  );
});

test("a fresh follower applies an answer that takes longer than silenceMs to come (a loaded source)", async () => {
  relay.stop();
  answerDelayMs = 1.5 * quick.silenceMs;
  const applier = await newApplier();
  const slow = followerRelay(applier, createLogger({ level: "error", write: () => {} }));
  slow.start();
  try {
    // Before issue 17's fix the follower gave the source up mid-request and dropped the
    // answer, every time: it never applied anything.
    assert.ok(await until(() => applier.machine.applied().index === 3, 10_000), "the slow answer is applied");
    assert.equal(slow.status().answers_refused, 0);
  } finally {
    slow.stop();
    answerDelayMs = 0;
  }
});

/** The source (a voter fed by Raft) applies `entry`. */
function sourceApplies(entry: Entry): void {
  sourceApplier.apply(entry);
  source.recordApplied(entry, "raft");
}

const third = signerFromSeed(new Uint8Array(32).fill(10));
const fourth = signerFromSeed(new Uint8Array(32).fill(11));

test("a restarted follower resumes its applied state from its state file, then catches up by entries", async () => {
  relay.stop();
  const directory = await newDirectory();
  const stateFile = new RelayStateFile(join(directory, relayStateFileName));
  /** Whether the follower can reach its source (false: a mass restart, nobody answers yet). */
  let reachable = true;
  const restarted = (applier: FabricApplier) =>
    followerRelay(applier, createLogger({ level: "error", write: () => {} }), {
      stateFile,
      saveEveryMs: 50,
      apiOf: (id) => (reachable && id === voter.nodeId ? address : undefined),
    });

  const first = await newApplier(directory);
  const before = restarted(first);
  before.start();
  const sourceIndex = sourceApplier.machine.applied().index;
  assert.ok(await until(() => first.machine.applied().index === sourceIndex), "the follower caught up");
  // Graceful stop: the last applied state is written on the way out.
  before.stop();
  await before.flush();
  const saved = await stateFile.read();
  assert.equal(saved.type === "read" ? saved.state.header.index : saved.type, sourceIndex);

  sourceApplies(join_(testNodeState(third.nodeId, ["worker"]), sourceIndex + 1));
  reachable = false;
  const second = await newApplier(directory);
  const afterStop = restarted(second);
  await afterStop.resumeFromStateFile(second.chain?.chain.genesis.hash ?? null);
  afterStop.start();
  try {
    // Before any source answers, it stands where it stopped, with the state it had.
    assert.equal(second.machine.applied().index, sourceIndex, "resumed at its applied index");
    assert.ok(second.machine.node(follower.nodeId) !== undefined, "its state is back");
    assert.equal(afterStop.status().resumed_index, sourceIndex);
    assert.equal(afterStop.status().entries_relayed, 0, "no source answered");
    // Its relay window came back too: a child restarted one entry behind it gets that entry
    // (with the stamp it resumed under), not a whole-machine snapshot.
    const child = await afterStop.serve({
      from: third.nodeId,
      type: "follow",
      after: sourceIndex - 1,
      wait_ms: 0,
    });
    assert.equal(child.type, "entries", "the child is answered with entries");
    assert.deepEqual(
      child.type === "entries" ? [child.entries.map((entry) => entry.index), child.stamp?.index] : [],
      [[sourceIndex], sourceIndex],
    );
    reachable = true;
    assert.ok(
      await until(() => second.machine.applied().index === sourceIndex + 1),
      "it caught up with the source",
    );
    const caughtUp = afterStop.status();
    assert.equal(caughtUp.snapshots_restored, 0, "by entries, not a whole-machine snapshot");
    assert.equal(caughtUp.entries_relayed, 1, "only the entry after its index");
    assert.ok(second.machine.node(third.nodeId) !== undefined);
    // kill -9: no flush; the periodic save has written the newest state already.
    assert.ok(
      await untilAsync(async () => {
        const read = await stateFile.read();
        return read.type === "read" && read.state.header.index === sourceIndex + 1;
      }),
      "the state file follows the applied index while the node runs",
    );
  } finally {
    afterStop.stop();
  }

  sourceApplies(join_(testNodeState(fourth.nodeId, ["worker"]), sourceIndex + 2));
  reachable = false;
  const killed = await newApplier(directory);
  const afterKill = restarted(killed);
  await afterKill.resumeFromStateFile(killed.chain?.chain.genesis.hash ?? null);
  afterKill.start();
  try {
    assert.equal(killed.machine.applied().index, sourceIndex + 1, "resumed after kill -9");
    reachable = true;
    assert.ok(await until(() => killed.machine.applied().index === sourceIndex + 2));
    assert.equal(afterKill.status().snapshots_restored, 0, "by entries, not a whole-machine snapshot");
    assert.equal(afterKill.status().entries_relayed, 1);
  } finally {
    afterKill.stop();
  }
});

test("a corrupt state file, or another genesis's, is refused with a log line; the follower starts from nothing", async () => {
  relay.stop();
  const directory = await newDirectory();
  const path = join(directory, relayStateFileName);
  const stateFile = new RelayStateFile(path);
  const writer = followerRelay(
    await newApplier(directory),
    createLogger({ level: "error", write: () => {} }),
    {
      stateFile,
    },
  );
  writer.start();
  assert.ok(
    await untilAsync(async () => (await stateFile.read()).type === "read"),
    "a state file was written",
  );
  writer.stop();
  await writer.flush();
  const good = await readFile(path);

  // The machine starts after the header line; the window (JSON) follows it.
  const machineAt = good.indexOf(0x0a) + 1;
  const flipped = Buffer.from(good);
  flipped[machineAt + 20] = flipped[machineAt + 20]! ^ 0x01;
  const windowAt = good.lastIndexOf(Buffer.from('[{"term"'));
  const window = JSON.parse(good.subarray(windowAt).toString("utf8")) as { index: number }[];
  // Another index of the same length: the file's lengths still agree.
  window[0]!.index = Number("9".repeat(String(window[0]!.index).length));
  const badWindow = Buffer.from(
    good.subarray(0, windowAt).toString("latin1") + JSON.stringify(window),
    "latin1",
  );
  const cases: { name: string; bytes: Uint8Array; genesis: string | null; reason: RegExp }[] = [
    { name: "a flipped machine byte", bytes: flipped, genesis: null, reason: /digest is not the stamp/ },
    { name: "garbage", bytes: Buffer.from("not a state file"), genesis: null, reason: /no header line/ },
    {
      name: "a window out of order",
      bytes: badWindow,
      genesis: null,
      reason: /window: entry 0 is not at its index/,
    },
    {
      name: "a truncated file",
      bytes: good.subarray(0, good.length - 10),
      genesis: null,
      reason: /bytes after the header, the header says/,
    },
    { name: "another genesis", bytes: good, genesis: "ab".repeat(32), reason: /another genesis/ },
  ];
  for (const { name, bytes, genesis, reason } of cases) {
    await writeFile(path, bytes);
    const lines: string[] = [];
    const applier = await newApplier(await newDirectory());
    const reader = followerRelay(
      applier,
      createLogger({ level: "warn", write: (line) => lines.push(line) }),
      {
        stateFile,
      },
    );
    await reader.resumeFromStateFile(genesis);
    assert.equal(applier.machine.applied().index, 0, `${name}: nothing restored`);
    assert.equal(reader.status().resumed_index, null);
    assert.match(lines.join(""), /relay state file refused; starting from nothing/, name);
    assert.match(lines.join(""), reason, name);
  }
});

async function untilAsync(condition: () => Promise<boolean>, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
