import { assert, type Blake3Hash, limits, type Random } from "../vocabulary/index.js";
import { chunkGroupBytes, type GroupHasher } from "./blake3-tree.js";
import { groupCountOf, groupsCovering, hashToHex, isGroupOf, isOutboardOf } from "./blob-tree.js";
import { GroupBitfield } from "./group-bitfield.js";
import type { ContentFrame, ContentRequest } from "./messages.js";

/**
 * A sans-IO download of one blob from several providers at once. The driver feeds it
 * providers, responses and clock ticks; it answers with requests to send, verified groups to
 * write, and events, through `ready()` / `advance()` like the other cores.
 *
 * First the outboard (one provider), verified against the blob's id; then the missing groups
 * in spans of `groupsPerRequest`, taken in a seeded random order so that several fetchers of
 * the same blob start on different spans and can then trade among themselves. A provider that
 * holds only part of the blob (another fetcher) is preferred over a complete one for spans it
 * has, which keeps the seed's upload near one copy. Every group is verified against the
 * outboard before it is handed out for writing; a provider that sends one bad group, or a bad
 * outboard, is banned and its outstanding work goes to the others.
 */

export type ProviderId = string;

/** Timed-out requests after which a provider is dropped (the driver may add it again). */
const timeoutsBeforeRemovalMax = 3;

export interface BlobFetchConfig {
  readonly hash: Blake3Hash;
  /** Groups per range request (64 = 1 MiB). */
  readonly groupsPerRequest: number;
  /** Range requests outstanding at one provider. */
  readonly requestsInflightPerProvider: number;
  /** A request unanswered this long is given to another provider. */
  readonly requestTimeoutMs: number;
  /** How often a partial provider is asked what it holds. */
  readonly haveRefreshMs: number;
  /** Requests to one complete provider while partial providers (other fetchers) exist. */
  readonly seedRequestsInflightMax: number;
  /**
   * This fetcher's id as the other fetchers know it (its provider id at them), when it serves
   * them: fetchers split the spans they bring in from a seed by their sorted ids.
   */
  readonly selfId?: ProviderId;
  /** Fetch only the groups covering these bytes (the whole blob when absent). */
  readonly range?: { readonly offset: number; readonly length: number };
}

export const defaultFetchConfig = {
  groupsPerRequest: 64,
  requestsInflightPerProvider: 8,
  requestTimeoutMs: 15_000,
  haveRefreshMs: 100,
  seedRequestsInflightMax: 1,
} as const;

/** What a previous attempt left on disk: the verified outboard and the durable groups. */
export interface FetchResume {
  readonly size: number;
  readonly outboard: Uint8Array;
  readonly durable: Uint8Array;
}

export interface OutgoingRequest {
  readonly provider: ProviderId;
  readonly message: ContentRequest;
}

