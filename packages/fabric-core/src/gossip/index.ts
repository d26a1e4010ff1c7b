export { BroadcastQueue } from "./broadcast-queue.js";
export type { DecodeOutcome } from "./codec.js";
export { decodeMessage, encodeMessage, utf8Length } from "./codec.js";
export { compareLiveness, GossipNode } from "./gossip-node.js";
export type { PhiSettings } from "./phi-accrual.js";
export { PhiAccrualDetector, phiOf } from "./phi-accrual.js";
export type { ApplyOutcome, StateVerifier } from "./state-store.js";
export { MemberState, stateRecordSigningBytes } from "./state-store.js";
export type { SuspicionBounds } from "./suspicion.js";
export { Suspicion, suspicionBounds, suspicionTimeoutMs } from "./suspicion.js";
export type {
  DropReason,
  GossipChannel,
  GossipCounters,
  GossipEvent,
  GossipMessageType,
  GossipReady,
  GossipTiming,
  MembershipSettings,
  MembershipView,
  MemberView,
  OutgoingPacket,
} from "./types.js";
export {
  AliveUpdate,
  DeadUpdate,
  DigestEntry,
  defaultGossipConfig,
  GossipAddress,
  GossipConfig,
  GossipMessage,
  GossipUpdate,
  gossipLimits,
  LeftUpdate,
  MemberId,
  MemberStatus,
  MemberUpdate,
  pickGossipTiming,
  StateDelta,
  StateKey,
  StateRecord,
  SuspectUpdate,
} from "./types.js";
