import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import {
  DnsLabel,
  type FabricFace,
  Formation,
  homelabStrategy,
  shortNodeId,
} from "@revoada/fabric-core/vocabulary";
import { type Command, Option } from "commander";
import { z } from "zod";
import { NodeStatusReply } from "../../api/schemas.js";
import { parseHostPort } from "../../gossip/gossip-driver.js";
import { loadOrCreateIdentity } from "../../identity.js";
import { hostConfigExists, writeHostLayout } from "../../join/host-layout.js";
import { pinCa, requestJoin } from "../../join/join-client.js";
import { JoinTokenView } from "../../join/join-protocol.js";
import {
  formatJoinToken,
  generateJoinToken,
  isLoopbackHost,
  parseCaHash,
  parseDurationMs,
  parseJoinToken,
  secretSha256,
} from "../../join/join-token.js";
import { ApiClient, exitCodeOfStatus } from "../../mesh/api-client.js";
import { readMeshFile } from "../../mesh/mesh-file.js";
import { fabricFaceFor, faceByCliName } from "../../mesh/mesh-setup.js";
import { revoadaBin } from "../../mesh/supervisor.js";
import { caFingerprint, createClusterCa } from "../../pki/ca.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { wholeNumber } from "../numbers.js";
import { type OutputFormat, outputOption, render } from "../output.js";

/**
 * `revoada init`, `revoada join` and `revoada token create|list|revoke`: a cluster of separate
 * hosts, kubeadm style (docs/join.md). `init` makes the cluster's secrets and the first node's
 * config, starts it and prints a join command with a short-lived token and the CA hash; `join`
 * pins the CA by that hash, proves the token and gets the cluster's keys; tokens live in the
 * committed state (hashed), so a token works against any node.
 */
const defaultDir = "./revoada";
const defaultPortBase = "7940";
const defaultTtl = "24h";

export function registerJoin(program: Command): void {
  registerInit(program);
  registerJoinCommand(program);
  registerToken(program);
}

interface HostFlags {
  dir: string;
  name?: string;
  address?: string;
  portBase: string;
  zone: string;
  start: boolean;
  waitMs: string;
}

const hostOptions = (command: Command, what: string) =>
  command
    .option("--dir <dir>", `this host's revoada directory (node.yaml, secrets, data) for ${what}`, defaultDir)
    .option("--name <name>", "this node's name, a DNS-1123 label (default: the host name)")
    .option("--address <host>", "the address this node listens on and advertises")
    .option("--port-base <port>", "gossip, raft, content and api listen on PORT .. PORT+3", defaultPortBase)
    .option("--zone <zone>", "this node's zone (placement spreads over zones)", "zone-a")
    .option("--no-start", "only write the files; print how to start the node")
    .option("--wait-ms <ms>", "how long to wait for the started node to answer", "30000");

function registerInit(program: Command): void {
  hostOptions(
    program
      .command("init")
      .description(
        "found a cluster on this host: secrets, CA, node config; start the node and print a join command with a bootstrap token",
      ),
    "the first node",
  )
    .option(
      "--face <face>",
      `face every node renders: ${Object.keys(faceByCliName).join(", ")}, or an add-on face by name`,
      "kubernetes",
    )
    .addOption(
      new Option("--formation <formation>", "the control-plane formation")
        .choices(Formation.options)
        .default("quorum-3m"),
    )
    .option("--token-ttl <duration>", "the first join token's lifetime (30m, 24h, 7d)", defaultTtl)
    .option("--single-use", "the first join token admits one host only")
    .action(
      async (
        options: HostFlags & { face: string; formation: Formation; tokenTtl: string; singleUse?: boolean },
      ) => {
        const ttlMs = ttlOf(options.tokenTtl, "--token-ttl");
        const host = hostFlags(options, "127.0.0.1");
        const face = await fabricFaceFor(options.face);
        if (face === undefined)
          throw new CliError(`unknown face ${options.face}; see revoada face list`, exitCodes.notFound);
        refuseExisting(options.dir);
        const ca = await createClusterCa("revoada-cluster-ca");
        const { config, mesh } = await writeHostLayout(
          {
            ...host,
            bootstrap: true,
            seeds: [],
            strategy: homelabStrategy,
            formation: options.formation,
            face,
            plainHttp: false,
            faceName: options.face,
          },
          {
            clusterKeyHex: randomBytes(32).toString("hex"),
            apiToken: randomBytes(24).toString("base64url"),
            readToken: randomBytes(24).toString("base64url"),
            caCertPem: ca.certPem,
            caKeyPem: ca.keyPem ?? "",
          },
        );
        const out = process.stdout;
        out.write(
          `cluster initialised in ${resolve(options.dir)} (node ${host.name}, CA ${ca.fingerprint})\n`,
        );
        if (isLoopbackHost(host.address)) {
          out.write(
            `it listens on ${host.address}: only this host can join; --address names one others reach\n`,
          );
        }
        if (!options.start) {
          out.write(`start the node:   revoada node --config ${config}\n`);
          out.write(`then make a join token: revoada token create --dir ${options.dir}\n`);
          return;
        }
        const client = new ApiClient(
          mesh.nodes[0]!.api,
          await readFile(mesh.token_file, "utf8").then((t) => t.trim()),
          3000,
          ca.certPem,
        );
        await startNode(config, options, client, true);
        const created = await createToken(client, ttlMs, options.singleUse === true, "revoada init");
        out.write(
          `join another host with (the token expires in ${options.tokenTtl}${options.singleUse === true ? ", single-use" : ""}):\n`,
        );
        out.write(`  ${joinCommand(client.address, created.token, ca.fingerprint)}\n`);
        out.write(`more tokens: revoada token create --dir ${options.dir}\n`);
      },
    );
}

