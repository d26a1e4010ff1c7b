import { Command, InvalidArgumentError } from "commander";
import { type CheckVerdict, checkRun, runCampaign } from "../src/chaos/index.js";

/**
 * `pnpm chaos`: a chaos campaign on a mesh of network-namespace hosts (needs root, iproute2,
 * nftables and libfaketime; docs/reliability.md). `pnpm chaos run --seed 7 --minutes 3` runs one and exits
 * 0 when every check holds, 1 when one fails (its files stay under chaos-results/<run id>/);
 * `pnpm chaos check chaos-results/<run id>` checks a kept run again from its files.
 */
function integer(name: string, min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

function printVerdicts(verdicts: readonly CheckVerdict[]): boolean {
  for (const verdict of verdicts)
    process.stdout.write(`${verdict.ok ? "ok  " : "FAIL"} ${verdict.name}: ${verdict.detail}\n`);
  return verdicts.every((verdict) => verdict.ok);
}

// Ctrl-C or SIGTERM: exit through process.exit, so the harness's exit hook leaves a sweeper
// that removes the namespaces and mounts once this process is gone.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

const program = new Command("chaos").exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
program
  .command("run", { isDefault: true })
  .description("run a chaos campaign: client operations, a seeded nemesis, then the checks")
  .option("--seed <n>", "seed of the operations and the fault schedule", integer("--seed", 0, 2 ** 31), 1)
  .option(
    "--minutes <n>",
    "how long faults and operations run",
    (text) => {
      const value = Number(text);
      if (!Number.isFinite(value) || value <= 0 || value > 240)
        throw new InvalidArgumentError("--minutes must be in (0, 240]");
      return value;
    },
    3,
  )
  .option("--nodes <n>", "node count (at least 4, for a ring)", integer("--nodes", 4, 9), 5)
  .option("--clients <n>", "concurrent client processes", integer("--clients", 1, 16), 3)
  .option("--out <dir>", "results root", "chaos-results")
  .option("--keep", "keep the run's files even when every check holds")
  .action(
    async (options: {
      seed: number;
      minutes: number;
      nodes: number;
      clients: number;
      out: string;
      keep?: boolean;
    }) => {
      const result = await runCampaign({
        ...options,
        keep: options.keep === true,
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      const ok = printVerdicts(result.verdicts);
      process.stdout.write(`${JSON.stringify(result.figures)}\n`);
      if (result.kept)
        process.stdout.write(
          `files: ${result.runDirectory} (check again: pnpm chaos check ${result.runDirectory})\n`,
        );
      process.exitCode = ok ? 0 : 1;
    },
  );
program
  .command("check <dir>")
  .description(
    "check a kept run again from its files (history.jsonl, samples.jsonl, finals.json, convergence.json)",
  )
  .action(async (directory: string) => {
    const { verdicts, figures, notes } = await checkRun(directory);
    const ok = printVerdicts(verdicts);
    for (const note of notes) process.stdout.write(`note ${note}\n`);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    process.exitCode = ok ? 0 : 1;
  });
await program.parseAsync(process.argv);