export interface GroupWrite {
  readonly index: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

export type FetchEvent =
  | { readonly type: "outboard-verified"; readonly size: number; readonly groupCount: number }
  | { readonly type: "provider-banned"; readonly provider: ProviderId; readonly reason: string }
  | { readonly type: "provider-removed"; readonly provider: ProviderId; readonly reason: string }
  | { readonly type: "request-timed-out"; readonly provider: ProviderId }
  | { readonly type: "done"; readonly size: number }
  | { readonly type: "stalled" };

export interface FetchReady {
  /** Persist before the writes: the verified outboard, the first time it is known. */
  readonly outboard: { readonly size: number; readonly outboard: Uint8Array } | null;
  /** Verified groups; write them, then `advance` marks them durable. */
  readonly writes: readonly GroupWrite[];
  /** Send after persisting. */
  readonly requests: readonly OutgoingRequest[];
  readonly events: readonly FetchEvent[];
}

export interface FetchStatus {
  readonly size: number | null;
  readonly groupCount: number | null;
  readonly verifiedGroups: number;
  readonly wantedGroups: number | null;
  readonly verifiedBytes: number;
  readonly done: boolean;
  readonly providers: readonly {
    id: ProviderId;
    banned: boolean;
    complete: boolean | null;
    inflight: number;
  }[];
}

interface ProviderState {
  readonly id: ProviderId;
  /** true: holds the whole blob; false: `have` says which groups; null: not yet asked. */
  complete: boolean | null;
  have: GroupBitfield | null;
  /** 1 for each span (of `groupsPerRequest` groups) the provider holds whole. */
  spansHeld: Uint8Array | null;
  /** 1 for each span of which the provider has asked someone for groups. */
  spansComing: Uint8Array | null;
  /** Once seen fetching, a provider stays a fetcher (not a seed) after it completes. */
  wasPartial: boolean;
  inflight: number;
  banned: boolean;
  haveInflight: boolean;
  haveAtMs: number | null;
  uploadedBytes: number;
  /** Requests that timed out; a provider that keeps not answering is dropped. */
  timeouts: number;
  readonly addedAtMs: number;
}

interface Inflight {
  readonly provider: ProviderId;
  readonly kind: "outboard" | "have" | "range";
  readonly first: number;
  readonly end: number;
  readonly sentAtMs: number;
}

interface Tree {
  size: number;
  readonly groupCount: number;
  readonly outboard: Uint8Array;
  readonly first: number;
  readonly end: number;
}

export class BlobFetch {
  private readonly providers = new Map<ProviderId, ProviderState>();
  private readonly inflight = new Map<number, Inflight>();
  private tree: Tree | null = null;
  private verified: GroupBitfield | null = null;
  private durable: GroupBitfield | null = null;
  /** 1 for a group asked of some provider and not yet answered. */
  private requested = new Uint8Array(0);
  private spanOrder: number[] = [];
  /** Verified groups per span, and in the wanted range: what `missingRun`/`checkDone` consult. */
  private spanVerified = new Uint32Array(0);
  private wantedVerified = 0;
  private nextId = 1;
  private nowMs = 0;
  /** When a range was last asked for or answered. */
  private rangeActivityMs = 0;
  private finished = false;
  private stallReported = false;
  private pendingOutboard: FetchReady["outboard"] = null;
  private writes: GroupWrite[] = [];
  private requests: OutgoingRequest[] = [];
  private events: FetchEvent[] = [];
  private outstanding: FetchReady | null = null;

  constructor(
    private readonly config: BlobFetchConfig,
    private readonly hasher: GroupHasher,
    private readonly random: Random,
    resume?: FetchResume,
  ) {
    assert(config.groupsPerRequest >= 1, "a request asks for at least one group");
    assert(config.groupsPerRequest <= limits.contentGroupsPerRequestMax, "request size over limit");
    assert(config.requestsInflightPerProvider >= 1, "at least one request in flight");
    if (resume !== undefined) {
      const groupCount = groupCountOf(resume.size);
      assert(isOutboardOf(config.hash, groupCount, resume.outboard), "resume outboard was verified before");
      this.adoptTree(resume.size, resume.outboard);
      this.durable = new GroupBitfield(groupCount, resume.durable);
      this.verified = new GroupBitfield(groupCount, resume.durable);
      this.recountVerified();
      this.checkDone();
    }
  }

  /** A provider that may hold the blob; `complete` when gossip says it holds all of it. */
  addProvider(id: ProviderId, complete: boolean | null): void {
    if (this.providers.has(id)) return;
    assert(this.providers.size < limits.peersMax, "provider count over limit");
    this.providers.set(id, {
      id,
      complete,
      have: null,
      spansHeld: null,
      spansComing: null,
      wasPartial: false,
      inflight: 0,
      banned: false,
      haveInflight: false,
      haveAtMs: null,
      uploadedBytes: 0,
      timeouts: 0,
      addedAtMs: this.nowMs,
    });
    this.stallReported = false;
    this.schedule();
  }

