import { strategyDigest } from "../attest/index.js";
import { decide, type PolicyInputs } from "../policy/index.js";
import {
  canonicalJson,
  type FabricStrategy,
  isRoleCommand,
  proveLiveness,
  type RoleCommand,
} from "../vocabulary/index.js";

/**
 * The transition check of a strategy swap, like `terraform plan`: what the new strategy
 * would do to the running shape, computed by the leader's policy from the same inputs it
 * decides on (the committed state, Raft's voters, the gossip view) under the committed
 * strategy and under the new one. Pure: the daemon serves it to `revoada strategy apply`,
 * which applies only with `--yes`, and the leader refuses a swap whose plan has refusals.
 *
 * Refusals (each names its rule):
 * - `not-live`: the strategy fails `proveLiveness` (every violated rule is listed);
 * - `below-quorum`: the new voter target's quorum (a majority of it) is larger than the
 *   nodes alive and able to vote, so the control plane would sit below its quorum;
 * - `no-operator-keys`: operator signatures required, but no operator key named;
 * - `same-strategy`: the committed strategy already is this one (nothing to do).
 */
export interface StrategyPlan {
  readonly from: { readonly name: string; readonly digest: string } | null;
  readonly to: { readonly name: string; readonly digest: string };
  /** Fields that differ, as dotted paths with both values (canonical JSON). */
  readonly changes: readonly { readonly path: string; readonly from: string; readonly to: string }[];
  readonly voters: {
    readonly current: number;
    readonly alive: number;
    readonly targetBefore: number;
    readonly targetAfter: number;
    readonly quorumAfter: number;
    /** Nodes alive and able to hold a vote (counted by the policy, not quarantined). */
    readonly eligibleAlive: number;
  };
  /** The role shifts the policy's next round would begin under the new strategy. */
  readonly shifts: readonly {
    readonly type: string;
    readonly node: string;
    readonly roles: readonly string[];
  }[];
  readonly refusals: readonly { readonly rule: string; readonly message: string }[];
}

export function planStrategyChange(
  inputs: PolicyInputs,
  committed: FabricStrategy | null,
  next: FabricStrategy,
): StrategyPlan {
  const current = committed ?? inputs.strategy;
  const before = decide({ ...inputs, strategy: current, operator_requests: [] });
  const after = decide({ ...inputs, strategy: next, operator_requests: [] });
  const voters = inputs.raft.voters;
  const aliveIds = new Set(
    inputs.membership.members.filter((member) => member.status === "alive").map((member) => member.id),
  );
  aliveIds.add(inputs.self);
  const aliveVoters = voters.filter((voter) => aliveIds.has(voter)).length;
  const eligibleAlive = Object.values(inputs.state.nodes).filter(
    (node) => aliveIds.has(node.id) && !node.roles.includes("quarantined"),
  ).length;
  const targetAfter = after.target.voters;
  const quorumAfter = Math.floor(targetAfter / 2) + 1;
  const refusals: { rule: string; message: string }[] = [];
  const proof = proveLiveness(next);
  if (!proof.live) {
    for (const error of proof.errors)
      refusals.push({
        rule: "not-live",
        message: `${error.path.join(".")}: ${error.code}: ${error.message}`,
      });
  }
  if (next.attestation.require_operator_signature && (next.attestation.operators ?? []).length === 0) {
    refusals.push({
      rule: "no-operator-keys",
      message:
        "require_operator_signature is on but attestation.operators names no key: no operator shift could be signed",
    });
  }
  const wantedQuorum = Math.floor(next.consensus.kind.quorum_size / 2) + 1;
  if (proof.live && eligibleAlive < wantedQuorum) {
    refusals.push({
      rule: "below-quorum",
      message: `quorum_size ${next.consensus.kind.quorum_size} needs ${wantedQuorum} voters alive for a quorum, but only ${eligibleAlive} node${eligibleAlive === 1 ? " is" : "s are"} alive and eligible: the control plane would sit below its quorum`,
    });
  }
  const fromDigest = committed === null ? null : strategyDigest(committed);
  const toDigest = strategyDigest(next);
  if (fromDigest === toDigest) {
    refusals.push({
      rule: "same-strategy",
      message: `strategy ${next.name} is the committed strategy already`,
    });
  }
  return {
    from: committed === null || fromDigest === null ? null : { name: committed.name, digest: fromDigest },
    to: { name: next.name, digest: toDigest },
    changes: differences(current, next),
    voters: {
      current: voters.length,
      alive: aliveVoters,
      targetBefore: before.target.voters,
      targetAfter,
      quorumAfter,
      eligibleAlive,
    },
    shifts: after.commands
      .map((proposed) => proposed.command)
      .filter((command): command is RoleCommand => isRoleCommand(command))
      .map((command) => ({
        type: command.type,
        node: command.node,
        roles: "roles" in command ? [...command.roles] : [],
      })),
    refusals,
  };
}

/** Leaf fields that differ between two strategies, as dotted paths. */
function differences(a: unknown, b: unknown, path = ""): { path: string; from: string; to: string }[] {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((key) => differences(a[key], b[key], path === "" ? key : `${path}.${key}`));
  }
  const from = a === undefined ? "(absent)" : canonicalJson(a, 0).trimEnd();
  const to = b === undefined ? "(absent)" : canonicalJson(b, 0).trimEnd();
  return from === to ? [] : [{ path, from, to }];
}

/** The plan as text, one line per fact (what `revoada strategy apply` prints). */
export function formatStrategyPlan(
  plan: StrategyPlan,
  names: (node: string) => string = (node) => node,
): string {
  const lines: string[] = [];
  lines.push(
    `strategy: ${plan.from === null ? "(none committed)" : `${plan.from.name} (${plan.from.digest.slice(0, 12)})`} -> ${plan.to.name} (${plan.to.digest.slice(0, 12)})`,
  );
  if (plan.changes.length === 0) lines.push("  no field changes");
  for (const change of plan.changes) lines.push(`  ~ ${change.path}: ${change.from} -> ${change.to}`);
  const v = plan.voters;
  lines.push(
    `voters: ${v.current} now (${v.alive} alive); target ${v.targetBefore} -> ${v.targetAfter} (quorum ${v.quorumAfter}); ${v.eligibleAlive} nodes alive and eligible`,
  );
  if (plan.shifts.length === 0) lines.push("roles: no shift in the next round");
  for (const shift of plan.shifts) {
    const roles = shift.roles.length === 0 ? "" : ` [${shift.roles.join(",")}]`;
    lines.push(
      `  ${shift.type === "promote" || shift.type === "restore" ? "+" : "-"} ${shift.type} ${names(shift.node)}${roles}`,
    );
  }
  for (const refusal of plan.refusals) lines.push(`refused: ${refusal.rule}: ${refusal.message}`);
  return `${lines.join("\n")}\n`;
}
