import { assert, isControlPlaneRole, type NodeId, shortNodeId, type Workload } from "../vocabulary/index.js";
import type { Cluster, NodeFacts, Usage } from "./cluster.js";
import { isControlPlaneNode } from "./cluster.js";
import type { DecisionRecord, RuleCode } from "./decision.js";
import { type RoundOutput, record } from "./round.js";

/**
 * Workload placement. Replicas run on distinct worker nodes (control-plane nodes only for
 * workloads that tolerate them) that satisfy the workload's zones and labels, have capacity,
 * and, under a latency-aware policy, are not measured slower than `max_p99_ms`. Placement is
 * stable: a replica stays where it is while its node is alive (or suspect), unquarantined and
 * still fits; only replicas on dead, left, quarantined or flapping nodes move, plus the fewest
 * moves that bring a zone- or rack-aware workload up to its minimum spread. Replica i keeps
 * slot i, so a replacement lands in the slot it replaces.
 */

interface Placer {
  readonly cluster: Cluster;
  /** Nodes that may take new replicas, in id order. */
  readonly hosts: readonly NodeFacts[];
  readonly usage: Map<string, Usage>;
  /** Nodes this round promotes into the control plane or quarantines: placed as they will be. */
  readonly joiningControlPlane: ReadonlySet<string>;
  readonly leaving: ReadonlySet<string>;
  /** Spread domains available per constraint signature (computed on demand). */
  readonly domainsBySignature: Map<string, number>;
  readonly records: DecisionRecord[];
  stable: number;
  short: number;
}

export interface PlacementSummary {
  readonly workloads: number;
  readonly changed: number;
  readonly stable: number;
  readonly short: number;
}

export function planPlacements(cluster: Cluster, output: RoundOutput): PlacementSummary {
  const joiningControlPlane = new Set<string>();
  const leaving = new Set<string>();
  for (const { command } of output.commands) {
    if (command.type === "promote" && command.roles.some(isControlPlaneRole))
      joiningControlPlane.add(command.node);
    if (command.type === "quarantine") leaving.add(command.node);
  }
  const placer: Placer = {
    cluster,
    hosts: cluster.nodes.filter((node) => canHostNew(node) && !leaving.has(node.id)),
    joiningControlPlane,
    leaving,
    usage: new Map([...cluster.usage].map(([id, used]) => [id, { ...used }])),
    domainsBySignature: new Map(),
    records: [],
    stable: 0,
    short: 0,
  };
  const keys = Object.keys(cluster.inputs.state.workloads).sort();
  let changed = 0;
  for (const key of keys) {
    const workload = cluster.inputs.state.workloads[key]!;
    const current = cluster.inputs.state.placements[key] ?? [];
    const next = placeWorkload(placer, key, workload, current);
    if (sameList(current, next)) {
      placer.stable += 1;
      continue;
    }
    changed += 1;
    output.commands.push({
      command: { type: "placement", workload: key, nodes: next },
      origin: "policy",
      force: false,
    });
  }
  output.records.push(...placer.records);
  record(output, {
    action: "place",
    outcome: "noted",
    rule: "placement-stable",
    subject: "cluster",
    message: `${placer.stable} of ${keys.length} workloads keep their placement; ${changed} change; ${placer.short} short of replicas`,
    facts: {
      workloads: keys.length,
      stable: placer.stable,
      changed,
      short: placer.short,
      hosts: placer.hosts.length,
    },
  });
  assert(placer.stable + changed === keys.length, "every workload is either stable or changed");
  return { workloads: keys.length, changed, stable: placer.stable, short: placer.short };
}

