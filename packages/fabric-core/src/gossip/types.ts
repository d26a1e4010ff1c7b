import { z } from "zod";
import { limits, type NodeState } from "../vocabulary/index.js";

/**
 * The public vocabulary of the gossip core: its configuration, its wire messages (zod
 * schemas, types inferred), its events and its output. Wire messages are a union
 * discriminated by `type`; piggybacked updates a union discriminated by `kind`.
 *
 * Liveness is ordered by the pair (generation, incarnation): a restart bumps the
 * generation (so a restarted node beats every claim about its previous life, the memberlist
 * #311 failure), a refutation bumps the incarnation within a generation.
 */

const uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A member id: the node's NodeId (ed25519 public key hex). */
export const memberIdPattern = /^[0-9a-f]{64}$/;
export const MemberId = z.string().regex(memberIdPattern, "a member id is 64 lowercase hex characters");
export type MemberId = z.infer<typeof MemberId>;

/** A gossip address: host:port in production, any short name in the simulator. */
export const gossipAddressLengthMax = 300;
export const GossipAddress = z.string().min(1).max(gossipAddressLengthMax);
export type GossipAddress = z.infer<typeof GossipAddress>;

/** A key of a node's advertised key-value state ("node", "content/<blake3>", ...). */
export const StateKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-z0-9][a-z0-9._/:-]*$/, "a state key is lowercase alphanumeric with . _ / : -");
export type StateKey = z.infer<typeof StateKey>;

/** Bounds of the gossip layer, beside the shared ones in `limits`. */
export const gossipLimits = {
  /** Bytes of one value in a node's key-value state. */
  valueBytesMax: 4096,
  /** Keys one node advertises (tombstones included). */
  keysPerNodeMax: 1024,
  /** Bytes of one node's whole key-value state (anchors M6: <= 64 KB). */
  stateBytesPerNodeMax: 64 * 1024,
  /** Largest message on the stream (TCP) channel. */
  streamBytesMax: 4 * 1024 * 1024,
  /** Records in one delta of one node. */
  recordsPerDeltaMax: 1024,
  /** Node deltas in one sync message. */
  deltasPerMessageMax: limits.peersMax,
  /** Indirect probe helpers per failed probe. */
  indirectChecksMax: 16,
  /** Members probed per round. */
  monitorCountMax: 16,
  /** Removed members remembered so stale gossip cannot resurrect them. */
  graveyardMax: limits.peersMax,
  /**
   * Buckets of the anti-entropy digest (members by a hash of their id): a hash mismatch
   * exchanges the digests of the differing buckets only (docs/gossip.md).
   */
  digestBuckets: 32,
} as const;

// ---------------------------------------------------------------------------------------
// Configuration.

const ms = z.int().min(1).max(limits.durationMsMax);

