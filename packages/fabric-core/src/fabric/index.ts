export type { StampCheck, StampHandover } from "./commit-stamp.js";
export {
  CommitStamp,
  chainHandsOver,
  commitStampMessage,
  StampVerifier,
  signCommitStamp,
  stampSigners,
  stateDigest,
} from "./commit-stamp.js";
export type {
  EtcdAction,
  ExecuteInputs,
  Execution,
  ExecutorCommand,
  ExecutorConfig,
  ExecutorRefusal,
  OperatorSignature,
  Step,
} from "./execute.js";
export { defaultExecutorConfig, execute, membershipFrom, policyInputsFrom } from "./execute.js";
export type { JoinRefusal, JoinTokenUse } from "./join-tokens.js";
export {
  applyJoinToken,
  JoinTokenRecord,
  joinRefusal,
  joinRefusalMessages,
  joinTokenRetentionMs,
  joinTokensMax,
  joinTokenUsesMax,
} from "./join-tokens.js";
export type { LeaderClockSources } from "./leader-clock.js";
export { LeaderClock } from "./leader-clock.js";
export type { CheckpointEntry, EtcdMemberState, FabricMachineOptions, MachineOutcome } from "./machine.js";
export { defaultHistoryHorizonMs, FabricMachine } from "./machine.js";
export type { ProcedureEvent, ProcedurePhase } from "./procedure.js";
export { joinsVoters, leavesVoters, Procedure } from "./procedure.js";
export type {
  RelayConfig,
  RelayMessage,
  RelayOutput,
  RelayReceipt,
  RelaySourcing,
  RelayView,
} from "./relay.js";
export { defaultRelayConfig, relayCandidates, relayViewOf, StateRelay } from "./relay.js";
export type { GateContext } from "./strategy-gate.js";
export { CommittedStrategy, refusalOf } from "./strategy-gate.js";
export type { StrategyPlan } from "./strategy-plan.js";
export { formatStrategyPlan, planStrategyChange } from "./strategy-plan.js";
