export {
  decodeConfChange,
  decodeEntry,
  decodeHardState,
  decodeRaftMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeEntry,
  encodeHardState,
  encodeRaftMessage,
  encodeSnapshot,
} from "./codec.js";
export type { ConfChangeResult } from "./conf-change.js";
export { applyConfChange, confEquals, emptyConfState, leaveJoint } from "./conf-change.js";
export {
  defaultRaftConfig,
  heartbeatIntervalFor,
  raftConfigFromStrategy,
  raftTimingFromStrategy,
  readIndexQueueMax,
  validateRaftConfig,
} from "./config.js";
export type { ApplyOutcome } from "./fabric-state-machine.js";
export { FabricStateMachine } from "./fabric-state-machine.js";
export type { CommitInput, CommitRule, VoteResult } from "./quorum.js";
export {
  committedIndex,
  isJoint,
  isVoter,
  leaderCommitRule,
  majorityValue,
  peersOf,
  voteResult,
} from "./quorum.js";
export type { RaftNodeOptions } from "./raft-node.js";
export { RaftNode } from "./raft-node.js";
export type {
  DropReason,
  ProgressState,
  ProgressStatus,
  ProposeOutcome,
  ProposeRejection,
  RaftEvent,
  RaftMessageType,
  RaftRole,
  RaftStatus,
  RaftTiming,
  ReadIndexOutcome,
  ReadState,
  Ready,
  RollbackRecoveryStatus,
  SnapshotRequest,
  StepOutcome,
  StoredState,
  TransferOutcome,
} from "./types.js";
export {
  AppendMessage,
  AppendResponseMessage,
  Bytes,
  ConfChange,
  ConfChangeItem,
  ConfState,
  Entry,
  EntryKind,
  Generation,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  RaftConfig,
  RaftMessage,
  RaftPeerId,
  RequestVoteMessage,
  RollbackReason,
  Snapshot,
  SnapshotChunkMessage,
  SnapshotMetadata,
  SnapshotResponseMessage,
  TimeoutNowMessage,
  VoteResponseMessage,
} from "./types.js";