  /** The connection to a provider is gone: its outstanding requests go to others. */
  removeProvider(id: ProviderId, reason: string): void {
    const provider = this.providers.get(id);
    if (provider === undefined) return;
    this.releaseInflightOf(id);
    this.providers.delete(id);
    this.events.push({ type: "provider-removed", provider: id, reason });
    this.schedule();
  }

  tick(nowMs: number): void {
    assert(nowMs >= this.nowMs, "time does not go backwards");
    this.nowMs = nowMs;
    for (const [id, request] of this.inflight) {
      if (nowMs - request.sentAtMs < this.config.requestTimeoutMs) continue;
      this.release(id, request);
      this.events.push({ type: "request-timed-out", provider: request.provider });
      const provider = this.providers.get(request.provider);
      if (provider !== undefined) provider.timeouts += 1;
    }
    for (const provider of [...this.providers.values()]) {
      if (provider.timeouts >= timeoutsBeforeRemovalMax)
        this.removeProvider(provider.id, "stopped answering");
    }
    this.schedule();
  }

  receive(providerId: ProviderId, frame: ContentFrame): void {
    const provider = this.providers.get(providerId);
    if (provider === undefined || provider.banned) return;
    const message = frame.message;
    if (!("id" in message) || message.hash !== this.config.hash) return;
    const request = this.inflight.get(message.id);
    if (request === undefined || request.provider !== providerId) return;
    this.release(message.id, request);
    provider.timeouts = 0;
    switch (message.type) {
      case "outboard":
        this.receiveOutboard(provider, request, message.size, frame.payload);
        break;
      case "have":
        this.receiveHave(provider, request, message.size, message.complete, frame.payload);
        break;
      case "range":
        this.rangeActivityMs = this.nowMs;
        this.receiveRange(provider, request, message.first_group, message.group_count, frame.payload);
        break;
      case "not-found":
        this.removeProvider(providerId, "does not hold the blob");
        break;
      case "refused":
        // Ask again what it holds at the next refresh, not at once (it is still fetching).
        if (message.reason === "unavailable") provider.haveAtMs = this.nowMs;
        if (message.reason === "bad-request") this.ban(provider, "refused a well-formed request as bad");
        break;
      default:
        this.ban(provider, `answered with a ${message.type}`);
    }
    this.checkDone();
    this.schedule();
  }

  hasReady(): boolean {
    return (
      this.pendingOutboard !== null ||
      this.writes.length > 0 ||
      this.requests.length > 0 ||
      this.events.length > 0
    );
  }

  ready(): FetchReady {
    assert(this.outstanding === null, "two ready() without advance()");
    const ready: FetchReady = {
      outboard: this.pendingOutboard,
      writes: this.writes,
      requests: this.requests,
      events: this.events,
    };
    this.pendingOutboard = null;
    this.writes = [];
    this.requests = [];
    this.events = [];
    this.outstanding = ready;
    return ready;
  }

  /** The driver has persisted the outboard and the writes of `ready` and sent its requests. */
  advance(ready: FetchReady): void {
    assert(this.outstanding === ready, "advance() of a ready() that is not outstanding");
    this.outstanding = null;
    for (const write of ready.writes) this.durable!.maybeSet(write.index);
  }

  /** Groups written and acknowledged through `advance` (what may be served and resumed). */
  durableGroups(): GroupBitfield | null {
    return this.durable;
  }

  verifiedTree(): { size: number; outboard: Uint8Array } | null {
    return this.tree === null ? null : { size: this.tree.size, outboard: this.tree.outboard };
  }

  status(): FetchStatus {
    const tree = this.tree;
    let verifiedBytes = 0;
    if (tree !== null && this.verified !== null) {
      const count = this.verified.count();
      const lastShort = this.verified.has(tree.groupCount - 1)
        ? chunkGroupBytes * tree.groupCount - tree.size
        : 0;
      verifiedBytes = count * chunkGroupBytes - lastShort;
    }
    return {
      size: tree?.size ?? null,
      groupCount: tree?.groupCount ?? null,
      verifiedGroups: this.verified?.count() ?? 0,
      wantedGroups: tree === null ? null : tree.end - tree.first,
      verifiedBytes,
      done: this.finished,
      providers: [...this.providers.values()].map((p) => ({
        id: p.id,
        banned: p.banned,
        complete: p.complete,
        inflight: p.inflight,
      })),
    };
  }

