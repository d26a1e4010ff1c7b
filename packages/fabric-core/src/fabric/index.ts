export type {
  EtcdAction,
  ExecuteInputs,
  Execution,
  ExecutorConfig,
  ExecutorRefusal,
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
export type { CheckpointEntry, EtcdMemberState, FabricMachineOptions, MachineOutcome } from "./machine.js";
export { defaultHistoryHorizonMs, FabricMachine } from "./machine.js";
export type { ProcedureEvent, ProcedurePhase } from "./procedure.js";
export { joinsVoters, leavesVoters, Procedure } from "./procedure.js";
