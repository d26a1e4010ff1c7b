import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import {
  exampleFaces,
  FabricFace,
  type FabricStrategy,
  type Formation,
  homelabStrategy,
  stringifyYaml,
} from "@revoada/fabric-core/vocabulary";
import type { NodeConfig } from "../daemon/config.js";
import { loadFace } from "../faces.js";
import { createClusterCa, writeClusterCa } from "../pki/ca.js";
import { type MeshFile, meshFileName } from "./mesh-file.js";

/**
 * Lays out a local mesh: one directory per node with its `node.yaml`, a shared cluster key
 * and API token (files with 0600 permissions), and `mesh.json` describing it all.
 */
export interface MeshPlan {
  readonly directory: string;
  readonly nodes: number;
  readonly faceId: string;
  readonly strategy?: FabricStrategy;
  readonly formation?: Formation;
  /** Zones assigned round-robin, so zone-aware placement has something to spread over. */
  readonly zones?: readonly string[];
  /** Policy overrides written into every node's config. */
  readonly policy?: NodeConfig["policy"];
  /** `learners_max` of every node's config: the others learn through the state relay (docs/scale.md). */
  readonly learnersMax?: number;
  /** `relay_fanout` of every node's config: small values make a deep relay tree (tests). */
  readonly relayFanout?: number;
  /** `log_level` of every node's config (default `info`). */
  readonly logLevel?: NodeConfig["log_level"];
  /**
   * The actuator runtime of every node; `etcd: true` also gives each node an etcd member on
   * its own loopback ports, managed by the fabric (docs/actuators.md).
   */
  readonly actuator?: { readonly runtime: "process" | "kubelet" | "systemd"; readonly etcd?: boolean };
  /**
   * Where the nodes listen. Absent: 127.0.0.1 on free ports. Present: node `i` listens on
   * `hostOf(i)` on fixed ports (each host has its own address, as in network namespaces:
   * src/netns/), and mesh.json names `apiOf(i)` as its API, the address a client outside the
   * hosts reaches it by.
   */
  readonly addresses?: {
    readonly hostOf: (index: number) => string;
    readonly apiOf: (index: number) => string;
  };
  /**
   * On loopback too, the API a cluster of separate hosts has: HTTPS with a certificate from
   * the cluster CA, reads behind a token, and a read token (`read.token`, 0600) beside the
   * API token. Always so with `addresses`.
   */
  readonly secureApi?: boolean;
}

/** The ports every host of an address plan listens on: gossip, raft, content, api, etcd peer, etcd client. */
export const hostPorts = [7946, 7947, 7948, 7949, 2380, 2379] as const;

/** Face ids users type (`--face kubernetes`) and the FabricFace each stands for. */
export const faceByCliName: Readonly<Record<string, FabricFace>> = {
  kubernetes: exampleFaces[0]!,
  nomad: exampleFaces[1]!,
  systemd: exampleFaces[2]!,
  pureraft: exampleFaces[3]!,
  baremetal: exampleFaces[4]!,
};

/**
 * The FabricFace a `--face NAME` stands for: a built-in face, or an add-on face found by name
 * in the face registry (installed packages, plugin directories, the faces config).
 */
export async function fabricFaceFor(name: string): Promise<FabricFace | undefined> {
  const builtIn = faceByCliName[name];
  if (builtIn !== undefined) return builtIn;
  const parsed = FabricFace.safeParse({ name, kind: { protocol: name } });
  if (!parsed.success) return undefined;
  const loaded = await loadFace(name);
  return loaded.ok ? parsed.data : undefined;
}

