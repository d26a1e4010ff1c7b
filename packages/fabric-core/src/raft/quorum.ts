import { assert } from "../vocabulary/index.js";
import type { ConfState } from "./types.js";

/**
 * Pure quorum arithmetic over a configuration (etcd's quorum package, rewritten). A simple
 * configuration decides by a majority of `voters`; a joint one by a majority of `voters`
 * AND a majority of `votersOutgoing`, so there is never a moment with two independent
 * majorities.
 */

export type VoteResult = "won" | "lost" | "pending";

/** Whether the configuration is joint (a change in progress). */
export function isJoint(conf: ConfState): boolean {
  return conf.votersOutgoing.length > 0;
}

/** Every peer the configuration names (voters of both halves and learners), sorted. */
export function peersOf(conf: ConfState): string[] {
  const all = new Set<string>([
    ...conf.voters,
    ...conf.votersOutgoing,
    ...conf.learners,
    ...conf.learnersNext,
  ]);
  return [...all].sort();
}

/** Whether `peer` votes in either half of the configuration. */
export function isVoter(conf: ConfState, peer: string): boolean {
  return conf.voters.includes(peer) || conf.votersOutgoing.includes(peer);
}

/**
 * The largest value a majority of `voters` has reached (each voter's value from `valueOfPeer`).
 * An empty voter set agrees to anything (+Infinity), so a joint configuration with an empty
 * half is decided by the other half alone.
 */
export function majorityValue(voters: readonly string[], valueOfPeer: (peer: string) => number): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const values = voters.map(valueOfPeer).sort((a, b) => b - a);
  const quorum = Math.floor(voters.length / 2) + 1;
  const value = values[quorum - 1];
  assert(value !== undefined, "quorum position inside the voter list");
  return value;
}

/** The index replicated on a quorum of the (possibly joint) configuration. */
export function committedIndex(conf: ConfState, valueOfPeer: (peer: string) => number): number {
  const incoming = majorityValue(conf.voters, valueOfPeer);
  if (!isJoint(conf)) return incoming;
  return Math.min(incoming, majorityValue(conf.votersOutgoing, valueOfPeer));
}

function majorityVote(voters: readonly string[], votes: ReadonlyMap<string, boolean>): VoteResult {
  if (voters.length === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted += 1;
    if (vote === false) rejected += 1;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return "won";
  if (voters.length - rejected < quorum) return "lost";
  return "pending";
}

/** The outcome of an election given the votes received so far. */
export function voteResult(conf: ConfState, votes: ReadonlyMap<string, boolean>): VoteResult {
  const incoming = majorityVote(conf.voters, votes);
  if (!isJoint(conf)) return incoming;
  const outgoing = majorityVote(conf.votersOutgoing, votes);
  if (incoming === "lost" || outgoing === "lost") return "lost";
  if (incoming === "won" && outgoing === "won") return "won";
  return "pending";
}

/** The inputs of the leader's commit decision. */
export interface CommitInput {
  readonly conf: ConfState;
  /** The highest index known replicated (and persisted) on each voter, the leader included. */
  readonly matchOf: (peer: string) => number;
  readonly commit: number;
  readonly term: number;
  readonly termAt: (index: number) => number;
}

/** Returns the new commit index (>= input.commit). */
export type CommitRule = (input: CommitInput) => number;

/**
 * The Figure 8 rule: the leader commits the quorum-replicated index only if that entry is
 * of its own term. Counting replicas of an older term's entry is unsafe: a later leader
 * may still overwrite it (Raft paper §5.4.2). Earlier entries commit indirectly.
 */
export const leaderCommitRule: CommitRule = (input) => {
  const candidate = committedIndex(input.conf, input.matchOf);
  if (candidate <= input.commit) return input.commit;
  assert(Number.isFinite(candidate), "a configuration without voters cannot commit");
  if (input.termAt(candidate) !== input.term) return input.commit;
  return candidate;
};
