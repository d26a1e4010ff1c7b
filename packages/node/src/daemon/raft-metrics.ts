import type { RaftStatus } from "@revoada/fabric-core/raft";
import type { MetricsRegistry } from "./metrics.js";

/**
 * Raft replication metrics, beside `revoada_raft_apply_lag`. `defineMetrics()` in
 * fabric-node.ts calls this with its registry and `() => raft.status()`:
 *
 * - `revoada_raft_follower_lag{peer}`: on the leader, its commit index minus the peer's
 *   match index: committed entries the peer is not known to hold. A follower that does not
 *   catch up (a stopped node, or one whose disk went back) shows a lag that does not fall;
 *   on a node that does not lead, every peer it reported before reads 0.
 * - `revoada_raft_follower_rolled_back{peer}`: on the leader, 1 while it repairs a follower
 *   that lost entries it had acknowledged (its data directory went backwards).
 * - `revoada_raft_rollback_recovering`: 1 while this node, having found its own data
 *   directory went backwards, neither votes nor campaigns (until it has caught up).
 * - `revoada_raft_data_generation`: the data directory's generation for this start.
 *
 * Values are read from the status at every scrape.
 */
export function defineRaftMetrics(registry: MetricsRegistry, status: () => RaftStatus): void {
  const followerLag = registry.gauge(
    "revoada_raft_follower_lag",
    "leader only: commit index minus the peer's match index (entries the peer is not known to hold)",
  );
  const followerRolledBack = registry.gauge(
    "revoada_raft_follower_rolled_back",
    "leader only: 1 while a follower that lost acknowledged entries is repaired",
  );
  const recovering = registry.gauge(
    "revoada_raft_rollback_recovering",
    "1 while this node's data directory went backwards and it does not vote until caught up",
  );
  const generation = registry.gauge(
    "revoada_raft_data_generation",
    "the data directory's generation (raised at every start)",
  );
  // The registry keeps a series once set: peers no longer reported are set to 0.
  const reported = new Set<string>();
  registry.onCollect(() => {
    const current = status();
    recovering(current.rollback === null ? 0 : 1);
    generation(current.generation);
    const seen = new Set<string>();
    for (const [peer, progress] of Object.entries(current.progress)) {
      if (peer === current.id) continue;
      seen.add(peer);
      reported.add(peer);
      followerLag(Math.max(0, current.commit - progress.match), { peer });
      followerRolledBack(progress.rolledBack ? 1 : 0, { peer });
    }
    for (const peer of reported) {
      if (seen.has(peer)) continue;
      followerLag(0, { peer });
      followerRolledBack(0, { peer });
    }
  });
}