export async function createMeshLayout(plan: MeshPlan): Promise<{ mesh: MeshFile; configs: string[] }> {
  const directory = resolve(plan.directory);
  const face = await fabricFaceFor(plan.faceId);
  if (face === undefined) throw new Error(`unknown face ${plan.faceId}`);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const keyFile = join(directory, "cluster.key");
  const tokenFile = join(directory, "api.token");
  await writeFile(keyFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  await writeFile(tokenFile, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
  // Every node of a local mesh holds the CA key: any of them may lead, and the leader issues.
  await writeClusterCa(
    await createClusterCa("revoada-cluster-ca"),
    join(directory, "ca.crt"),
    join(directory, "ca.key"),
  );
  const portsPerNode = plan.actuator?.etcd === true ? 6 : 4;
  const addresses = plan.addresses;
  const secure = plan.secureApi === true || addresses !== undefined;
  const readTokenFile = join(directory, "read.token");
  if (plan.secureApi === true)
    await writeFile(readTokenFile, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
  const ports =
    addresses === undefined
      ? await freePorts(plan.nodes * portsPerNode)
      : Array.from({ length: plan.nodes }, () => hostPorts.slice(0, portsPerNode)).flat();
  const hostOf = (i: number) => addresses?.hostOf(i) ?? "127.0.0.1";
  const listenAddress = (i: number, slot: number) => `${hostOf(i)}:${ports[i * portsPerNode + slot]!}`;
  const zones = plan.zones ?? ["zone-a", "zone-b", "zone-c"];
  const gossipAddress = (i: number) => listenAddress(i, 0);
  const configs: string[] = [];
  const entries: MeshFile["nodes"] = [];
  for (let i = 0; i < plan.nodes; i += 1) {
    const name = `node-${i + 1}`;
    const nodeDirectory = join(directory, name);
    await mkdir(nodeDirectory, { recursive: true, mode: 0o700 });
    const config: NodeConfig = {
      name,
      data_dir: "data",
      output_dir: "out",
      listen: {
        gossip: gossipAddress(i),
        raft: listenAddress(i, 1),
        content: listenAddress(i, 2),
        api: listenAddress(i, 3),
      },
      // Every other node is a seed, so any node (the founder too) can rejoin after a restart.
      seeds: Array.from({ length: plan.nodes }, (_, j) => j)
        .filter((j) => j !== i)
        .map(gossipAddress),
      bootstrap: i === 0,
      cluster_key_file: "../cluster.key",
      api_token_file: "../api.token",
      pki: { ca_cert_file: "../ca.crt", ca_key_file: "../ca.key" },
      // On loopback, plain HTTP and open reads, asked for explicitly (the console, tests and
      // scripts read without a token); on their own addresses (network namespaces), HTTPS
      // with a certificate from the CA and reads behind the token (docs/join.md).
      ...(secure
        ? plan.secureApi === true
          ? { api: { read_token_file: "../read.token" } }
          : {}
        : { api: { plain_http: true, open_reads: true } }),
      strategy: plan.strategy ?? homelabStrategy,
      formation: plan.formation ?? "quorum-3m",
      face,
      zone: zones[i % zones.length]!,
      rack: `rack-${(i % 2) + 1}`,
      labels: {},
      capacity: { cpu_millis: 4000, memory_bytes: 8 * 2 ** 30, storage_bytes: 100 * 2 ** 30, pods: 110 },
      log_level: plan.logLevel ?? "info",
      ...(plan.policy === undefined ? {} : { policy: plan.policy }),
      ...(plan.learnersMax === undefined ? {} : { learners_max: plan.learnersMax }),
      ...(plan.relayFanout === undefined ? {} : { relay_fanout: plan.relayFanout }),
      ...(plan.actuator === undefined
        ? {}
        : {
            actuator: {
              runtime: plan.actuator.runtime,
              // The nodes share this machine: what a host keeps under / goes under each node's own directory.
              ...(plan.actuator.runtime === "process" ? {} : { host_root: join(nodeDirectory, "host") }),
              ...(plan.actuator.etcd === true
                ? {
                    etcd: {
                      peer: listenAddress(i, 4),
                      client: listenAddress(i, 5),
                    },
                  }
                : {}),
            },
          }),
    };
    const configPath = join(nodeDirectory, "node.yaml");
    await writeFile(configPath, stringifyYaml(config));
    configs.push(configPath);
    entries.push({ name, config: configPath, api: addresses?.apiOf(i) ?? config.listen.api, pid: null });
  }
  const mesh: MeshFile = {
    version: 1,
    face: plan.faceId,
    token_file: tokenFile,
    ...(secure ? { ca_file: join(directory, "ca.crt") } : {}),
    nodes: entries,
  };
  await writeFile(join(directory, meshFileName), `${JSON.stringify(mesh, null, 2)}\n`);
  return { mesh, configs };
}

/** Distinct free loopback ports, found by binding port 0 (held open until all are found). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolvePort, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolvePort(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}