  private receiveOutboard(
    provider: ProviderState,
    request: Inflight,
    size: number,
    payload: Uint8Array,
  ): void {
    if (request.kind !== "outboard") {
      this.ban(provider, "sent an outboard nobody asked for");
      return;
    }
    if (this.tree !== null) return;
    if (!isOutboardOf(this.config.hash, groupCountOf(size), payload)) {
      this.ban(provider, "sent an outboard that does not hash to the blob id");
      return;
    }
    if (size === 0 && hashToHex(this.hasher.hash(payload)) !== this.config.hash) {
      this.ban(provider, "claims the blob is empty");
      return;
    }
    const outboard = payload.slice();
    this.adoptTree(size, outboard);
    this.pendingOutboard = { size, outboard };
    this.events.push({ type: "outboard-verified", size, groupCount: groupCountOf(size) });
    // The empty blob has no bytes to fetch: its id alone verified it.
    if (size === 0 && this.markVerified(0)) this.writes.push({ index: 0, offset: 0, data: payload });
  }

  private receiveHave(
    provider: ProviderState,
    request: Inflight,
    size: number,
    complete: boolean,
    payload: Uint8Array,
  ): void {
    if (request.kind !== "have") {
      this.ban(provider, "sent a have nobody asked for");
      return;
    }
    provider.haveAtMs = this.nowMs;
    if (this.tree !== null && groupCountOf(size) !== this.tree.groupCount) {
      this.ban(provider, "claims a size with another group count");
      return;
    }
    provider.complete = complete;
    if (!complete) provider.wasPartial = true;
    const half = payload.length / 2;
    provider.have = complete
      ? this.fullIfFetcher(provider, groupCountOf(size))
      : new GroupBitfield(groupCountOf(size), payload.subarray(0, half));
    provider.spansHeld = this.spansHeldBy(provider.have);
    const coming = complete ? null : new GroupBitfield(groupCountOf(size), payload.subarray(half));
    provider.spansComing = this.spansTouchedBy(coming);
  }

  private receiveRange(
    provider: ProviderState,
    request: Inflight,
    first: number,
    count: number,
    payload: Uint8Array,
  ): void {
    const tree = this.tree;
    if (
      request.kind !== "range" ||
      tree === null ||
      first !== request.first ||
      first + count !== request.end
    ) {
      this.ban(provider, "sent a range nobody asked for");
      return;
    }
    let at = 0;
    for (let index = first; index < first + count; index += 1) {
      const isLast = index === tree.groupCount - 1;
      const length = isLast ? payload.length - at : chunkGroupBytes;
      const data = payload.subarray(at, at + length);
      if (data.length !== length || length < 1 || !this.isGroup(index, data)) {
        this.ban(provider, `sent a bad chunk group ${index}`);
        return;
      }
      at += length;
      provider.uploadedBytes += length;
      if (isLast) tree.size = (tree.groupCount - 1) * chunkGroupBytes + length;
      if (this.markVerified(index)) {
        this.writes.push({ index, offset: index * chunkGroupBytes, data });
      }
    }
    if (at !== payload.length) this.ban(provider, "sent bytes past the range");
  }

  /** Marks a group verified; keeps the per-span and wanted counts that spare full scans. */
  private markVerified(index: number): boolean {
    const tree = this.tree!;
    if (!this.verified!.maybeSet(index)) return false;
    if (index >= tree.first && index < tree.end) {
      this.wantedVerified += 1;
      this.spanVerified[Math.floor((index - tree.first) / this.config.groupsPerRequest)]! += 1;
    }
    return true;
  }

