import { type Command, Option } from "commander";
import { LocalMesh } from "../../mesh/local-mesh.js";
import { faceByCliName } from "../../mesh/mesh-setup.js";
import { statusOf } from "../../mesh/observe.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { formatTable } from "../output.js";
import { statusRow } from "./mesh.js";

/**
 * `revoada up`: a local mesh of N node processes on loopback with a live view, stopped
 * gracefully by Ctrl-C. Other terminals can use `revoada status|shift|kill --dir DIR`.
 */
export function registerUp(program: Command): void {
  program
    .command("up")
    .description("start a local mesh of N node processes on loopback and show it live until Ctrl-C")
    .option("--nodes <n>", "number of nodes", "5")
    .addOption(
      new Option("--face <face>", "face every node renders")
        .choices(Object.keys(faceByCliName))
        .default("kubernetes"),
    )
    .option("--dir <dir>", "mesh directory (data, rendered files, logs)", "./mesh")
    .option("--no-view", "do not draw the live view (print one line per change)")
    .action(async (options: { nodes: string; face: string; dir: string; view: boolean }) => {
      const count = Number.parseInt(options.nodes, 10);
      if (!Number.isSafeInteger(count) || count < 1 || count > 64) {
        throw new CliError("--nodes must be between 1 and 64", exitCodes.usage);
      }
      const local = await LocalMesh.start({ directory: options.dir, nodes: count, faceId: options.face });
      process.stderr.write(
        `started ${count} nodes in ${options.dir} (logs: ${options.dir}/<node>/node.log); Ctrl-C stops them\n`,
      );
      await liveView(local, options.view);
    });
}

async function liveView(local: LocalMesh, tty: boolean): Promise<void> {
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write("\nstopping the mesh (SIGTERM, graceful)...\n");
      void local.stopAll().then(() => resolve());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  let previous = "";
  while (!stopping) {
    const statuses = await Promise.all(local.nodes.map((node) => statusOf(node)));
    const table = formatTable(statuses.map((status, i) => statusRow(status, local.nodes[i]!.name)));
    if (tty && process.stdout.isTTY) {
      process.stdout.write(
        `\x1b[H\x1b[2J${new Date().toISOString()}  revoada mesh (Ctrl-C to stop)\n\n${table}`,
      );
    } else if (table !== previous) {
      process.stdout.write(`${table}\n`);
    }
    previous = table;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await stopped;
}