function registerJoinCommand(program: Command): void {
  hostOptions(
    program
      .command("join")
      .description(
        "join this host to a cluster: pin its CA by hash, prove a bootstrap token, receive the cluster's keys",
      )
      .argument("<addr>", "API address (host:port) of any node of the cluster")
      .requiredOption("--token <id.secret>", "the bootstrap token (revoada token create)")
      .requiredOption("--ca-hash <sha256:hex>", "the cluster CA's hash, as `revoada init` printed it"),
    "this node",
  ).action(async (address: string, options: HostFlags & { token: string; caHash: string }) => {
    // The token is checked for shape only, and never echoed (not even in an error).
    const token = parseJoinToken(options.token);
    if (token === null)
      throw new CliError("--token must be <id>.<secret>: 6 and 16 of [a-z0-9]", exitCodes.usage);
    const caHash = parseCaHash(options.caHash);
    if (caHash === null)
      throw new CliError("--ca-hash must be sha256: followed by 64 hex digits", exitCodes.usage);
    if (parseHostPort(address) === null)
      throw new CliError(`ADDR must be host:port, got ${JSON.stringify(address)}`, exitCodes.usage);
    const named = hostFlags(options, "");
    refuseExisting(options.dir);
    const pinned = await pinCa(address, caHash);
    const local = named.address === "" ? pinned.localAddress.replace(/^::ffff:/, "") : named.address;
    const signer = await loadOrCreateIdentity(join(resolve(options.dir), "data"));
    const reply = await requestJoin(address, pinned, { token, signer, name: named.name, caHash });
    const face = await faceNameOf(reply.face);
    const { config, mesh } = await writeHostLayout(
      {
        ...named,
        address: local,
        bootstrap: false,
        seeds: reply.seeds,
        strategy: reply.strategy,
        formation: reply.formation,
        face: reply.face,
        plainHttp: false,
        faceName: face,
      },
      {
        clusterKeyHex: reply.cluster_key,
        keySets: reply.key_sets,
        apiToken: reply.api_token,
        readToken: reply.read_token,
        caCertPem: reply.ca_cert_pem,
        caKeyPem: reply.ca_key_pem,
      },
    );
    const out = process.stdout;
    out.write(
      `joined: node ${named.name} (${shortNodeId(signer.nodeId)}) has the cluster's keys in ${resolve(options.dir)}\n`,
    );
    if (!options.start) {
      out.write(`start the node: revoada node --config ${config}\n`);
      return;
    }
    const client = new ApiClient(mesh.nodes[0]!.api, reply.api_token, 3000, reply.ca_cert_pem);
    await startNode(config, options, client, false);
    out.write("it enters as a learner; the policy decides its role (revoada status --dir DIR)\n");
  });
}