  private recountVerified(): void {
    const tree = this.tree!;
    this.wantedVerified = 0;
    this.spanVerified.fill(0);
    for (let index = tree.first; index < tree.end; index += 1) {
      if (!this.verified!.has(index)) continue;
      this.wantedVerified += 1;
      this.spanVerified[Math.floor((index - tree.first) / this.config.groupsPerRequest)]! += 1;
    }
  }

  private isGroup(index: number, data: Uint8Array): boolean {
    const tree = this.tree!;
    return isGroupOf(this.hasher, this.config.hash, tree.outboard, tree.groupCount, index, data);
  }

  private adoptTree(size: number, outboard: Uint8Array): void {
    const groupCount = groupCountOf(size);
    const wanted =
      this.config.range === undefined
        ? { first: 0, end: groupCount }
        : groupsCovering(size, this.config.range.offset, this.config.range.length);
    this.tree = { size, groupCount, outboard, first: wanted.first, end: wanted.end };
    this.verified ??= new GroupBitfield(groupCount);
    this.durable ??= new GroupBitfield(groupCount);
    this.requested = new Uint8Array(groupCount);
    const spanCount = Math.ceil((wanted.end - wanted.first) / this.config.groupsPerRequest);
    this.spanVerified = new Uint32Array(spanCount);
    this.recountVerified();
    this.spanOrder = Array.from({ length: spanCount }, (_, span) => span);
    for (let i = spanCount - 1; i > 0; i -= 1) {
      const j = this.random.int(i + 1);
      [this.spanOrder[i], this.spanOrder[j]] = [this.spanOrder[j]!, this.spanOrder[i]!];
    }
    for (const provider of this.providers.values()) provider.spansHeld = this.spansHeldBy(provider.have);
  }

  private spansTouchedBy(bitfield: GroupBitfield | null): Uint8Array | null {
    const tree = this.tree;
    if (bitfield === null || tree === null) return null;
    const spanCount = Math.ceil((tree.end - tree.first) / this.config.groupsPerRequest);
    const touched = new Uint8Array(spanCount);
    for (let index = tree.first; index < tree.end; index += 1) {
      if (bitfield.has(index)) touched[Math.floor((index - tree.first) / this.config.groupsPerRequest)] = 1;
    }
    return touched;
  }

  /** Groups asked of some provider and not yet answered (what `have` tells other fetchers). */
  requestedGroups(): GroupBitfield | null {
    const tree = this.tree;
    if (tree === null) return null;
    const bitfield = new GroupBitfield(tree.groupCount);
    for (let index = 0; index < tree.groupCount; index += 1)
      if (this.requested[index] === 1) bitfield.maybeSet(index);
    return bitfield;
  }

  /** A fetcher that has completed holds everything: it keeps serving as a fetcher. */
  private fullIfFetcher(provider: ProviderState, groupCount: number): GroupBitfield | null {
    return provider.wasPartial ? GroupBitfield.full(groupCount) : null;
  }

  private spansHeldBy(have: GroupBitfield | null): Uint8Array | null {
    const tree = this.tree;
    if (have === null || tree === null) return null;
    const spanCount = Math.ceil((tree.end - tree.first) / this.config.groupsPerRequest);
    const held = new Uint8Array(spanCount);
    for (let span = 0; span < spanCount; span += 1) {
      const first = tree.first + span * this.config.groupsPerRequest;
      const end = Math.min(tree.end, first + this.config.groupsPerRequest);
      held[span] = have.hasRange(first, end) ? 1 : 0;
    }
    return held;
  }

  private ban(provider: ProviderState, reason: string): void {
    provider.banned = true;
    this.releaseInflightOf(provider.id);
    this.events.push({ type: "provider-banned", provider: provider.id, reason });
  }

  private releaseInflightOf(providerId: ProviderId): void {
    for (const [id, request] of this.inflight) {
      if (request.provider === providerId) this.release(id, request);
    }
  }

  private release(id: number, request: Inflight): void {
    this.inflight.delete(id);
    const provider = this.providers.get(request.provider);
    if (request.kind === "range") {
      this.requested.fill(0, request.first, request.end);
      if (provider !== undefined) provider.inflight -= 1;
    }
    if (request.kind === "have" && provider !== undefined) provider.haveInflight = false;
    assert(provider === undefined || provider.inflight >= 0, "inflight count below zero");
  }