export const GossipConfig = z
  .strictObject({
    id: MemberId,
    address: GossipAddress,
    /** Bumped by the driver on every restart (a persisted counter or the boot time). */
    generation: uint,
    /** The strategy's `gossip_cadence_ms`: push round period. */
    gossipIntervalMs: ms,
    /** Probe round period; each round probes every monitored member. */
    probeIntervalMs: ms,
    /** Wait for a direct ack before asking helpers (indirect probes). */
    probeTimeoutMs: ms,
    /** Members each node probes: its successors on the id ring. */
    monitorCount: z.int().min(1).max(gossipLimits.monitorCountMax),
    /** Helpers asked to probe on our behalf when a direct probe times out (SWIM k). */
    indirectChecks: z.int().min(0).max(gossipLimits.indirectChecksMax),
    /** Members a push round sends to. */
    fanout: z.int().min(1).max(16),
    /** Each update is sent retransmitMult * ceil(log10(N + 1)) times. */
    retransmitMult: z.int().min(1).max(16),
    /** Suspicion lasts suspicionMult * max(1, log10 N) * probeIntervalMs at least... */
    suspicionMult: z.number().min(0.5).max(16),
    /** ...and suspicionMaxMult times that when no other member confirms it. */
    suspicionMaxMult: z.number().min(1).max(16),
    /** Lifeguard local health: timeouts stretch up to this multiple when we are slow. */
    awarenessMax: z.int().min(1).max(16),
    /** The strategy's `phi_threshold`. */
    phiThreshold: z.number().min(0.5).max(64),
    /** Heartbeat intervals the phi detector remembers per member. */
    phiWindow: z.int().min(2).max(10_000),
    phiMinStdDevMs: z.number().min(1).max(60_000),
    /** Added to the mean interval: silence this long is normal (GC pauses). */
    phiAcceptablePauseMs: z.int().min(0).max(limits.durationMsMax),
    /** The strategy's `failure_detector_timeout_ms`: silence this long is suspected whatever phi says. */
    failureDetectorTimeoutMs: ms,
    /** Period of the digest exchange with one random member. */
    antiEntropyIntervalMs: ms,
    /** Dead and left members are kept (and gossiped) this long, then removed. */
    deadMemberGraceMs: ms,
    /** Deleted keys are kept as tombstones this long, then removed. */
    tombstoneGraceMs: ms,
    /** A gap between two inputs longer than this means this node itself was stalled. */
    pauseDetectMs: ms,
    /** While alone, seeds are contacted again after this long. */
    joinRetryMs: ms,
    /** Datagram budget for one encoded message (the driver's envelope already subtracted). */
    datagramBytesMax: z.int().min(256).max(65_000),
  })
  .refine((c) => c.probeTimeoutMs < c.probeIntervalMs, "probeTimeoutMs must be below probeIntervalMs")
  .refine((c) => c.suspicionMaxMult >= 1, "suspicionMaxMult must be at least 1");
export type GossipConfig = z.infer<typeof GossipConfig>;

/** Membership settings of the strategy (`FabricStrategy.membership`). */
export interface MembershipSettings {
  readonly phi_threshold: number;
  readonly gossip_cadence_ms: number;
  readonly failure_detector_timeout_ms: number;
}

/**
 * Defaults derived from the strategy, tuned for the anchors' M1-M4 targets: push every
 * cadence, probe every 2 cadences, 3 monitors and 3 helpers, fanout 3.
 */
export function defaultGossipConfig(
  identity: { readonly id: string; readonly address: string; readonly generation: number },
  membership: MembershipSettings,
): GossipConfig {
  const cadence = membership.gossip_cadence_ms;
  const probeIntervalMs = Math.max(2, 2 * cadence);
  return {
    id: identity.id,
    address: identity.address,
    generation: identity.generation,
    gossipIntervalMs: cadence,
    probeIntervalMs,
    probeTimeoutMs: Math.max(1, Math.floor(probeIntervalMs / 2)),
    monitorCount: 3,
    indirectChecks: 3,
    fanout: 3,
    retransmitMult: 4,
    suspicionMult: 1.5,
    suspicionMaxMult: 6,
    awarenessMax: 8,
    phiThreshold: membership.phi_threshold,
    phiWindow: 100,
    phiMinStdDevMs: 100,
    phiAcceptablePauseMs: 0,
    failureDetectorTimeoutMs: membership.failure_detector_timeout_ms,
    antiEntropyIntervalMs: Math.max(1, 10 * cadence),
    deadMemberGraceMs: 60_000,
    tombstoneGraceMs: 60_000,
    pauseDetectMs: Math.max(4 * probeIntervalMs, 500),
    joinRetryMs: Math.max(1, 5 * cadence),
    datagramBytesMax: limits.datagramBytesMax - 64,
  };
}

/** The fields of `GossipConfig` a committed strategy swap changes on a running node. */
export type GossipTiming = Pick<
  GossipConfig,
  | "gossipIntervalMs"
  | "probeIntervalMs"
  | "probeTimeoutMs"
  | "phiThreshold"
  | "failureDetectorTimeoutMs"
  | "antiEntropyIntervalMs"
  | "pauseDetectMs"
  | "joinRetryMs"
>;

