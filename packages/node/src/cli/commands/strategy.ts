import { strategyRecordOf } from "@revoada/fabric-core/attest";
import { formatStrategyPlan, type StrategyPlan } from "@revoada/fabric-core/fabric";
import {
  FabricStrategy,
  formatIssue,
  livenessIssues,
  parseSourceText,
  prescribedStrategies,
  proveLiveness,
} from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { StrategyApplyReply, StrategyRefused, StrategyReply } from "../../api/strategy-routes.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { readInputFile } from "../io.js";
import { readOperatorKey } from "../operator-key.js";
import { type OutputFormat, outputOption, render } from "../output.js";
import {
  addOperatorSigningOptions,
  checkOperatorSigningOptions,
  type OperatorSigningOptions,
  operatorMessage,
  operatorSignatureOf,
} from "../sign-operator-command.js";
import { anyLiveStatus, apiOption, clients, dirOption, leaderClient, type Target } from "./mesh.js";

/** A strategy file parsed and proved live, or exit 3 naming the field and file:line:column. */
export async function readStrategyFile(file: string): Promise<FabricStrategy> {
  const text = await readInputFile(file);
  // Liveness errors are located like schema errors: field path and file:line:column.
  const parsed = parseSourceText(FabricStrategy, text, file, {
    check: (value) =>
      livenessIssues(value).map((error) => ({ ...error, message: `${error.code}: ${error.message}` })),
  });
  if (!parsed.ok) throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
  return parsed.value;
}

/**
 * `strategy apply`: the leader's plan of the swap, printed; with `--yes` the swap, signed
 * (when the committed rules require it) the ways a shift is (sign-operator-command.ts): with
 * `--sign-with`, or with an `ssh-keygen -Y sign` signature (`--sshsig`) of the message
 * `--print-message` prints. The signed command is the strategy record the chain will hold.
 * Without `--yes` a signature is checked (an `--sshsig` one verifies here) but not sent.
 */
async function applyStrategy(
  file: string,
  options: Target & OperatorSigningOptions & { yes: boolean; output: OutputFormat },
): Promise<void> {
  checkOperatorSigningOptions(options);
  if (options.printMessage && options.yes)
    throw new CliError("--print-message prints the message and sends nothing: drop --yes", exitCodes.usage);
  const strategy = await readStrategyFile(file);
  const toSign = {
    command: strategyRecordOf(strategy),
    noun: "strategy swap",
    printedBy: `revoada strategy apply ${file} --print-message`,
  };
  // A key file is read before the network is asked anything, so a bad one fails first.
  if (options.signWith !== undefined) await readOperatorKey(options.signWith);
  const leader = await leaderClient((await clients(options)).clients);
  if (options.printMessage) {
    process.stdout.write(await operatorMessage(leader, toSign));
    return;
  }
  const signature =
    options.yes || options.sshsig !== undefined
      ? await operatorSignatureOf(leader, toSign, options)
      : undefined;
  const response = await leader.fetch("POST", "/v1/strategy", {
    strategy,
    yes: options.yes,
    ...(options.yes ? signature : undefined),
  });
  const payload: unknown = await response.json().catch(() => undefined);
  if (response.status === 409) {
    const refused = StrategyRefused.safeParse(payload);
    if (!refused.success) throw new CliError(`${leader.address}: unexpected reply`, exitCodes.failed);
    if (refused.data.plan !== undefined)
      process.stderr.write(formatStrategyPlan(refused.data.plan as StrategyPlan));
    throw new CliError(refused.data.error, exitCodes.failed);
  }
  if (!response.ok) {
    const error = (payload as { error?: unknown } | undefined)?.error;
    throw new CliError(
      `${leader.address}: ${typeof error === "string" ? error : `HTTP ${response.status}`}`,
      exitCodes.failed,
    );
  }
  const reply = StrategyApplyReply.safeParse(payload);
  if (!reply.success) throw new CliError(`${leader.address}: unexpected reply shape`, exitCodes.failed);
  const plan = reply.data.plan as StrategyPlan;
  if (options.output !== "table") {
    process.stdout.write(render(options.output, reply.data, () => []));
    return;
  }
  process.stdout.write(formatStrategyPlan(plan));
  process.stdout.write(
    reply.data.applied
      ? `applied: strategy ${plan.to.name} committed at index ${reply.data.index ?? "?"}; every node runs it\n`
      : "plan only: nothing changed; run again with --yes to apply\n",
  );
}

export function registerStrategy(program: Command): void {
  const strategy = program
    .command("strategy")
    .description("check, print, show and apply fabric strategies (the committed strategy every node runs)");

  const apply = strategy
    .command("apply")
    .description(
      "swap the committed strategy: prints the leader's plan (fields, voter target, next round's shifts); applies only with --yes",
    )
    .argument("<file>", "strategy file (YAML or JSON)")
    .option("--yes", "apply the plan (without it nothing changes)", false);
  addOperatorSigningOptions(apply, "the swap")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption("table"))
    .action(applyStrategy);

  strategy
    .command("show")
    .description("the committed strategy, and whether this node's file agrees with it")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption("yaml"))
    .action(async (options: Target & { output: OutputFormat }) => {
      const { client } = await anyLiveStatus((await clients(options)).clients);
      const reply = await client.get("/v1/strategy", StrategyReply);
      process.stdout.write(
        render(options.output, reply, () => [
          {
            committed: reply.committed === null ? "-" : `${reply.committed.name} @${reply.committed.index}`,
            local: reply.local.name,
            agrees: reply.agrees,
          },
        ]),
      );
    });

  strategy
    .command("operator-key")
    .description("print the public key (for attestation.operators) of an operator key file; never the secret")
    .argument("<keyfile>", "raw ed25519 seed (32 bytes or 64 hex) or OpenSSH ed25519 private key")
    .action(async (keyfile: string) => {
      const signer = await readOperatorKey(keyfile);
      process.stdout.write(`${signer.nodeId}\n`);
    });

  strategy
    .command("check")
    .description(
      "validate a strategy file and prove it live; prints every error with field path and line:column",
    )
    .argument("<file>", "strategy file (YAML or JSON)")
    .action(async (file: string) => {
      const parsed = { value: await readStrategyFile(file) };
      const proof = proveLiveness(parsed.value);
      if (!proof.live) throw new CliError(`${file}: not live`, exitCodes.invalidInput);
      process.stdout.write(`${proof.summary}\n`);
    });

  strategy
    .command("print")
    .description("print a prescribed strategy")
    .requiredOption("--prescribed <name>", `one of: ${Object.keys(prescribedStrategies).join(", ")}`)
    .addOption(outputOption("yaml"))
    .action((options: { prescribed: string; output: OutputFormat }) => {
      const chosen = prescribedStrategies[options.prescribed];
      if (chosen === undefined) {
        const known = Object.keys(prescribedStrategies).join(", ");
        throw new CliError(
          `unknown prescribed strategy "${options.prescribed}"; known: ${known}`,
          exitCodes.notFound,
        );
      }
      process.stdout.write(
        render(options.output, chosen, () => [
          {
            name: chosen.name,
            quorum: chosen.consensus.kind.quorum_size,
            reconcile_ms: chosen.reconciliation.millis,
          },
        ]),
      );
    });
}
