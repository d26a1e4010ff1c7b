import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { PolicyConfigOverrides } from "@revoada/fabric-core/policy";
import {
  Capacity,
  FabricFace,
  type FabricIssue,
  FabricStrategy,
  Formation,
  HostPort,
  Labels,
  livenessIssues,
  parseSourceText,
  type Result,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { ApiConfig, apiConfigIssues } from "../api/api-config.js";
import { type ClusterCa, loadClusterCa } from "../pki/ca.js";
import { logLevels } from "./log.js";

/**
 * The actuator: `runtime` makes the host run what the face rendered (`process`: child
 * processes; `kubelet`: static pods plus the Node's labels through the API server at
 * `kubeconfig`; `systemd`: systemctl). With `etcd`, the fabric runs a real etcd member on
 * this node at these addresses and keeps etcd's membership following the etcd role
 * (member add --learner, promote, remove; `process` runtime only).
 */
export const ActuatorConfig = z.strictObject({
  runtime: z.enum(["process", "kubelet", "systemd"]),
  etcd: z
    .strictObject({
      peer: HostPort,
      client: HostPort,
      /** The etcd member's data directory (default: `<data_dir>/etcd`). */
      data_dir: z.string().min(1).optional(),
    })
    .optional(),
  kubeconfig: z.string().min(1).optional(),
  /**
   * The directory the host's absolute paths are under (default `/`): under `kubelet` and
   * `systemd` the rendered etcd's revocation list is written to
   * `<host_root>/etc/kubernetes/pki/etcd/etcd-revoked.crl`. A local mesh gives each node its
   * own, since its nodes share one machine.
   */
  host_root: z.string().min(1).optional(),
});
export type ActuatorConfig = z.infer<typeof ActuatorConfig>;

/**
 * `node.yaml`: everything a node needs to start. Secrets (cluster key, API token) are read
 * from files named here, never written into the config itself, so configs can be shared
 * and logged. Relative paths resolve against the config file's directory.
 */
export const NodeConfig = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a node name is a DNS-1123 label")
    .max(63),
  data_dir: z.string().min(1),
  output_dir: z.string().min(1),
  listen: z.strictObject({
    gossip: HostPort,
    raft: HostPort,
    content: HostPort,
    api: HostPort,
  }),
  /** Gossip addresses of nodes to join through; empty for the first node. */
  seeds: z.array(HostPort).max(64),
  /** The node that founds the Raft group when no log exists yet (one per cluster). */
  bootstrap: z.boolean(),
  cluster_key_file: z.string().min(1),
  api_token_file: z.string().min(1),
  strategy: FabricStrategy,
  formation: Formation,
  face: FabricFace,
  /** Module that provides the face: a package name or a path; defaults by face protocol. */
  face_module: z.string().min(1).optional(),
  zone: z.string().max(63),
  rack: z.string().max(63),
  labels: Labels,
  capacity: Capacity,
  log_level: z.enum(logLevels),
  /** Overrides of the policy defaults derived from the strategy (hysteresis, flap damping, ...). */
  policy: PolicyConfigOverrides.optional(),
  /**
   * Raft learners at most besides the voters, when this node leads (docs/scale.md); the other
   * nodes learn committed state through the state relay. The committed strategy's
   * `consensus.kind.learners_max` wins over it; absent in both: every alive member is a learner.
   */
  learners_max: z.int().min(0).max(4096).optional(),
  /**
   * Children per node in the state relay's tree (docs/scale.md: F); absent: the core's default
   * (8). Every node computes the tree itself, so every node of a cluster should carry one value.
   */
  relay_fanout: z.int().min(1).max(64).optional(),
  /** How the node makes the host match what it renders (docs/actuators.md); absent: files only. */
  actuator: ActuatorConfig.optional(),
  /**
   * The cluster CA (docs/control-plane.md): the certificate pins TLS peers; the key, where a
   * node holds it, lets that node issue etcd and API certificates when it leads.
   */
  pki: z
    .strictObject({
      ca_cert_file: z.string().min(1),
      ca_key_file: z.string().min(1).optional(),
    })
    .optional(),
  /** How the HTTP API is served: TLS with the cluster CA unless plain HTTP is asked for on loopback (docs/join.md). */
  api: ApiConfig.optional(),
});
export type NodeConfig = z.infer<typeof NodeConfig>;

export interface LoadedConfig {
  readonly config: NodeConfig;
  readonly clusterKey: Buffer;
  readonly apiToken: string;
  /** Loaded from `pki`; undefined when the config names no CA. */
  readonly clusterCa: ClusterCa | undefined;
  /** From `api.read_token_file`: may read, not change anything. */
  readonly readToken: string | undefined;
}

/**
 * Parses and checks a node config: schema errors name the field and line:column; a strategy
 * that cannot prove liveness is refused with the reason; secret files must exist and be
 * well formed.
 */
