import type { Command } from "commander";
import { httpUrl } from "../../actuate/etcd-component.js";
import {
  type EtcdEndpointHealth,
  type EtcdEndpointStatus,
  type EtcdMember,
  etcdctlEndpointHealth,
  etcdctlEndpointStatus,
  etcdctlMembership,
} from "../../actuate/etcd-membership.js";
import { EtcdMembersReply } from "../../api/schemas.js";
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
    .action(async (options: Target & { output: OutputFormat }) => {
      const { client } = await anyLiveStatus((await clients(options)).clients);
      const committed = await client.get("/v1/etcd", EtcdMembersReply);
      const endpoints = committed.members
        .filter((member) => member.client !== null)
        .map((member) => httpUrl(member.client ?? ""));
      if (committed.members.length === 0) {
        throw new CliError("the fabric manages no etcd (no etcd member committed)", exitCodes.notFound);
      }
      const etcdctl = { endpoints, timeoutMs: 3000 };
      const [listed, statuses, health] = await Promise.all([
        etcdctlMembership(etcdctl)
          .list()
          .catch(() => undefined),
        etcdctlEndpointStatus(etcdctl).catch(() => [] as readonly EtcdEndpointStatus[]),
        etcdctlEndpointHealth(etcdctl).catch(() => [] as readonly EtcdEndpointHealth[]),
      ]);
      if (listed === undefined)
        throw new CliError(`etcd does not answer at ${endpoints.join(", ")}`, exitCodes.unavailable);
      const leaderIndex = Math.max(0, ...statuses.map((status) => status.raftIndex));
      const rows = etcdRows(committed, listed, statuses, health, leaderIndex);
      const data = { committed: committed.members, etcd: { members: listed, endpoints: statuses, health } };
      process.stdout.write(render(options.output, data, () => rows));
    });
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
