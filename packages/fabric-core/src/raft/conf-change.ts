import { assert } from "../vocabulary/index.js";
import { isJoint } from "./quorum.js";
import type { ConfChange, ConfState } from "./types.js";

/**
 * Membership changes as pure functions: each takes a configuration and returns a new one
 * (or the reason it cannot), never mutating its input (etcd's confchange.Changer idea).
 *
 * - A change list that only adds or removes learners applies directly.
 * - A change list that touches voters enters a joint configuration: `votersOutgoing` keeps
 *   the old voters, `voters` gets the new ones; both majorities decide until it is left.
 * - The empty change list leaves the joint configuration: the outgoing half is dropped and
 *   voters being demoted (`learnersNext`) become learners.
 */

export type ConfChangeResult =
  | { readonly ok: true; readonly conf: ConfState }
  | { readonly ok: false; readonly reason: string };

export function emptyConfState(): ConfState {
  return { voters: [], votersOutgoing: [], learners: [], learnersNext: [] };
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function checkConf(conf: ConfState): string | null {
  const voters = new Set([...conf.voters, ...conf.votersOutgoing]);
  for (const learner of conf.learners) {
    if (voters.has(learner)) return `${learner} is both a voter and a learner`;
  }
  for (const next of conf.learnersNext) {
    if (!conf.votersOutgoing.includes(next)) return `${next} is demoted but not an outgoing voter`;
  }
  if (conf.voters.length === 0 && conf.votersOutgoing.length > 0) return "the new configuration has no voter";
  return null;
}

/** Whether the change only touches learners (and so needs no joint configuration). */
function isLearnerOnly(conf: ConfState, change: ConfChange): boolean {
  for (const item of change.changes) {
    if (item.type === "add-voter") return false;
    if (conf.voters.includes(item.node)) return false;
  }
  return true;
}

/** Applies a conf-change entry's payload to the configuration in force. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfChangeResult {
  if (change.changes.length === 0) return leaveJoint(conf);
  if (isJoint(conf))
    return { ok: false, reason: "a joint configuration must be left before the next change" };
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const learnersNext = new Set<string>();
  const joint = !isLearnerOnly(conf, change);
  for (const item of change.changes) {
    if (item.type === "add-voter") {
      voters.add(item.node);
      learners.delete(item.node);
    } else if (item.type === "add-learner") {
      voters.delete(item.node);
      if (joint && conf.voters.includes(item.node)) learnersNext.add(item.node);
      else learners.add(item.node);
    } else {
      voters.delete(item.node);
      learners.delete(item.node);
      learnersNext.delete(item.node);
    }
  }
  const next: ConfState = {
    voters: sorted(voters),
    votersOutgoing: joint ? sorted(conf.voters) : [],
    learners: sorted(learners),
    learnersNext: sorted(learnersNext),
  };
  const problem = checkConf(next);
  if (problem !== null) return { ok: false, reason: problem };
  if (next.voters.length === 0) return { ok: false, reason: "a change may not remove every voter" };
  assert(joint === isJoint(next) || conf.voters.length === 0, "joint exactly when voters change");
  return { ok: true, conf: next };
}

/** Drops the outgoing half of a joint configuration. */
export function leaveJoint(conf: ConfState): ConfChangeResult {
  if (!isJoint(conf)) return { ok: false, reason: "not in a joint configuration" };
  const next: ConfState = {
    voters: [...conf.voters],
    votersOutgoing: [],
    learners: sorted([...conf.learners, ...conf.learnersNext]),
    learnersNext: [],
  };
  assert(checkConf(next) === null, "leaving a valid joint configuration yields a valid one");
  assert(next.voters.length > 0, "a joint configuration keeps voters");
  return { ok: true, conf: next };
}

export function confEquals(a: ConfState, b: ConfState): boolean {
  return (
    a.voters.join(",") === b.voters.join(",") &&
    a.votersOutgoing.join(",") === b.votersOutgoing.join(",") &&
    a.learners.join(",") === b.learners.join(",") &&
    a.learnersNext.join(",") === b.learnersNext.join(",")
  );
}
