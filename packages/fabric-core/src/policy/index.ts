export { applyCommands } from "./apply.js";
export {
  defaultPolicyConfig,
  PolicyConfig,
  PolicyConfigOverrides,
  RoleTargets,
  resolvePolicyConfig,
} from "./config.js";
export { decide, decideIncremental, type IncrementalRound } from "./decide.js";
export {
  Decision,
  DecisionAction,
  DecisionOutcome,
  DecisionRecord,
  FactValue,
  ProposedCommand,
  RuleCode,
  TargetShape,
} from "./decision.js";
export { nextGateChangeMs } from "./gates.js";
export {
  FlapRecord,
  LearnerView,
  MemberStatus,
  MembershipView,
  MemberView,
  OperatorRequest,
  PolicyHistory,
  PolicyInputs,
  RaftView,
  ShiftRecord,
} from "./inputs.js";
export type { PlacementMemo } from "./placement.js";
export type { CandidateScore } from "./score.js";
export { scoreWeights } from "./score.js";
export type { MembershipEvent } from "./simulation.js";
export { joinNode, nextRoundInputs } from "./simulation.js";
export type { SyntheticNode, SyntheticScenario, SyntheticWorkload } from "./synthetic.js";
export { syntheticInputs, syntheticNodeId, syntheticWideNodeId, syntheticWorkload } from "./synthetic.js";
