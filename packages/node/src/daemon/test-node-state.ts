import type { MembershipView } from "@revoada/fabric-core/gossip";
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

/** What `self`'s gossip shows: every member alive and settled, advertising `roles`. */
export function testMembershipView(
  self: NodeId,
  members: readonly { readonly id: NodeId; readonly roles: NodeState["roles"] }[],
): MembershipView {
  return {
    self,
    atMs: 0,
    members: members.map(({ id, roles }) => ({
      id,
      address: "127.0.0.1:1",
      status: "alive" as const,
      phi: 0,
      stableSinceMs: 0,
      generation: 1,
      incarnation: 1,
      state: testNodeState(id, roles),
      keys: {},
    })),
  };
}
