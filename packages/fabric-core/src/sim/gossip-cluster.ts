import { createHash } from "node:crypto";
import {
  defaultGossipConfig,
  type GossipChannel,
  type GossipConfig,
  type GossipEvent,
  GossipNode,
  type MemberStatus,
  type MembershipSettings,
  type StateVerifier,
} from "../gossip/index.js";
import {
  assert,
  type NodeRole,
  type NodeState,
  type Signer,
  signerFromSeed,
  verifySignature,
} from "../vocabulary/index.js";
import { type NetworkFaults, reliableNetwork, SimNetwork } from "./network.js";
import { SeededRandom } from "./random.js";

/**
 * N gossip cores on one virtual clock and one SimNetwork. Event-driven: time jumps to the
 * next delivery or the next core deadline (`nextTickAtMs`), so an idle simulated second
 * costs only the work the protocol does in it. Every packet is the core's real encoding,
 * counted in bytes (plus the driver's authentication envelope); node state is signed with
 * real ed25519 keys derived from the seed.
 *
 * Faults: the network's (drop, duplicate, delay, partitions), crash (the core is gone and
 * its queued packets with it), restart (a new core, next generation, same key), stall (no
 * ticks and no deliveries for a while; what arrived is handed over on waking, after a tick:
 * the harder order for the local-health logic).
 */
export interface SimGossipPacket {
  readonly bytes: Uint8Array;
  readonly channel: GossipChannel;
}

export interface GossipClusterOptions {
  readonly size: number;
  readonly seed: number;
  readonly faults?: NetworkFaults;
  readonly membership?: MembershipSettings;
  /** Adjusts each node's config (defaults come from `membership`). */
  readonly configure?: (config: GossipConfig) => GossipConfig;
  /** How many of the first nodes serve as seeds. */
  readonly seedCount?: number;
  /** Node starts are spread uniformly over this many ms. */
  readonly startSpreadMs?: number;
  /** Advertise a NodeState from every node at start (signed records to sync). */
  readonly advertise?: boolean;
  /** Bytes the driver adds to every packet (authentication envelope). */
  readonly envelopeBytes?: number;
  /** Called for every core event, with the observing node's index. */
  readonly onEvent?: (observer: number, event: GossipEvent, nowMs: number) => void;
}

export interface SimGossipMember {
  readonly index: number;
  readonly address: string;
  readonly signer: Signer;
  core: GossipNode | null;
  generation: number;
  /** Next time its core wants a tick. */
  tickAtMs: number;
  stalledUntilMs: number;
  readonly held: { bytes: Uint8Array; from: string }[];
  roles: NodeRole[];
}

const defaultMembership: MembershipSettings = {
  phi_threshold: 8,
  gossip_cadence_ms: 100,
  failure_detector_timeout_ms: 300,
};

/** A verifier that remembers good signatures: a record is checked once per cluster, not once per node. */
function cachingVerifier(): StateVerifier {
  const good = new Set<string>();
  return {
    verify(id, message, signature) {
      const key = `${id}:${Buffer.from(signature).toString("base64")}:${Buffer.from(message).toString("latin1")}`;
      if (good.has(key)) return true;
      const valid = verifySignature(id, message, signature);
      if (valid) {
        if (good.size > 200_000) good.clear();
        good.add(key);
      }
      return valid;
    },
  };
}

/** The node state a simulated member advertises (zones and racks spread by index). */
export function simNodeState(member: SimGossipMember, roles: NodeRole[]): NodeState {
  return {
    id: member.signer.nodeId,
    name: `node-${member.index}`,
    addresses: { gossip: member.address },
    roles,
    capacity: { cpu_millis: 2000, memory_bytes: 4 * 2 ** 30, storage_bytes: 64 * 2 ** 30, pods: 110 },
    zone: `zone-${member.index % 3}`,
    rack: `rack-${member.index % 7}`,
    labels: {},
    version: "0.1.0",
    generation: member.generation,
  };
}

export class GossipCluster {
  readonly network: SimNetwork<SimGossipPacket>;
  readonly members: SimGossipMember[] = [];
  nowMs = 0;
  /** Deaths declared by a node about a member that was not crashed (nor left) at the time. */
  readonly falseDeaths: { observer: number; target: number; atMs: number; targetStalled: boolean }[] = [];
  private readonly random: SeededRandom;
  private readonly verifier = cachingVerifier();
  private readonly byAddress = new Map<string, number>();
  private readonly byId = new Map<string, number>();
  private readonly crashed = new Set<number>();
  private readonly leftNodes = new Set<number>();

