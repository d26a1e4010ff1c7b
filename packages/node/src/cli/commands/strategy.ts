import {
  FabricStrategy,
  formatIssue,
  livenessIssues,
  parseSourceText,
  prescribedStrategies,
  proveLiveness,
} from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { CliError, exitCodes } from "../exit-codes.js";
import { readInputFile } from "../io.js";
import { type OutputFormat, outputOption, render } from "../output.js";

export function registerStrategy(program: Command): void {
  const strategy = program.command("strategy").description("check and print fabric strategies");

  strategy
    .command("check")
    .description(
      "validate a strategy file and prove it live; prints every error with field path and line:column",
    )
    .argument("<file>", "strategy file (YAML or JSON)")
    .action(async (file: string) => {
      const text = await readInputFile(file);
      // Liveness errors are located like schema errors: field path and file:line:column.
      const parsed = parseSourceText(FabricStrategy, text, file, {
        check: (value) =>
          livenessIssues(value).map((error) => ({ ...error, message: `${error.code}: ${error.message}` })),
      });
      if (!parsed.ok) {
        throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
      }
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
