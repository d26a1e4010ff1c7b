import {
  type CommitRule,
  type ConfState,
  committedIndex,
  defaultRaftConfig,
  type Entry,
  emptyConfState,
  type HardState,
  isJoint,
  majorityValue,
  type RaftConfig,
  type RaftMessage,
  RaftNode,
  type Ready,
  type Snapshot,
} from "../raft/index.js";
import { assert, canonicalJson } from "../vocabulary/index.js";
import { type NetworkFaults, reliableNetwork, SimNetwork } from "./network.js";
import { SeededRandom } from "./random.js";

/**
 * N Raft nodes on a virtual clock, over the shared `SimNetwork`, with simulated disks. The
 * cluster plays the driver: for every Ready it persists (to the simulated disk), sends,
 * applies to a key-value state machine and advances. A crash throws away everything not on
 * the disk (including a Ready caught half-way), a restart rebuilds the node from the disk.
 *
 * Every step ends with `check()`, which throws `SimViolation` on a broken invariant:
 * - election safety: at most one leader per term;
 * - log matching: one (index, term) names one entry everywhere, and logs that agree on an
 *   entry agree on everything before it (full pairwise check every `pairwiseCheckEvery`);
 * - leader completeness: a leader's log holds every entry applied anywhere that was
 *   committed in an earlier term than the leader's;
 * - state-machine safety: no two nodes apply different entries at an index; each node
 *   applies in order, each index once per incarnation;
 * - durability (every `pairwiseCheckEvery` steps): every applied entry stays on a quorum of
 *   disks of the latest membership.
 * Nodes can also pause (no ticks, messages held) and run their clocks at their own rate, and
 * restart from an older copy of their disk (`rollBack`: a restored backup or VM snapshot).
 */

export class SimViolation extends Error {
  override readonly name = "SimViolation";
  constructor(
    message: string,
    readonly invariant: string,
  ) {
    super(message);
  }
}

/** The simulated disk: only what a Ready handed over and the driver "fsynced". */
export interface SimDisk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  readonly initialConf: ConfState;
}

/** A state machine command in the simulator: a register write, or a marker with no effect. */
export type SimCommand =
  | { readonly op: "put"; readonly key: string; readonly value: string }
  | { readonly op: "marker"; readonly tag: string };

export interface SimNode {
  readonly id: string;
  raft: RaftNode | null;
  readonly disk: SimDisk;
  readonly random: SeededRandom;
  /** Volatile: lost on crash, rebuilt from the snapshot and the log. */
  kv: Map<string, string>;
  appliedIndex: number;
  /** Read states received (context -> index), consumed by clients. */
  readonly readStates: Map<string, number>;
  /** Set to crash in the middle of handling the next Ready. */
  crashDuringReady: "before-persist" | "after-persist" | "after-send" | null;
  incarnation: number;
  /** How fast this node's clock runs against virtual time (1 = exact). */
  clockRate: number;
  /** A hard state written without fsync (`Ready.mustSync` false); lost on a crash. */
  unsyncedHardState: HardState | null;
  /** A paused process (a GC or VM stall): no ticks, no Readies; messages wait for it. */
  pausedUntilMs: number;
  readonly held: RaftMessage[];
  /** Cold copies of the disk, one taken at each crash (oldest first), for `rollBack`. */
  readonly backups: SimBackup[];
  /** The step of the last restart. */
  startedAtStep: number;
}

/** A copy of a stopped node's disk and the step it was taken at. */
export interface SimBackup {
  readonly disk: SimDisk;
  readonly takenAtStep: number;
}

/** Counts of the disk-rollback fault and of what the nodes reported about it. */
export interface RollbackCounts {
  /** Nodes restarted from a copy of their disk. */
  restored: number;
  /** Of those, copies older than the disk they replaced (fewer entries or fewer starts). */
  restoredOlder: number;
  /** `rollback-detected` events (the restored node learnt it went back). */
  detected: number;
  /** `rollback-recovered` events (it caught up and votes again). */
  recovered: number;
  /** `follower-rolled-back` events (a leader saw acknowledged entries missing). */
  noticedByLeader: number;
}

/** Backups kept per node. */
const backupsMax = 4;

