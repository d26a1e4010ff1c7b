import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { Command, CommanderError } from "commander";
import { registerBlob } from "./commands/blob.js";
import { registerChain } from "./commands/chain.js";
import { registerDemo } from "./commands/demo.js";
import { registerEtcd } from "./commands/etcd.js";
import { registerFace } from "./commands/face.js";
import { registerJoin } from "./commands/join.js";
import { registerKeys } from "./commands/keys.js";
import { registerMesh } from "./commands/mesh.js";
import { registerNode } from "./commands/node.js";
import { registerPolicy } from "./commands/policy.js";
import { registerRender } from "./commands/render.js";
import { registerSchema } from "./commands/schema.js";
import { registerStrategy } from "./commands/strategy.js";
import { registerUp } from "./commands/up.js";
import { CliError, type ExitCode, exitCodes } from "./exit-codes.js";
import { errnoCode } from "./io.js";

/** Every subcommand registers itself here; one file per command group under ./commands. */
const registrations: readonly ((program: Command) => void)[] = [
  registerStrategy,
  registerSchema,
  registerMesh,
  registerNode,
  registerUp,
  registerDemo,
  registerFace,
  registerRender,
  registerBlob,
  registerChain,
  registerPolicy,
  registerEtcd,
  registerJoin,
  registerKeys,
];

/** A command group's line in `revoada --help` names its subcommands (unless it already does). */
function nameSubcommands(command: Command): void {
  const names = command.commands.map((sub) => sub.name());
  if (names.length === 0 || names.every((name) => command.description().includes(name))) return;
  command.description(`${command.description()} (${names.join(", ")})`);
}

export function buildProgram(): Command {
  const program = new Command("revoada")
    .description("revoada: a cluster that manages its own shape (consensus-driven control-plane roles)")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const register of registrations) register(program);
  program.commands.forEach(applyExitOverride);
  program.commands.forEach(nameSubcommands);
  return program;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  command.commands.forEach(applyExitOverride);
}

const errnoExitCodes: Readonly<Record<string, ExitCode>> = {
  ENOENT: exitCodes.notFound,
  ENOTDIR: exitCodes.notFound,
  EISDIR: exitCodes.invalidInput,
  ECONNREFUSED: exitCodes.unavailable,
  ECONNRESET: exitCodes.unavailable,
  EHOSTUNREACH: exitCodes.unavailable,
  ETIMEDOUT: exitCodes.unavailable,
};

/** Runs the CLI and returns the exit code (never calls process.exit, so tests can call it). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // Hashing is synchronous once the WASM BLAKE3 is instantiated; every command may need it.
  await loadBlake3();
  try {
    await program.parseAsync([...argv]);
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      const helpShown = error.code === "commander.helpDisplayed" || error.code === "commander.version";
      if (helpShown || error.code === "commander.help") return exitCodes.ok;
      return exitCodes.usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    // An OS error no command mapped (a file read deep in a loader, a socket): one line and
    // the exit code of its kind, not a stack trace.
    const code = errnoCode(error);
    if (code !== undefined) {
      process.stderr.write(`error: ${(error as Error).message}\n`);
      return errnoExitCodes[code] ?? exitCodes.failed;
    }
    throw error;
  }
}