export function pickGossipTiming(config: GossipTiming): GossipTiming {
  return {
    gossipIntervalMs: config.gossipIntervalMs,
    probeIntervalMs: config.probeIntervalMs,
    probeTimeoutMs: config.probeTimeoutMs,
    phiThreshold: config.phiThreshold,
    failureDetectorTimeoutMs: config.failureDetectorTimeoutMs,
    antiEntropyIntervalMs: config.antiEntropyIntervalMs,
    pauseDetectMs: config.pauseDetectMs,
    joinRetryMs: config.joinRetryMs,
  };
}

// ---------------------------------------------------------------------------------------
// Wire messages.

export const MemberStatus = z.enum(["alive", "suspect", "dead", "left"]);
export type MemberStatus = z.infer<typeof MemberStatus>;

/** One key of a node's state at one version, signed by that node (value null: a tombstone). */
export const StateRecord = z.strictObject({
  key: StateKey,
  version: uint.min(1),
  value: z.string().max(gossipLimits.valueBytesMax).nullable(),
  /** ed25519 signature over `stateRecordSigningBytes`, base64. */
  signature: z.string().length(88),
});
export type StateRecord = z.infer<typeof StateRecord>;

/**
 * The records of one node with version in (fromVersion, toVersion], complete for that
 * range. `fromVersion` 0 means the whole state of that generation.
 */
export const StateDelta = z.strictObject({
  id: MemberId,
  generation: uint,
  fromVersion: uint,
  toVersion: uint,
  records: z.array(StateRecord).max(gossipLimits.recordsPerDeltaMax),
});
export type StateDelta = z.infer<typeof StateDelta>;

const liveness = { id: MemberId, generation: uint, incarnation: uint };

export const AliveUpdate = z.strictObject({ kind: z.literal("alive"), ...liveness, address: GossipAddress });
export const SuspectUpdate = z.strictObject({ kind: z.literal("suspect"), ...liveness, accuser: MemberId });
export const DeadUpdate = z.strictObject({ kind: z.literal("dead"), ...liveness, accuser: MemberId });
export const LeftUpdate = z.strictObject({ kind: z.literal("left"), ...liveness });
export const StateUpdate = z.strictObject({ kind: z.literal("state"), delta: StateDelta });

export const MemberUpdate = z.discriminatedUnion("kind", [
  AliveUpdate,
  SuspectUpdate,
  DeadUpdate,
  LeftUpdate,
]);
export type MemberUpdate = z.infer<typeof MemberUpdate>;

/** What rides on probes and pushes. */
export const GossipUpdate = z.discriminatedUnion("kind", [
  AliveUpdate,
  SuspectUpdate,
  DeadUpdate,
  LeftUpdate,
  StateUpdate,
]);
export type GossipUpdate = z.infer<typeof GossipUpdate>;

/** One member as a digest sees it: its liveness and the state version we hold. */
export const DigestEntry = z.strictObject({
  ...liveness,
  address: GossipAddress,
  status: MemberStatus,
  version: uint,
});
export type DigestEntry = z.infer<typeof DigestEntry>;

const piggyback = z.array(GossipUpdate).max(limits.piggybackUpdatesMax);
const header = { from: MemberId, address: GossipAddress };
const seq = uint;

export const PingMessage = z.strictObject({
  type: z.literal("ping"),
  ...header,
  seq,
  target: MemberId,
  updates: piggyback,
});
export const AckMessage = z.strictObject({
  type: z.literal("ack"),
  ...header,
  seq,
  target: MemberId,
  updates: piggyback,
});
export const PingRequestMessage = z.strictObject({
  type: z.literal("pingRequest"),
  ...header,
  seq,
  target: MemberId,
  targetAddress: GossipAddress,
  updates: piggyback,
});
export const NackMessage = z.strictObject({ type: z.literal("nack"), ...header, seq, target: MemberId });
export const PushMessage = z.strictObject({ type: z.literal("push"), ...header, updates: piggyback });
export const SyncHashMessage = z.strictObject({
  type: z.literal("syncHash"),
  ...header,
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  count: uint,
  /** Per-bucket digest hashes (48 bits each), sent by members of large clusters. */
  buckets: z
    .array(z.string().regex(/^[0-9a-f]{12}$/))
    .length(gossipLimits.digestBuckets)
    .optional(),
});
export const SyncDigestMessage = z.strictObject({
  type: z.literal("syncDigest"),
  ...header,
  entries: z.array(DigestEntry).max(limits.peersMax),
  /** Ask the receiver to answer with its own digest too (join, hash mismatch). */
  reply: z.boolean(),
  /** The buckets this digest covers (absent: every member); the answer covers the same. */
  buckets: z
    .array(
      z
        .int()
        .min(0)
        .max(gossipLimits.digestBuckets - 1),
    )
    .max(gossipLimits.digestBuckets)
    .optional(),
});
export const SyncDeltaMessage = z.strictObject({
  type: z.literal("syncDelta"),
  ...header,
  deltas: z.array(StateDelta).max(gossipLimits.deltasPerMessageMax),
});

