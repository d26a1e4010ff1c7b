import type { MemberView } from "../gossip/index.js";
import type { ConfState, Entry } from "../raft/index.js";
import { assert } from "../vocabulary/index.js";

/**
 * The state relay, sans IO: how a node that does not hold the Raft log (a *follower*: neither
 * voter nor learner) learns committed state. Design and costs in docs/scale.md.
 *
 * Every node relays. A follower subscribes to a *source* (its parent in a tree rooted at the
 * log holders, else a holder) with `follow(after = its applied index)`, renewed every
 * `renewMs`. The source answers with the committed entries after `after` from a bounded
 * window of what it applied (or asks its driver for a whole-machine snapshot when the window
 * does not reach back), records the subscription, and from then on pushes what it applies
 * (`flush`). Answers carry the source's depth (0 for a holder); a source that is silent, has
 * no depth yet, is deeper than `depthMax` or is busy is given up for the next candidate.
 *
 * A log holder probes another holder every `renewMs`. A holder that stays behind it for
 * `silenceMs` is *stale* (a learner removed while it was down never hears of its removal:
 * Raft no longer feeds it) and follows through the relay like any follower.
 *
 * The relay never decides what is committed: it hands entries to its driver only in index
 * order, from `applied + 1` on, and snapshots only ahead of `applied`. The driver applies
 * them to its `FabricMachine` and reports each applied entry back (`recordApplied`).
 */
export interface RelayConfig {
  /** Children per node in the tree (docs/scale.md: F). */
  readonly fanout: number;
  readonly renewMs: number;
  /** A source not heard from within this long is given up. */
  readonly silenceMs: number;
  /** A subscription not renewed within this long ends. */
  readonly subscriptionTtlMs: number;
  /** Recently applied entries kept to answer subscribers. */
  readonly windowEntries: number;
  /** Subscribers a follower serves at most (a holder serves every one). */
  readonly subscribersMax: number;
  /** Hops below a holder a source may be. */
  readonly depthMax: number;
  /** Entries per answer at most. */
  readonly batchEntriesMax: number;
}

export const defaultRelayConfig: RelayConfig = {
  fanout: 8,
  renewMs: 1_000,
  silenceMs: 2_500,
  subscriptionTtlMs: 3_500,
  windowEntries: 512,
  subscribersMax: 32,
  depthMax: 6,
  batchEntriesMax: 256,
};

export type RelayMessage =
  /** Subscriber -> source: "I applied through `after`; send what follows, and keep pushing". */
  | { readonly type: "follow"; readonly after: number }
  /** A log holder -> another: "where are you?" (answered with an empty `entries`, no subscription). */
  | { readonly type: "probe"; readonly applied: number }
  /** Source -> subscriber: committed entries (none: a heartbeat), the source's depth and applied index. */
  | {
      readonly type: "entries";
      readonly depth: number | null;
      readonly applied: number;
      readonly entries: readonly Entry[];
    }
  /** Source -> subscriber: a whole machine (`FabricMachine.snapshot()`) at `index`, with its configuration. */
  | {
      readonly type: "snapshot";
      readonly depth: number | null;
      readonly index: number;
      readonly machine: Uint8Array;
      readonly conf: ConfState;
    }
  /** Source -> subscriber: this source serves enough subscribers already. */
  | { readonly type: "busy" };

export type RelayOutput =
  | { readonly type: "send"; readonly to: string; readonly message: RelayMessage }
  /** The driver sends `to` a snapshot of its machine (the window does not reach back). */
  | { readonly type: "send-snapshot"; readonly to: string; readonly depth: number | null };

export interface RelayView {
  /** This node is a voter or a learner: Raft feeds its machine, it follows nobody. */
  readonly holding: boolean;
  /** Sources in order of preference (tree parent first), all alive (`relayCandidates`). */
  readonly candidates: readonly string[];
}

/** What a received message asks of the driver. */
export interface RelayReceipt {
  readonly outputs: RelayOutput[];
  /** Committed entries to apply, in order, starting at the applied index + 1. */
  readonly apply: readonly Entry[];
  /** A machine to restore (ahead of the applied index). */
  readonly restore: { readonly index: number; readonly machine: Uint8Array; readonly conf: ConfState } | null;
}

