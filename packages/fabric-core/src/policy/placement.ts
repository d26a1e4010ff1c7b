import { assert, type NodeId, shortNodeId, type Workload } from "../vocabulary/index.js";
import { type Cluster, isControlPlaneNode, type Usage } from "./cluster.js";
import type { DecisionRecord, RuleCode } from "./decision.js";
import {
  bestHost,
  canHostNew,
  canKeep,
  claim,
  createHostIndex,
  domainOf,
  fits,
  type HostFacts,
  type HostIndex,
  hostFits,
  release,
} from "./placement-hosts.js";
import { type RoundOutput, record } from "./round.js";

/**
 * Workload placement. Replicas run on distinct worker nodes (control-plane nodes only for
 * workloads that tolerate them) that satisfy the workload's zones and labels, have capacity,
 * and, under a latency-aware policy, are not measured slower than `max_p99_ms`; when too few
 * distinct nodes fit, replicas share nodes rather than not run (and the record says so). Placement is
 * stable: a replica stays where it is while its node is alive (or suspect), unquarantined and
 * still fits; only replicas on dead, left, quarantined or flapping nodes move, plus the fewest
 * moves that bring a zone- or rack-aware workload up to its minimum spread. Replica i keeps
 * slot i, so a replacement lands in the slot it replaces.
 *
 * A settled workload (every replica kept, spread met) changes nothing, so those are checked
 * first in any order; the others are placed in workload-key order, so the result never depends
 * on the key order of the inputs.
 */

interface Placer {
  readonly cluster: Cluster;
  readonly hosts: HostIndex;
  /** Spread domains available per constraint signature (computed on demand). */
  readonly domainsBySignature: Map<string, number>;
  readonly records: DecisionRecord[];
  /** Reused by `isSettled` to count domains without allocating. */
  readonly domainScratch: string[];
  short: number;
}

export interface PlacementSummary {
  readonly workloads: number;
  readonly changed: number;
  readonly stable: number;
  readonly short: number;
  /** For the next round (`decideIncremental`); null unless asked for. */
  readonly memo: PlacementMemo | null;
  /** The previous round's memo matched: only the workloads that may have changed were checked. */
  readonly incremental: boolean;
}

/**
 * What a round found about which workloads are settled, so the next round need not walk all of
 * them again (`decideIncremental`). Whether a workload is settled depends only on the workload,
 * its placement, the placement policy and the placement facts of the nodes it is placed on
 * (`hostKeyOf`). When the next round's workloads and placements are the very same objects (a
 * caller that replaces what changes and never edits in place) and the policy is the same, only
 * the workloads unsettled last round and those placed on a node whose facts changed are
 * checked; anything else falls back to the full walk. Never changed after it is returned.
 */
export interface PlacementMemo {
  readonly workloads: Readonly<Record<string, Workload>>;
  readonly placements: Readonly<Record<string, readonly NodeId[]>>;
  readonly policyKey: string;
  /** `hostKeyOf` each keepable node; a node that may keep nothing is absent. */
  readonly hostKeys: ReadonlyMap<string, string>;
  /** The keys of the workloads placed on each node id. */
  readonly byNode: ReadonlyMap<string, readonly string[]>;
  /** The workloads not settled in that round. */
  readonly unsettled: readonly string[];
  readonly total: number;
  /**
   * Each node's usage under these very placements (`usageOf`), if the round needed it: a round
   * with the same records reuses it instead of summing every replica again (`reuseUsage`).
   */
  readonly usage: ReadonlyMap<string, Usage> | null;
}

/**
 * Hands the memo's usage to a round over the very same workload and placement records: usage
 * depends on nothing else, and nothing edits a computed usage map (placement works on a copy).
 * At 10 000 nodes the sum over 300 000 replicas was half of a steady incremental round.
 */
export function reuseUsage(cluster: Cluster, previous: PlacementMemo | null): void {
  if (
    previous?.usage != null &&
    cluster.usage === null &&
    previous.workloads === cluster.inputs.state.workloads &&
    previous.placements === cluster.inputs.state.placements
  )
    cluster.usage = previous.usage;
}