export const GossipMessage = z.discriminatedUnion("type", [
  PingMessage,
  AckMessage,
  PingRequestMessage,
  NackMessage,
  PushMessage,
  SyncHashMessage,
  SyncDigestMessage,
  SyncDeltaMessage,
]);
export type GossipMessage = z.infer<typeof GossipMessage>;
export type GossipMessageType = GossipMessage["type"];

// ---------------------------------------------------------------------------------------
// Output.

/** `datagram`: UDP, at most `datagramBytesMax`. `stream`: TCP, at most `streamBytesMax`. */
export type GossipChannel = "datagram" | "stream";

export interface OutgoingPacket {
  readonly to: GossipAddress;
  readonly channel: GossipChannel;
  readonly type: GossipMessageType;
  /** The encoded message (UTF-8 JSON); the driver authenticates and sends these bytes. */
  readonly bytes: Uint8Array;
}

export type DropReason =
  | "malformed"
  | "oversized"
  | "from-self"
  | "unknown-probe"
  | "bad-signature"
  | "stale-state"
  | "state-over-limit"
  | "left";

export type GossipEvent =
  | {
      readonly type: "member-status";
      readonly id: MemberId;
      readonly status: MemberStatus;
      readonly previous: MemberStatus | null;
      readonly generation: number;
      readonly incarnation: number;
    }
  | { readonly type: "member-removed"; readonly id: MemberId }
  | { readonly type: "state-changed"; readonly id: MemberId; readonly keys: readonly string[] }
  | { readonly type: "refuted"; readonly incarnation: number; readonly accuser: MemberId }
  | { readonly type: "local-health"; readonly score: number }
  | { readonly type: "paused"; readonly gapMs: number }
  | { readonly type: "dropped"; readonly reason: DropReason; readonly from: string };

/**
 * The core's output. Send `packets`, handle `events`, then `advance(ready)`. The arrays
 * belong to the driver after `ready()`.
 */
export interface GossipReady {
  readonly packets: readonly OutgoingPacket[];
  readonly events: readonly GossipEvent[];
}

/** One member as the policy engine sees it. */
export interface MemberView {
  readonly id: MemberId;
  readonly address: GossipAddress;
  readonly status: MemberStatus;
  /** Our phi for it; null when we do not monitor it (no heartbeat stream to judge). */
  readonly phi: number | null;
  /** When it entered its current status, on this node's clock. */
  readonly stableSinceMs: number;
  readonly generation: number;
  readonly incarnation: number;
  /** Its advertised node state (key "node"), when present and valid. */
  readonly state: NodeState | null;
  /** Its other keys (content announcements and the like), tombstones excluded. */
  readonly keys: Readonly<Record<string, string>>;
}

export interface MembershipView {
  readonly self: MemberId;
  readonly atMs: number;
  readonly members: readonly MemberView[];
}

/** Counters for metrics; monotonic. */
export interface GossipCounters {
  packetsReceived: number;
  packetsSent: number;
  bytesSent: number;
  dropped: Record<DropReason, number>;
  probesSent: number;
  probesFailed: number;
  indirectProbesSent: number;
  suspicionsRaised: number;
  refutations: number;
  deathsDeclared: number;
  pausesDetected: number;
  syncRounds: number;
}