/** How a node chooses its source, for its status: why a follower has the source it has, or none. */
export interface RelaySourcing {
  /** The candidates of the last tick, best first (`RelayView.candidates`). */
  readonly candidates: readonly string[];
  /** The first of them not skipped: the source once it held for `silenceMs`. */
  readonly preferred: string | null;
  /** Candidates given up (silent, busy, refused, unreachable, too deep) and until when. */
  readonly skipped: readonly { readonly id: string; readonly untilMs: number }[];
  /** Until then the source owes an answer to an open request (null: none open). */
  readonly awaitedUntilMs: number | null;
  /** A holder by its configuration that Raft does not feed: it follows through the relay. */
  readonly stale: boolean;
}

interface Subscriber {
  expiresAtMs: number;
  /** Highest index sent to it (it applied through this, or will). */
  sent: number;
}

export class StateRelay {
  private holding = false;
  /** A holder by its configuration that Raft no longer feeds (see the class comment). */
  private stale = false;
  private behindSinceMs: number | null = null;
  /** The applied index when `behindSinceMs` was set: Raft applying since restarts the clock. */
  private behindFromIndex = 0;
  private applied = 0;
  /** Invariant: window[i].index === windowFirst + i, and the last is `applied` (when not empty). */
  private window: Entry[] = [];
  private windowFirst = 1;
  private readonly subscribers = new Map<string, Subscriber>();
  private source: string | null = null;
  private sourceDepth: number | null = null;
  private lastHeardMs = 0;
  private lastFollowMs = Number.NEGATIVE_INFINITY;
  /** Until then the source owes an answer to a request the driver holds open (`awaitAnswer`). */
  private awaitedUntilMs = Number.NEGATIVE_INFINITY;
  /** The first usable candidate of the view, and since when it is (see `tick`). */
  private preferred: string | null = null;
  private preferredSinceMs = 0;
  private readonly failedUntil = new Map<string, number>();
  private candidates: readonly string[] = [];

  constructor(
    readonly self: string,
    readonly config: RelayConfig = defaultRelayConfig,
  ) {
    assert(config.fanout >= 1, "a relay fans out to at least one child");
    assert(config.subscriptionTtlMs > config.renewMs, "subscriptions outlive a renewal period");
  }

  /** Hops below a log holder (0 for a holder), null while no source answered. */
  depth(): number | null {
    return this.holding ? 0 : this.sourceDepth === null ? null : this.sourceDepth + 1;
  }

  currentSource(): string | null {
    return this.source;
  }

  subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * The driver applied `entry`, `via` Raft or this relay. A stale holder that Raft feeds
   * again holds the log again: its configuration is live (it lagged, or was cut off and came
   * back), and only a holder fed by Raft is a root the tree can use.
   */
  recordApplied(entry: Entry, via: "raft" | "relay"): void {
    assert(entry.index > this.applied || this.applied === 0, "applied entries only move forward");
    if (via === "raft") this.stale = false;
    const last = this.window[this.window.length - 1];
    if (last === undefined || last.index + 1 !== entry.index) {
      this.window = [];
      this.windowFirst = entry.index;
    }
    this.window.push(entry);
    if (this.window.length > this.config.windowEntries) {
      this.window.shift();
      this.windowFirst += 1;
    }
    this.applied = entry.index;
    assert(
      this.window[this.window.length - 1]!.index === this.applied,
      "the window ends at the applied index",
    );
  }

  /** The window: the entries applied last, in order, ending at the applied index (a copy). */
  recentEntries(): readonly Entry[] {
    return this.window.slice();
  }

  /** The driver restored a machine at `index` (a snapshot, or a restart from disk). */
  recordRestored(index: number): void {
    this.window = [];
    this.windowFirst = index + 1;
    this.applied = index;
  }

  /** Pushes what subscribers have not been sent yet (call once per driver round). */
  flush(nowMs: number): RelayOutput[] {
    const outputs: RelayOutput[] = [];
    for (const [id, subscriber] of this.subscribers) {
      if (subscriber.expiresAtMs < nowMs) {
        this.subscribers.delete(id);
        continue;
      }
      if (subscriber.sent >= this.applied) continue;
      outputs.push(this.answer(id, subscriber));
    }
    return outputs;
  }

