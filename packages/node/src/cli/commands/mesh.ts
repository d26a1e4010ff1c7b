import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  FabricState,
  formatIssue,
  parseSourceText,
  shortNodeId,
  Workload,
  workloadKey,
} from "@revoada/fabric-core/vocabulary";
import { type Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import {
  CommittedReply,
  EtcdMembersReply,
  MeshMember,
  NodeStatusReply,
  type ShiftRequest,
} from "../../api/schemas.js";
import { runningPidOf } from "../../daemon/pid-file.js";
import { ApiClient } from "../../mesh/api-client.js";
import { type MeshFile, readMeshFile } from "../../mesh/mesh-file.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { readInputFile } from "../io.js";
import { wholeNumberProblem } from "../numbers.js";
import { type OutputFormat, outputOption, render } from "../output.js";
import {
  addOperatorSigningOptions,
  checkOperatorSigningOptions,
  type OperatorSigningOptions,
  operatorMessage,
  operatorSignatureOf,
  shiftToSign,
} from "../sign-operator-command.js";
import { etcdStatusSection } from "./etcd.js";

/**
 * Commands against a running mesh: `status`, `shift`, `workload`, `kill`. They find the
 * nodes through `--dir` (the directory `revoada up` created) or talk to one `--api`.
 */
export interface Target {
  dir: string;
  api?: string;
}

export const dirOption = () =>
  new Option("--dir <dir>", "mesh directory created by `revoada up`").default("./mesh");
export const apiOption = () =>
  new Option("--api <host:port>", "talk to this node's API instead of the mesh directory");

export async function loadMesh(dir: string): Promise<MeshFile> {
  const mesh = await readMeshFile(dir);
  if (!mesh.ok) throw new CliError(mesh.issues.map(formatIssue).join("\n"), exitCodes.notFound);
  return mesh.value;
}

export async function clients(target: Target): Promise<{ clients: ApiClient[]; mesh?: MeshFile }> {
  if (target.api !== undefined) {
    const token = await readFile(`${target.dir}/api.token`, "utf8").catch(() => process.env.REVOADA_TOKEN);
    // The directory's mesh.json says whether its APIs are HTTPS, and with which CA.
    const local = await readMeshFile(target.dir);
    const caFile = local.ok ? local.value.ca_file : undefined;
    const caPem = caFile === undefined ? undefined : await readFile(caFile, "utf8");
    return { clients: [new ApiClient(target.api, token?.trim(), 5000, caPem)] };
  }
  const mesh = await loadMesh(target.dir);
  const token = (await readFile(mesh.token_file, "utf8")).trim();
  const caPem = mesh.ca_file === undefined ? undefined : await readFile(mesh.ca_file, "utf8");
  return { clients: mesh.nodes.map((node) => new ApiClient(node.api, token, 2000, caPem)), mesh };
}

/** The first node that answers; status of a dead node is not an error for `status`. */
export async function anyLiveStatus(
  list: readonly ApiClient[],
): Promise<{ client: ApiClient; status: NodeStatusReply }> {
  for (const client of list) {
    const status = await client.get("/v1/status", NodeStatusReply).catch(() => undefined);
    if (status !== undefined) return { client, status };
  }
  throw new CliError("no node of the mesh answers", exitCodes.unavailable);
}

/** Mutations go to the leader: a follower answers 421 (not the leader) instead of forwarding. */
export async function leaderClient(list: readonly ApiClient[]): Promise<ApiClient> {
  const { status } = await anyLiveStatus(list);
  for (const client of list) {
    const candidate = await client.get("/v1/status", NodeStatusReply).catch(() => undefined);
    if (candidate !== undefined && candidate.id === status.raft.leader) return client;
  }
  return (await anyLiveStatus(list)).client;
}

export function registerMesh(program: Command): void {
  program
    .command("status")
    .description(
      "show every node of a running mesh: roles, health, leader, term, commit index, chain height, the strategy in force and its election timeout (-o json: every timing in force)",
    )
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .action(async (options: Target & { output: OutputFormat }) => {
      const { clients: list, mesh } = await clients(options);
      const statuses = await Promise.all(
        list.map((c) => c.get("/v1/status", NodeStatusReply).catch(() => undefined)),
      );
      const rows = statuses.map((status, i) => statusRow(status, mesh?.nodes[i]?.name ?? list[i]!.address));
      if (statuses.every((s) => s === undefined))
        throw new CliError("no node of the mesh answers", exitCodes.unavailable);
      const data = statuses.map((status, i) => ({
        name: mesh?.nodes[i]?.name ?? list[i]!.address,
        status: status ?? null,
      }));
      process.stdout.write(render(options.output, data, () => rows));
      if (options.output === "table") await printEtcdSection(list, options);
      const unplaced = await unplacedReplicas(list);
      if (unplaced.length > 0) {
        // On stderr for json/yaml, so the document on stdout keeps its shape.
        const stream = options.output === "table" ? process.stdout : process.stderr;
        stream.write(`\nUNPLACED REPLICAS\n${unplaced.map((line) => `  ! ${line}`).join("\n")}\n`);
      }
    });

  program
    .command("mesh")
    .description("show the gossip view of one node: every member, its health and phi")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .action(async (options: Target & { output: OutputFormat }) => {
      const { client } = await anyLiveStatus((await clients(options)).clients);
      const members = await client.get("/v1/mesh", z.array(MeshMember));
      process.stdout.write(
        render(options.output, members, () =>
          members.map((m) => ({
            node: m.name,
            id: shortNodeId(m.id),
            status: m.status,
            phi: m.phi.toFixed(2),
            roles: m.roles.join(","),
            zone: m.zone,
          })),
        ),
      );
    });

  const shift = program
    .command("shift")
    .description(
      "propose a role shift through the log, judged by the policy (shift promote|demote|quarantine|restore NODE)",
    );
  for (const action of ["promote", "demote", "quarantine", "restore"] as const) {
    const command = shift
      .command(action)
      .description(`${action} NODE (a name, NodeId or its short form)`)
      .argument("<node>", "node name or id")
      .option("--roles <roles>", "comma-separated roles (promote/demote; default: all control-plane roles)")
      .option("--force", "override a safety rule; the refusal names the rule that would be broken", false);
    addOperatorSigningOptions(command, "the shift")
      .addOption(dirOption())
      .addOption(apiOption())
      .addOption(outputOption())
      .action(
        async (
          node: string,
          options: Target &
            OperatorSigningOptions & {
              roles?: string;
              force: boolean;
              output: OutputFormat;
            },
        ) => {
          checkOperatorSigningOptions(options);
          const leader = await leaderClient((await clients(options)).clients);
          const request: Omit<ShiftRequest, "roles"> & { roles?: string[] } = {
            action,
            node,
            force: options.force,
            ...(options.roles === undefined ? {} : { roles: options.roles.split(",").map((r) => r.trim()) }),
          };
          if (options.signWith !== undefined || options.sshsig !== undefined || options.printMessage) {
            const toSign = await shiftToSign(leader, request);
            if (options.printMessage) {
              process.stdout.write(await operatorMessage(leader, toSign));
              return;
            }
            Object.assign(request, await operatorSignatureOf(leader, toSign, options));
          }
          const reply = await leader.post("/v1/shifts", request, CommittedReply);
          process.stdout.write(
            render(options.output, reply, () => [
              { action, node, committed_index: reply.index, term: reply.term },
            ]),
          );
        },
      );
  }

  const workload = program
    .command("workload")
    .description("workloads: workload apply FILE, workload ls, workload delete NAMESPACE/NAME");
  workload
    .command("apply")
    .description("apply a workload file (YAML or JSON, the Workload schema)")
    .argument("<file>", "workload file")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .addOption(
      new Option(
        "--wait-ms <ms>",
        "wait this long for the policy to place every replica; exit 1 naming the constraint when it cannot (0: do not wait)",
      )
        .default(15_000)
        .argParser(millisecondsOption("--wait-ms")),
    )
    .action(async (file: string, options: Target & { output: OutputFormat; waitMs: number }) => {
      const parsed = parseSourceText(Workload, await readInputFile(file), file);
      if (!parsed.ok) throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
      const leader = await leaderClient((await clients(options)).clients);
      const seen = await leader.get("/v1/decisions", z.array(PlacementRecord)).catch(() => []);
      const reply = await leader.post("/v1/workloads", parsed.value, CommittedReply);
      const key = workloadKey(parsed.value);
      const since = seen.at(-1)?.at_ms ?? 0;
      const placed =
        options.waitMs > 0 ? await awaitPlacement(leader, key, reply.index, since, options.waitMs) : null;
      process.stdout.write(
        render(options.output, { ...reply, placed_on: placed }, () => [
          {
            workload: key,
            committed_index: reply.index,
            ...(placed === null ? {} : { placed_on: placed.join(",") || "-" }),
          },
        ]),
      );
    });
  workload
    .command("delete")
    .description("delete a workload")
    .argument("<namespace/name>", "workload key")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .action(async (key: string, options: Target & { output: OutputFormat }) => {
      const [namespace, name] = key.split("/");
      if (namespace === undefined || name === undefined) {
        throw new CliError(`expected namespace/name, got ${key}`, exitCodes.usage);
      }
      const leader = await leaderClient((await clients(options)).clients);
      const reply = await leader.delete(`/v1/workloads/${namespace}/${name}`, CommittedReply);
      process.stdout.write(
        render(options.output, reply, () => [{ workload: key, committed_index: reply.index }]),
      );
    });
  workload
    .command("ls")
    .description("list workloads and where their replicas run")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .action(async (options: Target & { output: OutputFormat }) => {
      const { client } = await anyLiveStatus((await clients(options)).clients);
      const state = await client.get("/v1/state", FabricState);
      const rows = Object.entries(state.workloads).map(([key, w]) => ({
        workload: key,
        image: w.image,
        replicas: w.replicas,
        placed: `${(state.placements[key] ?? []).length}/${w.replicas}`,
        placed_on: (state.placements[key] ?? [])
          .map((id) => state.nodes[id]?.name ?? shortNodeId(id))
          .join(","),
      }));
      process.stdout.write(render(options.output, state.workloads, () => rows));
    });

  program
    .command("kill")
    .description("kill -9 a node of a local mesh (to watch the mesh heal)")
    .argument("<node>", "node name")
    .addOption(dirOption())
    .action(async (node: string, options: { dir: string }) => {
      const mesh = await loadMesh(options.dir);
      const entry = mesh.nodes.find((n) => n.name === node);
      if (entry === undefined) throw new CliError(`no node ${node} in ${options.dir}`, exitCodes.notFound);
      const pid = await runningPidOf(join(options.dir, entry.name, "data"));
      if (pid === undefined) throw new CliError(`${node} is not running`, exitCodes.notFound);
      process.kill(pid, "SIGKILL");
      process.stdout.write(`killed ${node} (pid ${pid})\n`);
    });
}

/** `--wait-ms`-style options: a whole number of milliseconds, or a usage error that says so. */
export function millisecondsOption(flag: string): (value: string) => number {
  return (value) => {
    const problem = wholeNumberProblem(flag, value, 0);
    if (problem !== null) throw new InvalidArgumentError(problem);
    return Number(value);
  };
}

const PlacementRecord = z.object({
  at_ms: z.number(),
  record: z.object({ action: z.string(), rule: z.string(), subject: z.string(), message: z.string() }),
});

/**
 * Waits until the committed state places every replica of `key` (resolves with the node
 * names), or the leader's policy records (in a round after `sinceMs`, the leader's clock) that
 * they do not all fit: a CliError that quotes the record, which names the constraint that keeps
 * how many nodes out.
 */
async function awaitPlacement(
  leader: ApiClient,
  key: string,
  index: number,
  sinceMs: number,
  waitMs: number,
): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  let last = "";
  for (;;) {
    const state = await leader.get("/v1/state", FabricState).catch(() => undefined);
    const workload = state?.workloads[key];
    const placed = state?.placements[key] ?? [];
    if (state !== undefined && workload !== undefined && state.applied.index >= index) {
      if (placed.length >= workload.replicas) {
        return placed.map((id) => state.nodes[id]?.name ?? shortNodeId(id));
      }
      const records = await leader.get("/v1/decisions", z.array(PlacementRecord)).catch(() => []);
      const short = records.findLast(
        (entry) =>
          entry.at_ms > sinceMs && entry.record.subject === key && entry.record.rule === "placement-short",
      );
      if (short !== undefined) {
        throw new CliError(
          `${key} is committed (index ${index}) but cannot be placed: ${short.record.message}`,
          exitCodes.failed,
        );
      }
      last = `${placed.length} of ${workload.replicas} replicas placed`;
    }
    if (Date.now() >= deadline) {
      throw new CliError(
        `${key} is committed (index ${index}) but not placed within ${waitMs} ms${last === "" ? "" : ` (${last})`}; see revoada policy explain`,
        exitCodes.failed,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Workloads with fewer placed replicas than they ask for, with the policy's reason when it gave one. */
async function unplacedReplicas(list: readonly ApiClient[]): Promise<string[]> {
  const live = await anyLiveStatus(list).catch(() => undefined);
  if (live === undefined) return [];
  const state = await live.client.get("/v1/state", FabricState).catch(() => undefined);
  if (state === undefined) return [];
  const leader = list.length > 1 ? await leaderClient(list).catch(() => live.client) : live.client;
  const records = await leader.get("/v1/decisions", z.array(PlacementRecord)).catch(() => []);
  const lines: string[] = [];
  for (const [key, workload] of Object.entries(state.workloads).sort(([a], [b]) => a.localeCompare(b))) {
    const placed = (state.placements[key] ?? []).length;
    if (placed >= workload.replicas) continue;
    const reason = records.findLast(
      (entry) => entry.record.subject === key && entry.record.rule === "placement-short",
    );
    lines.push(
      `${key}: ${placed} of ${workload.replicas} replicas placed${reason === undefined ? "" : ` (${reason.record.message})`}`,
    );
  }
  return lines;
}

/** `revoada status`'s etcd section, when the fabric manages an etcd (docs/control-plane.md). */
async function printEtcdSection(list: readonly ApiClient[], target: Target): Promise<void> {
  for (const client of list) {
    const committed = await client.get("/v1/etcd", EtcdMembersReply).catch(() => undefined);
    if (committed === undefined) continue;
    const section = await etcdStatusSection(committed, target);
    if (section === null) return;
    process.stdout.write(
      `\nETCD${committed.tls ? " (TLS)" : ""}\n${render("table", section.rows, () => section.rows)}`,
    );
    if (section.error !== null) process.stdout.write(`  ! etcd: ${section.error}\n`);
    if (committed.last_error !== null) {
      process.stdout.write(
        `  ! last etcd call failed (${committed.last_error.action}): ${committed.last_error.error}\n`,
      );
    }
    return;
  }
}

export function statusRow(
  status: NodeStatusReply | undefined,
  name: string,
): Record<string, string | number> {
  if (status === undefined) return { node: name, id: "-", roles: "-", health: "unreachable" };
  return {
    node: name,
    id: shortNodeId(status.id),
    roles: status.roles.join(","),
    health: "alive",
    raft: status.raft.state,
    leader: status.raft.leader === null ? "-" : shortNodeId(status.raft.leader),
    term: status.raft.term,
    commit: status.raft.commit_index,
    // raft: a voter or learner; relay: a follower of the state relay, with its source (docs/scale.md).
    learns:
      status.learns === undefined
        ? "-"
        : status.learns.via === "raft"
          ? "raft"
          : `relay<${status.learns.source === null ? "?" : shortNodeId(status.learns.source)}`,
    applied: status.learns?.applied_index ?? status.raft.applied_index,
    chain: status.chain_height,
    members: `${status.members.alive}/${status.members.alive + status.members.suspect + status.members.dead}`,
    strategy: status.timing?.strategy ?? "-",
    election_ms: status.timing?.raft.election_timeout_ms ?? "-",
    last_decision: status.last_decision ?? "-",
  };
}
