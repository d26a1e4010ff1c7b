import type { NodeId, NodeState } from "@revoada/fabric-core/vocabulary";

/**
 * A node's advertised state for the daemon's unit tests (fabric applier, relay): the fields the
 * machine requires, a small fixed capacity, and a name derived from the id unless given.
 */
export function testNodeState(
  id: NodeId,
  roles: NodeState["roles"],
  name = `node-${id.slice(0, 4)}`,
): NodeState {
  return {
    id,
    name,
    addresses: {},
    roles,
    capacity: { cpu_millis: 1000, memory_bytes: 1, storage_bytes: 1, pods: 10 },
    zone: "z",
    rack: "r",
    labels: {},
    version: "0.1.0",
    generation: 1,
  };
}
