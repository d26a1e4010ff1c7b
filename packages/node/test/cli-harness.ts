import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { revoadaBin } from "../src/mesh/supervisor.js";

/** The node package root: the CLI runs from its TypeScript source there (no build needed). */
export const nodePackageRoot = fileURLToPath(new URL("..", import.meta.url));

const sourceEntry = 'import { main } from "./src/cli/main.ts"; process.exitCode = await main(process.argv);';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts `revoada ARGS...` in a child process from source (stdio piped). */
export function spawnCli(args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", sourceEntry, "revoada", ...args],
    { cwd: nodePackageRoot, stdio: "pipe" },
  );
}

/** Runs `revoada ARGS...` in a child process from source and collects its output and exit code. */
export function runCli(args: readonly string[]): Promise<CliRun> {
  return collect(spawnCli(args));
}

/**
 * `revoada ARGS...` from the built package, as the nodes run it: a third of the start-up time
 * of the TypeScript source, for tests that run the CLI many times against a built mesh.
 * `launcher` is a command it runs under (`ip netns exec NAME`: on a host of a netns run).
 */
export function runBuiltCli(args: readonly string[], launcher: readonly string[] = []): Promise<CliRun> {
  const command = [...launcher, process.execPath, revoadaBin, ...args];
  return collect(spawn(command[0]!, command.slice(1), { stdio: "pipe" }));
}

/** Collects a piped child's output and exit code (-1: killed by a signal). */
export function collect(child: ChildProcessWithoutNullStreams): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