export interface RaftClusterOptions {
  readonly seed: number;
  readonly voters: readonly string[];
  /** Nodes that exist but start later (to join as learners). */
  readonly spares?: readonly string[];
  readonly config?: Partial<Omit<RaftConfig, "id">>;
  readonly faults?: NetworkFaults;
  readonly commitRule?: CommitRule;
  /** Virtual time per step. */
  readonly tickMs?: number;
  readonly pairwiseCheckEvery?: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeSimCommand(command: SimCommand): Uint8Array {
  return textEncoder.encode(canonicalJson(command, 0));
}

export function decodeSimCommand(data: Uint8Array): SimCommand {
  return JSON.parse(textDecoder.decode(data)) as SimCommand;
}

function entryKey(entry: Entry): string {
  return `${entry.term}:${entry.kind}:${Buffer.from(entry.data).toString("base64")}`;
}

function copyDisk(disk: SimDisk): SimDisk {
  return {
    hardState: { ...disk.hardState },
    snapshot: disk.snapshot,
    entries: [...disk.entries],
    initialConf: disk.initialConf,
  };
}

function lastIndexOf(disk: SimDisk): number {
  return (disk.snapshot?.metadata.index ?? 0) + disk.entries.length;
}

function emptyDisk(initialConf: ConfState): SimDisk {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], initialConf };
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return textEncoder.encode(canonicalJson(Object.fromEntries(kv), 0));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  if (data.length === 0) return new Map();
  return new Map(Object.entries(JSON.parse(textDecoder.decode(data)) as Record<string, string>));
}

/**
 * How far `disk` holds the expected entry at every index (an index compacted into its
 * snapshot counts as held: a snapshot covers committed entries only), up to `target`.
 */
function heldPrefix(disk: SimDisk, target: number, expected: (index: number) => string | undefined): number {
  const base = disk.snapshot?.metadata.index ?? 0;
  let index = base;
  while (index < target) {
    const entry = disk.entries[index - base];
    if (entry === undefined) break;
    const key = expected(index + 1);
    if (key !== undefined && entryKey(entry) !== key) break;
    index += 1;
  }
  return index;
}

export class RaftCluster {
  readonly nodes = new Map<string, SimNode>();
  readonly network: SimNetwork<RaftMessage>;
  readonly random: SeededRandom;
  readonly tickMs: number;
  nowMs = 0;
  stepCount = 0;
  /** Global event sequence (client histories use it as their clock). */
  eventSequence = 0;
  /** Everything applied anywhere: index -> entry key. Applied implies committed. */
  readonly committed = new Map<number, string>();
  committedMax = 0;
  /**
   * An upper bound of the term in which each applied entry was committed: the lowest term
   * of a node seen applying it. Leader completeness is checked against leaders of later
   * terms only (a stale leader of an earlier term may legitimately lack it).
   */
  readonly commitTermUpper = new Map<number, number>();
  /** The membership as of the highest applied index anywhere (all nodes apply the same). */
  private conf: ConfState | null = null;
  private confAppliedIndex = -1;
  /** Leader per term ever observed. */
  readonly leaders = new Map<number, string>();
  readonly rollbacks: RollbackCounts = {
    restored: 0,
    restoredOlder: 0,
    detected: 0,
    recovered: 0,
    noticedByLeader: 0,
  };
  /** The last node restored from an older disk copy, and the commit index it must reach. */
  private restoredCatchingUp: { readonly id: string; readonly commit: number } | null = null;
  /** Every (index, term) ever persisted -> its entry key. */
  private readonly persisted = new Map<string, string>();
  /** Per (leader, term): the committed prefix already verified in its log. */
  private readonly leaderVerified = new Map<string, number>();
  private readonly config: RaftConfig;
  private readonly commitRule: CommitRule | undefined;
  private readonly pairwiseCheckEvery: number;
  /** The node's own clock: virtual time scaled by its rate (clock drift). */
  clockOf(node: SimNode): number {
    return Math.floor(this.nowMs * node.clockRate);
  }

  /** Called for every applied entry (clients hook in here). */
  onApply: (node: SimNode, entry: Entry) => void = () => {};

  constructor(readonly options: RaftClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork<RaftMessage>(this.random.fork(), options.faults ?? reliableNetwork);
    this.tickMs = options.tickMs ?? 5;
    this.pairwiseCheckEvery = options.pairwiseCheckEvery ?? 50;
    this.commitRule = options.commitRule;
    this.config = { ...defaultRaftConfig("template"), snapshotIntervalEntries: 64, ...options.config };
    const initialConf: ConfState = { ...emptyConfState(), voters: [...options.voters].sort() };
    for (const id of options.voters) this.addNode(id, initialConf, true);
    for (const id of options.spares ?? []) this.addNode(id, emptyConfState(), false);
  }