function registerToken(program: Command): void {
  const token = program
    .command("token")
    .description("bootstrap tokens for revoada join (create, list, revoke)");
  token
    .command("create")
    .description("create a join token (committed hashed; shown once) and print the join command")
    .option("--dir <dir>", "a host's revoada directory or a mesh directory (mesh.json)", defaultDir)
    .option("--ttl <duration>", "lifetime (30m, 24h, 7d)", defaultTtl)
    .option("--single-use", "admit one host only")
    .option("--description <text>", "shown by token list", "")
    .action(async (options: { dir: string; ttl: string; singleUse?: boolean; description: string }) => {
      const ttlMs = ttlOf(options.ttl, "--ttl");
      if (options.description.length > 128)
        throw new CliError("--description: at most 128 characters", exitCodes.usage);
      const target = await tokenTarget(options.dir);
      const created = await createToken(
        target.client,
        ttlMs,
        options.singleUse === true,
        options.description,
      );
      process.stdout.write(
        `token ${created.token.id} created (expires in ${options.ttl}${options.singleUse === true ? ", single-use" : ""})\n`,
      );
      if (target.caPem === undefined) {
        process.stdout.write(
          `token: ${formatJoinToken(created.token)}\nthis cluster's API is plain HTTP: revoada join needs HTTPS (docs/join.md)\n`,
        );
        return;
      }
      process.stdout.write(`  ${joinCommand(created.address, created.token, caFingerprint(target.caPem))}\n`);
    });
  token
    .command("list")
    .description("the cluster's join tokens: id, state, expiry, uses (never a secret)")
    .option("--dir <dir>", "a host's revoada directory or a mesh directory (mesh.json)", defaultDir)
    .addOption(outputOption())
    .action(async (options: { dir: string; output: OutputFormat }) => {
      const { client } = await tokenTarget(options.dir);
      const tokens = await client.get("/v1/join-tokens", z.array(JoinTokenView));
      process.stdout.write(
        render(options.output, tokens, () =>
          tokens.map((t) => ({
            id: t.id,
            state: t.state,
            expires: new Date(t.expires_at_ms).toISOString(),
            single_use: t.single_use,
            uses: t.uses.map((use) => use.name).join(",") || "-",
            description: t.description,
          })),
        ),
      );
    });
  token
    .command("revoke")
    .description("revoke a join token by id")
    .argument("<id>", "the token id (the part before the dot)")
    .option("--dir <dir>", "a host's revoada directory or a mesh directory (mesh.json)", defaultDir)
    .action(async (id: string, options: { dir: string }) => {
      if (!/^[a-z0-9]{6}$/.test(id))
        throw new CliError("a token id is 6 of [a-z0-9] (the part before the dot)", exitCodes.usage);
      const { client } = await tokenTarget(options.dir);
      await atLeader(client, "DELETE", `/v1/join-tokens/${id}`);
      process.stdout.write(`token ${id} revoked\n`);
    });
}

// ---------------------------------------------------------------------------------------

function ttlOf(text: string, flag: string): number {
  const ms = parseDurationMs(text);
  if (ms === null || ms < 1_000 || ms > 366 * 86_400_000) {
    throw new CliError(
      `${flag}: ${JSON.stringify(text)} is not a duration from 1s to 366d (30m, 24h, 7d)`,
      exitCodes.usage,
    );
  }
  return ms;
}

function hostFlags(options: HostFlags, defaultAddress: string) {
  const name =
    options.name ??
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .slice(0, 63);
  if (!DnsLabel.safeParse(name).success) {
    throw new CliError(
      `--name: ${JSON.stringify(name)} is not a DNS-1123 label; give one with --name`,
      exitCodes.usage,
    );
  }
  const address = options.address ?? defaultAddress;
  if (address !== "" && parseHostPort(`${address.includes(":") ? `[${address}]` : address}:1`) === null) {
    throw new CliError(
      `--address: ${JSON.stringify(address)} is not a host name or address`,
      exitCodes.usage,
    );
  }
  const portBase = wholeNumber("--port-base", options.portBase, 1, 65_532);
  if (options.zone.length > 63) throw new CliError("--zone: at most 63 characters", exitCodes.usage);
  return { directory: options.dir, name, address, portBase, zone: options.zone };
}

function refuseExisting(directory: string): void {
  if (hostConfigExists(directory)) {
    throw new CliError(
      `${resolve(directory)} already holds a node config (node.yaml); remove it or choose another --dir`,
      exitCodes.failed,
    );
  }
}

