import { z } from "zod";
import { assert, type FabricStrategy, limits } from "../vocabulary/index.js";

/**
 * The policy's tunables. Every field has a default derived from the strategy (see
 * `defaultPolicyConfig`); a caller overrides only what it wants through `PolicyConfigOverrides`.
 */

const durationMs = z.int().min(1).max(limits.durationMsMax);

const isOdd = (count: number) => count % 2 === 1;

/**
 * Per-role target counts. Absent: the role follows the formation's voter count. `etcd` holders
 * are the Raft voters, so their count is always odd.
 */
export const RoleTargets = z.strictObject({
  etcd: z.int().min(1).max(99).refine(isOdd, "etcd voters must be odd").optional(),
  "api-server": z.int().min(0).max(99).optional(),
  scheduler: z.int().min(0).max(99).optional(),
  "controller-manager": z.int().min(0).max(99).optional(),
});
export type RoleTargets = z.infer<typeof RoleTargets>;

export const PolicyConfig = z.strictObject({
  /** At most one role shift per node within this window (the damper). */
  hysteresis_ms: durationMs,
  /** A node must have been alive this long before it may be promoted. */
  stabilization_ms: durationMs,
  /** A quarantined node must have been alive this long before it is restored. */
  restore_window_ms: durationMs,
  /** Flaps (alive -> suspect/dead transitions) are counted over this window. */
  flap_window_ms: durationMs,
  /** This many flaps within `flap_window_ms` make a node flapping. */
  flap_threshold: z.int().min(2).max(1000),
  /**
   * A dead member keeps its seat in the shape (it counts toward the target, and is replaced
   * rather than shrunk away) until it has been dead this long.
   */
  dead_grace_ms: durationMs,
  /** Workers kept as caught-up Raft learners, first in line for promotion. */
  standby_count: z.int().min(0).max(16),
  /** Workers kept free of control-plane roles when the node count allows it. */
  min_workers: z.int().min(0).max(limits.nodesMax),
  /** The engine never shrinks the voter set below this many voters (the quorum floor). */
  min_quorum: z.int().min(1).max(99),
  role_targets: RoleTargets,
});
export type PolicyConfig = z.infer<typeof PolicyConfig>;

/** What an inputs file may set; the rest comes from `defaultPolicyConfig`. */
export const PolicyConfigOverrides = PolicyConfig.partial();
export type PolicyConfigOverrides = z.infer<typeof PolicyConfigOverrides>;

/**
 * Defaults derived from the strategy's own cadences, so a faster strategy gets a faster
 * policy: the damper spans four reconciliation rounds; a candidate must outlive five failure
 * detector timeouts (and two rounds) before promotion, the way autopilot's stabilization time
 * outlives its health checks; restoring waits at least 5 s (anchors R4); flaps are counted over
 * sixty rounds, and a dead member keeps its seat as long.
 */
export function defaultPolicyConfig(strategy: FabricStrategy): PolicyConfig {
  const roundMs = Math.max(1, strategy.reconciliation.millis);
  const detectorMs = strategy.membership.failure_detector_timeout_ms;
  const config: PolicyConfig = {
    hysteresis_ms: clampDuration(4 * roundMs),
    stabilization_ms: clampDuration(Math.max(5 * detectorMs, 2 * roundMs)),
    restore_window_ms: clampDuration(Math.max(5000, 10 * roundMs)),
    flap_window_ms: clampDuration(Math.max(30_000, 60 * roundMs)),
    flap_threshold: 3,
    dead_grace_ms: clampDuration(Math.max(30_000, 60 * roundMs)),
    standby_count: 1,
    min_workers: 1,
    min_quorum: 1,
    role_targets: {},
  };
  assert(config.restore_window_ms <= config.flap_window_ms, "restore window inside the flap window");
  assert(config.hysteresis_ms >= roundMs, "the damper spans at least one round");
  return config;
}

export function resolvePolicyConfig(
  strategy: FabricStrategy,
  overrides: PolicyConfigOverrides | undefined,
): PolicyConfig {
  const defaults = defaultPolicyConfig(strategy);
  if (overrides === undefined) return defaults;
  const resolved: PolicyConfig = { ...defaults };
  for (const key of Object.keys(overrides) as (keyof PolicyConfig)[]) {
    const value = overrides[key];
    if (value !== undefined) Object.assign(resolved, { [key]: value });
  }
  assert(resolved.flap_threshold >= 2, "one flap is a failure, not flapping");
  return resolved;
}

function clampDuration(ms: number): number {
  return Math.min(limits.durationMsMax, Math.max(1, Math.round(ms)));
}
