import { type ApplyOutcome, type Entry, FabricStateMachine } from "@revoada/fabric-core/raft";
import type { FabricState } from "@revoada/fabric-core/vocabulary";
import { StorageCorruptionError } from "../errors.js";
import type { RaftApplier } from "./driver.js";

/**
 * The fabric's replicated state machine (fabric-core's `FabricStateMachine`) as the Raft
 * driver's applier: what the daemon (issue 8) runs. Snapshots are its canonical bytes, so a
 * restored node holds byte-identical state.
 */
export class FabricApplier implements RaftApplier<ApplyOutcome> {
  private machine = new FabricStateMachine();

  /** A copy of the current fabric state. */
  state(): FabricState {
    return this.machine.state();
  }

  apply(entry: Entry): ApplyOutcome {
    return this.machine.apply(entry);
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }

  restore(data: Uint8Array): void {
    const restored = FabricStateMachine.restore(data);
    if (!restored.ok) {
      const reason = restored.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
      throw new StorageCorruptionError(
        "fabric snapshot",
        0,
        `snapshot data is not a fabric state: ${reason}`,
      );
    }
    this.machine = restored.value;
  }
}
