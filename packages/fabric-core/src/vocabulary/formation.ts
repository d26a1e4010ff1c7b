import { z } from "zod";
import { assert } from "./assert.js";

/**
 * A formation says how many control-plane voters N eligible nodes should have.
 * Voter counts are always odd: an even count tolerates no more failures than the odd
 * count below it and can tie. The original `phalanx` returned 2N/5 as is (even for N=5:
 * 2); here it rounds to the nearest integer and then down to the odd number below.
 */
export const Formation = z.enum(["solo", "pair", "quorum-3m", "cluster-3m-nw", "mesh-all-peers", "phalanx"]);
export type Formation = z.infer<typeof Formation>;

export function largestOddAtMost(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 1, "largestOddAtMost needs n >= 1");
  return n % 2 === 1 ? n : n - 1;
}

/**
 * Control-plane voters for `eligible` nodes (0 when there are no nodes). `quorumSize` is the
 * strategy's voter target (`consensus.kind.quorum_size`): the quorum formations aim for it
 * (3 when not given), the others name their own count.
 */
export function votersFor(formation: Formation, eligible: number, quorumSize = 3): number {
  assert(
    Number.isSafeInteger(eligible) && eligible >= 0,
    "eligible node count must be a non-negative integer",
  );
  if (eligible === 0) return 0;
  const voters = uncheckedVoters(formation, eligible, Math.max(1, quorumSize));
  assert(voters % 2 === 1, `formation ${formation} yielded an even voter count ${voters}`);
  assert(
    voters >= 1 && voters <= eligible,
    `formation ${formation} yielded ${voters} voters for ${eligible} nodes`,
  );
  return voters;
}

function uncheckedVoters(formation: Formation, eligible: number, quorumSize: number): number {
  switch (formation) {
    case "solo":
      return 1;
    case "pair":
      // Two voters would need both alive: one voter plus a warm standby is strictly better.
      return 1;
    case "quorum-3m":
    case "cluster-3m-nw":
      return largestOddAtMost(Math.min(quorumSize, eligible));
    case "mesh-all-peers":
      return largestOddAtMost(eligible);
    case "phalanx":
      return largestOddAtMost(Math.max(1, Math.min(eligible, Math.round((2 * eligible) / 5))));
  }
}

export const formationDescriptions: Readonly<Record<Formation, string>> = {
  solo: "one control-plane node, everything else a worker",
  pair: "one voter and one warm standby (two voters would halve availability)",
  "quorum-3m": "the strategy's quorum_size voters (3 by default; fewer while fewer nodes exist)",
  "cluster-3m-nw": "the strategy's quorum_size voters (3 by default) and N workers",
  "mesh-all-peers": "every node votes (largest odd count)",
  phalanx: "about 2N/5 voters, rounded down to odd",
};