function placeWorkload(
  placer: Placer,
  key: string,
  workload: Workload,
  current: readonly NodeId[],
): NodeId[] {
  const slots: (NodeId | null)[] = [];
  const seen = new Set<string>();
  let replaced = 0;
  for (const id of current) {
    const node = placer.cluster.byId.get(id);
    const keep = node !== undefined && !seen.has(id) && canKeep(placer, node, workload);
    if (keep) {
      seen.add(id);
      slots.push(id);
    } else {
      release(placer, id, workload);
      slots.push(null);
      replaced += 1;
    }
  }
  const trimmed = trim(placer, slots, workload);
  while (slots.length < workload.replicas) slots.push(null);
  const evicted = evictForSpread(placer, slots, workload);
  fillSlots(placer, slots, workload);
  const next = slots.filter((slot): slot is NodeId => slot !== null);
  recordWorkload(placer, key, workload, current, next, { replaced, trimmed, evicted });
  assert(next.length <= workload.replicas, "never more replicas than asked");
  assert(new Set(next).size === next.length, "replicas land on distinct nodes");
  return next;
}

/** Drops replicas beyond the count, from the most crowded domain first, last slot first. */
function trim(placer: Placer, slots: (NodeId | null)[], workload: Workload): number {
  let trimmed = 0;
  for (let index = slots.length - 1; index >= 0 && slots.length > workload.replicas; index -= 1) {
    if (slots[index] === null) slots.splice(index, 1);
  }
  for (let guard = 0; slots.length > workload.replicas; guard += 1) {
    assert(guard < 20_000, "trim is bounded by the replica limit");
    const index = crowdedIndex(placer, slots);
    release(placer, slots[index]!, workload);
    slots.splice(index, 1);
    trimmed += 1;
  }
  return trimmed;
}

/**
 * Under zone- or rack-aware placement, empties the fewest slots needed so the refill can reach
 * the minimum number of domains (never more than the cluster offers this workload).
 */
function evictForSpread(placer: Placer, slots: (NodeId | null)[], workload: Workload): number {
  const minimum = minimumDomains(placer, workload);
  if (minimum <= 1) return 0;
  const present = domainCounts(placer, slots);
  if (present.size >= minimum) return 0;
  const required = Math.min(minimum, availableDomains(placer, workload));
  const empty = slots.filter((slot) => slot === null).length;
  let evictions = required - present.size - empty;
  let evicted = 0;
  for (let guard = 0; evictions > 0; guard += 1) {
    assert(guard < 20_000, "evictions are bounded by the replica limit");
    const index = crowdedIndex(placer, slots);
    const domain = domainOf(placer, slots[index]!);
    if ((present.get(domain) ?? 0) < 2) break;
    present.set(domain, present.get(domain)! - 1);
    release(placer, slots[index]!, workload);
    slots[index] = null;
    evictions -= 1;
    evicted += 1;
  }
  return evicted;
}

function fillSlots(placer: Placer, slots: (NodeId | null)[], workload: Workload): void {
  const used = new Set<string>(slots.filter((slot): slot is NodeId => slot !== null));
  const counts = domainCounts(placer, slots);
  for (let index = 0; index < slots.length; index += 1) {
    if (slots[index] !== null) continue;
    const chosen = bestHost(placer, workload, used, counts);
    if (chosen === null) continue;
    slots[index] = chosen.id;
    used.add(chosen.id);
    const domain = domainOf(placer, chosen.id);
    counts.set(domain, (counts.get(domain) ?? 0) + 1);
    claim(placer, chosen.id, workload);
  }
}

/** The best host for one more replica: an unused domain first, then the most free share. */
function bestHost(
  placer: Placer,
  workload: Workload,
  used: ReadonlySet<string>,
  counts: ReadonlyMap<string, number>,
): NodeFacts | null {
  const spreadDomains = placer.cluster.placementPolicy.kind !== "none";
  let best: NodeFacts | null = null;
  let bestCrowding = Number.POSITIVE_INFINITY;
  let bestFree = Number.NEGATIVE_INFINITY;
  for (const node of placer.hosts) {
    if (used.has(node.id) || !fits(placer, node, workload) || !hasRoom(placer, node, workload)) continue;
    const crowding = spreadDomains ? (counts.get(domainOf(placer, node.id)) ?? 0) : 0;
    const free = freeShareAfter(placer, node, workload);
    if (crowding < bestCrowding || (crowding === bestCrowding && free > bestFree)) {
      best = node;
      bestCrowding = crowding;
      bestFree = free;
    }
  }
  return best;
}

