import { z } from "zod";
import { NodeId } from "./ids.js";
import { limits } from "./limits.js";
import { NodeState } from "./node.js";
import { Workload } from "./workload.js";

/**
 * The committed fabric state: what the Raft state machine holds and every face renders.
 * Maps are keyed so that canonical (sorted-key) encodings are byte-stable.
 */
export const FabricState = z.strictObject({
  /** Keyed by NodeId; a node's roles live in its `roles` field. */
  nodes: z.record(NodeId, NodeState),
  /** Keyed by `namespace/name`. */
  workloads: z.record(z.string().max(128), Workload),
  /** Keyed by `namespace/name`: replica index -> NodeId. */
  placements: z.record(z.string().max(128), z.array(NodeId).max(limits.replicasMax)),
  /** Position of the last applied log entry (0/0 for an empty log). */
  applied: z.strictObject({
    term: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
    index: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  }),
});
export type FabricState = z.infer<typeof FabricState>;

export function emptyFabricState(): FabricState {
  return { nodes: {}, workloads: {}, placements: {}, applied: { term: 0, index: 0 } };
}