  constructor(private readonly options: GossipClusterOptions) {
    assert(options.size >= 1, "a cluster has at least one node");
    assert(options.size <= 4096, "cluster over the peer limit");
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork<SimGossipPacket>(this.random.fork(), options.faults ?? reliableNetwork);
    for (let index = 0; index < options.size; index += 1) {
      const seedBytes = createHash("sha256").update(`revoada-sim-gossip/${options.seed}/${index}`).digest();
      const signer = signerFromSeed(seedBytes);
      const address = `10.0.${index >> 8}.${index & 255}:7946`;
      this.members.push({
        index,
        address,
        signer,
        core: null,
        generation: 1,
        tickAtMs: 0,
        stalledUntilMs: 0,
        held: [],
        roles: ["worker"],
      });
      this.byAddress.set(address, index);
      this.byId.set(signer.nodeId, index);
    }
  }

  /** Starts every node (spread over `startSpreadMs`) and runs until the last has started. */
  start(): void {
    const spread = this.options.startSpreadMs ?? 0;
    const order = this.members.map((member) => ({ member, at: spread === 0 ? 0 : this.random.int(spread) }));
    order.sort((a, b) => a.at - b.at || a.member.index - b.member.index);
    for (const { member, at } of order) {
      this.runUntil(this.nowMs + Math.max(0, at - this.nowMs));
      this.boot(member);
    }
  }

  indexOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  isLive(index: number): boolean {
    return !this.crashed.has(index) && !this.leftNodes.has(index) && this.members[index]!.core !== null;
  }

  liveIndexes(): number[] {
    return this.members.filter((member) => this.isLive(member.index)).map((member) => member.index);
  }

  crash(index: number): void {
    const member = this.members[index]!;
    member.core = null;
    member.held.length = 0;
    member.stalledUntilMs = 0;
    this.crashed.add(index);
    this.network.discardFor(member.address);
  }

  /** A new process on the same key: next generation, empty memory, joins through the seeds. */
  restart(index: number): void {
    const member = this.members[index]!;
    if (member.core !== null) this.crash(index);
    member.generation += 1;
    this.crashed.delete(index);
    this.leftNodes.delete(index);
    this.boot(member);
  }

  stall(index: number, durationMs: number): void {
    assert(durationMs > 0, "a stall lasts");
    this.members[index]!.stalledUntilMs = this.nowMs + durationMs;
  }

  leave(index: number): void {
    const member = this.members[index]!;
    assert(member.core !== null, "only a running node leaves");
    member.core.leave(this.nowMs);
    this.leftNodes.add(index);
    this.flush(member);
  }

  /** The node advertises new roles (its NodeState under the key "node"). */
  setRoles(index: number, roles: NodeRole[]): void {
    const member = this.members[index]!;
    assert(member.core !== null, "only a running node advertises");
    member.roles = roles;
    assert(member.core.setNodeState(this.nodeStateOf(member), this.nowMs), "node state refused");
    this.flush(member);
  }

  /** What `observer` thinks of `target` (undefined: not known). */
  statusOf(observer: number, target: number): MemberStatus | undefined {
    const core = this.members[observer]!.core;
    assert(core !== null, "a crashed node has no view");
    return core.statuses().get(this.members[target]!.signer.nodeId);
  }

  /** True when every live node sees every live node alive and every crashed or left one not alive. */
  converged(): boolean {
    const live = this.liveIndexes();
    for (const observer of live) {
      const statuses = this.members[observer]!.core!.statuses();
      for (const member of this.members) {
        const status = statuses.get(member.signer.nodeId);
        if (this.isLive(member.index)) {
          if (status !== "alive") return false;
        } else if (status === "alive" || status === "suspect") {
          return false;
        }
      }
    }
    return true;
  }

  /** Runs until `predicate` holds (checked every `checkEveryMs`) or `limitMs` passes; returns whether it held. */
  runUntilTrue(predicate: () => boolean, limitMs: number, checkEveryMs = 50): boolean {
    const end = this.nowMs + limitMs;
    while (this.nowMs < end) {
      if (predicate()) return true;
      this.runUntil(Math.min(end, this.nowMs + checkEveryMs));
    }
    return predicate();
  }

