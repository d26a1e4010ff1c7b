import type { FabricState, NodeState } from "@revoada/fabric-core/vocabulary";
import { appliedEntries, nodeFactEntries } from "./fabric-keys.js";
import { stringifyUnitFile } from "./unit-syntax.js";
import { escapeSpecifiers } from "./unit-values.js";

/** The targets face-systemd and face-baremetal share: one per node, one for the fabric. */

export const renderedHeader = ["Rendered by revoada from the fabric state; a re-render overwrites edits."];

/** The node target, installed into `wantedBy` (`multi-user.target`; a user manager's `default.target`). */
export function nodeTarget(
  node: NodeState,
  units: readonly string[],
  wantedBy = "multi-user.target",
): string {
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      {
        name: "Unit",
        entries: [
          ["Description", escapeSpecifiers(`revoada node ${node.name.replace(/\s+/g, " ").trim()}`)],
          ...units.map((unit): [string, string] => ["Wants", unit]),
          ...nodeFactEntries(node),
        ],
      },
      { name: "Install", entries: [["WantedBy", wantedBy]] },
    ],
  });
}

export function fabricTarget(state: FabricState): string {
  return stringifyUnitFile({
    comment: renderedHeader,
    sections: [
      { name: "Unit", entries: [["Description", "revoada fabric"], ...appliedEntries(state.applied)] },
    ],
  });
}
