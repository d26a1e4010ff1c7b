import { createHash } from "node:crypto";
import {
  assert,
  assertNever,
  failed,
  limits,
  type NodeState,
  ok,
  parseWith,
  type Random,
  type Result,
  type Signer,
  verifySignature,
} from "../vocabulary/index.js";
import { BroadcastQueue } from "./broadcast-queue.js";
import { decodeMessage, encodeMessage, utf8Length } from "./codec.js";
import { PhiAccrualDetector } from "./phi-accrual.js";
import { MemberState, recordBytes, type StateVerifier } from "./state-store.js";
import { Suspicion, suspicionBounds } from "./suspicion.js";
import {
  type DigestEntry,
  type DropReason,
  GossipConfig,
  type GossipCounters,
  type GossipEvent,
  type GossipMessage,
  type GossipReady,
  type GossipTiming,
  type GossipUpdate,
  gossipLimits,
  type MemberStatus,
  type MembershipView,
  type MemberUpdate,
  type MemberView,
  type OutgoingPacket,
  pickGossipTiming,
  type StateDelta,
  StateKey,
} from "./types.js";

/**
 * One member of the gossip layer as a sans-IO state machine (SWIM + Lifeguard + phi-accrual
 * + scuttlebutt anti-entropy). Inputs: `tick(now)`, `receive(bytes, now)` / `step(message,
 * now)`, `join`, `leave`, `setState`. Output: `ready()` (packets to send, events), handed
 * back with `advance(ready)`. No sockets, no timers, no clock: time is what the caller says.
 *
 * Probing. Members sit on a ring ordered by id; each node probes its `monitorCount`
 * successors every probe round (so every member has that many monitors, each with a steady
 * ack stream for its phi detector). A probe is a ping; without an ack after
 * `probeTimeoutMs` the node retries directly and asks `indirectChecks` helpers to ping on
 * its behalf (SWIM). A round without any ack fails; it raises a suspicion only when the
 * member's phi is at or above the threshold or its silence reached
 * `failureDetectorTimeoutMs` (the hard ceiling), so a lone lost round inside normal jitter
 * accuses nobody.
 *
 * Suspicion. Liveness is ordered by (generation, incarnation). A suspicion lasts between a
 * minimum and a maximum that shrinks as other monitors confirm it (Lifeguard); the suspect
 * refutes by bumping its incarnation; at the deadline the member is declared dead. Dead and
 * left members are gossiped for a grace period, then forgotten (and remembered in a bounded
 * graveyard so stale gossip cannot resurrect them).
 *
 * Local health (Lifeguard). A score in [0, awarenessMax) rises when our probes fail
 * without the helpers' nacks, when we must refute, and to the top when an input arrives far
 * later than our own deadline (this node was stalled); it falls with every ack. Probe
 * intervals and timeouts stretch by (score + 1). After a stall, silence accrued during it is
 * not held against anyone: detectors and suspicions shift by the gap, in-flight probes are
 * dropped.
 *
 * Dissemination. Updates (liveness and state deltas) ride on every probe and ack, and a push
 * round every `gossipIntervalMs` sends them to `fanout` random members; each is sent
 * retransmitMult * ceil(log10(N + 1)) times. Every `antiEntropyIntervalMs` a node sends a
 * hash of its digest to a random member; on a mismatch they exchange digests (membership +
 * state versions) and deltas, over the stream channel when over one datagram.
 */

interface Member {
  readonly id: string;
  address: string;
  generation: number;
  incarnation: number;
  status: MemberStatus;
  statusSinceMs: number;
  state: MemberState;
  /** Present while we monitor it (it is one of our ring successors). */
  detector: PhiAccrualDetector | null;
  monitoredSinceMs: number;
  suspicion: Suspicion | null;
  /** Dead or left: when it is forgotten. */
  removeAtMs: number;
  /** Last time we told it that it is accused (rate limit). */
  notifiedMs: number;
}

interface Probe {
  readonly seq: number;
  readonly target: string;
  readonly timeoutAtMs: number;
  readonly endAtMs: number;
  acked: boolean;
  indirectSent: boolean;
  nacks: number;
  nacksExpected: number;
}

/** A ping we send for another member's indirect probe. */
interface Relay {
  readonly requester: string;
  readonly requesterSeq: number;
  readonly target: string;
  readonly expiresAtMs: number;
}

const eventsMax = 4096;
/** Every this many sync rounds, seeds missing from the view are contacted. */
const seedRetryRounds = 5;
const encoder = new TextEncoder();
const digestHashPrefix = "revoada-gossip-digest/v1\n";
/** Above this many members, sync hashes carry per-bucket hashes (below, a whole digest is small). */
const bucketedDigestMembersMin = 2 * gossipLimits.digestBuckets;

/** A member's digest bucket: FNV-1a of its id, modulo the bucket count. */
export function digestBucketOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i += 1) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % gossipLimits.digestBuckets;
}

export function compareLiveness(
  a: { readonly generation: number; readonly incarnation: number },
  b: { readonly generation: number; readonly incarnation: number },
): number {
  if (a.generation !== b.generation) return a.generation < b.generation ? -1 : 1;
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1;
  return 0;
}

function emptyCounters(): GossipCounters {
  return {
    packetsReceived: 0,
    packetsSent: 0,
    bytesSent: 0,
    dropped: {
      malformed: 0,
      oversized: 0,
      "from-self": 0,
      "unknown-probe": 0,
      "bad-signature": 0,
      "stale-state": 0,
      "state-over-limit": 0,
      left: 0,
    },
    probesSent: 0,
    probesFailed: 0,
    indirectProbesSent: 0,
    suspicionsRaised: 0,
    refutations: 0,
    deathsDeclared: 0,
    pausesDetected: 0,
    syncRounds: 0,
  };
}

