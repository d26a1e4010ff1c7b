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
      const endpoints = committed.members
        .filter((member) => member.client !== null)
        .map((member) => httpUrl(member.client ?? "", committed.tls));
      if (committed.members.length === 0) {
        throw new CliError("the fabric manages no etcd (no etcd member committed)", exitCodes.notFound);
      }
      const tls = committed.tls ? await clientTls(options) : undefined;
      try {
        await printStatus(committed, endpoints, tls?.files, options.output);
      } finally {
        await tls?.cleanup();
      }
    });
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

async function printStatus(
  committed: EtcdMembersReply,
  endpoints: readonly string[],
  tls: EtcdClientTls | undefined,
  output: OutputFormat,
): Promise<void> {
  const etcdctl = { endpoints, timeoutMs: 3000, ...(tls === undefined ? {} : { tls }) };
  const [listed, statuses, health] = await Promise.all([
    etcdctlMembership(etcdctl)
      .list()
      .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
    etcdctlEndpointStatus(etcdctl).catch(() => [] as readonly EtcdEndpointStatus[]),
    etcdctlEndpointHealth(etcdctl).catch(() => [] as readonly EtcdEndpointHealth[]),
  ]);
  // The reason (a TLS refusal, no leader, a timeout) is what an operator acts on.
  if (listed instanceof Error) throw new CliError(listed.message, exitCodes.unavailable);
  const leaderIndex = Math.max(0, ...statuses.map((status) => status.raftIndex));
  const rows = etcdRows(committed, listed, statuses, health, leaderIndex);
  const data = {
    committed: committed.members,
    tls: committed.tls,
    etcd: { members: listed, endpoints: statuses, health },
  };
  process.stdout.write(render(output, data, () => rows));
}

function etcdRows(
  committed: EtcdMembersReply,
  listed: readonly EtcdMember[],
  statuses: readonly EtcdEndpointStatus[],
  health: readonly EtcdEndpointHealth[],
  leaderIndex: number,
) {
  const leaderId = statuses.find((status) => status.leaderId !== "0")?.leaderId ?? null;
  const ids = new Set([
    ...listed.map((member) => member.id),
    ...committed.members.map((member) => member.member_id),
  ]);
  return [...ids].sort().map((id) => {
    const member = listed.find((candidate) => candidate.id === id);
    const recorded = committed.members.find((candidate) => candidate.member_id === id);
    const client = recorded?.client === null || recorded === undefined ? null : httpUrl(recorded.client);
    const status = statuses.find((candidate) => candidate.memberId === id);
    const healthy = health.find((candidate) => candidate.endpoint === client);
    return {
      member: member?.name || recorded?.name || "(not started)",
      id,
      etcd: member === undefined ? "absent" : member.isLearner ? "learner" : "voter",
      fabric: recorded === undefined ? "absent" : recorded.learner ? "learner" : "voter",
      healthy: healthy === undefined ? "?" : healthy.healthy ? "yes" : "no",
      leader: id === leaderId ? "*" : "",
      raft_index: status?.raftIndex ?? null,
      lag: status === undefined ? null : leaderIndex - status.raftIndex,
    };
  });
}