  private checkDone(): void {
    const tree = this.tree;
    if (this.finished || tree === null || this.verified === null) return;
    if (this.wantedVerified < tree.end - tree.first) return;
    assert(this.verified.hasRange(tree.first, tree.end), "the wanted count matches the bitfield");
    this.finished = true;
    this.events.push({ type: "done", size: tree.size });
  }

  private schedule(): void {
    if (this.finished) return;
    if (this.tree === null) this.maybeRequestOutboard();
    this.refreshHaves();
    if (this.tree !== null) this.requestSpans(this.tree);
    if (this.inflight.size === 0 && !this.stallReported) {
      this.stallReported = true;
      this.events.push({ type: "stalled" });
    }
    if (this.inflight.size > 0) this.stallReported = false;
  }

  private send(provider: ProviderState, request: Omit<Inflight, "sentAtMs">, message: ContentRequest): void {
    assert(!this.inflight.has(message.id), "request ids are unique among those in flight");
    this.inflight.set(message.id, { ...request, sentAtMs: this.nowMs });
    this.requests.push({ provider: provider.id, message });
  }

  private issueId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 2 ** 32 - 1 ? 1 : this.nextId + 1;
    return id;
  }

  private maybeRequestOutboard(): void {
    for (const request of this.inflight.values()) if (request.kind === "outboard") return;
    const usable = [...this.providers.values()].filter((p) => !p.banned);
    const provider = usable.find((p) => p.complete === true) ?? usable.find((p) => p.complete !== false);
    if (provider === undefined) return;
    const id = this.issueId();
    this.send(
      provider,
      { provider: provider.id, kind: "outboard", first: 0, end: 0 },
      {
        type: "outboard-request",
        id,
        hash: this.config.hash,
      },
    );
  }

  private refreshHaves(): void {
    for (const provider of this.providers.values()) {
      if (provider.banned || provider.complete === true || provider.haveInflight) continue;
      const due = provider.haveAtMs === null || this.nowMs - provider.haveAtMs >= this.config.haveRefreshMs;
      if (!due) continue;
      provider.haveInflight = true;
      const id = this.issueId();
      this.send(
        provider,
        { provider: provider.id, kind: "have", first: 0, end: 0 },
        {
          type: "have-request",
          id,
          hash: this.config.hash,
        },
      );
    }
  }

  /**
   * Partial providers first, each with spans it holds whole that are missing here; then
   * complete providers: alone, with any missing span; among other fetchers, at most
   * `seedRequestsInflightMax` requests and only for spans none of them holds or has asked
   * for, split between the fetchers (`seedSpanForSwarm`), so a seed uploads about one copy.
   */
  private requestSpans(tree: Tree): void {
    const providers = [...this.providers.values()].filter((p) => !p.banned && p.complete !== null);
    const partials = providers.filter((p) => p.wasPartial && p.spansHeld !== null);
    for (const provider of partials) {
      for (const span of this.spanOrder) {
        if (provider.inflight >= this.config.requestsInflightPerProvider) break;
        if (provider.spansHeld![span] !== 1) continue;
        const run = this.missingRun(tree, span);
        if (run !== null) this.requestRange(provider, run);
      }
    }
    const usable = [...this.providers.values()].filter((p) => !p.banned);
    // Until every provider has said what it holds, a seed cannot be told from a fetcher
    // (for a few refreshes at most: a provider that never answers must not stall the fetch).
    const grace = 5 * this.config.haveRefreshMs;
    if (usable.some((p) => p.complete === null && this.nowMs - p.addedAtMs < grace)) return;
    // Every provider not known to be a seed may be a fetcher, whether or not it has started:
    // counting it from the start keeps the split the same at every fetcher while others join.
    const fetchers = usable.filter((p) => p.complete !== true || p.wasPartial);
    const swarm = fetchers.length > 0;
    const completeCap = swarm
      ? Math.min(this.config.seedRequestsInflightMax, this.config.requestsInflightPerProvider)
      : this.config.requestsInflightPerProvider;
    const designated = this.designation(fetchers);
    // Idle: no range in flight for ten have refreshes: whoever should bring a span in is
    // not doing it (a departed fetcher drops out of the split by itself; this is for a hung one).
    const idle =
      this.rangesInflight() === 0 && this.nowMs - this.rangeActivityMs >= 10 * this.config.haveRefreshMs;
    for (const provider of providers) {
      if (provider.complete !== true || provider.wasPartial) continue;
      while (provider.inflight < completeCap) {
        const span = swarm
          ? this.seedSpanForSwarm(tree, partials, designated, idle)
          : this.firstMissingSpan(tree);
        if (span === null) break;
        this.requestRange(provider, this.missingRun(tree, span)!);
      }
    }
  }

