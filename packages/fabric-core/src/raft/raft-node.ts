import { InvariantError, type Random, type Result } from "../vocabulary/index.js";
import type { CommitRule } from "./quorum.js";
import type {
  ConfChange,
  ProposeOutcome,
  RaftConfig,
  RaftMessage,
  RaftPeerId,
  RaftStatus,
  ReadIndexOutcome,
  Ready,
  Snapshot,
  StepOutcome,
  StoredState,
  TransferOutcome,
} from "./types.js";

/** Test hooks; production passes nothing. */
export interface RaftNodeOptions {
  /** Replaces the leader's commit rule (the Figure 8 test injects a broken copy). */
  readonly commitRule?: CommitRule;
}

/** Placeholder shape; the implementation lands in the next commit. */
export class RaftNode {
  private constructor() {}

  static create(
    _config: RaftConfig,
    _stored: StoredState,
    _random: Random,
    _options: RaftNodeOptions = {},
  ): Result<RaftNode> {
    throw new InvariantError("not implemented yet");
  }

  tick(_nowMs: number): void {}
  step(_message: RaftMessage): StepOutcome {
    throw new InvariantError("not implemented yet");
  }
  propose(_data: Uint8Array): ProposeOutcome {
    throw new InvariantError("not implemented yet");
  }
  proposeConfChange(_change: ConfChange): ProposeOutcome {
    throw new InvariantError("not implemented yet");
  }
  transferLeadership(_target: RaftPeerId): TransferOutcome {
    throw new InvariantError("not implemented yet");
  }
  readIndex(_context: string): ReadIndexOutcome {
    throw new InvariantError("not implemented yet");
  }
  campaign(): void {}
  hasReady(): boolean {
    return false;
  }
  ready(): Ready {
    throw new InvariantError("not implemented yet");
  }
  advance(_ready: Ready): void {}
  compact(_index: number, _data: Uint8Array): Result<Snapshot> {
    throw new InvariantError("not implemented yet");
  }
  status(): RaftStatus {
    throw new InvariantError("not implemented yet");
  }
}
