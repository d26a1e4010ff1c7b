import { type CommitRule, type ConfChange, committedIndex, type RaftConfig } from "../raft/index.js";
import { assert } from "../vocabulary/index.js";
import { checkLinearizable, type RegisterOperation } from "./linearizability.js";
import type { NetworkFaults } from "./network.js";
import {
  encodeSimCommand,
  RaftCluster,
  type RollbackCounts,
  type SimNode,
  SimViolation,
} from "./raft-cluster.js";
import { SeededRandom } from "./random.js";

/**
 * One seeded run of the Raft simulator: a fault phase (partitions of every shape, message
 * drop/duplicate/delay/reorder, crashes at any point of the Ready cycle, restarts, process
 * pauses, clock drift, membership changes and leadership transfers while clients write and
 * read), then a heal phase that must elect a leader and commit within a bounded virtual
 * time (liveness), then a linearizability check of the clients' history. The cluster checks
 * its invariants after every step, and every answered read is checked against what was
 * committed before it was asked; any violation throws `SimViolation` whose message carries
 * the replay command.
 */

export interface RaftSimOptions {
  readonly seed: number;
  /** Steps of the fault phase (5 ms of virtual time each). */
  readonly steps?: number;
  /** Founding voters. */
  readonly nodes?: number;
  /** Extra nodes that may join as learners and be promoted. */
  readonly spares?: number;
  readonly clients?: number;
  readonly keys?: number;
  readonly membership?: boolean;
  readonly commitRule?: CommitRule;
  readonly config?: Partial<Omit<RaftConfig, "id">>;
  /**
   * `mixed` (default): every kind of fault. `leader-churn`: 5 voters, one entry per append,
   * one append in flight, eight clients, no membership changes, and a nemesis that mostly
   * crashes the leader and restarts nodes quickly: the pattern behind commit-rule bugs such
   * as Figure 8 (leaders come and go while old-term entries are still being replicated).
   * `disk-rollback`: the mixed faults plus "disk rolls back": a node restarts from an older
   * copy of its disk (`RaftCluster.rollBack`), and after healing every restored node must
   * have caught up and voted again.
   */
  readonly profile?: RaftSimProfile;
}

export type RaftSimProfile = "mixed" | "leader-churn" | "disk-rollback";
export const raftSimProfiles: readonly RaftSimProfile[] = ["mixed", "leader-churn", "disk-rollback"];

/**
 * A deliberately broken copy of the leader's commit rule, for tests and `pnpm sim
 * --broken-commit-rule`: it commits whatever a quorum holds, ignoring that entry's term.
 */
export const countingReplicasCommitRule: CommitRule = (input) =>
  Math.max(input.commit, committedIndex(input.conf, input.matchOf));

/** The options a profile implies; explicit options win. */
function withProfile(options: RaftSimOptions): RaftSimOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  if (options.profile === "disk-rollback") return { steps: 600, ...defined, seed: options.seed };
  if (options.profile !== "leader-churn") return options;
  return {
    nodes: 5,
    steps: 1000,
    clients: 8,
    membership: false,
    ...defined,
    seed: options.seed,
    config: { entriesPerAppendMax: 1, inflightAppendsMax: 1, ...options.config },
  };
}

export interface RaftSimReport {
  readonly seed: number;
  readonly steps: number;
  readonly virtualMs: number;
  readonly committedIndex: number;
  readonly terms: number;
  readonly operations: number;
  readonly indefiniteOperations: number;
  readonly linearizability: "ok" | "unknown";
  /** Virtual ms from healing all faults to the first committed entry of a leader. */
  readonly recoveryMs: number;
  readonly messages: number;
  /** The disk-rollback fault: disks restored, and what the nodes reported about it. */
  readonly rollbacks: RollbackCounts;
}

const defaultSteps = 400;
/** After healing: a leader and a commit within this many steps (20 election timeouts at 150 ms). */
const healStepsMax = 600;

interface PendingPut {
  readonly kind: "put";
  readonly key: string;
  readonly value: string;
  readonly entryKey: string;
  readonly index: number;
  readonly callAt: number;
  readonly deadlineMs: number;
}

interface PendingGet {
  readonly kind: "get";
  readonly key: string;
  readonly node: string;
  readonly incarnation: number;
  readonly context: string;
  readonly callAt: number;
  readonly deadlineMs: number;
  /** The highest index applied anywhere (so committed) when the read was asked. */
  readonly committedAtCall: number;
}