  /**
   * The driver refused what `from` sent (a commit stamp did not check out, docs/scale.md): a
   * current source is given up, as a silent one is, and the next candidate is tried.
   */
  refuse(from: string, nowMs: number): void {
    if (from === this.source) this.giveUp(nowMs);
  }

  /**
   * The driver asked the current source and holds the request open until `untilMs` at most (a
   * long poll; a snapshot answer being fetched). Until the source answers, or that deadline
   * passes, it is neither silent nor traded for another candidate, so its answer still counts
   * when it arrives: on a slow machine a first answer (a snapshot, published, then fetched)
   * takes longer than `silenceMs`, and dropping it to ask the next source the same is how a
   * fresh follower never receives a first state (docs/scale.md, "Real processes, N = 50").
   */
  awaitAnswer(from: string, untilMs: number): void {
    if (from === this.source) this.awaitedUntilMs = untilMs;
  }

  /** The driver could not reach `from` (refused, timed out): a current source is given up. */
  unreachable(from: string, nowMs: number): void {
    if (from === this.source) this.giveUp(nowMs);
  }

  /** Whether this node follows through the relay although its configuration says it holds the log. */
  isStale(): boolean {
    return this.stale;
  }

  /** Its candidates, the ones it skips and until when, and what it waits for (status). */
  sourcing(nowMs: number): RelaySourcing {
    return {
      candidates: this.candidates,
      preferred: this.preferred,
      skipped: [...this.failedUntil]
        .filter(([, untilMs]) => untilMs > nowMs)
        .map(([id, untilMs]) => ({ id, untilMs }))
        .sort((a, b) => a.untilMs - b.untilMs),
      awaitedUntilMs: this.source !== null && nowMs < this.awaitedUntilMs ? this.awaitedUntilMs : null,
      stale: this.stale,
    };
  }

  /** Timers: choose the source, renew the subscription (a holder: probe), give up a silent source. */
  tick(nowMs: number, view: RelayView): RelayOutput[] {
    if (!view.holding) this.stale = false;
    this.holding = view.holding && !this.stale;
    const outputs = this.flush(nowMs);
    this.candidates = view.candidates;
    for (const [id, untilMs] of this.failedUntil) if (untilMs <= nowMs) this.failedUntil.delete(id);
    const awaiting = this.source !== null && nowMs < this.awaitedUntilMs;
    if (this.source !== null && !awaiting && nowMs - this.lastHeardMs > this.config.silenceMs)
      this.giveUp(nowMs);
    const wanted = view.candidates.find(
      (candidate) => candidate !== this.self && (this.failedUntil.get(candidate) ?? 0) <= nowMs,
    );
    if (wanted !== this.preferred) {
      this.preferred = wanted ?? null;
      this.preferredSinceMs = nowMs;
    }
    // A source in use is kept while the preferred one moves (views that disagree or flap, as
    // gossip suspects members or the learner set changes, would move every subscription each
    // time); the preferred source wins once it held for silenceMs.
    const settled = nowMs - this.preferredSinceMs >= this.config.silenceMs;
    if (wanted !== undefined && wanted !== this.source && !awaiting && (this.source === null || settled)) {
      this.source = wanted;
      this.sourceDepth = null;
      this.lastHeardMs = nowMs;
      this.lastFollowMs = Number.NEGATIVE_INFINITY;
    }
    if (this.source !== null && nowMs - this.lastFollowMs >= this.config.renewMs) {
      this.lastFollowMs = nowMs;
      const message: RelayMessage = this.holding
        ? { type: "probe", applied: this.applied }
        : { type: "follow", after: this.applied };
      outputs.push({ type: "send", to: this.source, message });
    }
    return outputs;
  }