export function planPlacements(
  cluster: Cluster,
  output: RoundOutput,
  previous: PlacementMemo | null = null,
  wantMemo = false,
): PlacementSummary {
  const placer: Placer = {
    cluster,
    hosts: createHostIndex(cluster, output),
    domainsBySignature: new Map(),
    records: [],
    domainScratch: [],
    short: 0,
  };
  const workloads: Record<string, Workload> = cluster.inputs.state.workloads;
  const placements: Record<string, readonly NodeId[]> = cluster.inputs.state.placements;
  const keyed = wantMemo || previous !== null;
  const policyKey = keyed ? JSON.stringify(cluster.placementPolicy) : "";
  const hostKeys = keyed ? hostKeysOf(placer.hosts.keepable) : new Map<string, string>();
  const unsettled: string[] = [];
  let total = 0;
  let byNode: ReadonlyMap<string, readonly string[]> = new Map();
  const incremental =
    previous !== null &&
    previous.workloads === workloads &&
    previous.placements === placements &&
    previous.policyKey === policyKey;
  if (incremental) {
    total = previous.total;
    byNode = previous.byNode;
    for (const key of recheckKeys(previous, hostKeys)) {
      if (!isSettled(placer, workloads[key]!, placements[key] ?? [])) unsettled.push(key);
    }
  } else {
    for (const key in workloads) {
      total += 1;
      if (!isSettled(placer, workloads[key]!, placements[key] ?? [])) unsettled.push(key);
    }
    if (wantMemo) byNode = workloadsByNode(workloads, placements);
  }
  unsettled.sort();
  let changed = 0;
  for (const key of unsettled) {
    const current = placements[key] ?? [];
    const next = placeWorkload(placer, key, workloads[key]!, current);
    if (sameList(current, next)) continue;
    changed += 1;
    output.commands.push({
      command: { type: "placement", workload: key, nodes: next },
      origin: "policy",
      force: false,
    });
  }
  output.records.push(...placer.records);
  const stable = total - changed;
  record(output, {
    action: "place",
    outcome: "noted",
    rule: "placement-stable",
    subject: "cluster",
    message: `${stable} of ${total} workloads keep their placement; ${changed} change; ${placer.short} short of replicas`,
    facts: { workloads: total, stable, changed, short: placer.short },
  });
  assert(changed <= unsettled.length, "only unsettled workloads change");
  const memo: PlacementMemo | null = wantMemo
    ? { workloads, placements, policyKey, hostKeys, byNode, unsettled, total, usage: cluster.usage }
    : null;
  return { workloads: total, changed, stable, short: placer.short, memo, incremental };
}

/** Everything `isSettled` reads about a keepable node, as one string. */
function hostKeyOf(facts: HostFacts): string {
  const state = facts.node.state;
  return `${facts.controlPlane ? 1 : 0}${facts.tooSlow ? 1 : 0}\u0000${facts.domain}\u0000${state.zone}\u0000${JSON.stringify(state.labels)}`;
}

function hostKeysOf(keepable: ReadonlyMap<string, HostFacts>): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [id, facts] of keepable) keys.set(id, hostKeyOf(facts));
  return keys;
}

/** The workloads unsettled last round, and those on a node whose facts changed since. */
function recheckKeys(previous: PlacementMemo, hostKeys: ReadonlyMap<string, string>): Set<string> {
  const recheck = new Set(previous.unsettled);
  const changedNode = (id: string) => {
    for (const key of previous.byNode.get(id) ?? []) recheck.add(key);
  };
  for (const [id, key] of hostKeys) if (previous.hostKeys.get(id) !== key) changedNode(id);
  for (const id of previous.hostKeys.keys()) if (!hostKeys.has(id)) changedNode(id);
  return recheck;
}

function workloadsByNode(
  workloads: Readonly<Record<string, Workload>>,
  placements: Readonly<Record<string, readonly NodeId[]>>,
): Map<string, string[]> {
  const byNode = new Map<string, string[]>();
  for (const key in placements) {
    if (workloads[key] === undefined) continue;
    for (const id of placements[key]!) {
      const keys = byNode.get(id);
      if (keys === undefined) byNode.set(id, [key]);
      else if (keys[keys.length - 1] !== key) keys.push(key);
    }
  }
  return byNode;
}

/**
 * Every replica kept on a distinct fitting node, the count right, the spread met. No side
 * effects. This runs for every workload every round, so it avoids allocation: keepable nodes
 * come from a per-round map, and domains are counted in a small reused array.
 */
function isSettled(placer: Placer, workload: Workload, current: readonly NodeId[]): boolean {
  if (current.length !== workload.replicas) return false;
  const minimum = minimumDomains(placer, workload);
  const seen = placer.domainScratch;
  let domains = 0;
  const labelled = hasLabels(workload);
  for (let index = 0; index < current.length; index += 1) {
    const id = current[index]!;
    const facts = placer.hosts.keepable.get(id);
    if (facts === undefined || !hostFits(facts, workload, labelled)) return false;
    if (index > 0 && current.length <= 16 && current.indexOf(id) !== index) return false;
    if (domains < minimum && !isAmong(seen, domains, facts.domain)) {
      seen[domains] = facts.domain;
      domains += 1;
    }
  }
  if (current.length > 16 && new Set(current).size !== current.length) return false;
  return minimum <= 1 || domains >= minimum;
}

