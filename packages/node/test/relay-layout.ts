// Shared by the relay's real-process tests: when a mesh has the log holders and relay
// followers a test expects, as every node's own status tells it.
import { findLeader, type MeshNodeHandle, statusOf } from "../src/mesh/observe.js";

/**
 * The leader, its voters and the relay followers, once the leader names 3 voters and `learners`
 * learners, every node agrees on whether it holds the log, and `followers` nodes say they learn
 * through the relay; undefined before (for `waitFor`).
 */
export async function relayLayout(
  nodes: readonly MeshNodeHandle[],
  expected: { readonly learners: number; readonly followers: number },
) {
  const leader = await findLeader(nodes);
  if (leader === undefined) return undefined;
  const { voters, learners } = leader.status.raft;
  if (voters.length !== 3 || learners.length !== expected.learners) return undefined;
  const holders = new Set([...voters, ...learners]);
  const followers: { node: MeshNodeHandle; id: string }[] = [];
  for (const node of nodes) {
    const status = await statusOf(node);
    if (status?.learns === undefined) return undefined;
    if (holders.has(status.id) !== (status.learns.via === "raft")) return undefined;
    if (status.learns.via === "relay") followers.push({ node, id: status.id });
  }
  return followers.length === expected.followers ? { leader, voters, followers } : undefined;
}
