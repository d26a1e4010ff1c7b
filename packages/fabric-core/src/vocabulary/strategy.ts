import { z } from "zod";
import { limits } from "./limits.js";
import { sshEd25519LineKey } from "./ssh-key.js";

/**
 * The fabric strategy: how fast the cluster decides and how it places things.
 * The file shape matches the original serde form (snake_case fields, internally tagged
 * variants with kebab-case values, `reconciliation: {millis}`), so old files still load.
 */

const durationMs = (what: string) =>
  z
    .int(`${what} must be a whole number of milliseconds`)
    .min(1, `${what} must be at least 1 ms`)
    .max(limits.durationMsMax, `${what} must be at most one day (${limits.durationMsMax} ms)`);

export const OpenRaftConsensus = z.strictObject({
  algorithm: z.literal("open-raft"),
  /**
   * The voter target: how many Raft voters (etcd holders) the control plane aims for under
   * the quorum formations (`quorum-3m`, `cluster-3m-nw`), capped by the nodes that can hold
   * it; liveness requires it odd and >= 3. The committed strategy's value is the one the
   * leader's policy uses (docs/vocabulary.md, "quorum_size").
   */
  quorum_size: z.int().min(1).max(99),
  election_timeout_ms: z.int().min(10).max(60_000),
  snapshot_interval_entries: z.int().min(1).max(100_000_000),
  /**
   * Raft learners at most besides the voters (docs/scale.md): the other nodes learn committed
   * state through the state relay. Committed with the strategy, so every leader keeps the same
   * bound and a swap changes it live. Absent: the leader's node setting `learners_max`, and
   * without one every alive member is a learner.
   */
  learners_max: z.int().min(0).max(4096).optional(),
});

/** All consensus kinds are quorum-based by design; the union leaves room for more. */
export const ConsensusKind = z.discriminatedUnion("algorithm", [OpenRaftConsensus]);
export type ConsensusKind = z.infer<typeof ConsensusKind>;

export const ConsensusConfig = z.strictObject({ kind: ConsensusKind });

export const MembershipConfig = z.strictObject({
  phi_threshold: z.number().min(0.5).max(64),
  gossip_cadence_ms: durationMs("gossip_cadence_ms"),
  failure_detector_timeout_ms: durationMs("failure_detector_timeout_ms"),
});

export const ContentConfig = z.strictObject({
  sync_cadence_ms: durationMs("sync_cadence_ms"),
  gc_retention_ms: z
    .int()
    .min(0)
    .max(limits.durationMsMax * 365),
});

/**
 * An operator's ed25519 public key: 64 lowercase hex characters (`revoada strategy
 * operator-key FILE` prints it), or the OpenSSH public key line of it as `ssh-keygen` writes
 * it (`ssh-ed25519 AAAA... comment`, the `.pub` file). The chain records the hex form.
 */
export const OperatorKey = z
  .string()
  .max(300)
  .refine(
    (key) => /^[0-9a-f]{64}$/.test(key) || sshEd25519LineKey(key) !== null,
    "an operator key is an ed25519 public key: 64 lowercase hex characters, or an OpenSSH `ssh-ed25519 AAAA... comment` line",
  );

export const AttestationConfig = z.strictObject({
  seal_interval_ms: durationMs("seal_interval_ms"),
  /** Operator shifts (and strategy swaps) must carry a signature by one of `operators`. */
  require_operator_signature: z.boolean(),
  /**
   * The operator keys that may sign operator shifts and strategy swaps (at most 16). Absent
   * is the same as empty: with `require_operator_signature` on, a strategy with no keys is
   * refused (nobody could sign a shift).
   */
  operators: z.array(OperatorKey).max(16).optional(),
});

export const PlacementPolicy = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("zone-aware"), min_zones: z.int().min(1).max(64) }),
  z.strictObject({ kind: z.literal("rack-aware"), min_racks: z.int().min(1).max(1024) }),
  z.strictObject({ kind: z.literal("latency-aware"), max_p99_ms: z.number().min(0.01).max(60_000) }),
  z.strictObject({ kind: z.literal("spread") }),
  z.strictObject({ kind: z.literal("none") }),
]);
export type PlacementPolicy = z.infer<typeof PlacementPolicy>;

/**
 * Zero parses (an old file may carry it) so that `proveLiveness` can say why it is wrong;
 * a node refuses to start on it.
 */
export const ReconciliationCadence = z.strictObject({
  millis: z.int().min(0).max(limits.durationMsMax),
});

export const FabricStrategy = z.strictObject({
  name: z.string().min(1).max(limits.nameLengthMax),
  consensus: ConsensusConfig,
  membership: MembershipConfig,
  content: ContentConfig,
  attestation: AttestationConfig,
  placement: PlacementPolicy,
  reconciliation: ReconciliationCadence,
});
export type FabricStrategy = z.infer<typeof FabricStrategy>;

