import { assert, assertNever, type FabricState, type NodeState, nextRoles } from "../vocabulary/index.js";
import type { ProposedCommand } from "./decision.js";

/**
 * Applies a round's commands to a fabric state the way the policy reads them back: promote
 * adds roles, demote removes them (a node left with none becomes a worker), quarantine leaves
 * only `quarantined`, restore makes a worker again, placement sets a workload's replica list.
 * Simulations and `policy explain --rounds` use it to run the engine on its own output; the
 * Raft state machine is the authority in a running fabric.
 */
export function applyCommands(state: FabricState, commands: readonly ProposedCommand[]): FabricState {
  // Records are replaced only when a command changes them (copy on write), so a round that
  // places nothing hands the next one the same placements (decideIncremental relies on that).
  const placing = commands.some(({ command }) => command.type === "placement");
  const next: FabricState = {
    ...state,
    nodes: { ...state.nodes },
    placements: placing ? { ...state.placements } : state.placements,
  };
  const nodes: Record<string, NodeState> = next.nodes;
  for (const { command } of commands) {
    switch (command.type) {
      case "promote":
      case "demote":
      case "quarantine":
      case "restore": {
        const node = nodes[command.node];
        assert(node !== undefined, `command for unknown node ${command.node}`);
        nodes[command.node] = { ...node, roles: nextRoles(node.roles, command) };
        break;
      }
      case "placement":
        next.placements[command.workload] = [...command.nodes];
        break;
      case "node-join":
      case "node-remove":
      case "workload-upsert":
      case "workload-delete":
      case "attest-checkpoint":
      case "shift-procedure":
      case "member-flap":
      case "etcd-member":
      case "join-token":
      case "strategy":
        assert(false, `the policy never proposes ${command.type}`);
        break;
      default:
        assertNever(command);
    }
  }
  assert(Object.keys(next.nodes).length === Object.keys(state.nodes).length, "applying shifts adds no node");
  return next;
}
