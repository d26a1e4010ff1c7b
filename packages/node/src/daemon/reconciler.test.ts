// Goal: the leader's reconciler keeps at most one executor step in flight, also when a proposal
// of an earlier term is rejected late; it decides and proposes on the leader clock (never
// behind the committed clock), not on the bare wall clock; and a round held back by something
// that raises no event (a policy gate that expires with time, a learner's Raft progress) runs
// again when it lets go, and a run asked for during an etcd call happens when the call answers,
// not at the next reconciliation tick or the call's backed-off retry (issue 14).
// Method: a real FabricApplier (founded by hand-made entries) and a fake Raft driver whose
// proposals stay pending until the test resolves or rejects them; the Reconciler runs against
// them exactly as in the daemon. The clock test injects a LeaderClock over hand-moved sources;
// the wake tests also move Node's timers by hand (mock timers), so nothing waits on real time
// and no daemon tick exists: only the reconciler's own timer can run it.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, before, describe, mock, test } from "node:test";
import { LeaderClock, type MachineOutcome } from "@revoada/fabric-core/fabric";
import type { MembershipView as GossipView } from "@revoada/fabric-core/gossip";
import { decide, resolvePolicyConfig } from "@revoada/fabric-core/policy";
import {
  type ConfChange,
  type Entry,
  emptyConfState,
  encodeConfChange,
  type ProgressStatus,
  type RaftStatus,
  raftTimingFromStrategy,
} from "@revoada/fabric-core/raft";
import {
  decodeProposal,
  encodeProposal,
  homelabStrategy,
  loadBlake3,
  type NodeId,
  type NodeState,
  signerFromSeed,
} from "@revoada/fabric-core/vocabulary";
import type { RaftDriver } from "../raft/index.js";
import { FabricApplier } from "./fabric-applier.js";
import { silentLogger } from "./log.js";
import { Reconciler, type ReconcilerContext } from "./reconciler.js";

const founder = signerFromSeed(new Uint8Array(32).fill(7));

const ownState: NodeState = {
  id: founder.nodeId,
  name: "founder",
  addresses: {},
  roles: ["api-server", "controller-manager", "etcd", "scheduler"],
  capacity: { cpu_millis: 1000, memory_bytes: 2 ** 32, storage_bytes: 2 ** 36, pods: 10 },
  zone: "z",
  rack: "r",
  labels: {},
  version: "0.1.0",
  generation: 1,
};

interface Pending {
  readonly index: number;
  readonly data: Uint8Array | null;
  readonly reject: (error: Error) => void;
}

/** The part of the Raft driver the reconciler uses; proposals wait for the test. */
class FakeRaft {
  term = 1;
  lastIndex = 0;
  readonly proposals: Pending[] = [];
  /** The learners of the configuration (by conf-change entries the test applies) and their progress. */
  learners: NodeId[] = [];
  progress: Record<string, ProgressStatus> = {};

  constructor(private readonly applier: FabricApplier) {}

  status(): RaftStatus {
    const applied = this.applier.machine.applied();
    return {
      id: founder.nodeId,
      role: "leader",
      term: this.term,
      vote: founder.nodeId,
      leader: founder.nodeId,
      commit: applied.index,
      applied: applied.index,
      lastIndex: this.lastIndex,
      lastTerm: this.term,
      snapshotIndex: 0,
      conf: { ...emptyConfState(), voters: [founder.nodeId], learners: this.learners },
      transferTarget: null,
      generation: 1,
      rollback: null,
      progress: this.progress,
    };
  }

  propose(data: Uint8Array): Promise<{ index: number; result: MachineOutcome }> {
    return this.pending(data);
  }

  proposeConfChange(_change: ConfChange): Promise<{ index: number; result: MachineOutcome }> {
    return this.pending(null);
  }

  transferLeadership(): boolean {
    return false;
  }

  private pending(data: Uint8Array | null): Promise<{ index: number; result: MachineOutcome }> {
    this.lastIndex += 1;
    const index = this.lastIndex;
    return new Promise((_, reject) => this.proposals.push({ index, data, reject }));
  }
}

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

before(async () => {
  await loadBlake3();
});

