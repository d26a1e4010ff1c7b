import { existsSync } from "node:fs";
import { mkdir, statfs } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { join, resolve } from "node:path";
import {
  type Capacity,
  type FabricFace,
  type FabricStrategy,
  type Formation,
  stringifyYaml,
} from "@revoada/fabric-core/vocabulary";
import type { NodeConfig } from "../daemon/config.js";
import { writeFileAtomic } from "../fs/durable.js";
import { type MeshFile, meshFileName } from "../mesh/mesh-file.js";

/**
 * One host's revoada directory, as `revoada init` and `revoada join` write it (docs/join.md):
 *
 *   node.yaml      the node config (bootstrap on the first host; seeds on a joined one)
 *   cluster.key    the cluster key (0600)          api.token   the admin API token (0600)
 *   read.token     the read-only API token (0600)  ca.crt      the cluster CA certificate
 *   ca.key         the CA's private key (0600)     mesh.json   this node, for `status --dir`
 *   data/ out/     the node's data and rendered files; node.log when `init` starts it
 *   data/keys/     on a joined host: the cluster's current key sets (after a key rotation)
 *
 * Secrets are written atomically with 0600 permissions, before the config that names them.
 */
export interface HostSecrets {
  readonly clusterKeyHex: string;
  /** The cluster's current key sets (`data/keys/<set>.keys`), when joining a running cluster. */
  readonly keySets?: { readonly cluster: string; readonly gossip: string };
  readonly apiToken: string;
  readonly readToken: string | null;
  readonly caCertPem: string;
  readonly caKeyPem: string;
}

export interface HostPlan {
  readonly directory: string;
  readonly name: string;
  /** The address this host listens on and advertises. */
  readonly address: string;
  /** gossip, raft, content and api listen on portBase .. portBase + 3. */
  readonly portBase: number;
  readonly bootstrap: boolean;
  readonly seeds: readonly string[];
  readonly strategy: FabricStrategy;
  readonly formation: Formation;
  readonly face: FabricFace;
  readonly zone: string;
  /** Plain HTTP and open reads (only valid on a loopback address). */
  readonly plainHttp: boolean;
  readonly faceName: string;
}

export const hostConfigFileName = "node.yaml";

export function hostConfigPath(directory: string): string {
  return join(resolve(directory), hostConfigFileName);
}

/** True when the directory already holds a node config (init and join never overwrite one). */
export function hostConfigExists(directory: string): boolean {
  return existsSync(hostConfigPath(directory));
}

export async function writeHostLayout(
  plan: HostPlan,
  secrets: HostSecrets,
): Promise<{ config: string; mesh: MeshFile }> {
  const directory = resolve(plan.directory);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const secret = (name: string, text: string) =>
    writeFileAtomic(join(directory, name), `${text.trim()}\n`, { mode: 0o600 });
  await secret("cluster.key", secrets.clusterKeyHex);
  await secret("api.token", secrets.apiToken);
  if (secrets.readToken !== null) await secret("read.token", secrets.readToken);
  await secret("ca.key", secrets.caKeyPem);
  if (secrets.keySets !== undefined) {
    // Where the node reads its rotated key sets (keys/node-keys.ts) before cluster_key_file.
    const keys = join(directory, "data", "keys");
    await mkdir(keys, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(keys, "cluster.keys"), secrets.keySets.cluster, { mode: 0o600 });
    await writeFileAtomic(join(keys, "gossip.keys"), secrets.keySets.gossip, { mode: 0o600 });
  }
  await writeFileAtomic(join(directory, "ca.crt"), secrets.caCertPem, { mode: 0o644 });
  const host = plan.address.includes(":") ? `[${plan.address}]` : plan.address;
  const listen = (offset: number) => `${host}:${plan.portBase + offset}`;
  const config: NodeConfig = {
    name: plan.name,
    data_dir: "data",
    output_dir: "out",
    listen: { gossip: listen(0), raft: listen(1), content: listen(2), api: listen(3) },
    seeds: [...plan.seeds],
    bootstrap: plan.bootstrap,
    cluster_key_file: "cluster.key",
    api_token_file: "api.token",
    strategy: plan.strategy,
    formation: plan.formation,
    face: plan.face,
    zone: plan.zone,
    rack: "",
    labels: {},
    capacity: await hostCapacity(directory),
    log_level: "info",
    pki: { ca_cert_file: "ca.crt", ca_key_file: "ca.key" },
    api: {
      ...(secrets.readToken === null ? {} : { read_token_file: "read.token" }),
      ...(plan.plainHttp ? { plain_http: true, open_reads: true } : {}),
    },
  };
  const configPath = join(directory, hostConfigFileName);
  await writeFileAtomic(configPath, stringifyYaml(config), { mode: 0o644 });
  const mesh: MeshFile = {
    version: 1,
    face: plan.faceName,
    token_file: join(directory, "api.token"),
    ...(plan.plainHttp ? {} : { ca_file: join(directory, "ca.crt") }),
    nodes: [{ name: plan.name, config: configPath, api: config.listen.api, pid: null }],
  };
  await writeFileAtomic(join(directory, meshFileName), `${JSON.stringify(mesh, null, 2)}\n`);
  return { config: configPath, mesh };
}

/** What this host offers: its cores, memory and the free space under its revoada directory. */
async function hostCapacity(directory: string): Promise<Capacity> {
  const disk = await statfs(directory).catch(() => undefined);
  return {
    cpu_millis: Math.min(100_000_000, availableParallelism() * 1000),
    memory_bytes: totalmem(),
    storage_bytes: disk === undefined ? 0 : Math.min(Number.MAX_SAFE_INTEGER, disk.bavail * disk.bsize),
    pods: 110,
  };
}