  runFor(durationMs: number): void {
    this.runUntil(this.nowMs + durationMs);
  }

  runUntil(timeMs: number): void {
    assert(timeMs >= this.nowMs, "time runs forward");
    for (let steps = 0; ; steps += 1) {
      assert(steps < 100_000_000, "simulation step bound");
      const next = this.nextEventAtMs();
      if (next === undefined || next > timeMs) break;
      this.nowMs = next;
      for (const envelope of this.network.takeDue(next))
        this.deliver(envelope.from, envelope.to, envelope.message);
      for (const member of this.members) this.maybeTick(member);
    }
    this.nowMs = timeMs;
  }

  bytesSentBy(index: number): number {
    return this.network.bytesSent.get(this.members[index]!.address) ?? 0;
  }

  private boot(member: SimGossipMember): void {
    const membership = this.options.membership ?? defaultMembership;
    let config = defaultGossipConfig(
      { id: member.signer.nodeId, address: member.address, generation: member.generation },
      membership,
    );
    if (this.options.configure !== undefined) config = this.options.configure(config);
    const created = GossipNode.create(config, member.signer, this.random.fork(), this.nowMs, this.verifier);
    assert(created.ok, "simulated gossip config is valid");
    member.core = created.value;
    member.tickAtMs = this.nowMs;
    if (this.options.advertise ?? true) member.core.setNodeState(this.nodeStateOf(member), this.nowMs);
    const seedCount = Math.min(this.options.seedCount ?? 3, this.members.length);
    member.core.join(
      this.members.slice(0, seedCount).map((seed) => seed.address),
      this.nowMs,
    );
    this.flush(member);
  }

  private nodeStateOf(member: SimGossipMember): NodeState {
    return simNodeState(member, member.roles);
  }

  private nextEventAtMs(): number | undefined {
    let next = this.network.nextDeliveryAt();
    for (const member of this.members) {
      if (member.core === null) continue;
      const at = member.stalledUntilMs > this.nowMs ? member.stalledUntilMs : member.tickAtMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  private deliver(from: string, to: string, packet: SimGossipPacket): void {
    const index = this.byAddress.get(to);
    if (index === undefined) return;
    const member = this.members[index]!;
    if (member.core === null) return;
    if (member.stalledUntilMs > this.nowMs) {
      member.held.push({ bytes: packet.bytes, from });
      return;
    }
    member.core.receive(packet.bytes, this.nowMs, from);
    this.flush(member);
  }

  private maybeTick(member: SimGossipMember): void {
    if (member.core === null || member.stalledUntilMs > this.nowMs) return;
    if (member.held.length > 0) {
      member.core.tick(this.nowMs);
      const held = member.held.splice(0);
      for (const packet of held) member.core.receive(packet.bytes, this.nowMs, packet.from);
      this.flush(member);
      return;
    }
    if (member.tickAtMs > this.nowMs) return;
    member.core.tick(this.nowMs);
    this.flush(member);
  }

  private flush(member: SimGossipMember): void {
    const core = member.core;
    if (core === null) return;
    const envelopeBytes = this.options.envelopeBytes ?? 40;
    while (core.hasReady()) {
      const ready = core.ready();
      for (const packet of ready.packets) {
        this.network.send(
          member.address,
          packet.to,
          { bytes: packet.bytes, channel: packet.channel },
          this.nowMs,
          packet.bytes.length + envelopeBytes,
        );
      }
      for (const event of ready.events) this.observe(member.index, event);
      core.advance(ready);
    }
    member.tickAtMs = Math.max(core.nextTickAtMs(), this.nowMs + 1);
  }

  private observe(observer: number, event: GossipEvent): void {
    if (event.type === "member-status" && event.status === "dead") {
      const target = this.byId.get(event.id);
      if (target !== undefined && !this.crashed.has(target) && !this.leftNodes.has(target)) {
        const targetMember = this.members[target]!;
        if (targetMember.generation === event.generation) {
          this.falseDeaths.push({
            observer,
            target,
            atMs: this.nowMs,
            targetStalled:
              targetMember.stalledUntilMs > 0 && this.nowMs - targetMember.stalledUntilMs < 5_000,
          });
        }
      }
    }
    this.options.onEvent?.(observer, event, this.nowMs);
  }
}
