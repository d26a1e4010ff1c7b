import type { ConfState } from "./types.js";

/** The inputs of the leader's commit decision. */
export interface CommitInput {
  readonly conf: ConfState;
  /** The highest index known replicated (and persisted) on each voter. */
  readonly matchOf: (peer: string) => number;
  readonly commit: number;
  readonly term: number;
  readonly termAt: (index: number) => number;
}

/** Returns the new commit index (>= input.commit). */
export type CommitRule = (input: CommitInput) => number;
