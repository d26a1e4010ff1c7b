import { type Command, shortNodeId } from "../vocabulary/index.js";
import type { NodeFacts } from "./cluster.js";
import type {
  DecisionAction,
  DecisionOutcome,
  DecisionRecord,
  FactValue,
  ProposedCommand,
  RuleCode,
} from "./decision.js";

/**
 * What a round accumulates as its planners run: commands, records, and the nodes already
 * shifted this round (the damper allows one shift per node, so a second planner skips them).
 */
export interface RoundOutput {
  readonly commands: ProposedCommand[];
  readonly records: DecisionRecord[];
  readonly shifted: Set<string>;
}

export function emptyRoundOutput(): RoundOutput {
  return { commands: [], records: [], shifted: new Set() };
}

export function record(
  output: RoundOutput,
  entry: {
    action: DecisionAction;
    outcome: DecisionOutcome;
    rule: RuleCode;
    subject: string;
    message: string;
    facts?: Record<string, FactValue>;
  },
): void {
  output.records.push({ ...entry, facts: entry.facts ?? {} });
}

/** Proposes a policy role shift for `node`, marking it shifted for the rest of the round. */
export function proposeShift(output: RoundOutput, node: NodeFacts, command: Command): void {
  output.commands.push({ command, origin: "policy", force: false });
  output.shifted.add(node.id);
}

/** The facts every node-level record carries. */
export function nodeFacts(node: NodeFacts): Record<string, FactValue> {
  return {
    name: node.state.name,
    status: node.status,
    phi: Math.round(node.phi * 1000) / 1000,
    stable_for_ms: node.stableForMs,
    zone: node.state.zone,
    rack: node.state.rack,
    roles: node.state.roles.join(","),
  };
}

/** `name (abcdef01)`, how messages name a node. */
export function nodeLabel(node: NodeFacts): string {
  return `${node.state.name} (${shortNodeId(node.id)})`;
}