function canHostNew(node: NodeFacts): boolean {
  return node.status === "alive" && !node.isQuarantined && !node.isFlapping && hostsWork(node);
}

function hostsWork(node: NodeFacts): boolean {
  return node.isWorker || isControlPlaneNode(node);
}

function canKeep(placer: Placer, node: NodeFacts, workload: Workload): boolean {
  const live = node.status === "alive" || node.status === "suspect";
  const usable = !node.isQuarantined && !node.isFlapping && !placer.leaving.has(node.id);
  return live && usable && hostsWork(node) && fits(placer, node, workload);
}

/** The workload's constraints and the latency bound; capacity is checked apart. */
function fits(placer: Placer, node: NodeFacts, workload: Workload): boolean {
  const placement = workload.placement;
  const controlPlane = isControlPlaneNode(node) || placer.joiningControlPlane.has(node.id);
  if (controlPlane && !placement.tolerate_control_plane) return false;
  if (placement.zones.length > 0 && !placement.zones.includes(node.state.zone)) return false;
  for (const label in placement.labels) {
    if (node.state.labels[label] !== placement.labels[label]) return false;
  }
  const policy = placer.cluster.placementPolicy;
  if (
    policy.kind === "latency-aware" &&
    node.latencyP99Ms !== null &&
    node.latencyP99Ms > policy.max_p99_ms
  ) {
    return false;
  }
  return true;
}

function hasRoom(placer: Placer, node: NodeFacts, workload: Workload): boolean {
  const used = placer.usage.get(node.id);
  const capacity = node.state.capacity;
  if ((used?.pods ?? 0) + 1 > capacity.pods) return false;
  if ((used?.cpuMillis ?? 0) + workload.resources.cpu_millis > capacity.cpu_millis) return false;
  return (used?.memoryBytes ?? 0) + workload.resources.memory_bytes <= capacity.memory_bytes;
}

function freeShareAfter(placer: Placer, node: NodeFacts, workload: Workload): number {
  const used = placer.usage.get(node.id);
  const capacity = node.state.capacity;
  const cpu =
    capacity.cpu_millis === 0
      ? 0
      : 1 - ((used?.cpuMillis ?? 0) + workload.resources.cpu_millis) / capacity.cpu_millis;
  const memory =
    capacity.memory_bytes === 0
      ? 0
      : 1 - ((used?.memoryBytes ?? 0) + workload.resources.memory_bytes) / capacity.memory_bytes;
  return cpu + memory;
}

function claim(placer: Placer, id: string, workload: Workload): void {
  let used = placer.usage.get(id);
  if (used === undefined) {
    used = { cpuMillis: 0, memoryBytes: 0, pods: 0 };
    placer.usage.set(id, used);
  }
  used.cpuMillis += workload.resources.cpu_millis;
  used.memoryBytes += workload.resources.memory_bytes;
  used.pods += 1;
}

function release(placer: Placer, id: string, workload: Workload): void {
  const used = placer.usage.get(id);
  if (used === undefined) return;
  used.cpuMillis -= workload.resources.cpu_millis;
  used.memoryBytes -= workload.resources.memory_bytes;
  used.pods -= 1;
}

/** The spread domain of a node: its zone, or zone/rack under rack-aware placement. */
function domainOf(placer: Placer, id: string): string {
  const node = placer.cluster.byId.get(id);
  if (node === undefined) return "";
  return placer.cluster.placementPolicy.kind === "rack-aware"
    ? `${node.state.zone}/${node.state.rack}`
    : node.state.zone;
}

function domainCounts(placer: Placer, slots: readonly (NodeId | null)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const slot of slots) {
    if (slot === null) continue;
    const domain = domainOf(placer, slot);
    counts.set(domain, (counts.get(domain) ?? 0) + 1);
  }
  return counts;
}

