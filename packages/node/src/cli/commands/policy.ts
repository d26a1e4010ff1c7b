import { Decision, decide, nextRoundInputs, PolicyConfig, PolicyInputs } from "@revoada/fabric-core/policy";
import {
  canonicalJson,
  type FabricState,
  FabricState as FabricStateSchema,
  type FabricStrategy,
  FabricStrategy as FabricStrategySchema,
  Formation,
  formatIssue,
  homelabStrategy,
  type NodeId,
  type NodeState,
  parseSourceText,
  type Result,
  shortNodeId,
  stringifyYaml,
  toJsonSchema,
} from "@revoada/fabric-core/vocabulary";
import { type Command, Option } from "commander";
import { z } from "zod";
import { CliError, exitCodes } from "../exit-codes.js";
import { readInputFile } from "../io.js";
import { formatTable, type OutputFormat, outputOption, type Row } from "../output.js";

/**
 * `revoada policy explain`: runs the policy engine on a file and prints every decision with
 * the rule behind it. The file is either `PolicyInputs` (what the leader gathers for a round:
 * state, membership, Raft view, history, clock) or a bare `FabricState`, which is explained
 * as if every node were alive and long stable, the first etcd holder the leader, with the
 * strategy given by `--strategy` (homelab by default) and the formation by `--formation`.
 */

export interface ExplainOptions {
  readonly formation: Formation;
  readonly nowMs: number;
  /** The strategy for a bare FabricState (inputs files carry their own). */
  readonly strategy: FabricStrategy;
}

/** Reads PolicyInputs, or a FabricState turned into inputs; issues carry file:line:column. */
export function policyInputsFromText(
  text: string,
  file: string,
  options: ExplainOptions,
): Result<PolicyInputs> {
  const shape = parseSourceText(z.record(z.string(), z.unknown()), text, file);
  if (!shape.ok) return shape;
  if (!("membership" in shape.value) && !("raft" in shape.value)) {
    const state = parseSourceText(FabricStateSchema, text, file);
    if (!state.ok) return state;
    return { ok: true, value: inputsForState(state.value, options) };
  }
  return parseSourceText(PolicyInputs, text, file);
}

/** Every node alive since 0, voters = etcd holders, the first voter leads with a quorum. */
export function inputsForState(state: FabricState, options: ExplainOptions): PolicyInputs {
  const nodes: NodeState[] = Object.values(state.nodes);
  const ids = nodes.map((node) => node.id).sort();
  const voters = nodes
    .filter((node) => node.roles.includes("etcd"))
    .map((node) => node.id)
    .sort();
  const self: NodeId | undefined = voters[0] ?? ids[0];
  if (self === undefined)
    throw new CliError("the fabric state has no nodes: nothing to explain", exitCodes.invalidInput);
  return {
    now_ms: options.nowMs,
    self,
    strategy: options.strategy,
    formation: options.formation,
    state,
    membership: { members: ids.map((id) => ({ id, status: "alive", phi: 0.5, stable_since_ms: 0 })) },
    raft: { leader: self, quorum_visible: true, voters, learners: [] },
    history: { recent_shifts: [], recent_flaps: [], operator_holds: [] },
    operator_requests: [],
  };
}

/** Runs `rounds` rounds, each on the state the previous one's commands produce. */
export function explainRounds(inputs: PolicyInputs, rounds: number): Decision[] {
  const decisions: Decision[] = [];
  let current = inputs;
  for (let round = 0; round < rounds; round += 1) {
    const decision = decide(current);
    decisions.push(decision);
    const nextMs = current.now_ms + Math.max(1, current.strategy.reconciliation.millis);
    current = nextRoundInputs(current, decision, nextMs, []);
  }
  return decisions;
}