  private addNode(id: string, initialConf: ConfState, start: boolean): void {
    const node: SimNode = {
      id,
      raft: null,
      disk: emptyDisk(initialConf),
      random: this.random.fork(),
      kv: new Map(),
      appliedIndex: 0,
      readStates: new Map(),
      crashDuringReady: null,
      pausedUntilMs: 0,
      held: [],
      unsyncedHardState: null,
      clockRate: 1,
      incarnation: 0,
      backups: [],
      startedAtStep: 0,
    };
    this.nodes.set(id, node);
    if (start) this.restart(id);
  }

  node(id: string): SimNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    return node;
  }

  raft(id: string): RaftNode {
    const raft = this.node(id).raft;
    assert(raft !== null, `node ${id} is down`);
    return raft;
  }

  isUp(id: string): boolean {
    return this.node(id).raft !== null;
  }

  /** Running and not paused: what a client or a tick can reach. */
  activeNodes(): SimNode[] {
    return this.upNodes().filter((node) => node.pausedUntilMs <= this.nowMs);
  }

  upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.raft !== null);
  }

  /** The node that believes it leads in the highest term, if any. */
  leader(): string | null {
    let best: { id: string; term: number } | null = null;
    for (const node of this.upNodes()) {
      const status = node.raft!.status();
      if (status.role === "leader" && (best === null || status.term > best.term))
        best = { id: node.id, term: status.term };
    }
    return best?.id ?? null;
  }

  nextEvent(): number {
    this.eventSequence += 1;
    return this.eventSequence;
  }

  // -------------------------------------------------------------------------------------
  // Faults.

  crash(id: string): void {
    const node = this.node(id);
    if (node.raft === null) return;
    node.raft = null;
    node.pausedUntilMs = 0;
    node.held.length = 0;
    node.unsyncedHardState = null;
    node.kv = new Map();
    node.readStates.clear();
    node.crashDuringReady = null;
    this.network.discardFor(id);
    node.backups.push({ disk: copyDisk(node.disk), takenAtStep: this.stepCount });
    if (node.backups.length > backupsMax) node.backups.shift();
  }

  /**
   * The "disk rolls back" fault: a stopped node gets an older copy of its disk back (an
   * operator restoring a backup or a VM snapshot) and restarts from it. Raft cannot survive
   * losing what a quorum needs, so the fault is only injected when the rest of the cluster
   * would still hold, on a quorum, every committed entry and every entry the node's current
   * disk holds (a leader may already count its acknowledgement of those); one restored
   * node at a time (a restored node does not vote until it caught up, so several at once
   * may leave no quorum to elect the leader they need); and only while the other voters
   * kept running since the copy was taken, so they remember what the node's later lives
   * told them: the condition under which the fabric detects a rollback (docs/raft.md).
   * Returns whether it rolled back; otherwise the node stays down.
   */
  rollBack(id: string, copy: SimBackup): boolean {
    const node = this.node(id);
    assert(node.raft === null, `roll back of running node ${id}`);
    assert(copy.takenAtStep <= this.stepCount, "a copy from the past");
    if (this.isRestoredNodeCatchingUp()) return false;
    if (!this.othersRanSince(id, copy.takenAtStep)) return false;
    const backup = copy.disk;
    if (!this.isRollbackSurvivable(node, backup)) return false;
    const older =
      lastIndexOf(backup) < lastIndexOf(node.disk) ||
      (backup.hardState.generation ?? 0) < (node.disk.hardState.generation ?? 0);
    if (older) this.rollbacks.restoredOlder += 1;
    node.disk.hardState = { ...backup.hardState };
    node.disk.snapshot = backup.snapshot;
    node.disk.entries = [...backup.entries];
    this.rollbacks.restored += 1;
    this.restart(id);
    this.restoredCatchingUp = { id, commit: this.committedMax };
    return true;
  }

  /** Every other voter of the latest configuration is running and was started by `step`. */
  private othersRanSince(id: string, step: number): boolean {
    const conf = this.latestConf();
    if (conf === null) return false;
    const voters = [...conf.voters, ...conf.votersOutgoing].filter((voter) => voter !== id);
    return voters.every((voter) => this.isUp(voter) && this.node(voter).startedAtStep <= step);
  }

  /** The last restored node is down, refuses to vote, or has not applied what was committed at its restore. */
  isRestoredNodeCatchingUp(): boolean {
    const restored = this.restoredCatchingUp;
    if (restored === null) return false;
    const node = this.node(restored.id);
    const raft = node.raft;
    if (raft === null || raft.status().rollback !== null || node.appliedIndex < restored.commit) return true;
    this.restoredCatchingUp = null;
    return false;
  }

  private isRollbackSurvivable(node: SimNode, backup: SimDisk): boolean {
    const current = node.disk;
    const target = Math.max(this.committedMax, lastIndexOf(current));
    const expected = (index: number): string | undefined => {
      const committed = this.committed.get(index);
      if (committed !== undefined) return committed;
      const base = current.snapshot?.metadata.index ?? 0;
      const entry = current.entries[index - base - 1];
      return entry === undefined ? undefined : entryKey(entry);
    };
    const heldBy = (peer: string): number => {
      const disk = peer === node.id ? backup : this.nodes.get(peer)?.disk;
      return disk === undefined ? 0 : heldPrefix(disk, target, expected);
    };
    const confs: ConfState[] = [];
    const latest = this.latestConf();
    if (latest !== null) confs.push(latest);
    for (const up of this.upNodes()) {
      const status = up.raft!.status();
      if (status.role === "leader") confs.push(status.conf);
    }
    if (confs.length === 0) return false;
    return confs.every((conf) => committedIndex(conf, heldBy) >= target);
  }

  restart(id: string): void {
    const node = this.node(id);
    assert(node.raft === null, `restart of running node ${id}`);
    const disk = node.disk;
    const stored = {
      hardState: { ...disk.hardState },
      snapshot: disk.snapshot,
      entries: [...disk.entries],
      initialConf: disk.initialConf,
    };
    // The incarnation number is the start's nonce: it is not on the disk, so it tells apart
    // two starts from copies of one disk that reach the same generation count.
    node.incarnation += 1;
    const created = RaftNode.create({ ...this.config, id }, stored, node.random, {
      commitRule: this.commitRule,
      incarnationNonce: node.incarnation,
    });
    assert(created.ok, `restart of ${id} failed: ${created.ok ? "" : JSON.stringify(created.issues)}`);
    node.raft = created.value;
    node.kv = disk.snapshot === null ? new Map() : decodeKv(disk.snapshot.data);
    node.appliedIndex = disk.snapshot?.metadata.index ?? 0;
    node.startedAtStep = this.stepCount;
    node.raft.tick(this.clockOf(node));
  }

  // -------------------------------------------------------------------------------------
  // Stepping.

  /** One step of virtual time: deliver due messages, tick every node, drain Readies, check. */
  step(): void {
    this.nowMs += this.tickMs;
    this.stepCount += 1;
    for (const node of this.upNodes()) {
      if (node.held.length > 0 && node.pausedUntilMs <= this.nowMs) {
        // Resumed: the clock jumps first, then the messages that waited are read.
        node.raft!.tick(this.clockOf(node));
        for (const message of node.held.splice(0)) node.raft!.step(message);
      }
    }
    this.deliverDue();
    for (const node of this.activeNodes()) node.raft!.tick(this.clockOf(node));
    this.processReadies();
    this.check();
  }

  deliverDue(): void {
    for (const envelope of this.network.takeDue(this.nowMs)) {
      const node = this.nodes.get(envelope.to);
      if (node?.raft === null || node === undefined) continue;
      if (node.pausedUntilMs > this.nowMs) {
        if (node.held.length < 10_000) node.held.push(envelope.message);
        continue;
      }
      node.raft.step(envelope.message);
    }
  }

  /** Handles Readies until every node is quiet (bounded). */
  processReadies(): void {
    for (let round = 0; round < 64; round += 1) {
      let any = false;
      for (const node of this.activeNodes()) {
        if (node.raft!.hasReady()) {
          any = true;
          this.handleReady(node);
        }
      }
      if (!any) return;
    }
  }

  private handleReady(node: SimNode): void {
    const raft = node.raft!;
    const ready = raft.ready();
    this.countRollbackEvents(ready);
    if (node.crashDuringReady === "before-persist") {
      this.crash(node.id);
      return;
    }
    this.persist(node, ready);
    if (node.crashDuringReady === "after-persist") {
      this.crash(node.id);
      return;
    }
    for (const message of ready.messages) this.network.send(node.id, message.to, message, this.nowMs);
    if (node.crashDuringReady === "after-send") {
      this.crash(node.id);
      return;
    }
    this.apply(node, ready);
    if (node.appliedIndex > this.confAppliedIndex) {
      this.confAppliedIndex = node.appliedIndex;
      this.conf = raft.status().conf;
    }
    for (const read of ready.readStates) node.readStates.set(read.context, read.index);
    if (ready.snapshotRequest !== null) this.takeSnapshot(node, ready.snapshotRequest.index);
    raft.advance(ready);
  }

  private countRollbackEvents(ready: Ready): void {
    for (const event of ready.events) {
      if (event.type === "rollback-detected") this.rollbacks.detected += 1;
      else if (event.type === "rollback-recovered") this.rollbacks.recovered += 1;
      else if (event.type === "follower-rolled-back") this.rollbacks.noticedByLeader += 1;
    }
  }

  private persist(node: SimNode, ready: Ready): void {
    const disk = node.disk;
    if (ready.snapshot !== null) {
      disk.snapshot = ready.snapshot;
      disk.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const base = disk.snapshot?.metadata.index ?? 0;
      assert(first.index > base, "persisted entries follow the snapshot");
      assert(first.index <= base + disk.entries.length + 1, "persisted entries leave no gap");
      disk.entries.length = first.index - base - 1;
      for (const entry of ready.entries) {
        disk.entries.push(entry);
        this.checkPersisted(node.id, entry);
      }
    }
    if (!ready.mustSync) {
      // Written but not fsynced: a crash loses it (a WAL's next fsync covers it).
      if (ready.hardState !== null) node.unsyncedHardState = { ...ready.hardState };
      return;
    }
    if (node.unsyncedHardState !== null) disk.hardState = node.unsyncedHardState;
    node.unsyncedHardState = null;
    if (ready.hardState !== null) disk.hardState = { ...ready.hardState };
  }

  private apply(node: SimNode, ready: Ready): void {
    if (ready.snapshot !== null) {
      node.kv = decodeKv(ready.snapshot.data);
      node.appliedIndex = ready.snapshot.metadata.index;
    }
    const term = node.raft!.status().term;
    for (const entry of ready.committed) {
      this.commitTermUpper.set(entry.index, Math.min(this.commitTermUpper.get(entry.index) ?? term, term));
      if (entry.index !== node.appliedIndex + 1) {
        this.fail("apply-order", `${node.id} applies ${entry.index} after ${node.appliedIndex}`);
      }
      node.appliedIndex = entry.index;
      this.checkApplied(node.id, entry);
      if (entry.kind === "normal") {
        const command = decodeSimCommand(entry.data);
        if (command.op === "put") node.kv.set(command.key, command.value);
      }
      this.onApply(node, entry);
    }
  }

  private takeSnapshot(node: SimNode, index: number): void {
    assert(index === node.appliedIndex, "snapshot requested at the applied index");
    const result = node.raft!.compact(index, encodeKv(node.kv));
    if (!result.ok) return;
    const snapshot = result.value;
    const disk = node.disk;
    const base = disk.snapshot?.metadata.index ?? 0;
    disk.entries = disk.entries.slice(index - base);
    disk.snapshot = snapshot;
  }

  // -------------------------------------------------------------------------------------
  // Invariants.

  fail(invariant: string, message: string): never {
    throw new SimViolation(
      `${invariant}: ${message} (seed ${this.options.seed}, step ${this.stepCount})`,
      invariant,
    );
  }

  private checkPersisted(id: string, entry: Entry): void {
    const key = `${entry.index}/${entry.term}`;
    const value = entryKey(entry);
    const existing = this.persisted.get(key);
    if (existing === undefined) this.persisted.set(key, value);
    else if (existing !== value) this.fail("log-matching", `${id} holds a different entry at ${key}`);
  }

  private checkApplied(id: string, entry: Entry): void {
    const value = entryKey(entry);
    const existing = this.committed.get(entry.index);
    if (existing === undefined) {
      this.committed.set(entry.index, value);
      this.committedMax = Math.max(this.committedMax, entry.index);
    } else if (existing !== value) {
      this.fail("state-machine-safety", `${id} applies a different entry at ${entry.index}`);
    }
  }

  /** Runs every per-step invariant; the expensive ones every `pairwiseCheckEvery` steps. */
  check(): void {
    for (const node of this.upNodes()) {
      const status = node.raft!.status();
      if (status.role !== "leader") continue;
      const known = this.leaders.get(status.term);
      if (known !== undefined && known !== node.id) {
        this.fail("election-safety", `${known} and ${node.id} both lead term ${status.term}`);
      }
      this.leaders.set(status.term, node.id);
      this.checkLeaderCompleteness(node, status.term);
    }
    if (this.stepCount % this.pairwiseCheckEvery === 0) {
      this.checkLogMatching();
      this.checkDurability();
    }
  }

  private checkLeaderCompleteness(node: SimNode, term: number): void {
    const key = `${node.id}/${term}`;
    const disk = node.disk;
    const base = disk.snapshot?.metadata.index ?? 0;
    let verified = Math.max(this.leaderVerified.get(key) ?? 0, base);
    while (verified < this.committedMax) {
      const index = verified + 1;
      const expected = this.committed.get(index);
      const commitTerm = this.commitTermUpper.get(index);
      if (expected === undefined || commitTerm === undefined || commitTerm >= term) break;
      const entry = disk.entries[index - base - 1];
      if (entry === undefined || entryKey(entry) !== expected) {
        this.fail(
          "leader-completeness",
          `leader ${node.id} of term ${term} lacks entry ${index} committed in term ${commitTerm}`,
        );
      }
      verified = index;
    }
    this.leaderVerified.set(key, verified);
  }

  /** Logs that share an (index, term) share every entry before it. */
  checkLogMatching(): void {
    const disks = [...this.nodes.values()].map((node) => ({ id: node.id, disk: node.disk }));
    for (let a = 0; a < disks.length; a += 1) {
      for (let b = a + 1; b < disks.length; b += 1) {
        this.checkPair(disks[a]!.id, disks[a]!.disk, disks[b]!.id, disks[b]!.disk);
      }
    }
  }

  private checkPair(idA: string, diskA: SimDisk, idB: string, diskB: SimDisk): void {
    const baseA = diskA.snapshot?.metadata.index ?? 0;
    const baseB = diskB.snapshot?.metadata.index ?? 0;
    const low = Math.max(baseA, baseB) + 1;
    const high = Math.min(baseA + diskA.entries.length, baseB + diskB.entries.length);
    let agreeing = false;
    for (let index = high; index >= low; index -= 1) {
      const entryA = diskA.entries[index - baseA - 1]!;
      const entryB = diskB.entries[index - baseB - 1]!;
      if (!agreeing && entryA.term === entryB.term) agreeing = true;
      if (agreeing && entryKey(entryA) !== entryKey(entryB)) {
        this.fail("log-matching", `${idA} and ${idB} agree on a later entry but differ at ${index}`);
      }
    }
  }

  /** Every applied entry is on a quorum of the disks of the latest membership (see below). */
  checkDurability(): void {
    const conf = this.latestConf();
    if (conf === null) return;
    // In a joint configuration the incoming voters may still be catching up; everything
    // committed so far is on a majority of the outgoing ones.
    const voters = isJoint(conf) ? conf.votersOutgoing : conf.voters;
    const held = majorityValue(voters, (peer) => this.durablePrefix(peer));
    if (held < this.committedMax) {
      this.fail("durability", `applied entries up to ${this.committedMax} but a quorum only holds ${held}`);
    }
  }

  /** The highest index up to which the peer's disk holds exactly the committed entries. */
  private durablePrefix(peer: string): number {
    const node = this.nodes.get(peer);
    if (node === undefined) return 0;
    const disk = node.disk;
    const base = disk.snapshot?.metadata.index ?? 0;
    let index = base;
    while (index < this.committedMax) {
      const entry = disk.entries[index - base];
      if (entry === undefined) break;
      const expected = this.committed.get(index + 1);
      if (expected !== undefined && entryKey(entry) !== expected) break;
      index += 1;
    }
    return index;
  }

  /** The membership as of the highest index applied anywhere. */
  latestConf(): ConfState | null {
    return this.conf;
  }
}
