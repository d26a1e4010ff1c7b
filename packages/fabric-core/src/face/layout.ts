import type { FabricState, NodeState } from "../vocabulary/index.js";
import { NodeAddresses, type NodeId, shortNodeId } from "../vocabulary/index.js";

/**
 * Per-node folder names shared by faces with per-node files (`nodes/<dir>/`) and by
 * `revoada render --all` (`<out>/<dir>/`): the node name when it is a safe path segment and
 * unique, `<name>-<short id>` when names collide, `node-<short id>` when the name is not a
 * safe path segment. Deterministic: sorted by name, then id.
 */

const safeSegment = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * Every kind of node address the vocabulary knows, in schema order (`gossip`, `raft`, `content`,
 * `api`, then the etcd ones): faces that carry addresses iterate this, so a kind added to
 * `NodeAddresses` is carried everywhere instead of silently dropped.
 */
export const nodeAddressKinds = Object.keys(NodeAddresses.shape) as readonly (keyof NodeAddresses)[];

/** Code-unit order, independent of locale: the order every byte-stable output uses. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Nodes sorted by name, then id. */
export function sortedNodes(state: FabricState): NodeState[] {
  return Object.values(state.nodes).sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id));
}

export function nodeDirectories(state: FabricState): Map<NodeId, string> {
  const nodes = sortedNodes(state);
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node.name, (counts.get(node.name) ?? 0) + 1);
  const directories = new Map<NodeId, string>();
  for (const node of nodes) {
    if (!safeSegment.test(node.name)) directories.set(node.id, `node-${shortNodeId(node.id)}`);
    else
      directories.set(
        node.id,
        counts.get(node.name) === 1 ? node.name : `${node.name}-${shortNodeId(node.id)}`,
      );
  }
  return directories;
}
