import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { Command, CommanderError } from "commander";
import { CliError, type ExitCode, exitCodes } from "./exit-codes.js";
import { errnoCode } from "./io.js";

type Registration = (program: Command) => void;

/**
 * Every subcommand registers itself from one file per command group under ./commands, each
 * listed with the top-level names it registers. A command line that names one loads that file
 * alone: `revoada node`, which every daemon runs, does not compile the other groups (the local
 * mesh, the demo, chain and content tools: ~30 modules); help, an unknown word or no command
 * loads them all. test/daemon-imports.test.ts checks the names against what each file registers.
 */
export const commandGroups: readonly {
  readonly names: readonly string[];
  readonly load: () => Promise<Registration>;
}[] = [
  { names: ["strategy"], load: async () => (await import("./commands/strategy.js")).registerStrategy },
  { names: ["schema"], load: async () => (await import("./commands/schema.js")).registerSchema },
  {
    names: ["status", "mesh", "shift", "workload", "kill"],
    load: async () => (await import("./commands/mesh.js")).registerMesh,
  },
  { names: ["node"], load: async () => (await import("./commands/node.js")).registerNode },
  { names: ["up"], load: async () => (await import("./commands/up.js")).registerUp },
  { names: ["demo"], load: async () => (await import("./commands/demo.js")).registerDemo },
  { names: ["face"], load: async () => (await import("./commands/face.js")).registerFace },
  { names: ["render", "read"], load: async () => (await import("./commands/render.js")).registerRender },
  { names: ["blob"], load: async () => (await import("./commands/blob.js")).registerBlob },
  { names: ["chain"], load: async () => (await import("./commands/chain.js")).registerChain },
  { names: ["policy"], load: async () => (await import("./commands/policy.js")).registerPolicy },
  { names: ["etcd"], load: async () => (await import("./commands/etcd.js")).registerEtcd },
  { names: ["init", "join", "token"], load: async () => (await import("./commands/join.js")).registerJoin },
  { names: ["keys"], load: async () => (await import("./commands/keys.js")).registerKeys },
];

/** The groups a command line needs: the one its first word names, or all of them. */
function groupsFor(argv: readonly string[] | undefined): typeof commandGroups {
  // argv is process.argv-shaped: node, the script, then the words; the program itself takes
  // no option with a value, so the first word not starting with "-" is the command.
  const command = argv?.slice(2).find((word) => !word.startsWith("-"));
  const named = commandGroups.filter((group) => command !== undefined && group.names.includes(command));
  return named.length > 0 ? named : commandGroups;
}

/** A command group's line in `revoada --help` names its subcommands (unless it already does). */
function nameSubcommands(command: Command): void {
  const names = command.commands.map((sub) => sub.name());
  if (names.length === 0 || names.every((name) => command.description().includes(name))) return;
  command.description(`${command.description()} (${names.join(", ")})`);
}

/** The program with every command group, or with only the group `argv`'s command names. */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command("revoada")
    .description("revoada: a cluster that manages its own shape (consensus-driven control-plane roles)")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const registrations = await Promise.all(groupsFor(argv).map((group) => group.load()));
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
  const program = await buildProgram(argv);
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