/** A founded machine (entry 1: the founder a voter; entry 2: a node-join issued at `issuedAtMs`). */
async function founded(
  issuedAtMs: number,
  clock?: LeaderClock,
  view?: () => GossipView,
  etcd: ReconcilerContext["etcd"] = null,
) {
  const directory = await mkdtemp(join(tmpdir(), "reconciler-"));
  directories.push(directory);
  const applier = new FabricApplier(
    directory,
    { origin: "revoada.local/test", requireOperatorSignature: false },
    silentLogger,
  );
  const raft = new FakeRaft(applier);
  const apply = (entry: Omit<Entry, "term">) => {
    const outcome = applier.apply({ ...entry, term: raft.term } as Entry);
    raft.lastIndex = Math.max(raft.lastIndex, entry.index);
    return outcome;
  };
  apply({
    index: 1,
    kind: "conf-change",
    data: encodeConfChange({ changes: [{ type: "add-voter", node: founder.nodeId }] }),
  });
  apply({
    index: 2,
    kind: "normal",
    data: encodeProposal({
      command: { type: "node-join", state: ownState },
      proposer: founder.nodeId,
      issued_at_ms: issuedAtMs,
      origin: "policy",
      force: false,
    }),
  });
  const reconciler = new Reconciler({
    self: founder,
    raft: raft as unknown as RaftDriver<MachineOutcome>,
    applier,
    strategy: homelabStrategy,
    formation: "quorum-3m",
    logger: silentLogger,
    view: view ?? (() => ({ self: founder.nodeId, atMs: 0, members: [] })),
    ownState: () => ownState,
    policy: undefined,
    etcd,
    ...(clock === undefined ? {} : { clock }),
  });
  return { applier, raft, reconciler, apply };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("reconciler", () => {
  test("a late rejection of an earlier term's step does not free the executor while a newer step is in flight", async () => {
    const { raft, reconciler, apply } = await founded(1_000);
    reconciler.run();
    assert.equal(raft.proposals.length, 1, "the founding strategy, proposed at index 3");
    const first = raft.proposals[0]!;
    // Leadership moves to term 2 and back to this node; the new term's no-op applies at 3 and
    // the executor proposes its step again, at index 4.
    raft.term = 2;
    raft.lastIndex = 2;
    apply({ index: 3, kind: "empty", data: new Uint8Array() });
    reconciler.run();
    assert.equal(raft.proposals.length, 2);
    assert.equal(raft.proposals[1]!.index, 4);
    // The term-1 proposal is rejected only now: the step of term 2 is still in flight.
    first.reject(new Error("leadership lost before it committed"));
    await turn();
    await turn();
    reconciler.run();
    assert.equal(
      raft.proposals.length,
      2,
      "no second step while index 4 is pending (it would sign a block against a head that is not its own)",
    );
    // Its own rejection does free it.
    raft.proposals[1]!.reject(new Error("leadership lost"));
    await turn();
    await turn();
    assert.equal(raft.proposals.length, 3, "the step is proposed again");
  });

  test("proposes and decides on the leader clock: a wall clock 5 minutes behind the committed clock is not used", async () => {
    const committedMs = Date.now() + 10 * 60_000;
    const sources = { wall: committedMs - 5 * 60_000, monotonic: 0 };
    let machine: FabricApplier | undefined;
    const clock = new LeaderClock({
      wallMs: () => sources.wall,
      monotonicMs: () => sources.monotonic,
      committedMs: () => machine?.machine.committedClockMs() ?? 0,
    });
    const { applier, raft, reconciler } = await founded(committedMs, clock);
    machine = applier;
    clock.observe();
    sources.wall += 2_000;
    sources.monotonic += 2_000;
    assert.equal(reconciler.policyInputs().now_ms, committedMs + 2_000, "the policy's clock");
    reconciler.run();
    const data = raft.proposals[0]?.data;
    assert.ok(data !== undefined && data !== null);
    const proposal = decodeProposal(data);
    assert.ok(proposal.ok);
    assert.equal(proposal.value.command.type, "strategy");
    assert.equal(proposal.value.issued_at_ms, committedMs + 2_000, "issued on the leader clock");
  });
});

describe("reconciler: the policy's incremental round", () => {
  /** Commits every pending normal proposal at its index, as Raft would, and tells the reconciler. */
  function commitPending(
    raft: FakeRaft,
    reconciler: Reconciler,
    apply: (entry: Omit<Entry, "term">) => MachineOutcome,
  ): void {
    for (const pending of raft.proposals.splice(0)) {
      assert.ok(pending.data !== null, "only normal entries in this test");
      reconciler.onApplied(apply({ index: pending.index, kind: "normal", data: pending.data }));
    }
  }

  test("hands each round the memo of the one before: steady rounds walk incrementally and decide what the full walk decides", async () => {
    const { raft, reconciler, apply } = await founded(Date.now());
    reconciler.run();
    commitPending(raft, reconciler, apply); // the founding strategy; its entry wakes a round
    assert.deepEqual(
      reconciler.policyWalks,
      { full: 1, incremental: 0 },
      "a new leader's first round walks all",
    );
    reconciler.run();
    reconciler.run();
    assert.deepEqual(
      reconciler.policyWalks,
      { full: 1, incremental: 2 },
      "nothing applied since: incremental",
    );
    // Workloads arrive (an operator's upserts): the records changed, so the next round walks all.
    let index = raft.lastIndex;
    for (const name of ["web", "db"]) {
      index += 1;
      const workload = {
        name,
        namespace: "default",
        image: "registry.example/app:1",
        command: [],
        args: [],
        env: {},
        ports: [],
        replicas: 1,
        resources: { cpu_millis: 10, memory_bytes: 2 ** 20 },
        config_blobs: [],
        placement: { zones: [], labels: {}, tolerate_control_plane: true },
      };
      const data = encodeProposal({
        command: { type: "workload-upsert", workload },
        proposer: founder.nodeId,
        issued_at_ms: Date.now(),
        origin: "operator",
        force: false,
      });
      apply({ index, kind: "normal", data });
    }
    const expected = decide(reconciler.policyInputs());
    reconciler.run();
    assert.deepEqual(reconciler.policyWalks, { full: 2, incremental: 2 });
    const step = reconciler.lastStep;
    assert.ok(step?.type === "propose", JSON.stringify(step));
    assert.deepEqual(
      step.commands.map((proposed) => proposed.command),
      expected.commands.map((proposed) => proposed.command),
      "the placements the full walk decides",
    );
    // Their entries applied: the round they wake walks all (the placements record changed).
    commitPending(raft, reconciler, apply);
    assert.deepEqual(reconciler.policyWalks, { full: 3, incremental: 2 });
    reconciler.run();
    reconciler.run();
    assert.deepEqual(reconciler.policyWalks, { full: 3, incremental: 4 });
    assert.equal(reconciler.lastStep?.type, "wait", "placed: nothing more to do");
  });
});

describe("reconciler: a round held back by what raises no event runs when it lets go, not at the tick", () => {
  const workers = [8, 9].map((seed) => signerFromSeed(new Uint8Array(32).fill(seed)));
  const heartbeatMs = raftTimingFromStrategy(homelabStrategy).heartbeatIntervalMs;
  const stabilizationMs = resolvePolicyConfig(homelabStrategy, undefined).stabilization_ms;

  afterEach(() => mock.timers.reset());

  /**
   * A founded leader with two workers recorded and held as learners, which gossip has seen
   * alive since `aliveForMs` before now. One clock for the leader and gossip, moved by
   * `advance` together with Node's (mocked) timers. No daemon: no tick, no events but the
   * entries the test applies.
   */
  async function leaderWithWorkers(aliveForMs: number) {
    mock.timers.enable({ apis: ["setTimeout", "setImmediate"] });
    const startMs = 1_000_000;
    const sources = { wall: startMs, monotonic: 0 };
    let applier: FabricApplier | undefined;
    const clock = new LeaderClock({
      wallMs: () => sources.wall,
      monotonicMs: () => sources.monotonic,
      committedMs: () => applier?.machine.committedClockMs() ?? 0,
    });
    const member = (id: NodeId, stableSinceMs: number) => ({
      id,
      address: "127.0.0.1:7946",
      status: "alive" as const,
      phi: 0,
      stableSinceMs,
      generation: 1,
      incarnation: 0,
      state: null,
      keys: {},
    });
    const view = (): GossipView => ({
      self: founder.nodeId,
      atMs: sources.wall,
      members: [
        member(founder.nodeId, 0),
        ...workers.map((worker) => member(worker.nodeId, startMs - aliveForMs)),
      ],
    });
    const setup = await founded(startMs, clock, view);
    applier = setup.applier;
    const { raft, apply } = setup;
    const normal = (index: number, command: Parameters<typeof encodeProposal>[0]["command"]) =>
      apply({
        index,
        kind: "normal",
        data: encodeProposal({
          command,
          proposer: founder.nodeId,
          issued_at_ms: startMs,
          origin: "policy",
          force: false,
        }),
      });
    normal(3, { type: "strategy", strategy: homelabStrategy });
    let index = 3;
    for (const worker of workers) {
      index += 1;
      normal(index, {
        type: "node-join",
        state: { ...ownState, id: worker.nodeId, name: `worker-${index}`, roles: ["worker"] },
      });
    }
    for (const worker of workers) {
      index += 1;
      apply({
        index,
        kind: "conf-change",
        data: encodeConfChange({ changes: [{ type: "add-learner", node: worker.nodeId }] }),
      });
      raft.learners.push(worker.nodeId);
    }
    const advance = (ms: number) => {
      sources.wall += ms;
      sources.monotonic += ms;
      mock.timers.tick(ms);
    };
    return { ...setup, advance, startMs };
  }

  /** The commands of the proposals pending in the fake Raft, by type (a conf change: "conf-change"). */
  function pendingTypes(raft: FakeRaft): string[] {
    return raft.proposals.map((pending) => {
      if (pending.data === null) return "conf-change";
      const proposal = decodeProposal(pending.data);
      assert.ok(proposal.ok);
      const command = proposal.value.command;
      return command.type === "shift-procedure" ? `${command.step} ${command.shift.type}` : command.type;
    });
  }

  test("a promotion the stabilization period holds begins when the period ends", async () => {
    const aliveForMs = 1_000;
    const { raft, reconciler, advance } = await leaderWithWorkers(aliveForMs);
    reconciler.run();
    assert.deepEqual(pendingTypes(raft), [], "both candidates alive for less than the stabilization period");
    assert.ok(
      reconciler.decisions.some((decision) => decision.record.rule === "stabilization"),
      "held by the stabilization rule",
    );
    const untilStableMs = stabilizationMs - aliveForMs;
    advance(untilStableMs - 1);
    assert.deepEqual(pendingTypes(raft), [], "still within the period");
    advance(1);
    assert.deepEqual(
      pendingTypes(raft),
      ["begin promote"],
      "the round runs at the instant the gate lets go: no event, no tick",
    );
  });

  test("a member that appears while an etcd call is in progress is recorded when the call answers, not at its retry", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const newcomer = workers[0]!;
    let members: GossipView["members"] = [];
    const view = (): GossipView => ({ self: founder.nodeId, atMs: 0, members });
    let answer: (record: null) => void = () => {};
    const calls: string[] = [];
    const etcd = {
      perform(action: { readonly kind: string }) {
        calls.push(action.kind);
        return new Promise<null>((resolve) => {
          answer = resolve;
        });
      },
    };
    const { raft, reconciler, apply } = await founded(Date.now(), undefined, view, etcd);
    apply({
      index: 3,
      kind: "normal",
      data: encodeProposal({
        command: { type: "strategy", strategy: homelabStrategy },
        proposer: founder.nodeId,
        issued_at_ms: Date.now(),
        origin: "policy",
        force: false,
      }),
    });
    reconciler.run();
    assert.deepEqual(calls, ["etcd-adopt"], "the founder's etcd member is looked up: a call in progress");
    // Gossip reports a new member meanwhile; the daemon runs the reconciler on it.
    members = [
      {
        id: newcomer.nodeId,
        address: "127.0.0.1:7946",
        status: "alive",
        phi: 0,
        stableSinceMs: 0,
        generation: 1,
        incarnation: 0,
        state: { ...ownState, id: newcomer.nodeId, name: "newcomer", roles: ["worker"] },
        keys: {},
      },
    ];
    reconciler.run();
    assert.deepEqual(pendingTypes(raft), [], "nothing proposed while the call is in progress");
    // etcd answers "not ready": the call is retried after a backoff (a timer that the mocked
    // clock never reaches here); the run asked for meanwhile happens now.
    answer(null);
    await turn();
    await turn();
    assert.deepEqual(pendingTypes(raft), ["node-join"], "the newcomer is recorded at once");
  });

  test("a learner's catch-up, which only Raft progress shows, is checked again within a heartbeat", async () => {
    const { raft, reconciler, apply, advance } = await leaderWithWorkers(stabilizationMs);
    reconciler.run();
    assert.deepEqual(pendingTypes(raft), ["begin promote"]);
    const begin = raft.proposals.splice(0)[0]!;
    assert.ok(begin.data !== null);
    // The begin commits; this leader has not heard from the learner yet (a new leader's
    // progress starts at 0), so the procedure waits for it to catch up.
    reconciler.onApplied(apply({ index: begin.index, kind: "normal", data: begin.data }));
    assert.match(
      reconciler.lastStep?.type === "wait" ? reconciler.lastStep.reason : "",
      /is catching up as a learner/,
    );
    assert.deepEqual(pendingTypes(raft), []);
    // The learner answers a heartbeat: its match reaches the commit index. Raft raises no
    // event for that.
    const commit = raft.status().commit;
    for (const worker of workers) {
      raft.progress[worker.nodeId] = {
        match: commit,
        next: commit + 1,
        state: "replicate",
        inflightMessages: 0,
        inflightBytes: 0,
        recentActive: true,
        learner: true,
        rolledBack: false,
      };
    }
    advance(heartbeatMs);
    assert.deepEqual(pendingTypes(raft), ["conf-change"], "add-voter, within a heartbeat, not at the tick");
  });
});
