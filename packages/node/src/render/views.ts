import {
  type DroppedField,
  type Face,
  type FaceFile,
  nodeDirectories,
  sortedNodes,
} from "@revoada/fabric-core/face";
import { type FabricState, isNodeId, type NodeState } from "@revoada/fabric-core/vocabulary";

/**
 * Node views for `revoada render`: one node's files, or every node's files each under its
 * own folder (`<dir>/`, the same folder names faces use under `nodes/`).
 */

export interface NodeViewFiles {
  readonly files: readonly FaceFile[];
  readonly dropped: readonly DroppedField[];
}

/** Finds a node by full id, by name, or by a unique id prefix of at least 4 characters. */
export function findNode(state: FabricState, wanted: string): NodeState | "ambiguous" | undefined {
  const exact = isNodeId(wanted) ? state.nodes[wanted] : undefined;
  if (exact !== undefined) return exact;
  const byName = Object.values(state.nodes).filter((node) => node.name === wanted);
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) return "ambiguous";
  if (wanted.length < 4) return undefined;
  const byPrefix = Object.values(state.nodes).filter((node) => node.id.startsWith(wanted));
  if (byPrefix.length > 1) return "ambiguous";
  return byPrefix[0];
}

export function allNodeViews(face: Face, state: FabricState): NodeViewFiles {
  const directories = nodeDirectories(state);
  const files: FaceFile[] = [];
  let dropped: readonly DroppedField[] = [];
  for (const node of sortedNodes(state)) {
    const view = face.writer.write(state, { kind: "node", node: node.id });
    const prefix = directories.get(node.id)!;
    for (const file of view.files) files.push({ path: `${prefix}/${file.path}`, content: file.content });
    dropped = view.dropped;
  }
  return { files, dropped };
}
