import { assert } from "./assert.js";

/**
 * Every bound in the system, named once. Schemas use these in `.max()`, decoders check
 * them before trusting a length, and queues refuse to grow past them.
 */
export const limits = {
  /** Largest frame on a node-to-node TCP stream (Raft, content). */
  frameBytesMax: 16 * 1024 * 1024,
  /** Largest gossip datagram; bigger state goes over TCP. */
  datagramBytesMax: 1400,
  /** Entries in one AppendEntries message. */
  entriesPerAppendMax: 512,
  /** Unacknowledged AppendEntries messages per follower. */
  inflightAppendsMax: 256,
  /** Bytes of unacknowledged entries per follower. */
  inflightBytesMax: 8 * 1024 * 1024,
  /** Bytes of proposed but uncommitted entries at the leader. */
  uncommittedBytesMax: 64 * 1024 * 1024,
  /** Snapshot chunk on the wire. */
  snapshotChunkBytes: 1024 * 1024,
  /** Gossip updates piggybacked on one probe. */
  piggybackUpdatesMax: 16,
  /** Members a node tracks. */
  peersMax: 4096,
  /** Content chunk group (16 chunks of 1 KiB, as bao/iroh-blobs). */
  chunkGroupBytes: 16 * 1024,
  /** Chunk groups one content range request may ask for (4 MiB). */
  contentGroupsPerRequestMax: 256,
  /** Content requests one peer may have outstanding at a provider; more are refused as busy. */
  contentRequestsInflightPerPeerMax: 16,
  /** Witnesses cosigning one checkpoint. */
  witnessesMax: 64,
  /** Workloads in one fabric state. */
  workloadsMax: 100_000,
  /** Nodes in one fabric state. */
  nodesMax: 10_000,
  /** Replicas of one workload. */
  replicasMax: 10_000,
  /** Longest name (DNS subdomain). */
  nameLengthMax: 253,
  /** Longest configurable duration: one day. */
  durationMsMax: 86_400_000,
} as const;

assert(limits.frameBytesMax > limits.snapshotChunkBytes, "a snapshot chunk must fit in one frame");
assert(
  limits.frameBytesMax > limits.inflightBytesMax / limits.inflightAppendsMax,
  "an append must fit in one frame",
);
assert(limits.chunkGroupBytes % 1024 === 0, "chunk groups are whole BLAKE3 chunks");
assert(
  limits.frameBytesMax > limits.contentGroupsPerRequestMax * limits.chunkGroupBytes,
  "a content range response must fit in one frame",
);