/** The slot to give up first: in the most crowded domain, the highest index. */
function crowdedIndex(placer: Placer, slots: readonly (NodeId | null)[]): number {
  const counts = domainCounts(placer, slots);
  let chosen = -1;
  let chosenCount = -1;
  for (let index = slots.length - 1; index >= 0; index -= 1) {
    const slot = slots[index];
    if (slot === null || slot === undefined) continue;
    const count = counts.get(domainOf(placer, slot)) ?? 0;
    if (count > chosenCount) {
      chosen = index;
      chosenCount = count;
    }
  }
  assert(chosen >= 0, "a crowded slot exists when slots are occupied");
  return chosen;
}

/** The policy's minimum number of domains for this workload (1 means no spread rule). */
function minimumDomains(placer: Placer, workload: Workload): number {
  const policy = placer.cluster.placementPolicy;
  switch (policy.kind) {
    case "zone-aware":
      return Math.min(policy.min_zones, workload.replicas);
    case "rack-aware":
      return Math.min(policy.min_racks, workload.replicas);
    case "spread":
    case "latency-aware":
    case "none":
      return 1;
  }
}

/** Domains among the hosts this workload may use (ignoring capacity), cached per constraint set. */
function availableDomains(placer: Placer, workload: Workload): number {
  const placement = workload.placement;
  const labels = Object.entries(placement.labels).sort(([left], [right]) => (left < right ? -1 : 1));
  const signature = JSON.stringify([placement.zones, labels, placement.tolerate_control_plane]);
  const cached = placer.domainsBySignature.get(signature);
  if (cached !== undefined) return cached;
  const domains = new Set<string>();
  for (const node of placer.hosts) {
    if (fits(placer, node, workload)) domains.add(domainOf(placer, node.id));
  }
  placer.domainsBySignature.set(signature, domains.size);
  return domains.size;
}

function sameList(left: readonly string[], right: readonly string[]): boolean {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index += 1) {
    if (left[index] !== right[index]) return false;
  }
  return true;
}

function recordWorkload(
  placer: Placer,
  key: string,
  workload: Workload,
  before: readonly NodeId[],
  after: readonly NodeId[],
  moves: { replaced: number; trimmed: number; evicted: number },
): void {
  const changed = !sameList(before, after);
  const short = after.length < workload.replicas;
  if (short) placer.short += 1;
  if (!changed && !short) return;
  const rule: RuleCode = short
    ? "placement-short"
    : moves.replaced > 0
      ? "placement-replace"
      : moves.evicted > 0
        ? "placement-policy"
        : moves.trimmed > 0
          ? "placement-trim"
          : "placement-new";
  const list = (ids: readonly NodeId[]) => ids.map((id) => shortNodeId(id)).join(",");
  placer.records.push({
    action: "place",
    outcome: changed ? "proposed" : "held",
    rule,
    subject: key,
    message: placementMessage(rule, key, workload, after.length),
    facts: {
      replicas: workload.replicas,
      placed: after.length,
      before: list(before),
      after: list(after),
      replaced: moves.replaced,
      evicted: moves.evicted,
      trimmed: moves.trimmed,
    },
  });
}

function placementMessage(rule: RuleCode, key: string, workload: Workload, placed: number): string {
  switch (rule) {
    case "placement-short":
      return `${key}: only ${placed} of ${workload.replicas} replicas fit (no more distinct nodes with room that satisfy its constraints)`;
    case "placement-replace":
      return `${key}: replicas on dead, quarantined or no longer fitting nodes move`;
    case "placement-policy":
      return `${key}: replicas move to reach the placement policy's minimum spread`;
    case "placement-trim":
      return `${key}: replicas beyond ${workload.replicas} are removed`;
    default:
      return `${key}: ${placed} replica${placed === 1 ? "" : "s"} placed`;
  }
}