export class GossipNode {
  readonly id: string;
  private readonly members = new Map<string, Member>();
  private readonly self: Member;
  private readonly queue = new BroadcastQueue();
  private readonly probes = new Map<number, Probe>();
  private readonly relays = new Map<number, Relay>();
  /** Members with a suspicion running. Invariant: exactly those with `suspicion !== null`. */
  private readonly suspected = new Set<Member>();
  /** Addresses we told our alive claim, and when (rate limit of `tellAlive`). */
  private readonly toldMs = new Map<string, number>();
  private readonly graveyard = new Map<string, { generation: number; incarnation: number }>();
  private readonly counters = emptyCounters();
  private packets: OutgoingPacket[] = [];
  private events: GossipEvent[] = [];
  private outstanding: GossipReady | null = null;
  private ring: string[] | null = null;
  private seeds: readonly string[] = [];
  private seq = 0;
  private syncRounds = 0;
  private health = 0;
  private leaving = false;
  /** Invariant: lastMs never decreases. */
  private lastMs: number;
  private nextProbeAtMs: number;
  private nextPushAtMs: number;
  private nextSyncAtMs: number;
  private nextJoinAtMs: number;

  static create(
    config: GossipConfig,
    signer: Signer,
    random: Random,
    nowMs: number,
    verifier: StateVerifier = { verify: verifySignature },
  ): Result<GossipNode> {
    const parsed = parseWith(GossipConfig, config);
    if (!parsed.ok) return parsed;
    if (parsed.value.id !== signer.nodeId) {
      return failed([{ code: "custom", message: "config id is not the signer's node id", path: ["id"] }]);
    }
    return ok(new GossipNode(parsed.value, signer, random, nowMs, verifier));
  }