/** Whether `value` is among the first `count` entries of `values`. */
function isAmong(values: readonly string[], count: number, value: string): boolean {
  for (let index = 0; index < count; index += 1) {
    if (values[index] === value) return true;
  }
  return false;
}

function placeWorkload(
  placer: Placer,
  key: string,
  workload: Workload,
  current: readonly NodeId[],
): NodeId[] {
  const slots: (NodeId | null)[] = [];
  // A second replica on the same node: its slot looks for a distinct host, and stays where it
  // is when there is none (stacked), so a replica is never dropped for want of a spare node.
  const stacked: (NodeId | null)[] = [];
  const seen = new Set<string>();
  let replaced = 0;
  for (const id of current) {
    const node = placer.cluster.byId.get(id);
    const keepable = node !== undefined && canKeep(placer.hosts, node, workload);
    slots.push(keepable && !seen.has(id) ? id : null);
    stacked.push(keepable && seen.has(id) ? id : null);
    if (!keepable) {
      release(placer.hosts, id, workload);
      replaced += 1;
    }
    seen.add(id);
  }
  const trimmed = trim(placer, slots, stacked, workload);
  while (slots.length < workload.replicas) {
    slots.push(null);
    stacked.push(null);
  }
  const evicted = evictForSpread(placer, slots, workload);
  fillSlots(placer, slots, stacked, workload);
  const next = slots.filter((slot): slot is NodeId => slot !== null);
  recordWorkload(placer, key, workload, current, next, { replaced, trimmed, evicted });
  assert(next.length <= workload.replicas, "never more replicas than asked");
  assert(stacked.length === slots.length, "every slot has its stacked fallback entry");
  return next;
}

/** Drops replicas beyond the count: empty slots first, then the most crowded domain, last slot first. */
function trim(
  placer: Placer,
  slots: (NodeId | null)[],
  stacked: (NodeId | null)[],
  workload: Workload,
): number {
  let trimmed = 0;
  for (let index = slots.length - 1; index >= 0 && slots.length > workload.replicas; index -= 1) {
    if (slots[index] !== null) continue;
    const fallback = stacked[index];
    if (fallback !== null && fallback !== undefined) {
      release(placer.hosts, fallback, workload);
      trimmed += 1;
    }
    slots.splice(index, 1);
    stacked.splice(index, 1);
  }
  for (let guard = 0; slots.length > workload.replicas; guard += 1) {
    assert(guard < 20_000, "trim is bounded by the replica limit");
    const index = crowdedIndex(placer, slots);
    release(placer.hosts, slots[index]!, workload);
    slots.splice(index, 1);
    stacked.splice(index, 1);
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
  const empty = slots.filter((slot) => slot === null).length;
  // Enough empty slots to reach the minimum: the refill spreads them, nothing need move.
  if (present.size + empty >= minimum) return 0;
  const required = Math.min(minimum, availableDomains(placer, workload));
  let evictions = required - present.size - empty;
  let evicted = 0;
  for (let guard = 0; evictions > 0; guard += 1) {
    assert(guard < 20_000, "evictions are bounded by the replica limit");
    const index = crowdedIndex(placer, slots);
    const domain = domainOf(placer.hosts, slots[index]!);
    if ((present.get(domain) ?? 0) < 2) break;
    present.set(domain, present.get(domain)! - 1);
    release(placer.hosts, slots[index]!, workload);
    slots[index] = null;
    evictions -= 1;
    evicted += 1;
  }
  return evicted;
}

/**
 * Fills empty slots: a distinct host when one fits; otherwise the slot's stacked replica stays
 * put; otherwise, as a last resort, a host that already runs a replica of this workload.
 */
function fillSlots(
  placer: Placer,
  slots: (NodeId | null)[],
  stacked: readonly (NodeId | null)[],
  workload: Workload,
): void {
  const used = new Set<string>(slots.filter((slot): slot is NodeId => slot !== null));
  const counts = domainCounts(placer, slots);
  const nobody = new Set<string>();
  for (let index = 0; index < slots.length; index += 1) {
    if (slots[index] !== null) continue;
    const fallback = stacked[index] ?? null;
    const distinct = bestHost(placer.hosts, workload, used, counts);
    if (distinct === null && fallback !== null) {
      slots[index] = fallback;
      continue;
    }
    const chosen = distinct ?? bestHost(placer.hosts, workload, nobody, counts);
    if (chosen === null) continue;
    if (fallback !== null) release(placer.hosts, fallback, workload);
    slots[index] = chosen.id;
    used.add(chosen.id);
    const domain = domainOf(placer.hosts, chosen.id);
    counts.set(domain, (counts.get(domain) ?? 0) + 1);
    claim(placer.hosts, chosen.id, workload);
  }
}

function domainCounts(placer: Placer, slots: readonly (NodeId | null)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const slot of slots) {
    if (slot === null) continue;
    const domain = domainOf(placer.hosts, slot);
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
    const count = counts.get(domainOf(placer.hosts, slot)) ?? 0;
    if (count > chosenCount) {
      chosen = index;
      chosenCount = count;
    }
  }
  assert(chosen >= 0, "a crowded slot exists when slots are occupied");
  return chosen;
}

