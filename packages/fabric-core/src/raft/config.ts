import { type FabricStrategy, failed, limits, parseWith, type Result } from "../vocabulary/index.js";
import { RaftConfig, type RaftPeerId, type RaftTiming } from "./types.js";

/** ReadIndex requests waiting for a heartbeat round at the leader. */
export const readIndexQueueMax = 4096;

/** The heartbeat interval for an election timeout: T/6, at least 10 ms, below T. */
export function heartbeatIntervalFor(electionTimeoutMs: number): number {
  const interval = Math.max(10, Math.floor(electionTimeoutMs / 6));
  return Math.min(interval, electionTimeoutMs - 1);
}

/** Defaults for every knob except the id and the election timeout. */
export function defaultRaftConfig(id: RaftPeerId, electionTimeoutMs = 150): RaftConfig {
  return {
    id,
    electionTimeoutMs,
    heartbeatIntervalMs: heartbeatIntervalFor(electionTimeoutMs),
    preVote: true,
    checkQuorum: true,
    snapshotIntervalEntries: 10_000,
    entriesPerAppendMax: limits.entriesPerAppendMax,
    inflightAppendsMax: 64,
    inflightBytesMax: limits.inflightBytesMax,
    uncommittedBytesMax: limits.uncommittedBytesMax,
    snapshotChunkBytes: limits.snapshotChunkBytes,
    leaseReads: false,
    leaseSafetyMarginMs: Math.ceil(electionTimeoutMs / 5),
  };
}

/** The Raft config the strategy prescribes (homelab: T = 150 ms, heartbeat 25 ms). */
export function raftConfigFromStrategy(id: RaftPeerId, strategy: FabricStrategy): Result<RaftConfig> {
  return validateRaftConfig({ ...defaultRaftConfig(id), ...raftTimingFromStrategy(strategy) });
}

/** The timing a strategy prescribes: what a committed swap changes on a running node. */
export function raftTimingFromStrategy(strategy: FabricStrategy): RaftTiming {
  const consensus = strategy.consensus.kind;
  const defaults = defaultRaftConfig("", consensus.election_timeout_ms);
  return {
    electionTimeoutMs: defaults.electionTimeoutMs,
    heartbeatIntervalMs: defaults.heartbeatIntervalMs,
    leaseSafetyMarginMs: defaults.leaseSafetyMarginMs,
    snapshotIntervalEntries: consensus.snapshot_interval_entries,
  };
}

export function validateRaftConfig(config: RaftConfig): Result<RaftConfig> {
  const parsed = parseWith(RaftConfig, config);
  if (!parsed.ok) return failed(parsed.issues);
  return parsed;
}
