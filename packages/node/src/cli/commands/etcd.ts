import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { httpUrl } from "../../actuate/etcd-component.js";
import {
  type EtcdClientTls,
  type EtcdEndpointHealth,
  type EtcdEndpointStatus,
  type EtcdMember,
  etcdctlEndpointHealth,
  etcdctlEndpointStatus,
  etcdctlMembership,
} from "../../actuate/etcd-membership.js";
import { EtcdMembersReply } from "../../api/schemas.js";
import { loadClusterCa } from "../../pki/ca.js";
import { EtcdTlsFiles } from "../../pki/etcd-credentials.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { type OutputFormat, outputOption, render } from "../output.js";
import { anyLiveStatus, apiOption, clients, dirOption, type Target } from "./mesh.js";

/**
 * `revoada etcd status`: the etcd members the fabric committed, side by side with what etcd
 * itself says (member list, health, leader, Raft index and lag), so an operator sees at once
 * whether etcd follows the fabric (docs/actuators.md).
 */
export function registerEtcd(program: Command): void {
  const etcd = program
    .command("etcd")
    .description("the real etcd the fabric manages (actuator runtime process)");
  etcd
    .command("status")
    .description(
      "etcd's members as the fabric committed them and as etcd reports them: role, health, leader, lag",
    )
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .addOption(new Option("--etcd-cacert <file>", "CA certificate etcd's TLS is checked against"))
    .addOption(new Option("--etcd-cert <file>", "client certificate for etcd (issued by the cluster CA)"))
    .addOption(new Option("--etcd-key <file>", "the client certificate's key"))
    .action(async (options: Target & EtcdTlsOptions & { output: OutputFormat }) => {
      const { client } = await anyLiveStatus((await clients(options)).clients);
      const committed = await client.get("/v1/etcd", EtcdMembersReply);
      const endpoints = clientEndpoints(committed);
      if (committed.members.length === 0) {
        throw new CliError("the fabric manages no etcd (no etcd member committed)", exitCodes.notFound);
      }
      const tls = committed.tls ? await clientTls(options) : undefined;
      try {
        const report = await etcdReport(committed, endpoints, tls?.files, 3000);
        // The reason (a TLS refusal, no leader, a timeout) is what an operator acts on.
        if (report.error !== null) throw new CliError(report.error, exitCodes.unavailable);
        process.stdout.write(render(options.output, report.data, () => report.rows));
      } finally {
        await tls?.cleanup();
      }
    });
}

/**
 * The etcd section of `revoada status`: the same rows as `revoada etcd status`, with TLS from
 * the mesh directory's CA when it holds the key; etcd's own columns say "?" when etcd cannot
 * be asked. Nothing when the fabric manages no etcd.
 */
export async function etcdStatusSection(
  committed: EtcdMembersReply,
  target: Target,
): Promise<{ rows: ReturnType<typeof etcdRows>; error: string | null } | null> {
  if (committed.members.length === 0) return null;
  const endpoints = clientEndpoints(committed);
  const tls = committed.tls ? await clientTls(target).catch(() => undefined) : undefined;
  if (committed.tls && tls === undefined) {
    return {
      rows: etcdRows(committed, [], [], [], 0, false),
      error:
        "etcd speaks TLS and this mesh directory holds no CA key: `revoada etcd status --etcd-cert ...` asks etcd",
    };
  }
  try {
    const report = await etcdReport(committed, endpoints, tls?.files, 1500);
    return { rows: report.rows, error: report.error };
  } finally {
    await tls?.cleanup();
  }
}

/** The committed members' client URLs (https when etcd speaks TLS). */
function clientEndpoints(committed: EtcdMembersReply): string[] {
  return committed.members
    .filter((member) => member.client !== null)
    .map((member) => httpUrl(member.client ?? "", committed.tls));
}

interface EtcdTlsOptions {
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
}

/**
 * etcd speaks TLS: the files given, or a short-lived client certificate issued from the mesh
 * directory's CA key into a private temporary directory, removed after the command.
 */