/** The human form: a summary of the round, then one row per decision record. */
export function explainText(inputs: PolicyInputs, decision: Decision): string {
  const names = new Map<string, string>(
    Object.values(inputs.state.nodes).map((node) => [node.id, node.name]),
  );
  const label = (id: string) => (names.has(id) ? `${names.get(id)} (${shortNodeId(id)})` : id);
  const target = decision.target;
  const roles = Object.entries(target.roles)
    .map(([role, count]) => `${role} ${count}`)
    .join(", ");
  const kinds = new Map<string, number>();
  for (const { command } of decision.commands) kinds.set(command.type, (kinds.get(command.type) ?? 0) + 1);
  const commands = [...kinds].map(([kind, count]) => `${count} ${kind}`).join(", ") || "none";
  const lines = [
    `round at ${decision.now_ms} ms by ${label(decision.self)}: ${decision.acting ? "acting" : "not acting"}`,
    `target: ${target.voters} voters (${roles}) for ${target.eligible} counted nodes; ${target.standbys} standby, ${target.workers_min} workers kept`,
    `commands: ${commands}`,
    `standbys: ${decision.standbys.map(label).join(", ") || "none"}`,
    "",
  ];
  const rows: Row[] = decision.records.map((entry) => ({
    outcome: entry.outcome,
    rule: entry.rule,
    subject: entry.subject === "cluster" ? "cluster" : label(entry.subject),
    message: entry.message,
  }));
  return `${lines.join("\n")}${formatTable(rows, ["outcome", "rule", "subject", "message"])}`;
}

interface ExplainFlags {
  state: string;
  strategy?: string;
  formation: Formation;
  now: number;
  rounds: number;
  output: OutputFormat;
}

function positiveInteger(what: string, minimum: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < minimum) {
      throw new CliError(`${what} must be an integer >= ${minimum}, not "${value}"`, exitCodes.usage);
    }
    return parsed;
  };
}

async function strategyFrom(file: string): Promise<FabricStrategy> {
  const parsed = parseSourceText(FabricStrategySchema, await readInputFile(file), file);
  if (!parsed.ok) throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
  return parsed.value;
}

async function explain(flags: ExplainFlags): Promise<void> {
  const strategy = flags.strategy === undefined ? homelabStrategy : await strategyFrom(flags.strategy);
  const text = await readInputFile(flags.state, "state");
  const parsed = policyInputsFromText(text, flags.state, {
    formation: flags.formation,
    nowMs: flags.now,
    strategy,
  });
  if (!parsed.ok) throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
  const decisions = explainRounds(parsed.value, flags.rounds);
  const data = flags.rounds === 1 ? decisions[0] : decisions;
  switch (flags.output) {
    case "json":
      process.stdout.write(canonicalJson(data));
      return;
    case "yaml":
      process.stdout.write(stringifyYaml(data));
      return;
    case "table": {
      let inputs = parsed.value;
      const sections: string[] = [];
      for (const decision of decisions) {
        sections.push(explainText(inputs, decision));
        inputs = nextRoundInputs(
          inputs,
          decision,
          inputs.now_ms + Math.max(1, inputs.strategy.reconciliation.millis),
          [],
        );
      }
      process.stdout.write(sections.join("\n"));
      return;
    }
  }
}

export function registerPolicy(program: Command): void {
  const policy = program
    .command("policy")
    .description("the policy engine: when and how the cluster reshapes itself");

  policy
    .command("explain")
    .description(
      "run one policy round on a state or inputs file and print every decision with its rule and reasons",
    )
    .requiredOption(
      "--state <file>",
      "PolicyInputs (YAML/JSON), or a FabricState explained as if every node were alive and long stable",
    )
    .addOption(
      new Option("--formation <formation>", "formation for a bare FabricState")
        .choices(Formation.options)
        .default("quorum-3m"),
    )
    .option("--strategy <file>", "strategy for a bare FabricState (default: the prescribed homelab strategy)")
    .option("--now <ms>", "clock for a bare FabricState, in ms", positiveInteger("--now", 0), 86_400_000)
    .option(
      "--rounds <count>",
      "run this many rounds, each on the state the previous one's commands produce",
      positiveInteger("--rounds", 1),
      1,
    )
    .addOption(outputOption("table"))
    .action(explain);

  policy
    .command("schema")
    .description("print the JSON Schema of the policy's inputs, decision and config")
    .action(() => {
      const schemas = { PolicyInputs, Decision, PolicyConfig };
      const all = Object.fromEntries(
        Object.entries(schemas).map(([name, schema]) => [name, toJsonSchema(schema)]),
      );
      process.stdout.write(canonicalJson(all));
    });
}
