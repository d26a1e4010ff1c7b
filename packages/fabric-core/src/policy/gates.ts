import { resolvePolicyConfig } from "./config.js";
import type { PolicyInputs } from "./inputs.js";

/**
 * The next instant after `now_ms` at which one of the policy's time-based rules can change its
 * answer with nothing else changing: a hysteresis window closes (`hysteresis_ms` after a
 * shift), an alive member outlives the stabilization period or the restore window (it becomes
 * promotable, restorable, or stops flapping), a flap leaves the flap window, a dead member
 * outlives the dead grace. Null when no such instant lies ahead.
 *
 * Every other input of a round arrives as an event the driver already runs on (gossip, an
 * applied entry, an operator); time does not, so the driver arms a timer at this instant and a
 * shift a rule held back starts when the rule lets go, not at the next reconciliation tick.
 * Conservative: an instant where the round then decides the same is only a round for nothing.
 */
export function nextGateChangeMs(inputs: PolicyInputs): number | null {
  const config = resolvePolicyConfig(inputs.strategy, inputs.config);
  const nowMs = inputs.now_ms;
  let next: number | null = null;
  const consider = (atMs: number) => {
    if (atMs > nowMs && (next === null || atMs < next)) next = atMs;
  };
  for (const member of inputs.membership.members) {
    if (member.status === "alive") {
      consider(member.stable_since_ms + config.stabilization_ms);
      consider(member.stable_since_ms + config.restore_window_ms);
    } else if (member.status === "dead") {
      // Counted while dead for at most the grace: the answer changes the ms after it.
      consider(member.stable_since_ms + config.dead_grace_ms + 1);
    }
  }
  for (const shift of inputs.history.recent_shifts) consider(shift.at_ms + config.hysteresis_ms);
  for (const flap of inputs.history.recent_flaps) consider(flap.at_ms + config.flap_window_ms);
  return next;
}
