import { type Command, Option } from "commander";
import { LocalMesh } from "../../mesh/local-mesh.js";
import { fabricFaceFor, faceByCliName } from "../../mesh/mesh-setup.js";
import { type MeshNodeHandle, statusOf } from "../../mesh/observe.js";
import { NetnsMesh } from "../../netns/netns-mesh.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { wholeNumber } from "../numbers.js";
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
    .option(
      "--face <face>",
      `face every node renders: ${Object.keys(faceByCliName).join(", ")}, or an add-on face by name (revoada face list)`,
      "kubernetes",
    )
    .addOption(
      new Option("--runtime <runtime>", "make each host run what it renders (docs/actuators.md)").choices([
        "process",
        "kubelet",
        "systemd",
      ]),
    )
    .option("--etcd", "with --runtime process: every node runs a real etcd member the fabric manages")
    .option("--dir <dir>", "mesh directory (data, rendered files, logs)", "./mesh")
    .option(
      "--netns",
      "run each node in its own network namespace on its own address (10.77.0.x; needs root, iproute2 and nftables; removed at Ctrl-C, and a run left by a killed CLI is swept at the next start; docs/reliability.md)",
    )
    .option(
      "--no-view",
      "do not draw the live view: print one line per node whose health, roles, Raft role, leader, term or members changed",
    )
    .action(
      async (options: {
        nodes: string;
        face: string;
        dir: string;
        view: boolean;
        runtime?: "process" | "kubelet" | "systemd";
        etcd?: boolean;
        netns?: boolean;
      }) => {
        const count = wholeNumber("--nodes", options.nodes, 1, 64);
        if ((await fabricFaceFor(options.face)) === undefined) {
          throw new CliError(`unknown face ${options.face}; see revoada face list`, exitCodes.notFound);
        }
        if (options.etcd === true && options.runtime !== "process") {
          throw new CliError("--etcd needs --runtime process", exitCodes.usage);
        }
        const plan = {
          directory: options.dir,
          nodes: count,
          faceId: options.face,
          ...(options.runtime === undefined
            ? {}
            : { actuator: { runtime: options.runtime, etcd: options.etcd === true } }),
        };
        const mesh = options.netns === true ? await NetnsMesh.start(plan) : await LocalMesh.start(plan);
        const where =
          mesh instanceof NetnsMesh
            ? `, each in its own network namespace (${mesh.run.hosts.map((h) => `${h.name} ${h.address}`).join(", ")})`
            : "";
        process.stderr.write(
          `started ${count} nodes in ${options.dir}${where} (logs: ${options.dir}/<node>/node.log); Ctrl-C stops them\n`,
        );
        await liveView(
          mesh.nodes,
          () => (mesh instanceof NetnsMesh ? mesh.stop() : mesh.stopAll()),
          options.view,
        );
      },
    );
}

async function liveView(
  nodes: readonly MeshNodeHandle[],
  stopMesh: () => Promise<void>,
  view: boolean,
): Promise<void> {
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write("\nstopping the mesh (SIGTERM, graceful)...\n");
      void stopMesh().then(() => resolve());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const mode: ViewMode = view && process.stdout.isTTY ? "screen" : "changes";
  let previous: readonly MeshRow[] = [];
  while (!stopping) {
    const statuses = await Promise.all(nodes.map((node) => statusOf(node)));
    const rows = statuses.map((status, i) => statusRow(status, nodes[i]!.name));
    process.stdout.write(viewTick(mode, previous, rows, new Date().toISOString()));
    previous = rows;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await stopped;
}

export type MeshRow = Readonly<Record<string, string | number>>;
export type ViewMode = "screen" | "changes";

/**
 * Columns that describe the mesh's shape. The others (commit index, chain height) move on
 * every tick of a live mesh, so `--no-view` leaves them to `revoada status`.
 */
const shapeColumns = ["health", "roles", "raft", "leader", "term", "members", "last_decision"] as const;

/**
 * What one poll prints: "screen" redraws the whole table (a terminal's live view);
 * "changes" prints one line per node whose shape changed since the previous poll, and
 * nothing when none did (logs, pipes, `--no-view`).
 */
export function viewTick(
  mode: ViewMode,
  previous: readonly MeshRow[],
  rows: readonly MeshRow[],
  at: string,
): string {
  if (mode === "screen") {
    return `\x1b[H\x1b[2J${at}  revoada mesh (Ctrl-C to stop)\n\n${formatTable(rows.map((row) => ({ ...row })))}`;
  }
  const lines: string[] = [];
  for (const row of rows) {
    const before = previous.find((candidate) => candidate.node === row.node);
    const changed = shapeColumns.flatMap((column) => {
      const now = row[column] ?? "-";
      if (before === undefined) return [`${column}=${now}`];
      const then = before[column] ?? "-";
      return then === now ? [] : [`${column} ${then} -> ${now}`];
    });
    if (changed.length > 0) lines.push(`${at} ${row.node}: ${changed.join(", ")}\n`);
  }
  return lines.join("");
}
