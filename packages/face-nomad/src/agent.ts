import { advertiseHost, compareText, nodeAddressKinds } from "@revoada/fabric-core/face";
import {
  type FabricState,
  isControlPlaneRole,
  type NodeAddresses,
  NodeRole,
  type NodeState,
} from "@revoada/fabric-core/vocabulary";
import type { Agent } from "./ir.js";
import { labelMetaKey, labelOfMetaKey, nodeMeta } from "./workload-job.js";

/**
 * Control-plane roles as Nomad agent configuration: a node holding any control-plane role
 * runs a Nomad server (`bootstrap_expect` = the number of such nodes, `server_join.retry_join`
 * = every server's serf address, so the servers find each other and elect a leader); a node
 * with the worker role, or no control-plane role, runs a client (`server_join.retry_join` =
 * every server's RPC address, on client-only nodes). Client `meta` carries the node's
 * labels and what Nomad has no field for (`revoada.*`: id, roles, rack, addresses), and the
 * `revoada.control_plane` / `revoada.quarantined` flags that job constraints test.
 */

const addressKinds = nodeAddressKinds;
export const agentDataDir = "/opt/nomad/data";

function holdsControlPlane(node: NodeState): boolean {
  return node.roles.some(isControlPlaneRole);
}

/** Nomad's default serf (server gossip) and RPC ports. */
export const serfPort = 4648;
export const rpcPort = 4647;

/** The committed server membership every agent file is written from. */
export interface ServerMembership {
  readonly count: number;
  /** Every server's serf address, sorted by node name then id. */
  readonly serf: readonly string[];
  /** Every server's RPC address, in the same order. */
  readonly rpc: readonly string[];
}

export function serverMembership(state: FabricState): ServerMembership {
  const servers = Object.values(state.nodes)
    .filter(holdsControlPlane)
    .sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id));
  return {
    count: servers.length,
    serf: servers.map((server) => `${advertiseHost(server)}:${serfPort}`),
    rpc: servers.map((server) => `${advertiseHost(server)}:${rpcPort}`),
  };
}

export function nodeToAgent(node: NodeState, servers: ServerMembership): Agent {
  const meta: Record<string, string> = {};
  for (const [key, value] of Object.entries(node.labels)) {
    meta[labelMetaKey(key)] = value;
  }
  meta["revoada.node_id"] = node.id;
  meta["revoada.roles"] = node.roles.join(",");
  if (node.rack !== "") meta["revoada.rack"] = node.rack;
  for (const kind of addressKinds) {
    const address = node.addresses[kind];
    if (address !== undefined) meta[`revoada.address.${kind}`] = address;
  }
  const controlPlane = holdsControlPlane(node);
  if (controlPlane) meta[nodeMeta.controlPlane] = "true";
  if (node.roles.includes("quarantined")) meta[nodeMeta.quarantined] = "true";
  return {
    name: node.name,
    ...(node.zone === "" ? {} : { datacenter: node.zone }),
    data_dir: agentDataDir,
    ...(controlPlane
      ? {
          server: {
            enabled: true,
            bootstrap_expect: Math.max(1, servers.count),
            ...(servers.serf.length > 0 ? { server_join: { retry_join: [...servers.serf] } } : {}),
          },
        }
      : {}),
    client: {
      enabled: !controlPlane || node.roles.includes("worker"),
      meta,
      ...(!controlPlane && servers.rpc.length > 0 ? { server_join: { retry_join: [...servers.rpc] } } : {}),
    },
  };
}

/** The node an agent file describes (schema-checked later), or why it cannot be read. */
export function agentToNode(agent: Agent): NodeState | { problem: string } {
  const meta = agent.client.meta;
  const id = meta["revoada.node_id"];
  if (id === undefined) return { problem: "client meta has no revoada.node_id" };
  const rolesText = meta["revoada.roles"] ?? "";
  const roles = rolesText === "" ? [] : rolesText.split(",");
  const unknownRole = roles.find((role) => !NodeRole.safeParse(role).success);
  if (unknownRole !== undefined) return { problem: `unknown role ${JSON.stringify(unknownRole)}` };
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) {
    const label = labelOfMetaKey(key);
    if (label !== undefined) labels[label] = value;
  }
  const addresses: NodeAddresses = {};
  for (const kind of addressKinds) {
    const address = meta[`revoada.address.${kind}`];
    if (address !== undefined) addresses[kind] = address;
  }
  return {
    id: id as NodeState["id"],
    name: agent.name,
    addresses,
    roles: roles as NodeRole[],
    capacity: { cpu_millis: 0, memory_bytes: 0, storage_bytes: 0, pods: 0 },
    zone: agent.datacenter ?? "",
    rack: meta["revoada.rack"] ?? "",
    labels,
    version: "",
    generation: 0,
  };
}