/**
 * A violated liveness rule. `path` names the field to change (the first of the fields the
 * rule relates), so a file's error can carry its line and column like a schema issue
 * (`parseSourceText(FabricStrategy, text, file, { check: livenessIssues })`).
 */
export type LivenessError =
  | {
      readonly code: "zero-reconciliation-cadence";
      readonly message: string;
      readonly path: readonly ["reconciliation", "millis"];
    }
  | {
      readonly code: "detector-not-faster-than-reconciliation";
      readonly message: string;
      readonly path: readonly ["membership", "failure_detector_timeout_ms"];
      readonly failureDetectorTimeoutMs: number;
      readonly reconciliationMs: number;
    }
  | {
      readonly code: "even-quorum";
      readonly message: string;
      readonly path: readonly ["consensus", "kind", "quorum_size"];
      readonly quorumSize: number;
    }
  | {
      readonly code: "quorum-too-small";
      readonly message: string;
      readonly path: readonly ["consensus", "kind", "quorum_size"];
      readonly quorumSize: number;
    };

export type LivenessProof =
  | { readonly live: true; readonly summary: string }
  | { readonly live: false; readonly errors: readonly LivenessError[] };

/**
 * Checks that a strategy can make progress: the reconciler runs, it sees a failure before
 * its next round, and the voter set tolerates a failure without ties. Every violated rule
 * is reported, not just the first.
 */
export function proveLiveness(strategy: FabricStrategy): LivenessProof {
  const errors: LivenessError[] = [];
  const reconciliationMs = strategy.reconciliation.millis;
  const detectorMs = strategy.membership.failure_detector_timeout_ms;
  const quorumSize = strategy.consensus.kind.quorum_size;
  if (reconciliationMs === 0) {
    errors.push({
      code: "zero-reconciliation-cadence",
      path: ["reconciliation", "millis"],
      message:
        "reconciliation cadence is 0 ms: the reconciler would never run (or spin); use a positive value",
    });
  } else if (detectorMs >= reconciliationMs) {
    errors.push({
      code: "detector-not-faster-than-reconciliation",
      path: ["membership", "failure_detector_timeout_ms"],
      message: `failure detector timeout (${detectorMs} ms) must be shorter than the reconciliation cadence (${reconciliationMs} ms), or a round can act on a failure it has not yet seen`,
      failureDetectorTimeoutMs: detectorMs,
      reconciliationMs,
    });
  }
  if (quorumSize % 2 === 0) {
    errors.push({
      code: "even-quorum",
      path: ["consensus", "kind", "quorum_size"],
      message: `quorum size ${quorumSize} is even: it tolerates no more failures than ${quorumSize - 1} and can split votes; use an odd size`,
      quorumSize,
    });
  }
  if (quorumSize < 3) {
    errors.push({
      code: "quorum-too-small",
      path: ["consensus", "kind", "quorum_size"],
      message: `quorum size ${quorumSize} is below 3: the cluster cannot survive the loss of a single voter`,
      quorumSize,
    });
  }
  if (errors.length > 0) return { live: false, errors };
  const tolerated = (quorumSize - 1) / 2;
  return {
    live: true,
    summary: `strategy ${strategy.name} is live: ${quorumSize} voters tolerate ${tolerated} failure${tolerated === 1 ? "" : "s"}; failures are detected in ${detectorMs} ms, before the next ${reconciliationMs} ms reconciliation round`,
  };
}

/** The liveness errors of a strategy (none when it is live), as located-issue input. */
export function livenessIssues(strategy: FabricStrategy): readonly LivenessError[] {
  const proof = proveLiveness(strategy);
  return proof.live ? [] : proof.errors;
}

/** The prescribed strategy for a three-node homelab. */
export const homelabStrategy: FabricStrategy = FabricStrategy.parse({
  name: "homelab-3node",
  consensus: {
    kind: {
      algorithm: "open-raft",
      quorum_size: 3,
      election_timeout_ms: 150,
      snapshot_interval_entries: 1000,
    },
  },
  membership: { phi_threshold: 8.0, gossip_cadence_ms: 100, failure_detector_timeout_ms: 300 },
  content: { sync_cadence_ms: 200, gc_retention_ms: 60_000 },
  attestation: { seal_interval_ms: 1000, require_operator_signature: false },
  placement: { kind: "zone-aware", min_zones: 1 },
  reconciliation: { millis: 500 },
});

export const prescribedStrategies: Readonly<Record<string, FabricStrategy>> = {
  homelab: homelabStrategy,
};