/** The policy's minimum number of domains for this workload (1 means no spread rule). */
function hasLabels(workload: Workload): boolean {
  for (const _ in workload.placement.labels) return true;
  return false;
}

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
  for (const node of placer.cluster.nodes) {
    if (canHostNew(placer.hosts, node) && fits(placer.hosts, node, workload)) {
      domains.add(domainOf(placer.hosts, node.id));
    }
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
  const stacked = after.length - new Set(after).size;
  if (short) placer.short += 1;
  if (!changed && !short && stacked === 0) return;
  const rule: RuleCode = short
    ? "placement-short"
    : stacked > 0
      ? "placement-stacked"
      : moves.replaced > 0
        ? "placement-replace"
        : moves.evicted > 0
          ? "placement-policy"
          : moves.trimmed > 0
            ? "placement-trim"
            : "placement-new";
  const list = (ids: readonly NodeId[]) => ids.map((id) => shortNodeId(id)).join(",");
  const why = short ? shortfallReason(placer, workload, after) : null;
  placer.records.push({
    action: "place",
    outcome: changed ? "proposed" : "held",
    rule,
    subject: key,
    message: placementMessage(rule, key, workload, after.length, {
      before: list(before),
      after: list(after),
      replaced: moves.replaced,
      why: why?.text ?? "",
    }),
    facts: {
      ...(why === null ? {} : { constraint: why.constraint }),
      replicas: workload.replicas,
      placed: after.length,
      before: list(before),
      after: list(after),
      replaced: moves.replaced,
      evicted: moves.evicted,
      trimmed: moves.trimmed,
      stacked,
    },
  });
}

function placementMessage(
  rule: RuleCode,
  key: string,
  workload: Workload,
  placed: number,
  moves: { before: string; after: string; replaced: number; why: string },
): string {
  const change = `[${moves.before}] -> [${moves.after}]`;
  switch (rule) {
    case "placement-short":
      return `${key}: only ${placed} of ${workload.replicas} replicas fit: ${moves.why} ${change}`;
    case "placement-stacked":
      return `${key}: too few distinct nodes fit, so some replicas share a node ${change}`;
    case "placement-replace":
      return `${key}: ${moves.replaced} replica${moves.replaced === 1 ? "" : "s"} on dead, quarantined or no longer fitting nodes move ${change}`;
    case "placement-policy":
      return `${key}: replicas move to reach the placement policy's minimum spread ${change}`;
    case "placement-trim":
      return `${key}: replicas beyond ${workload.replicas} are removed ${change}`;
    default:
      return `${key}: ${placed} replica${placed === 1 ? "" : "s"} placed ${change}`;
  }
}

/**
 * Why a workload is short of replicas: every node is counted under the first constraint that
 * keeps it out (down or quarantined, control plane, zones, labels, latency, room), and the
 * constraint that keeps out the most nodes is named, so an operator knows what to change.
 */
function shortfallReason(
  placer: Placer,
  workload: Workload,
  after: readonly NodeId[],
): { readonly constraint: string; readonly text: string } {
  const placement = workload.placement;
  const counts = new Map<string, number>();
  const count = (constraint: string) => counts.set(constraint, (counts.get(constraint) ?? 0) + 1);
  for (const node of placer.cluster.nodes) {
    if (!canHostNew(placer.hosts, node)) count("down or quarantined");
    else if (isControlPlaneNode(node) && !placement.tolerate_control_plane)
      count("control plane (tolerate_control_plane is false)");
    else if (placement.zones.length > 0 && !placement.zones.includes(node.state.zone))
      count(`outside zones ${placement.zones.join(",")}`);
    else if (!fits(placer.hosts, node, workload)) count("labels or latency do not match");
    else if (!after.includes(node.id)) count("no room (cpu, memory or pods)");
  }
  const ranked = [...counts.entries()].sort(
    (left, right) => right[1] - left[1] || (left[0] < right[0] ? -1 : 1),
  );
  assert(ranked.length <= 5, "five kinds of constraint");
  const nodes = placer.cluster.nodes.length;
  const parts = ranked.map(([constraint, n]) => `${n} ${constraint}`);
  const constraint = ranked[0]?.[0] ?? "no nodes";
  return {
    constraint,
    text:
      nodes === 0
        ? "the fabric has no nodes"
        : `of ${nodes} node${nodes === 1 ? "" : "s"}: ${parts.join(", ")}`,
  };
}