  /**
   * Which spans this fetcher brings into the swarm from a seed: every `count`-th span from
   * `index`, `index` being its place among all fetchers (itself and the partial or unknown
   * providers, by id). Every fetcher computes the same split, so each span leaves the seed
   * about once; the others get it from whoever brought it in. Without `selfId`, all spans.
   */
  private designation(fetchers: readonly ProviderState[]): { index: number; count: number } {
    const self = this.config.selfId;
    if (self === undefined) return { index: 0, count: 1 };
    const ids = [self, ...fetchers.map((p) => p.id)].sort();
    return { index: ids.indexOf(self), count: ids.length };
  }

  /**
   * A span to ask a seed for while other fetchers exist: a designated one that no fetcher
   * holds or has asked for; once those are done, and only when this fetcher is otherwise idle,
   * any span nobody holds or has asked for (a designated fetcher may have gone).
   */
  private seedSpanForSwarm(
    tree: Tree,
    partials: readonly ProviderState[],
    designated: { index: number; count: number },
    idle: boolean,
  ): number | null {
    let fallback: number | null = null;
    for (const span of this.spanOrder) {
      if (this.missingRun(tree, span) === null) continue;
      let holders = 0;
      for (const provider of partials) {
        holders += provider.spansHeld![span]! + (provider.spansComing?.[span] ?? 0);
      }
      if (holders > 0) continue;
      if (span % designated.count === designated.index) return span;
      fallback ??= span;
    }
    return idle ? fallback : null;
  }

  private firstMissingSpan(tree: Tree): number | null {
    for (const span of this.spanOrder) if (this.missingRun(tree, span) !== null) return span;
    return null;
  }

  private rangesInflight(): number {
    let count = 0;
    for (const request of this.inflight.values()) if (request.kind === "range") count += 1;
    return count;
  }

  private requestRange(provider: ProviderState, run: { first: number; end: number }): void {
    this.rangeActivityMs = this.nowMs;
    provider.inflight += 1;
    this.requested.fill(1, run.first, run.end);
    const id = this.issueId();
    this.send(
      provider,
      { provider: provider.id, kind: "range", first: run.first, end: run.end },
      {
        type: "range-request",
        id,
        hash: this.config.hash,
        first_group: run.first,
        group_count: run.end - run.first,
      },
    );
  }

  /** The first run of groups in `span` that are neither verified nor asked for. */
  private missingRun(tree: Tree, span: number): { first: number; end: number } | null {
    const spanFirst = tree.first + span * this.config.groupsPerRequest;
    const spanEnd = Math.min(tree.end, spanFirst + this.config.groupsPerRequest);
    if (this.spanVerified[span] === spanEnd - spanFirst) return null;
    let first = spanFirst;
    while (first < spanEnd && (this.verified!.has(first) || this.requested[first] === 1)) first += 1;
    if (first === spanEnd) return null;
    let end = first;
    while (end < spanEnd && !this.verified!.has(end) && this.requested[end] === 0) end += 1;
    return { first, end };
  }
}