  private constructor(
    /** Its timing fields change with `setTiming` (a committed strategy swap). */
    private config: GossipConfig,
    private readonly signer: Signer,
    private readonly random: Random,
    nowMs: number,
    private readonly verifier: StateVerifier,
  ) {
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, "now is a non-negative integer");
    this.id = config.id;
    this.lastMs = nowMs;
    this.self = this.newMember(config.id, config.address, config.generation, 0, nowMs);
    this.members.set(this.id, this.self);
    this.nextProbeAtMs = nowMs + config.probeIntervalMs;
    this.nextPushAtMs = nowMs + config.gossipIntervalMs;
    this.nextSyncAtMs = nowMs + config.antiEntropyIntervalMs;
    this.nextJoinAtMs = nowMs;
    this.enqueueSelfAlive();
  }

  // -------------------------------------------------------------------------------------
  // Inputs.

  tick(nowMs: number): void {
    this.advanceClock(nowMs);
    this.endProbes(nowMs);
    this.sendIndirectProbes(nowMs);
    this.expireRelays(nowMs);
    if (!this.leaving) this.expireSuspicions(nowMs);
    if (nowMs >= this.nextProbeAtMs) this.probeRound(nowMs);
    if (nowMs >= this.nextPushAtMs) this.pushRound(nowMs);
    if (nowMs >= this.nextSyncAtMs) this.syncRound(nowMs);
    if (nowMs >= this.nextJoinAtMs) this.maybeJoin(nowMs);
  }

  /**
   * New timing (a committed strategy swap: cadence, probe interval and timeout, phi threshold,
   * detector timeout...), validated like the config. Rounds already armed are pulled in when
   * the new period is shorter; suspicions and probes in flight keep the deadlines they have.
   */
  setTiming(timing: GossipTiming): Result<GossipTiming> {
    const parsed = parseWith(GossipConfig, { ...this.config, ...timing });
    if (!parsed.ok) return parsed;
    this.config = parsed.value;
    const now = this.lastMs;
    this.nextProbeAtMs = Math.min(this.nextProbeAtMs, now + this.config.probeIntervalMs);
    this.nextPushAtMs = Math.min(this.nextPushAtMs, now + this.config.gossipIntervalMs);
    this.nextSyncAtMs = Math.min(this.nextSyncAtMs, now + this.config.antiEntropyIntervalMs);
    this.nextJoinAtMs = Math.min(this.nextJoinAtMs, now + this.config.joinRetryMs);
    return ok(this.timing());
  }

  /** The timing in force (`setTiming` changes it). */
  timing(): GossipTiming {
    return pickGossipTiming(this.config);
  }

  /** Decodes and steps one packet; bad bytes are counted and dropped, never thrown. */
  receive(bytes: Uint8Array, nowMs: number, from = "unknown"): void {
    const decoded = decodeMessage(bytes, gossipLimits.streamBytesMax);
    if (!decoded.ok) {
      this.advanceClock(nowMs);
      this.drop(decoded.reason, from);
      return;
    }
    this.step(decoded.message, nowMs);
  }

  step(message: GossipMessage, nowMs: number): void {
    this.advanceClock(nowMs);
    this.counters.packetsReceived += 1;
    if (message.from === this.id) {
      this.drop("from-self", message.address);
      return;
    }
    if (this.leaving) {
      this.drop("left", message.address);
      return;
    }
    if ("updates" in message) this.mergeUpdates(message.updates, message.address, nowMs);
    this.noticeSender(message.from, message.address, nowMs);
    switch (message.type) {
      case "ping":
        if (message.target === this.id) this.sendAck(message.address, message.seq, nowMs);
        return;
      case "ack":
        this.onAck(message.seq, message.target, nowMs);
        return;
      case "pingRequest":
        this.onPingRequest(message.address, message.seq, message.target, message.targetAddress, nowMs);
        return;
      case "nack": {
        const probe = this.probes.get(message.seq);
        if (probe !== undefined && probe.target === message.target) probe.nacks += 1;
        return;
      }
      case "push":
        return;
      case "syncHash":
        this.onSyncHash(message.address, message.hash, message.buckets);
        return;
      case "syncDigest":
        this.onDigest(
          message.from,
          message.address,
          message.entries,
          message.reply,
          message.buckets === undefined ? null : new Set(message.buckets),
          nowMs,
        );
        return;
      case "syncDelta":
        for (const delta of message.deltas) this.applyDelta(delta, nowMs, false);
        return;
      default:
        assertNever(message);
    }
  }

  /** Contacts the seeds (addresses) now and again while this node knows no other member. */
  join(seeds: readonly string[], nowMs: number): void {
    assert(seeds.length <= limits.peersMax, "too many seeds");
    this.advanceClock(nowMs);
    this.seeds = seeds.filter((seed) => seed !== this.config.address);
    this.nextJoinAtMs = nowMs;
    this.maybeJoin(nowMs);
  }

  /** Announces a graceful leave; keep ticking a few push rounds so it spreads, then stop. */
  leave(nowMs: number): void {
    this.advanceClock(nowMs);
    if (this.leaving) return;
    this.leaving = true;
    this.self.incarnation += 1;
    this.setStatus(this.self, "left", nowMs);
    const update: MemberUpdate = {
      kind: "left",
      id: this.id,
      generation: this.self.generation,
      incarnation: this.self.incarnation,
    };
    this.queue.enqueue(`m:${this.id}`, update);
    for (const member of this.pickMembers(
      this.config.fanout * 2,
      (m) => m.status === "alive" || m.status === "suspect",
    )) {
      this.send(member.address, { type: "push", ...this.header(), updates: [update] });
    }
  }

  /** Writes one key of this node's advertised state; false when a limit refuses it. */
  setState(key: string, value: string | null, nowMs: number): boolean {
    this.advanceClock(nowMs);
    if (!StateKey.safeParse(key).success) return false;
    if (value !== null && utf8Length(value) > gossipLimits.valueBytesMax) return false;
    const before = this.self.state.version;
    const record = this.self.state.write(key, value, (message) => this.signer.sign(message), nowMs);
    if (record === null) return false;
    // The delta since the oldest change not yet fully gossiped, so a peer that missed one push can apply the next.
    const queued = this.queue.get(`s:${this.id}`);
    const base = queued?.kind === "state" ? queued.delta.fromVersion : before;
    let delta = this.self.state.deltaSince(base, this.updateBytesMax() / 2);
    if (delta.toVersion !== record.version) delta = this.self.state.deltaSince(before, this.updateBytesMax());
    const update: GossipUpdate = { kind: "state", delta };
    // A change too big to ride in a datagram spreads by anti-entropy (over the stream channel) only.
    if (utf8Length(JSON.stringify(update)) <= this.updateBytesMax()) {
      this.queue.enqueue(`s:${this.id}`, update);
      this.pushNow(nowMs);
    }
    this.emit({ type: "state-changed", id: this.id, keys: [key] });
    return true;
  }

  deleteState(key: string, nowMs: number): boolean {
    return this.setState(key, null, nowMs);
  }

  /** Advertises this node's NodeState under the key "node" (canonical JSON). */
  setNodeState(state: NodeState, nowMs: number): boolean {
    assert(state.id === this.id, "a node advertises only its own state");
    return this.setState("node", JSON.stringify(state), nowMs);
  }

  // -------------------------------------------------------------------------------------
  // Outputs.

  hasReady(): boolean {
    return this.packets.length > 0 || this.events.length > 0;
  }

  ready(): GossipReady {
    assert(this.outstanding === null, "two ready() without advance()");
    const ready: GossipReady = { packets: this.packets, events: this.events };
    this.packets = [];
    this.events = [];
    this.outstanding = ready;
    return ready;
  }

  advance(ready: GossipReady): void {
    assert(this.outstanding === ready, "advance() of a ready that is not outstanding");
    this.outstanding = null;
  }

  /** The earliest time `tick` has something to do. */
  nextTickAtMs(): number {
    let next = Math.min(this.nextProbeAtMs, this.nextPushAtMs, this.nextSyncAtMs);
    if (this.seeds.length > 0 && this.aliveOthers() === 0) next = Math.min(next, this.nextJoinAtMs);
    for (const probe of this.probes.values()) {
      next = Math.min(next, probe.endAtMs);
      if (!probe.acked && !probe.indirectSent) next = Math.min(next, probe.timeoutAtMs);
    }
    for (const relay of this.relays.values()) next = Math.min(next, relay.expiresAtMs);
    if (!this.leaving) {
      for (const member of this.suspected) next = Math.min(next, member.suspicion!.deadlineMs());
    }
    return Math.max(next, this.lastMs);
  }

  membershipView(nowMs: number): MembershipView {
    const members: MemberView[] = [];
    for (const member of this.members.values()) {
      const monitored = member.detector !== null && member.monitoredSinceMs >= 0;
      members.push({
        id: member.id,
        address: member.address,
        status: member.status,
        phi: monitored ? member.detector!.phi(Math.max(nowMs, this.lastMs)) : null,
        stableSinceMs: member.statusSinceMs,
        generation: member.generation,
        incarnation: member.incarnation,
        state: member.state.nodeState,
        keys: member.state.entries(),
      });
    }
    members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { self: this.id, atMs: nowMs, members };
  }

  /** Status of every known member, cheaper than the view (for checkers). */
  statuses(): Map<string, MemberStatus> {
    const result = new Map<string, MemberStatus>();
    for (const member of this.members.values()) result.set(member.id, member.status);
    return result;
  }

  stateVersionOf(id: string): { generation: number; version: number } | null {
    const member = this.members.get(id);
    return member === undefined ? null : { generation: member.generation, version: member.state.version };
  }

  metrics(): Readonly<GossipCounters> & {
    readonly localHealth: number;
    readonly members: number;
    /** Updates waiting to be piggybacked (0: nothing left to disseminate). */
    readonly queuedUpdates: number;
  } {
    return {
      ...this.counters,
      dropped: { ...this.counters.dropped },
      localHealth: this.health,
      members: this.members.size,
      queuedUpdates: this.queue.size(),
    };
  }

  // -------------------------------------------------------------------------------------
  // Probing.

  private probeRound(nowMs: number): void {
    const multiplier = this.health + 1;
    this.nextProbeAtMs = nowMs + this.config.probeIntervalMs * multiplier;
    if (this.leaving) return;
    const targets = new Set(this.monitoredTargets());
    for (const member of this.members.values()) {
      if (member.id === this.id) continue;
      if (targets.has(member.id)) {
        if (member.monitoredSinceMs < 0) this.startMonitoring(member, nowMs);
      } else if (member.monitoredSinceMs >= 0) {
        member.monitoredSinceMs = -1;
        member.detector = null;
      }
    }
    for (const id of targets) {
      const member = this.members.get(id)!;
      const seq = this.nextSeq();
      this.probes.set(seq, {
        seq,
        target: id,
        timeoutAtMs: nowMs + this.config.probeTimeoutMs * multiplier,
        endAtMs: nowMs + this.config.probeIntervalMs * multiplier,
        acked: false,
        indirectSent: false,
        nacks: 0,
        nacksExpected: 0,
      });
      this.counters.probesSent += 1;
      this.sendWithUpdates(member.address, { type: "ping", ...this.header(), seq, target: id });
    }
  }

  private startMonitoring(member: Member, nowMs: number): void {
    member.monitoredSinceMs = nowMs;
    member.detector = new PhiAccrualDetector({
      window: this.config.phiWindow,
      minStdDevMs: this.config.phiMinStdDevMs,
      acceptablePauseMs: this.config.phiAcceptablePauseMs,
      firstIntervalMs: this.config.probeIntervalMs,
    });
  }

  private sendIndirectProbes(nowMs: number): void {
    for (const probe of this.probes.values()) {
      if (probe.acked || probe.indirectSent || nowMs < probe.timeoutAtMs) continue;
      probe.indirectSent = true;
      const target = this.members.get(probe.target);
      if (target === undefined) continue;
      // Lifeguard: a direct retry alongside the helpers (memberlist retries over TCP).
      this.send(target.address, {
        type: "ping",
        ...this.header(),
        seq: probe.seq,
        target: probe.target,
        updates: [],
      });
      const helpers = this.pickMembers(
        this.config.indirectChecks,
        (member) => member.id !== probe.target && member.status === "alive",
      );
      probe.nacksExpected = helpers.length;
      for (const helper of helpers) {
        this.counters.indirectProbesSent += 1;
        this.sendWithUpdates(helper.address, {
          type: "pingRequest",
          ...this.header(),
          seq: probe.seq,
          target: probe.target,
          targetAddress: target.address,
        });
      }
    }
  }

  private endProbes(nowMs: number): void {
    for (const [seq, probe] of this.probes) {
      if (nowMs < probe.endAtMs) continue;
      this.probes.delete(seq);
      if (!probe.acked) this.probeFailed(probe, nowMs);
    }
  }

  private probeFailed(probe: Probe, nowMs: number): void {
    this.counters.probesFailed += 1;
    if (probe.nacks < probe.nacksExpected) this.changeHealth(+1);
    const member = this.members.get(probe.target);
    if (member === undefined || member.detector === null) return;
    if (member.status !== "alive" && member.status !== "suspect") return;
    const silenceMs = member.detector.hasHeartbeat()
      ? member.detector.silenceMs(nowMs)
      : nowMs - member.monitoredSinceMs;
    const phi = member.detector.phi(nowMs);
    if (phi < this.config.phiThreshold && silenceMs < this.config.failureDetectorTimeoutMs) return;
    if (member.status === "alive") {
      this.counters.suspicionsRaised += 1;
      this.startSuspicion(member, member.generation, member.incarnation, this.id, nowMs);
    } else if (member.suspicion?.confirm(this.id) === true) {
      this.queue.enqueue(`m:${member.id}`, this.claimAbout(member, this.id));
    }
  }

  private onAck(seq: number, target: string, nowMs: number): void {
    const probe = this.probes.get(seq);
    if (probe !== undefined && probe.target === target) {
      if (probe.acked) return;
      probe.acked = true;
      this.members.get(target)?.detector?.heartbeat(nowMs);
      this.changeHealth(-1);
      return;
    }
    const relay = this.relays.get(seq);
    if (relay !== undefined && relay.target === target) {
      this.relays.delete(seq);
      this.send(relay.requester, {
        type: "ack",
        ...this.header(),
        seq: relay.requesterSeq,
        target,
        updates: [],
      });
      return;
    }
    this.counters.dropped["unknown-probe"] += 1;
  }

  private onPingRequest(
    requester: string,
    requesterSeq: number,
    target: string,
    targetAddress: string,
    nowMs: number,
  ) {
    if (target === this.id) return this.sendAck(requester, requesterSeq, nowMs);
    if (this.relays.size >= limits.peersMax) return;
    const seq = this.nextSeq();
    this.relays.set(seq, {
      requester,
      requesterSeq,
      target,
      expiresAtMs: nowMs + this.config.probeTimeoutMs,
    });
    this.send(targetAddress, { type: "ping", ...this.header(), seq, target, updates: [] });
  }

  private expireRelays(nowMs: number): void {
    for (const [seq, relay] of this.relays) {
      if (nowMs < relay.expiresAtMs) continue;
      this.relays.delete(seq);
      this.send(relay.requester, {
        type: "nack",
        ...this.header(),
        seq: relay.requesterSeq,
        target: relay.target,
      });
    }
  }

  private sendAck(to: string, seq: number, _nowMs: number): void {
    this.sendWithUpdates(to, { type: "ack", ...this.header(), seq, target: this.id });
  }

  /** The `monitorCount` members after this node on the ring of alive and suspect members. */
  private monitoredTargets(): string[] {
    if (this.ring === null) {
      this.ring = [...this.members.values()]
        .filter((member) => member.status === "alive" || member.status === "suspect")
        .map((member) => member.id)
        .sort();
    }
    const ring = this.ring;
    const index = ring.indexOf(this.id);
    assert(index >= 0, "this node is on its own ring");
    const count = Math.min(this.config.monitorCount, ring.length - 1);
    const targets: string[] = [];
    for (let step = 1; step <= count; step += 1) targets.push(ring[(index + step) % ring.length]!);
    assert(!targets.includes(this.id), "a node never probes itself");
    return targets;
  }

  // -------------------------------------------------------------------------------------
  // Suspicion and liveness merging.

  private startSuspicion(
    member: Member,
    generation: number,
    incarnation: number,
    accuser: string,
    nowMs: number,
  ) {
    const aliveCount = this.aliveCount();
    const expected = Math.max(0, Math.min(this.config.monitorCount - 1, aliveCount - 2));
    const bounds = suspicionBounds(
      aliveCount,
      this.config.probeIntervalMs,
      this.config.suspicionMult,
      this.config.suspicionMaxMult,
      expected,
    );
    if (generation > member.generation) member.state = new MemberState(member.id, generation);
    member.generation = generation;
    member.incarnation = incarnation;
    member.suspicion = new Suspicion(generation, incarnation, nowMs, bounds, accuser);
    this.suspected.add(member);
    this.notifyAccused(member, nowMs);
    this.setStatus(member, "suspect", nowMs);
    this.queue.enqueue(`m:${member.id}`, this.claimAbout(member, accuser));
  }

  private expireSuspicions(nowMs: number): void {
    for (const member of [...this.suspected]) {
      if (nowMs < member.suspicion!.deadlineMs()) {
        this.notifyAccused(member, nowMs);
        continue;
      }
      this.clearSuspicion(member);
      this.counters.deathsDeclared += 1;
      this.setStatus(member, "dead", nowMs);
      this.queue.enqueue(`m:${member.id}`, this.claimAbout(member, this.id));
    }
  }

  private mergeUpdates(updates: readonly GossipUpdate[], replyTo: string, nowMs: number): void {
    for (const update of updates) {
      if (update.kind === "state") this.applyDelta(update.delta, nowMs, true);
      else this.mergeMember(update, nowMs, true, replyTo);
    }
  }

  /**
   * `confirm`: the update is first-hand gossip (true) rather than a digest entry (false): it
   * may confirm a suspicion, and it cannot bring back a member we removed at the same
   * liveness. A digest can: it comes from a live peer's full view, and after a partition
   * longer than the grace that is how the two sides find each other again.
   * `replyTo`: where the claim came from, told directly when it is wrong about this node.
   */
  private mergeMember(update: MemberUpdate, nowMs: number, confirm: boolean, replyTo: string | null): void {
    if (update.id === this.id) {
      this.mergeAboutSelf(update, replyTo, nowMs);
      return;
    }
    const member = this.members.get(update.id);
    if (member === undefined) {
      if (update.kind !== "alive") return;
      const grave = this.graveyard.get(update.id);
      if (confirm && grave !== undefined && compareLiveness(update, grave) <= 0) return;
      this.addMember(update.id, update.address, update.generation, update.incarnation, nowMs, confirm);
      return;
    }
    const order = compareLiveness(update, member);
    if (order < 0) return;
    switch (update.kind) {
      case "alive":
        if (order > 0) this.becomeAlive(member, update.address, update.generation, update.incarnation, nowMs);
        else if (confirm && member.status === "alive") this.heardAgain(`m:${member.id}`, update);
        return;
      case "suspect":
        this.mergeSuspect(
          member,
          update.generation,
          update.incarnation,
          update.accuser,
          order,
          confirm,
          nowMs,
        );
        return;
      case "dead":
      case "left":
        if (order === 0 && (member.status === "dead" || member.status === "left")) return;
        if (update.generation > member.generation)
          member.state = new MemberState(member.id, update.generation);
        member.generation = update.generation;
        member.incarnation = update.incarnation;
        this.clearSuspicion(member);
        this.setStatus(member, update.kind, nowMs);
        this.queue.enqueue(`m:${member.id}`, update);
        return;
      default:
        assertNever(update);
    }
  }

  private mergeSuspect(
    member: Member,
    generation: number,
    incarnation: number,
    accuser: string,
    order: number,
    confirm: boolean,
    nowMs: number,
  ): void {
    if (order === 0 && member.status === "suspect" && member.suspicion !== null) {
      if (confirm && member.suspicion.confirm(accuser)) {
        this.queue.enqueue(`m:${member.id}`, this.claimAbout(member, accuser));
      }
      return;
    }
    if (order === 0 && member.status !== "alive") return;
    this.startSuspicion(member, generation, incarnation, accuser, nowMs);
  }

  /**
   * Someone claims something about this node: refute anything but our own newest alive, and
   * tell whoever passed on a wrong claim directly (Lifeguard's buddy system: the holders of a
   * suspicion ping the suspect, so each learns the refutation even if the epidemic misses it).
   */
  private mergeAboutSelf(update: MemberUpdate, replyTo: string | null, nowMs: number): void {
    if (this.leaving || update.generation > this.self.generation) return;
    if (update.kind === "alive") {
      const newer = update.generation === this.self.generation && update.incarnation > this.self.incarnation;
      if (newer) this.refute(update.incarnation, update.id);
      return;
    }
    const current = update.generation === this.self.generation && update.incarnation >= this.self.incarnation;
    if (current) this.refute(update.incarnation, update.kind === "left" ? update.id : update.accuser);
    if (replyTo !== null) this.tellAlive(replyTo, nowMs);
  }

  /** Sends our newest alive claim to `to`, at most once per probe interval per address. */
  private tellAlive(to: string, nowMs: number): void {
    const last = this.toldMs.get(to);
    if (last !== undefined && nowMs - last < this.config.probeIntervalMs) return;
    if (this.toldMs.size >= limits.peersMax) this.toldMs.clear();
    this.toldMs.set(to, nowMs);
    this.send(to, { type: "push", ...this.header(), updates: [this.selfAlive()] });
  }

  private refute(incarnation: number, accuser: string): void {
    this.self.incarnation = Math.max(this.self.incarnation, incarnation) + 1;
    this.counters.refutations += 1;
    this.changeHealth(+1);
    this.enqueueSelfAlive();
    this.emit({ type: "refuted", incarnation: this.self.incarnation, accuser });
    const known = this.members.get(accuser);
    if (known !== undefined && known.id !== this.id) this.tellAlive(known.address, this.lastMs);
  }

  private addMember(
    id: string,
    address: string,
    generation: number,
    incarnation: number,
    nowMs: number,
    spread: boolean,
  ): void {
    if (this.members.size >= limits.peersMax) return;
    this.graveyard.delete(id);
    const member = this.newMember(id, address, generation, incarnation, nowMs);
    this.members.set(id, member);
    this.ring = null;
    this.emit({ type: "member-status", id, status: "alive", previous: null, generation, incarnation });
    // A member learned from a peer's digest is not gossiped on: the peer's whole view already
    // holds it, anti-entropy carries it further, and its own alive claim is spreading as an
    // epidemic. (At a mass start every node learns every member from a digest: spreading all
    // of them again was most of gossip's start-up burst, docs/scale.md.)
    if (spread) this.queue.enqueue(`m:${id}`, { kind: "alive", id, generation, incarnation, address });
  }

  private becomeAlive(
    member: Member,
    address: string,
    generation: number,
    incarnation: number,
    nowMs: number,
  ) {
    if (generation > member.generation) member.state = new MemberState(member.id, generation);
    member.generation = generation;
    member.incarnation = incarnation;
    member.address = address;
    this.clearSuspicion(member);
    this.setStatus(member, "alive", nowMs);
    this.queue.enqueue(`m:${member.id}`, { kind: "alive", id: member.id, generation, incarnation, address });
  }

  private setStatus(member: Member, status: MemberStatus, nowMs: number): void {
    if (status === "dead" || status === "left") member.removeAtMs = nowMs + this.config.deadMemberGraceMs;
    if (member.status === status) return;
    const previous = member.status;
    member.status = status;
    member.statusSinceMs = nowMs;
    this.ring = null;
    this.emit({
      type: "member-status",
      id: member.id,
      status,
      previous,
      generation: member.generation,
      incarnation: member.incarnation,
    });
  }

  /** A member we hold as suspect or dead talks to us: tell it, so it can refute. */
  private noticeSender(id: string, address: string, nowMs: number): void {
    const member = this.members.get(id);
    if (member === undefined || member.status === "alive" || member.status === "left") return;
    if (member.address !== address) return;
    this.notifyAccused(member, nowMs);
  }

  private notifyAccused(member: Member, nowMs: number): void {
    if (nowMs - member.notifiedMs < this.config.probeIntervalMs) return;
    member.notifiedMs = nowMs;
    this.send(member.address, {
      type: "push",
      ...this.header(),
      updates: [this.claimAbout(member, this.id)],
    });
  }

  private claimAbout(member: Member, accuser: string): MemberUpdate {
    const liveness = { id: member.id, generation: member.generation, incarnation: member.incarnation };
    switch (member.status) {
      case "alive":
        return { kind: "alive", ...liveness, address: member.address };
      case "suspect":
        return { kind: "suspect", ...liveness, accuser };
      case "dead":
        return { kind: "dead", ...liveness, accuser };
      case "left":
        return { kind: "left", ...liveness };
      default:
        return assertNever(member.status);
    }
  }

  // -------------------------------------------------------------------------------------
  // State dissemination and anti-entropy.

  private applyDelta(delta: StateDelta, nowMs: number, relay: boolean): void {
    if (delta.id === this.id) return;
    const member = this.members.get(delta.id);
    if (member === undefined || delta.generation !== member.generation) return;
    const outcome = member.state.apply(delta, this.verifier, nowMs);
    switch (outcome.type) {
      case "applied":
        if (outcome.keys.length > 0) this.emit({ type: "state-changed", id: member.id, keys: outcome.keys });
        if (relay) this.queue.enqueue(`s:${member.id}`, { kind: "state", delta });
        return;
      case "stale":
        this.counters.dropped["stale-state"] += 1;
        if (relay) this.heardAgain(`s:${member.id}`, { kind: "state", delta });
        return;
      case "gap":
        return;
      case "bad-signature":
        this.drop("bad-signature", member.address);
        return;
      case "malformed":
        this.drop("malformed", member.address);
        return;
      case "over-limit":
        this.drop("state-over-limit", member.address);
        return;
      default:
        assertNever(outcome);
    }
  }

  private pushRound(nowMs: number): void {
    this.nextPushAtMs = nowMs + this.config.gossipIntervalMs;
    if (this.queue.size() === 0) return;
    this.pushNow(nowMs);
  }

  private pushNow(_nowMs: number): void {
    for (const member of this.pickMembers(
      this.config.fanout,
      (m) => m.status === "alive" || m.status === "suspect",
    )) {
      if (this.queue.size() === 0) return;
      this.sendWithUpdates(member.address, { type: "push", ...this.header() });
    }
  }

  private syncRound(nowMs: number): void {
    this.nextSyncAtMs = nowMs + this.config.antiEntropyIntervalMs;
    this.collectGarbage(nowMs);
    if (this.leaving) return;
    this.syncRounds += 1;
    this.reconnect(nowMs);
    const [peer] = this.pickMembers(1, (member) => member.status === "alive");
    if (peer === undefined) return;
    this.counters.syncRounds += 1;
    const digest = this.digestHashes();
    this.send(peer.address, {
      type: "syncHash",
      ...this.header(),
      hash: digest.whole,
      count: this.members.size,
      ...(this.members.size > bucketedDigestMembersMin ? { buckets: digest.buckets } : {}),
    });
  }

  /**
   * A peer's digest hash: on a mismatch, send our digest (and ask for theirs) for the buckets
   * that differ only, or whole when the peer sent no bucket hashes or most buckets differ.
   * A mismatch in a cluster of hundreds (one member's state changed somewhere) then costs a
   * few members' entries, not every member's.
   */
  private onSyncHash(address: string, hash: string, buckets: readonly string[] | undefined): void {
    const digest = this.digestHashes();
    if (hash === digest.whole) return;
    if (buckets === undefined) {
      this.sendDigest(address, true, null);
      return;
    }
    const differing = new Set<number>();
    for (let bucket = 0; bucket < gossipLimits.digestBuckets; bucket += 1) {
      if (buckets[bucket] !== digest.buckets[bucket]) differing.add(bucket);
    }
    const whole = differing.size === 0 || differing.size > gossipLimits.digestBuckets / 2;
    this.sendDigest(address, true, whole ? null : differing);
  }

  /**
   * Heals partitions (serf's reconnect): tell one random dead member that we hold it dead (if
   * it lives, it refutes to us and both sides merge), and now and then send our digest to a
   * seed that is not an alive member of our view (after a partition longer than the grace).
   */
  private reconnect(nowMs: number): void {
    const [dead] = this.pickMembers(1, (member) => member.status === "dead");
    if (dead !== undefined) this.notifyAccused(dead, nowMs);
    if (this.syncRounds % seedRetryRounds !== 0 || this.seeds.length === 0) return;
    const alive = new Set<string>();
    for (const member of this.members.values()) if (member.status === "alive") alive.add(member.address);
    const absent = this.seeds.filter((seed) => !alive.has(seed));
    if (absent.length > 0) this.sendDigest(absent[this.random.int(absent.length)]!, true, null);
  }

  private maybeJoin(nowMs: number): void {
    this.nextJoinAtMs = nowMs + this.config.joinRetryMs;
    if (this.leaving || this.seeds.length === 0 || this.aliveOthers() > 0) return;
    // One seed per attempt (a random one; the next attempt tries another while we know
    // nobody): each seed answers with every member's digest and state, so asking all of them
    // at once multiplies a join's cost by the number of seeds.
    this.sendDigest(this.seeds[this.random.int(this.seeds.length)]!, true, null);
  }

  private onDigest(
    from: string,
    address: string,
    entries: readonly DigestEntry[],
    reply: boolean,
    buckets: ReadonlySet<number> | null,
    nowMs: number,
  ) {
    for (const entry of entries) {
      const liveness = { id: entry.id, generation: entry.generation, incarnation: entry.incarnation };
      switch (entry.status) {
        // A digest names no accuser: a suspect entry only says the member lived at that incarnation.
        case "alive":
        case "suspect":
          this.mergeMember({ kind: "alive", ...liveness, address: entry.address }, nowMs, false, null);
          break;
        // A death we did not see ourselves becomes a suspicion (memberlist's push-pull rule):
        // after a partition heals, each side's stale "dead" would otherwise kill the other.
        case "dead":
          this.mergeMember({ kind: "suspect", ...liveness, accuser: from }, nowMs, false, null);
          break;
        case "left":
          this.mergeMember({ kind: "left", ...liveness }, nowMs, false, null);
          break;
        default:
          assertNever(entry.status);
      }
    }
    // Our digest first: it introduces the members the deltas are about.
    if (reply) this.sendDigest(address, false, buckets);
    this.sendDeltas(address, entries, buckets);
  }

  /** Deltas of every live member the peer's digest is behind on, up to one stream message. */
  private sendDeltas(to: string, entries: readonly DigestEntry[], buckets: ReadonlySet<number> | null): void {
    const theirs = new Map(entries.map((entry) => [entry.id, entry]));
    const deltas: StateDelta[] = [];
    let budget = gossipLimits.streamBytesMax - 64 * 1024;
    for (const member of this.members.values()) {
      if (member.status === "dead" || member.status === "left" || member.state.version === 0) continue;
      // A bucketed digest says nothing about members outside its buckets.
      if (buckets !== null && !buckets.has(digestBucketOf(member.id))) continue;
      const entry = theirs.get(member.id);
      if (entry !== undefined && entry.generation > member.generation) continue;
      const from = entry === undefined || entry.generation < member.generation ? 0 : entry.version;
      if (from >= member.state.version) continue;
      const delta = member.state.deltaSince(from, budget);
      if (delta.records.length === 0) continue;
      const bytes = delta.records.reduce((sum, record) => sum + recordBytes(record), 200);
      if (bytes > budget || deltas.length >= gossipLimits.deltasPerMessageMax) break;
      budget -= bytes;
      deltas.push(delta);
    }
    if (deltas.length > 0) this.send(to, { type: "syncDelta", ...this.header(), deltas });
  }

  private sendDigest(to: string, reply: boolean, buckets: ReadonlySet<number> | null): void {
    const entries = this.digestEntries(buckets);
    this.send(to, {
      type: "syncDigest",
      ...this.header(),
      entries,
      reply,
      ...(buckets === null ? {} : { buckets: [...buckets].sort((a, b) => a - b) }),
    });
  }

  /** Every member's digest entry (or those in `buckets`), sorted by id. */
  private digestEntries(buckets: ReadonlySet<number> | null = null): DigestEntry[] {
    const entries: DigestEntry[] = [];
    for (const member of this.members.values()) {
      if (buckets !== null && !buckets.has(digestBucketOf(member.id))) continue;
      entries.push({
        id: member.id,
        generation: member.generation,
        incarnation: member.incarnation,
        address: member.address,
        status: member.status,
        version: member.state.version,
      });
    }
    entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return entries;
  }

  /** The digest's hash, and one per bucket (the first 48 bits of the bucket's own SHA-256). */
  private digestHashes(): { whole: string; buckets: string[] } {
    const whole = createHash("sha256").update(digestHashPrefix);
    const parts = Array.from({ length: gossipLimits.digestBuckets }, () =>
      createHash("sha256").update(digestHashPrefix),
    );
    for (const entry of this.digestEntries()) {
      const line = `${entry.id} ${entry.generation} ${entry.incarnation} ${entry.status} ${entry.version}\n`;
      whole.update(line);
      parts[digestBucketOf(entry.id)]!.update(line);
    }
    return { whole: whole.digest("hex"), buckets: parts.map((part) => part.digest("hex").slice(0, 12)) };
  }

  private collectGarbage(nowMs: number): void {
    for (const member of [...this.members.values()]) {
      member.state.collectTombstones(nowMs, this.config.tombstoneGraceMs);
      if (member.id === this.id) continue;
      if (member.status !== "dead" && member.status !== "left") continue;
      if (nowMs < member.removeAtMs) continue;
      this.members.delete(member.id);
      if (this.graveyard.size >= gossipLimits.graveyardMax) {
        const oldest = this.graveyard.keys().next().value;
        if (oldest !== undefined) this.graveyard.delete(oldest);
      }
      this.graveyard.set(member.id, { generation: member.generation, incarnation: member.incarnation });
      this.ring = null;
      this.emit({ type: "member-removed", id: member.id });
    }
  }

  // -------------------------------------------------------------------------------------
  // Local health, clock and helpers.

  /** Every input passes here; an input far past our own deadline means we were stalled. */
  private advanceClock(nowMs: number): void {
    assert(Number.isSafeInteger(nowMs), "now is an integer");
    assert(nowMs >= this.lastMs, "time went backwards");
    // The push round is always scheduled at most one cadence ahead: lateness against it is our own stall.
    const lateMs = nowMs - Math.max(this.lastMs, Math.min(this.nextPushAtMs, this.nextProbeAtMs));
    this.lastMs = nowMs;
    if (lateMs <= this.config.pauseDetectMs) return;
    this.counters.pausesDetected += 1;
    this.emit({ type: "paused", gapMs: lateMs });
    this.changeHealth(this.config.awarenessMax);
    for (const member of this.members.values()) {
      member.detector?.shift(lateMs);
      if (member.monitoredSinceMs >= 0) member.monitoredSinceMs += lateMs;
      member.suspicion?.shift(lateMs);
    }
    // Probes and relays in flight were timed on a clock that stopped: they prove nothing.
    this.probes.clear();
    this.relays.clear();
    this.nextProbeAtMs = nowMs + this.config.probeIntervalMs;
  }

  private clearSuspicion(member: Member): void {
    member.suspicion = null;
    this.suspected.delete(member);
  }

  private changeHealth(delta: number): void {
    const next = Math.max(0, Math.min(this.config.awarenessMax - 1, this.health + delta));
    if (next === this.health) return;
    this.health = next;
    this.emit({ type: "local-health", score: next });
  }

  private newMember(
    id: string,
    address: string,
    generation: number,
    incarnation: number,
    nowMs: number,
  ): Member {
    return {
      id,
      address,
      generation,
      incarnation,
      status: "alive",
      statusSinceMs: nowMs,
      state: new MemberState(id, generation),
      detector: null,
      monitoredSinceMs: -1,
      suspicion: null,
      removeAtMs: 0,
      notifiedMs: -Infinity,
    };
  }

  private selfAlive(): MemberUpdate {
    return {
      kind: "alive",
      id: this.id,
      generation: this.self.generation,
      incarnation: this.self.incarnation,
      address: this.config.address,
    };
  }

  private enqueueSelfAlive(): void {
    this.queue.enqueue(`m:${this.id}`, this.selfAlive());
  }

  private header(): { from: string; address: string } {
    return { from: this.id, address: this.config.address };
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  private aliveCount(): number {
    let count = 0;
    for (const member of this.members.values())
      if (member.status === "alive" || member.status === "suspect") count += 1;
    return count;
  }

  private aliveOthers(): number {
    return this.aliveCount() - (this.self.status === "alive" ? 1 : 0);
  }

  /** Up to `count` distinct random members other than this node that pass `accept`. */
  private pickMembers(count: number, accept: (member: Member) => boolean): Member[] {
    const candidates: Member[] = [];
    for (const member of this.members.values())
      if (member.id !== this.id && accept(member)) candidates.push(member);
    const picked: Member[] = [];
    for (let i = 0; i < candidates.length && picked.length < count; i += 1) {
      const j = i + this.random.int(candidates.length - i);
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
      picked.push(candidates[i]!);
    }
    assert(picked.length <= count, "picked too many");
    return picked;
  }

  private updateBytesMax(): number {
    return this.config.datagramBytesMax - 300;
  }

  private transmitsMax(): number {
    return this.config.retransmitMult * Math.max(1, Math.ceil(Math.log10(this.aliveCount() + 1)));
  }

  /**
   * An alive claim or a state delta arrived as gossip while we spread the same (or a newer
   * one the sender already has): count it as one of our transmissions. Suspicions, deaths and
   * leaves are not counted (detection keeps its full redundancy).
   */
  private heardAgain(subject: string, heard: GossipUpdate): void {
    this.queue.heard(
      subject,
      (queued) =>
        (queued.kind === "alive" && heard.kind === "alive" && compareLiveness(queued, heard) === 0) ||
        (queued.kind === "state" &&
          heard.kind === "state" &&
          queued.delta.generation === heard.delta.generation &&
          heard.delta.toVersion >= queued.delta.toVersion),
      this.transmitsMax(),
    );
  }

  /** Sends a message with as many queued updates as fit in one datagram. */
  private sendWithUpdates(to: string, message: DistributiveOmit<GossipMessageWithUpdates, "updates">): void {
    const base = JSON.stringify({ ...message, updates: [] });
    assert(base.endsWith("[]}"), "updates are the last field");
    const budget = this.config.datagramBytesMax - utf8Length(base) - 8;
    const taken = this.queue.take(budget, limits.piggybackUpdatesMax, this.transmitsMax());
    // The queue keeps each update's JSON, so the message is assembled rather than encoded again.
    const json = `${base.slice(0, -2)}${taken.map((item) => item.json).join(",")}]}`;
    this.sendEncoded(to, message.type, encoder.encode(json));
  }

  private send(to: string, message: GossipMessage): void {
    this.sendEncoded(to, message.type, encodeMessage(message));
  }

  private sendEncoded(to: string, type: GossipMessage["type"], bytes: Uint8Array): void {
    const channel = bytes.length <= this.config.datagramBytesMax ? "datagram" : "stream";
    assert(channel === "datagram" || type.startsWith("sync"), "only sync messages use the stream channel");
    assert(bytes.length <= gossipLimits.streamBytesMax, "message over the stream limit");
    this.counters.packetsSent += 1;
    this.counters.bytesSent += bytes.length;
    this.packets.push({ to, channel, type, bytes });
  }

  private drop(reason: DropReason, from: string): void {
    this.counters.dropped[reason] += 1;
    if (reason === "from-self" || reason === "left") return;
    this.emit({ type: "dropped", reason, from });
  }

  private emit(event: GossipEvent): void {
    if (this.events.length >= eventsMax && event.type === "dropped") return;
    this.events.push(event);
  }
}

type GossipMessageWithUpdates = Extract<GossipMessage, { updates: unknown }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