interface SimClient {
  readonly id: string;
  sequence: number;
  pending: PendingPut | PendingGet | null;
}

function shuffle<T>(random: SeededRandom, items: readonly T[]): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i -= 1) {
    const j = random.int(i + 1);
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

export function replayCommand(options: RaftSimOptions): string {
  let command = `pnpm sim --seed ${options.seed}`;
  if (options.profile !== undefined && options.profile !== "mixed")
    command += ` --profile ${options.profile}`;
  const defaults = withProfile({ seed: options.seed, profile: options.profile ?? "mixed" });
  if (options.steps !== undefined && options.steps !== (defaults.steps ?? defaultSteps)) {
    command += ` --steps ${options.steps}`;
  }
  if (options.nodes !== undefined && options.nodes !== (defaults.nodes ?? 3))
    command += ` --nodes ${options.nodes}`;
  if (options.commitRule === countingReplicasCommitRule) command += " --broken-commit-rule";
  return command;
}

/** Per-seed knobs, so the sweep covers batching, flow control, snapshots and chunking. */
function seededConfig(random: SeededRandom): Partial<Omit<RaftConfig, "id">> {
  const preVote = random.next() < 0.85;
  const checkQuorum = random.next() < 0.85;
  const leaseRoll = random.next();
  return {
    entriesPerAppendMax: random.pick([1, 2, 8, 64]),
    inflightAppendsMax: random.pick([1, 2, 4, 64]),
    snapshotIntervalEntries: random.pick([16, 64, 1000]),
    snapshotChunkBytes: random.pick([16, 64, 4096]),
    preVote,
    checkQuorum,
    leaseReads: checkQuorum && leaseRoll < 0.3,
  };
}

function seededFaults(random: SeededRandom): NetworkFaults {
  return {
    dropRate: random.pick([0, 0.01, 0.05, 0.15]),
    duplicateRate: random.pick([0, 0.01, 0.05]),
    delayMsMin: 1,
    delayMsMax: random.pick([2, 10, 40]),
  };
}

export function runRaftSimulation(options: RaftSimOptions): RaftSimReport {
  try {
    return runUnchecked(withProfile(options));
  } catch (error) {
    if (error instanceof SimViolation) {
      throw new SimViolation(`${error.message}\n  replay: ${replayCommand(options)}`, error.invariant);
    }
    if (error instanceof Error)
      error.message = `${error.message}\n  seed ${options.seed}; replay: ${replayCommand(options)}`;
    throw error;
  }
}

class Simulation {
  readonly cluster: RaftCluster;
  readonly random: SeededRandom;
  readonly clients: SimClient[] = [];
  readonly history: RegisterOperation[] = [];
  readonly keys: string[];
  indefinite = 0;
  private readonly spareIds: string[];
  private readonly voterIds: string[];

  constructor(readonly options: RaftSimOptions) {
    const nodeCount = options.nodes ?? 3;
    const spareCount = options.spares ?? (options.membership === false ? 0 : 2);
    this.voterIds = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
    this.spareIds = Array.from({ length: spareCount }, (_, i) => `s${i + 1}`);
    const setup = new SeededRandom(options.seed ^ 0x5eed);
    const config = { ...seededConfig(setup), ...options.config };
    this.cluster = new RaftCluster({
      seed: options.seed,
      voters: this.voterIds,
      spares: this.spareIds,
      config,
      faults: seededFaults(setup),
      commitRule: options.commitRule,
    });
    this.random = this.cluster.random.fork();
    // Clock drift: each node's clock runs up to 3% fast or slow (the lease margin is T/5).
    for (const node of this.cluster.nodes.values()) node.clockRate = 0.97 + setup.int(61) / 1000;
    this.keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
    for (let i = 0; i < (options.clients ?? 4); i += 1)
      this.clients.push({ id: `c${i}`, sequence: 0, pending: null });
  }

  // -------------------------------------------------------------------------------------
  // Nemesis.

  nemesis(): void {
    if (this.options.profile === "leader-churn") {
      this.leaderChurn();
      return;
    }
    const random = this.random;
    if (!random.chance(0.04)) return;
    if (this.options.profile === "disk-rollback") {
      if (random.chance(0.4)) {
        this.rollBackDisk();
        return;
      }
      // The rest of the cluster keeps running while a restored node catches up (see rollBack).
      if (this.cluster.isRestoredNodeCatchingUp()) {
        this.networkFault(random.int(50));
        return;
      }
    }
    const up = this.cluster.upNodes().map((node) => node.id);
    const all = [...this.cluster.nodes.keys()];
    const roll = random.int(100);
    if (roll < 50) {
      this.networkFault(roll);
    } else if (roll < 62) {
      if (up.length > 0) this.cluster.crash(random.pick(up));
    } else if (roll < 68) {
      if (up.length > 0) {
        const node = this.cluster.node(random.pick(up));
        node.crashDuringReady = random.pick(["before-persist", "after-persist", "after-send"] as const);
      }
    } else if (roll < 85) {
      const down = all.filter((id) => !this.cluster.isUp(id) && this.isStarted(id));
      if (down.length > 0) this.cluster.restart(random.pick(down));
    } else if (roll < 93) {
      if (this.options.membership !== false) this.changeMembership();
    } else if (roll < 97) {
      // A process stall (GC, VM pause) of up to three election timeouts.
      if (up.length > 0)
        this.cluster.node(random.pick(up)).pausedUntilMs = this.cluster.nowMs + random.int(450);
    } else {
      this.transfer();
    }
  }

  /** Partitions (`roll` < 15), one-way cuts (< 25), bridges (< 32), or heals (< 50). */
  private networkFault(roll: number): void {
    const random = this.random;
    const all = [...this.cluster.nodes.keys()];
    if (roll < 15) {
      const shuffled = shuffle(random, all);
      const cut = 1 + random.int(Math.max(1, shuffled.length - 1));
      this.cluster.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (roll < 25) {
      const from = random.pick(all);
      const to = random.pick(all);
      if (from !== to) this.cluster.network.cut(from, to);
    } else if (roll < 32) {
      this.bridge(all);
    } else {
      this.cluster.network.heal();
    }
  }

  private leaderChurn(): void {
    const random = this.random;
    if (!random.chance(0.3)) return;
    const roll = random.int(100);
    const leader = this.cluster.leader();
    const down = [...this.cluster.nodes.keys()].filter((id) => !this.cluster.isUp(id) && this.isStarted(id));
    if (roll < 45) {
      if (leader !== null) this.cluster.crash(leader);
    } else if (roll < 80) {
      if (down.length > 0) this.cluster.restart(random.pick(down));
    } else if (roll < 90) {
      const all = [...this.cluster.nodes.keys()].filter((id) => this.isStarted(id));
      const shuffled = shuffle(random, all);
      const cut = 1 + random.int(Math.max(1, shuffled.length - 1));
      this.cluster.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else {
      this.cluster.network.heal();
    }
  }

  /** Stops a node (if running) and restarts it from one of its older disk copies. */
  private rollBackDisk(): void {
    // A stopped node's newest copy is its current disk: only older ones roll it back.
    const olderCopies = (node: SimNode) => (node.raft === null ? node.backups.slice(0, -1) : node.backups);
    const candidates = [...this.cluster.nodes.values()].filter(
      (node) => olderCopies(node).length > 0 && this.isStarted(node.id),
    );
    if (candidates.length === 0) return;
    const node = this.random.pick(candidates);
    // Chosen before the crash below adds the current disk as the newest copy.
    const backup = this.random.pick(olderCopies(node));
    if (node.raft !== null) this.cluster.crash(node.id);
    this.cluster.rollBack(node.id, backup);
  }

  /**
   * After a rollback every voter of the leader's configuration has caught up and votes
   * again (a node removed meanwhile hears from no leader and may stay as it is).
   */
  checkRollbacksRecovered(): void {
    const cluster = this.cluster;
    for (let step = 0; step < healStepsMax; step += 1) {
      const leader = cluster.leader();
      const voters = leader === null ? [] : cluster.raft(leader).status().conf.voters;
      const refusing = voters.filter((id) => cluster.isUp(id) && cluster.raft(id).status().rollback !== null);
      if (leader !== null && refusing.length === 0) return;
      cluster.step();
    }
    cluster.fail("liveness", "a rolled-back node still refuses to vote after healing");
  }

  private isStarted(id: string): boolean {
    return this.cluster.node(id).incarnation > 0;
  }

  /** Two halves that talk only through one bridge node. */
  private bridge(all: string[]): void {
    if (all.length < 3) return;
    const shuffled = shuffle(this.random, all);
    const bridge = shuffled[0]!;
    const rest = shuffled.slice(1);
    const half = Math.ceil(rest.length / 2);
    const left = rest.slice(0, half);
    const right = rest.slice(half);
    assert(!left.includes(bridge) && !right.includes(bridge), "the bridge is in neither half");
    for (const a of left) {
      for (const b of right) {
        this.cluster.network.cut(a, b);
        this.cluster.network.cut(b, a);
      }
    }
  }

  private changeMembership(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const conf = this.cluster.raft(leader).status().conf;
    const changes: ConfChange["changes"][number][] = [];
    const freshSpare = this.spareIds.find((id) => !this.isStarted(id));
    const roll = this.random.int(4);
    if (roll === 0 && freshSpare !== undefined) {
      this.cluster.restart(freshSpare);
      changes.push({ type: "add-learner", node: freshSpare });
    } else if (roll === 1 && conf.learners.length > 0) {
      changes.push({ type: "add-voter", node: this.random.pick(conf.learners) });
      if (conf.voters.length >= 3 && this.random.chance(0.5)) {
        changes.push({ type: "remove", node: this.random.pick(conf.voters) });
      }
    } else if (roll === 2 && conf.voters.length > 3) {
      changes.push({ type: "remove", node: this.random.pick(conf.voters) });
    } else if (roll === 3 && conf.voters.length > 3) {
      changes.push({ type: "add-learner", node: this.random.pick(conf.voters) });
    }
    if (changes.length > 0) this.cluster.raft(leader).proposeConfChange({ changes });
  }

  private transfer(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const conf = this.cluster.raft(leader).status().conf;
    const targets = conf.voters.filter((id) => id !== leader);
    if (targets.length > 0) this.cluster.raft(leader).transferLeadership(this.random.pick(targets));
  }

  // -------------------------------------------------------------------------------------
  // Clients.

  clientsAct(): void {
    for (const client of this.clients) {
      if (client.pending !== null) this.resolve(client);
      if (client.pending === null && this.random.chance(0.3)) this.issue(client);
    }
  }

  private issue(client: SimClient): void {
    // Clients reach any node that believes it leads, stale leaders of old terms included.
    const up = this.cluster.activeNodes();
    if (up.length === 0) return;
    const leaders = up.filter((node) => node.raft!.status().role === "leader");
    const target = this.random.pick(leaders.length > 0 && this.random.chance(0.9) ? leaders : up).id;
    const raft = this.cluster.raft(target);
    const key = this.random.pick(this.keys);
    client.sequence += 1;
    const deadlineMs = this.cluster.nowMs + 2000;
    if (this.random.chance(0.5)) {
      const value = `${client.id}-${client.sequence}`;
      const data = encodeSimCommand({ op: "put", key, value });
      const callAt = this.cluster.nextEvent();
      const outcome = raft.propose(data);
      if (outcome.type !== "accepted") return;
      const entryKey = `${outcome.term}:normal:${Buffer.from(data).toString("base64")}`;
      client.pending = { kind: "put", key, value, entryKey, index: outcome.index, callAt, deadlineMs };
      return;
    }
    const context = `${client.id}:${client.sequence}`;
    const callAt = this.cluster.nextEvent();
    const outcome = raft.readIndex(context);
    if (outcome.type !== "accepted") return;
    const incarnation = this.cluster.node(target).incarnation;
    const committedAtCall = this.cluster.committedMax;
    client.pending = {
      kind: "get",
      key,
      node: target,
      incarnation,
      context,
      callAt,
      deadlineMs,
      committedAtCall,
    };
  }

  private resolve(client: SimClient): void {
    const pending = client.pending!;
    if (pending.kind === "put") {
      const committed = this.cluster.committed.get(pending.index);
      if (committed === pending.entryKey) {
        this.record(pending.key, "put", pending.value, pending.callAt, this.cluster.nextEvent());
        client.pending = null;
      } else if (committed !== undefined) {
        client.pending = null; // Another entry holds the index: this write never happens.
      } else if (this.cluster.nowMs > pending.deadlineMs) {
        this.record(pending.key, "put", pending.value, pending.callAt, Number.POSITIVE_INFINITY);
        this.indefinite += 1;
        client.pending = null;
      }
      return;
    }
    const node = this.cluster.node(pending.node);
    if (
      node.raft === null ||
      node.incarnation !== pending.incarnation ||
      this.cluster.nowMs > pending.deadlineMs
    ) {
      client.pending = null; // A read that never answered has no effect.
      return;
    }
    const index = node.readStates.get(pending.context);
    if (index === undefined) return;
    if (index < pending.committedAtCall) {
      // A read must see every write committed before it was asked: its index may not be
      // below what was already committed (and applied somewhere) at that moment.
      this.cluster.fail(
        "read-index",
        `read ${pending.context} at ${pending.node} answered index ${index}, below ${pending.committedAtCall} committed before it`,
      );
    }
    if (node.appliedIndex < index) return;
    node.readStates.delete(pending.context);
    this.record(
      pending.key,
      "get",
      node.kv.get(pending.key) ?? null,
      pending.callAt,
      this.cluster.nextEvent(),
    );
    client.pending = null;
  }

  private record(
    key: string,
    kind: "put" | "get",
    value: string | null,
    callAt: number,
    returnAt: number,
  ): void {
    this.history.push({ key, kind, value, callAt, returnAt });
  }

  /** Puts still waiting when the run ends may or may not have happened. */
  closeHistory(): void {
    for (const client of this.clients) {
      const pending = client.pending;
      if (pending?.kind === "put") {
        const committed = this.cluster.committed.get(pending.index);
        if (committed === undefined || committed === pending.entryKey) {
          this.record(pending.key, "put", pending.value, pending.callAt, Number.POSITIVE_INFINITY);
          this.indefinite += 1;
        }
      }
      client.pending = null;
    }
  }

  // -------------------------------------------------------------------------------------
  // Heal and liveness.

  /** Heals everything, then requires a leader and a commit within `healStepsMax` steps. */
  heal(): number {
    const cluster = this.cluster;
    cluster.network.heal();
    cluster.network.faults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 5 };
    for (const node of cluster.nodes.values()) {
      node.crashDuringReady = null;
      node.pausedUntilMs = 0;
      if (node.raft === null && node.incarnation > 0) cluster.restart(node.id);
    }
    const healedAt = cluster.nowMs;
    let marker: { index: number; entryKey: string } | null = null;
    for (let step = 0; step < healStepsMax; step += 1) {
      cluster.step();
      this.clientsAct();
      const leader = cluster.leader();
      if (marker !== null && cluster.committed.get(marker.index) === marker.entryKey) {
        return cluster.nowMs - healedAt;
      }
      if (leader !== null && (marker === null || step % 40 === 0)) {
        const data = encodeSimCommand({ op: "marker", tag: `heal-${step}` });
        const outcome = cluster.raft(leader).propose(data);
        if (outcome.type === "accepted") {
          marker = {
            index: outcome.index,
            entryKey: `${outcome.term}:normal:${Buffer.from(data).toString("base64")}`,
          };
        }
      }
    }
    return cluster.fail("liveness", `no leader committed within ${healStepsMax} steps after healing`);
  }

  /** Every voter of the leader's configuration catches up with the leader's commit. */
  converge(): void {
    const cluster = this.cluster;
    for (let step = 0; step < healStepsMax; step += 1) {
      const leader = cluster.leader();
      if (leader !== null) {
        const status = cluster.raft(leader).status();
        const behind = status.conf.voters.filter((id) => cluster.node(id).appliedIndex < status.commit);
        if (behind.length === 0) return;
      }
      cluster.step();
    }
    cluster.fail("liveness", "voters did not catch up with the leader after healing");
  }
}

function runUnchecked(options: RaftSimOptions): RaftSimReport {
  const simulation = new Simulation(options);
  const cluster = simulation.cluster;
  const steps = options.steps ?? defaultSteps;
  for (let step = 0; step < steps; step += 1) {
    simulation.nemesis();
    cluster.step();
    simulation.clientsAct();
  }
  const recoveryMs = simulation.heal();
  simulation.converge();
  simulation.checkRollbacksRecovered();
  cluster.checkLogMatching();
  cluster.checkDurability();
  simulation.closeHistory();
  const verdict = checkLinearizable(simulation.history);
  if (verdict.result === "violation") {
    cluster.fail(
      "linearizability",
      `history of key ${verdict.key} is not linearizable (${verdict.operations.length} operations)`,
    );
  }
  let messages = 0;
  for (const count of cluster.network.messagesSent.values()) messages += count;
  return {
    seed: options.seed,
    steps: cluster.stepCount,
    virtualMs: cluster.nowMs,
    committedIndex: cluster.committedMax,
    terms: cluster.leaders.size,
    operations: simulation.history.length,
    indefiniteOperations: simulation.indefinite,
    linearizability: verdict.result === "ok" ? "ok" : "unknown",
    recoveryMs,
    messages,
    rollbacks: { ...cluster.rollbacks },
  };
}