async function clientTls(
  options: Target & EtcdTlsOptions,
): Promise<{ files: EtcdClientTls; cleanup: () => Promise<void> }> {
  const { etcdCacert, etcdCert, etcdKey } = options;
  if (etcdCacert !== undefined && etcdCert !== undefined && etcdKey !== undefined) {
    return { files: { caFile: etcdCacert, certFile: etcdCert, keyFile: etcdKey }, cleanup: async () => {} };
  }
  if (etcdCacert !== undefined || etcdCert !== undefined || etcdKey !== undefined) {
    throw new CliError("--etcd-cacert, --etcd-cert and --etcd-key go together", exitCodes.usage);
  }
  const ca = await loadClusterCa(join(options.dir, "ca.crt"), join(options.dir, "ca.key")).catch(
    () => undefined,
  );
  if (ca === undefined) {
    throw new CliError(
      `etcd speaks TLS: pass --etcd-cacert, --etcd-cert and --etcd-key, or --dir of a mesh holding ca.crt and ca.key (${options.dir} does not)`,
      exitCodes.usage,
    );
  }
  const directory = await mkdtemp(join(tmpdir(), "revoada-etcd-client-"));
  const files = await new EtcdTlsFiles(directory, ca).client("revoada-cli");
  if (files === null) throw new CliError("could not issue an etcd client certificate", exitCodes.failed);
  return { files, cleanup: () => rm(directory, { recursive: true, force: true }) };
}

async function etcdReport(
  committed: EtcdMembersReply,
  endpoints: readonly string[],
  tls: EtcdClientTls | undefined,
  timeoutMs: number,
) {
  const etcdctl = { endpoints, timeoutMs, ...(tls === undefined ? {} : { tls }) };
  const [listed, statuses, health] = await Promise.all([
    etcdctlMembership(etcdctl)
      .list()
      .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
    etcdctlEndpointStatus(etcdctl).catch(() => [] as readonly EtcdEndpointStatus[]),
    etcdctlEndpointHealth(etcdctl).catch(() => [] as readonly EtcdEndpointHealth[]),
  ]);
  const members = listed instanceof Error ? [] : listed;
  const leaderIndex = Math.max(0, ...statuses.map((status) => status.raftIndex));
  return {
    error: listed instanceof Error ? listed.message : null,
    rows: etcdRows(committed, members, statuses, health, leaderIndex, !(listed instanceof Error)),
    data: {
      committed: committed.members,
      tls: committed.tls,
      last_error: committed.last_error,
      etcd: { members, endpoints: statuses, health },
    },
  };
}

function etcdRows(
  committed: EtcdMembersReply,
  listed: readonly EtcdMember[],
  statuses: readonly EtcdEndpointStatus[],
  health: readonly EtcdEndpointHealth[],
  leaderIndex: number,
  /** etcd answered the member list (otherwise its columns say "?"). */
  asked = true,
) {
  const leaderId = statuses.find((status) => status.leaderId !== "0")?.leaderId ?? null;
  const ids = new Set([
    ...listed.map((member) => member.id),
    ...committed.members.map((member) => member.member_id),
  ]);
  return [...ids].sort().map((id) => {
    const member = listed.find((candidate) => candidate.id === id);
    const recorded = committed.members.find((candidate) => candidate.member_id === id);
    const client =
      recorded?.client === null || recorded === undefined ? null : httpUrl(recorded.client, committed.tls);
    const status = statuses.find((candidate) => candidate.memberId === id);
    const healthy = health.find((candidate) => candidate.endpoint === client);
    return {
      member: member?.name || recorded?.name || "(not started)",
      id,
      etcd: !asked ? "?" : member === undefined ? "absent" : member.isLearner ? "learner" : "voter",
      fabric: recorded === undefined ? "absent" : recorded.learner ? "learner" : "voter",
      healthy: healthy === undefined ? "?" : healthy.healthy ? "yes" : "no",
      leader: id === leaderId ? "*" : "",
      raft_index: status?.raftIndex ?? null,
      lag: status === undefined ? null : leaderIndex - status.raftIndex,
      cert: recorded?.certificate_serial?.slice(0, 8) ?? "",
    };
  });
}