  receive(from: string, message: RelayMessage, nowMs: number): RelayReceipt {
    // Any answer settles what the source owed; whether it counts is decided below.
    if (from === this.source && message.type !== "follow" && message.type !== "probe")
      this.awaitedUntilMs = Number.NEGATIVE_INFINITY;
    switch (message.type) {
      case "follow":
        return { outputs: this.subscribe(from, message.after, nowMs), apply: [], restore: null };
      case "probe": {
        const answer: RelayMessage = {
          type: "entries",
          depth: this.depth(),
          applied: this.applied,
          entries: [],
        };
        return { outputs: [{ type: "send", to: from, message: answer }], apply: [], restore: null };
      }
      case "busy":
        if (from === this.source) this.giveUp(nowMs);
        return { outputs: [], apply: [], restore: null };
      case "entries":
        return this.receiveEntries(from, message, nowMs);
      case "snapshot": {
        if (from !== this.source || this.holding || !this.heard(message.depth, nowMs)) return nothing();
        if (message.index <= this.applied) return nothing();
        return {
          outputs: [],
          apply: [],
          restore: { index: message.index, machine: message.machine, conf: message.conf },
        };
      }
      default:
        return nothing();
    }
  }

  private subscribe(from: string, after: number, nowMs: number): RelayOutput[] {
    const known = this.subscribers.get(from);
    if (known === undefined && !this.holding && this.subscribers.size >= this.config.subscribersMax) {
      return [{ type: "send", to: from, message: { type: "busy" } }];
    }
    const subscriber = {
      expiresAtMs: nowMs + this.config.subscriptionTtlMs,
      sent: Math.min(after, this.applied),
    };
    this.subscribers.set(from, subscriber);
    return [this.answer(from, subscriber)];
  }

  /** Entries after what the subscriber has, a heartbeat when it has everything, else a snapshot. */
  private answer(to: string, subscriber: Subscriber): RelayOutput {
    const depth = this.depth();
    if (subscriber.sent >= this.applied) {
      return { type: "send", to, message: { type: "entries", depth, applied: this.applied, entries: [] } };
    }
    const from = subscriber.sent + 1;
    if (from < this.windowFirst || this.window.length === 0) {
      subscriber.sent = this.applied;
      return { type: "send-snapshot", to, depth };
    }
    const entries = this.window.slice(
      from - this.windowFirst,
      from - this.windowFirst + this.config.batchEntriesMax,
    );
    assert(entries[0]!.index === from, "an answer starts where the subscriber stands");
    subscriber.sent = entries[entries.length - 1]!.index;
    return { type: "send", to, message: { type: "entries", depth, applied: this.applied, entries } };
  }

  private receiveEntries(
    from: string,
    message: Extract<RelayMessage, { type: "entries" }>,
    nowMs: number,
  ): RelayReceipt {
    if (from !== this.source || !this.heard(message.depth, nowMs)) return nothing();
    if (this.holding) {
      this.watch(message.applied, nowMs);
      return nothing();
    }
    const apply: Entry[] = [];
    let next = this.applied + 1;
    for (const entry of message.entries) {
      if (entry.index < next) continue;
      if (entry.index !== next) break;
      apply.push(entry);
      next += 1;
    }
    const outputs: RelayOutput[] = [];
    const behind = Math.max(message.applied, message.entries[message.entries.length - 1]?.index ?? 0) >= next;
    if (behind && nowMs > this.lastFollowMs) {
      // A gap (a push was lost) or a long catch-up: ask again from where this node stands.
      this.lastFollowMs = nowMs;
      outputs.push({ type: "send", to: from, message: { type: "follow", after: next - 1 } });
    }
    return { outputs, apply, restore: null };
  }

  /**
   * A holder behind another holder for `silenceMs` while Raft applied nothing here is stale: it
   * follows through the relay. One that applies as it trails (each commit reaches it a little
   * after the other holder, as on a loaded machine) is fed, not dropped: its clock restarts.
   */
  private watch(sourceApplied: number, nowMs: number): void {
    if (sourceApplied <= this.applied) {
      this.behindSinceMs = null;
      return;
    }
    if (this.behindSinceMs === null || this.applied > this.behindFromIndex) {
      this.behindSinceMs = nowMs;
      this.behindFromIndex = this.applied;
    }
    if (nowMs - this.behindSinceMs < this.config.silenceMs) return;
    this.stale = true;
    this.holding = false;
    this.behindSinceMs = null;
    this.lastFollowMs = Number.NEGATIVE_INFINITY;
  }