async function faceNameOf(face: FabricFace): Promise<string> {
  const builtIn = Object.entries(faceByCliName).find(([, known]) => known.name === face.name);
  return builtIn?.[0] ?? face.name;
}

function joinCommand(address: string, token: { id: string; secret: string }, caHash: string): string {
  return `revoada join ${address} --token ${formatJoinToken(token)} --ca-hash ${caHash}`;
}

/**
 * Starts `revoada node` detached (it outlives this command), logging to DIR/node.log; waits
 * until it answers (and leads, for the founder), then says so.
 */
async function startNode(
  config: string,
  options: Pick<HostFlags, "dir" | "waitMs">,
  client: ApiClient,
  untilLeader: boolean,
): Promise<void> {
  const directory = options.dir;
  const waitMs = wholeNumber("--wait-ms", options.waitMs, 1000, 600_000);
  const log = openSync(join(resolve(directory), "node.log"), "a", 0o600);
  const child = spawn(process.execPath, [revoadaBin, "node", "--config", config], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  let exited: number | null = null;
  child.once("exit", (code) => {
    exited = code ?? -1;
  });
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (exited !== null) {
      const tail = (await readFile(join(resolve(directory), "node.log"), "utf8").catch(() => ""))
        .split("\n")
        .slice(-6)
        .join("\n");
      throw new CliError(`the node exited (code ${exited}):\n${tail}`, exitCodes.failed);
    }
    const status = await client.get("/v1/status", NodeStatusReply).catch(() => undefined);
    if (status !== undefined && (!untilLeader || status.raft.state === "leader")) {
      process.stdout.write(
        `node started (pid ${child.pid ?? "?"}); log: ${join(resolve(directory), "node.log")}\n`,
      );
      return;
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new CliError(
    `the node did not answer within ${waitMs} ms (see ${join(resolve(directory), "node.log")})`,
    exitCodes.unavailable,
  );
}

interface TokenTarget {
  readonly client: ApiClient;
  readonly caPem: string | undefined;
}

/** The first node of the directory's mesh.json that answers, with the token and CA it names. */
async function tokenTarget(directory: string): Promise<TokenTarget> {
  const mesh = await readMeshFile(directory);
  if (!mesh.ok) {
    throw new CliError(
      `no revoada directory at ${directory} (mesh.json); run revoada init or revoada join there, or give --dir`,
      exitCodes.notFound,
    );
  }
  const token = (await readFile(mesh.value.token_file, "utf8")).trim();
  const caPem = mesh.value.ca_file === undefined ? undefined : await readFile(mesh.value.ca_file, "utf8");
  for (const node of mesh.value.nodes) {
    const client = new ApiClient(node.api, token, 3000, caPem);
    if ((await client.get("/v1/status", NodeStatusReply).catch(() => undefined)) !== undefined)
      return { client, caPem };
  }
  throw new CliError(`no node of ${directory} answers`, exitCodes.unavailable);
}

/** Sends a mutation, following a 421 once to the leader's advertised API. */
async function atLeader(
  client: ApiClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ address: string; payload: unknown }> {
  let target = client;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const response = await target.fetch(method, path, body);
    const payload: unknown = await response.json().catch(() => undefined);
    if (response.ok) return { address: target.address, payload };
    const record = (payload ?? {}) as { error?: unknown; leader_api?: unknown };
    if (response.status === 421 && typeof record.leader_api === "string" && attempt === 0) {
      target = target.at(record.leader_api);
      continue;
    }
    const message = typeof record.error === "string" ? record.error : `HTTP ${response.status}`;
    throw new CliError(`${target.address}${path}: ${message}`, exitCodeOfStatus(response.status));
  }
  throw new CliError(`${client.address}: the leader moved; try again`, exitCodes.unavailable);
}

/** Makes the secret here, sends only its hash; returns the token and the node that took it. */
async function createToken(
  client: ApiClient,
  ttlMs: number,
  singleUse: boolean,
  description: string,
): Promise<{ token: { id: string; secret: string }; address: string }> {
  const token = generateJoinToken();
  const { address } = await atLeader(client, "POST", "/v1/join-tokens", {
    id: token.id,
    secret_sha256: secretSha256(token.secret),
    ttl_ms: ttlMs,
    single_use: singleUse,
    description,
  });
  return { token, address };
}