export async function loadNodeConfig(path: string): Promise<Result<LoadedConfig>> {
  const text = await readFile(path, "utf8");
  // A strategy that cannot prove liveness is refused at the field and line:column at fault.
  const parsed = parseSourceText(NodeConfig, text, path, {
    check: (value) => [
      ...livenessIssues(value.strategy).map((error) => ({
        code: error.code,
        message: `strategy fails proveLiveness: ${error.message}`,
        path: ["strategy", ...error.path],
      })),
      ...apiConfigIssues(value),
      // The founding strategy must let an operator sign: signatures required with no key would
      // refuse every operator shift, and every node would refuse the strategy itself.
      ...(value.strategy.attestation.require_operator_signature &&
      (value.strategy.attestation.operators ?? []).length === 0
        ? [
            {
              code: "custom" as const,
              message:
                "require_operator_signature is on but attestation.operators names no key: no operator shift could be signed (revoada strategy operator-key KEYFILE prints a key)",
              path: ["strategy", "attestation", "require_operator_signature"],
            },
          ]
        : []),
    ],
  });
  if (!parsed.ok) return parsed;
  const base = dirname(resolve(path));
  const config = resolvePaths(parsed.value, base);
  const secrets = await readSecrets(config, path);
  if (!secrets.ok) return secrets;
  return { ok: true, value: { config, ...secrets.value } };
}

function resolvePaths(config: NodeConfig, base: string): NodeConfig {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const faceModule = config.face_module;
  const relativeModule =
    faceModule !== undefined && (faceModule.startsWith("./") || faceModule.startsWith("../"));
  return {
    ...config,
    data_dir: at(config.data_dir),
    output_dir: at(config.output_dir),
    cluster_key_file: at(config.cluster_key_file),
    api_token_file: at(config.api_token_file),
    ...(relativeModule ? { face_module: at(faceModule) } : {}),
    ...(config.pki === undefined
      ? {}
      : {
          pki: {
            ca_cert_file: at(config.pki.ca_cert_file),
            ...(config.pki.ca_key_file === undefined ? {} : { ca_key_file: at(config.pki.ca_key_file) }),
          },
        }),
    ...(config.actuator === undefined ? {} : { actuator: resolveActuator(config.actuator, config, at) }),
    ...(config.api === undefined ? {} : { api: resolveApi(config.api, at) }),
  };
}

function resolveApi(api: ApiConfig, at: (path: string) => string): ApiConfig {
  return {
    ...api,
    ...(api.read_token_file === undefined ? {} : { read_token_file: at(api.read_token_file) }),
    ...(api.cert_file === undefined ? {} : { cert_file: at(api.cert_file) }),
    ...(api.key_file === undefined ? {} : { key_file: at(api.key_file) }),
  };
}

function resolveActuator(
  actuator: ActuatorConfig,
  config: NodeConfig,
  at: (path: string) => string,
): ActuatorConfig {
  const etcd = actuator.etcd;
  return {
    ...actuator,
    ...(actuator.kubeconfig === undefined ? {} : { kubeconfig: at(actuator.kubeconfig) }),
    ...(actuator.host_root === undefined ? {} : { host_root: at(actuator.host_root) }),
    ...(etcd === undefined
      ? {}
      : { etcd: { ...etcd, data_dir: at(etcd.data_dir ?? `${config.data_dir}/etcd`) } }),
  };
}

async function readSecrets(
  config: NodeConfig,
  configPath: string,
): Promise<
  Result<{
    clusterKey: Buffer;
    apiToken: string;
    clusterCa: ClusterCa | undefined;
    readToken: string | undefined;
  }>
> {
  const issues: FabricIssue[] = [];
  const keyText = await readFile(config.cluster_key_file, "utf8").catch(() => undefined);
  const tokenText = await readFile(config.api_token_file, "utf8").catch(() => undefined);
  const keyHex = keyText?.trim() ?? "";
  if (!/^[0-9a-f]{64}$/.test(keyHex)) {
    issues.push({
      code: "cluster-key",
      message: `${config.cluster_key_file} must hold a 32-byte cluster key as 64 hex characters`,
      path: ["cluster_key_file"],
      file: configPath,
    });
  }
  const token = tokenText?.trim() ?? "";
  if (token.length < 16) {
    issues.push({
      code: "api-token",
      message: `${config.api_token_file} must hold an API token of at least 16 characters`,
      path: ["api_token_file"],
      file: configPath,
    });
  }
  const readTokenFile = config.api?.read_token_file;
  const readToken =
    readTokenFile === undefined ? undefined : (await readFile(readTokenFile, "utf8").catch(() => "")).trim();
  if (readToken !== undefined && (readToken.length < 16 || readToken === token)) {
    issues.push({
      code: "api-token",
      message: `${readTokenFile} must hold a read token of at least 16 characters, other than the API token`,
      path: ["api", "read_token_file"],
      file: configPath,
    });
  }
  let clusterCa: ClusterCa | undefined;
  if (config.pki !== undefined) {
    const { ca_cert_file: certFile, ca_key_file: keyFile } = config.pki;
    try {
      clusterCa = await loadClusterCa(certFile, keyFile);
    } catch (error) {
      issues.push({
        code: "cluster-ca",
        message: `cluster CA: ${error instanceof Error ? error.message : String(error)}`,
        path: ["pki"],
        file: configPath,
      });
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    value: { clusterKey: Buffer.from(keyHex, "hex"), apiToken: token, clusterCa, readToken },
  };
}