  /** A source's answer counts when it knows its depth and is not too deep. */
  private heard(depth: number | null, nowMs: number): boolean {
    if (depth === null) return false;
    if (depth + 1 > this.config.depthMax) {
      this.giveUp(nowMs);
      return false;
    }
    this.sourceDepth = depth;
    this.lastHeardMs = nowMs;
    return true;
  }

  private giveUp(nowMs: number): void {
    if (this.source !== null) this.failedUntil.set(this.source, nowMs + 4 * this.config.silenceMs);
    this.source = null;
    this.sourceDepth = null;
    this.awaitedUntilMs = Number.NEGATIVE_INFINITY;
  }
}

function nothing(): RelayReceipt {
  return { outputs: [], apply: [], restore: null };
}

/**
 * A node's sources, best first: its parent in the tree (holders first, sorted, then the other
 * alive members, sorted; node k >= H has parent k' = floor((k - H) / fanout)), then every
 * holder (ordered by a per-node rotation so fallbacks spread). A holder gets the other
 * holders, from the next one round the ring (whom it probes).
 */
export function relayCandidates(
  self: string,
  holders: readonly string[],
  alive: readonly string[],
  fanout: number,
): string[] {
  assert(fanout >= 1, "a relay fans out to at least one child");
  const holding = [...new Set(holders)].sort();
  if (holding.includes(self)) {
    // A holder probes the next holder round the ring (to notice it was dropped).
    const position = holding.indexOf(self);
    return [...holding.slice(position + 1), ...holding.slice(0, position)];
  }
  const holderSet = new Set(holding);
  const others = [...new Set([...alive, self])].filter((id) => !holderSet.has(id)).sort();
  const order = [...holding, ...others];
  const position = order.indexOf(self);
  assert(position >= holding.length, "a follower sits below the holders");
  const parent = holding.length === 0 ? undefined : order[Math.floor((position - holding.length) / fanout)];
  assert(parent === undefined || parent !== self, "a node is not its own parent");
  const rotation = holding.length === 0 ? 0 : position % holding.length;
  const rotated = [...holding.slice(rotation), ...holding.slice(0, rotation)];
  return [...new Set([...(parent === undefined ? [] : [parent]), ...rotated])];
}

/**
 * A node's relay view from what it knows (the simulator and the daemon alike): it holds the
 * log when its committed configuration names it; its sources are `relayCandidates` over the
 * alive holders of that configuration, or, on a fresh node that knows no configuration yet,
 * over the alive members gossip shows holding `etcd` (the voters).
 *
 * `roots: "voters"` (the daemon, where followers check commit stamps that only voters sign:
 * commit-stamp.ts) roots the tree at the voters alone: learners hold the log but feed nobody,
 * and a learner probes the voters.
 */
export function relayViewOf(
  self: string,
  conf: ConfState,
  members: readonly Pick<MemberView, "id" | "status" | "state">[],
  fanout: number,
  roots: "holders" | "voters" = "holders",
): RelayView {
  const learnerSet = new Set(roots === "voters" ? conf.learners : []);
  const alive = members
    .filter((member) => member.status === "alive" && !learnerSet.has(member.id))
    .map((member) => member.id);
  const aliveSet = new Set(alive);
  const holding = conf.voters.includes(self) || conf.learners.includes(self);
  const rooted =
    roots === "voters" ? [...conf.voters, ...conf.votersOutgoing] : [...conf.voters, ...conf.learners];
  const known = [...new Set(rooted)].filter((id) => aliveSet.has(id));
  if (roots === "voters" && learnerSet.has(self) && known.length > 0) {
    // A learner is no root: it probes the voters (placed among them, it probes the next one).
    return { holding, candidates: relayCandidates(self, [...known, self], alive, fanout) };
  }
  const holders =
    known.length > 0
      ? known
      : members
          .filter((member) => member.status === "alive" && member.state?.roles.includes("etcd") === true)
          .map((member) => member.id);
  return { holding, candidates: relayCandidates(self, holders, alive, fanout) };
}
