import { randomBytes } from "node:crypto";
import { type NodeId, shortNodeId } from "@revoada/fabric-core/vocabulary";
import { type Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import { MeshMember } from "../../api/schemas.js";
import { KeysReply, keySealContext } from "../../keys/key-routes.js";
import { keyIdOf } from "../../keys/key-set.js";
import { type KeyRingName, keyRings } from "../../keys/node-keys.js";
import type { ApiClient } from "../../mesh/api-client.js";
import { sealToNode } from "../../pki/seal.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { type OutputFormat, outputOption, render } from "../output.js";
import { apiOption, clients, dirOption, type Target } from "./mesh.js";

/**
 * `revoada keys status` and `revoada keys rotate [--cluster|--gossip]` (docs/cli.md, "keys"):
 * a new key for the cluster key set (the Raft and content transport's handshake) and/or the
 * gossip keyring, on a running mesh, without downtime. For each set: the new key, sealed to
 * each node's identity, is installed everywhere as accepted; then promoted to primary
 * everywhere; then, after `--settle-ms`, the old primary is retired everywhere. Every node
 * acknowledges each step (persisted, 0600) before the next begins; a node that does not stops
 * the rotation there, with every node still holding both keys, so nothing is cut off.
 */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("the cluster and gossip keys of a running mesh, by id");
  keys
    .command("status")
    .description("every node's key sets by key id: primary, accepted, retired (never the keys)")
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .action(async (options: Target & { output: OutputFormat }) => {
      const nodes = await reachNodes(options, false);
      const rows = nodes.flatMap((node) => keyRows(node.name, node.keys));
      process.stdout.write(
        render(
          options.output,
          nodes.map((node) => ({ name: node.name, ...node.keys })),
          () => rows,
        ),
      );
    });
  keys
    .command("rotate")
    .description(
      "rotate the cluster key and the gossip keyring (or one, with --cluster or --gossip) on a running mesh, without downtime",
    )
    .option("--cluster", "only the cluster key (node transport: Raft and content)")
    .option("--gossip", "only the gossip keyring")
    .addOption(
      new Option("--settle-ms <ms>", "wait between promoting the new key and retiring the old one")
        .default("2000")
        .argParser(settleMs),
    )
    .addOption(dirOption())
    .addOption(apiOption())
    .addOption(outputOption())
    .action(
      async (
        options: Target & {
          output: OutputFormat;
          cluster?: boolean;
          gossip?: boolean;
          settleMs: string | number;
        },
      ) => {
        const rings: KeyRingName[] =
          options.cluster === true && options.gossip !== true
            ? ["cluster"]
            : options.gossip === true && options.cluster !== true
              ? ["gossip"]
              : [...keyRings];
        const nodes = await reachNodes(options, true);
        const settle = typeof options.settleMs === "number" ? options.settleMs : settleMs(options.settleMs);
        for (const ring of rings) await rotate(ring, nodes, settle);
        const after = await Promise.all(
          nodes.map(async (node) => ({ ...node, keys: await keysOf(node.client) })),
        );
        process.stdout.write(
          render(
            options.output,
            after.map((node) => ({ name: node.name, ...node.keys })),
            () => after.flatMap((node) => keyRows(node.name, node.keys)),
          ),
        );
      },
    );
}

interface ReachedNode {
  readonly name: string;
  readonly client: ApiClient;
  readonly keys: KeysReply;
}

function settleMs(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value > 600_000)
    throw new InvalidArgumentError("a whole number of milliseconds, 0 to 600000");
  return value;
}

async function keysOf(client: ApiClient): Promise<KeysReply> {
  return patiently(() => client.get("/v1/keys", KeysReply));
}

/**
 * Retries a call that found the node unreachable (a loaded node can miss the client's
 * timeout), a few times over some seconds. Safe for every call here: reads, and rotation
 * steps, which are idempotent.
 */
async function patiently<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      const unreachable = error instanceof CliError && error.exitCode === exitCodes.unavailable;
      if (!unreachable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/**
 * Every node of the mesh that answers. For a rotation, every member gossip sees alive must be
 * among them (a live node left out would be cut off when the old key is retired); nodes that
 * are down are skipped and named: they hold the retired key when they return and are refused
 * until given the current one.
 */
async function reachNodes(target: Target, forRotation: boolean): Promise<ReachedNode[]> {
  const { clients: list, mesh } = await clients(target);
  const answers = await Promise.all(list.map((client) => keysOf(client).catch((error: unknown) => error)));
  const nodes: ReachedNode[] = [];
  answers.forEach((answer, i) => {
    const name = mesh?.nodes[i]?.name ?? list[i]!.address;
    if (answer instanceof Error) {
      if (answer instanceof CliError && answer.exitCode !== exitCodes.unavailable) throw answer;
      process.stderr.write(`${name}: not reachable, skipped (${answer.message})\n`);
      return;
    }
    nodes.push({ name, client: list[i]!, keys: answer as KeysReply });
  });
  if (nodes.length === 0) throw new CliError("no node of the mesh answers", exitCodes.unavailable);
  if (!forRotation) return nodes;
  const members = await patiently(() => nodes[0]!.client.get("/v1/mesh", z.array(MeshMember)));
  const reached = new Set<string>(nodes.map((node) => node.keys.node));
  const missing = members.filter((member) => member.status === "alive" && !reached.has(member.id));
  if (missing.length > 0) {
    throw new CliError(
      `refusing to rotate: ${missing.map((m) => `${m.name} (${shortNodeId(m.id as NodeId)})`).join(", ")} ` +
        "is alive but not reachable here, and would be cut off when the old key is retired",
      exitCodes.failed,
    );
  }
  return nodes;
}

async function rotate(ring: KeyRingName, nodes: readonly ReachedNode[], settle: number): Promise<void> {
  const primaries = new Set(nodes.map((node) => node.keys[ring].primary));
  if (primaries.size !== 1) {
    throw new CliError(
      `${ring} keys: the nodes send with different primary keys (${[...primaries].join(", ")}); ` +
        "a previous rotation stopped half-way: finish it first (see docs/cli.md, keys)",
      exitCodes.failed,
    );
  }
  const oldId = [...primaries][0]!;
  const key = randomBytes(32);
  const newId = keyIdOf(key);
  const step = async (
    label: string,
    send: (node: ReachedNode) => Promise<KeysReply>,
    holds: (reply: KeysReply) => boolean,
  ): Promise<void> => {
    for (const node of nodes) {
      const reply = await patiently(() => send(node)).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        throw new CliError(
          `${ring} keys: step "${label}" failed on ${node.name}: ${message}\n` +
            `rotation stopped: no node is cut off (${oldId} is retired only once every node sends with ${newId}); ` +
            "`revoada keys status` shows where each node stands",
          exitCodes.failed,
        );
      });
      if (!holds(reply))
        throw new CliError(`${ring} keys: ${node.name} did not ${label} ${newId}`, exitCodes.failed);
    }
    process.stderr.write(
      `${ring} keys: ${label} ${label === "retired" ? oldId : newId} on ${nodes.length} node(s)\n`,
    );
  };
  try {
    await step(
      "installed",
      (node) =>
        node.client.post(
          `/v1/keys/${ring}/install`,
          {
            sealed: sealToNode(node.keys.node, key, keySealContext(ring, node.keys.node)).toString("base64"),
          },
          KeysReply,
        ),
      (reply) => reply[ring].accepted.includes(newId) || reply[ring].primary === newId,
    );
  } finally {
    key.fill(0);
  }
  await step(
    "promoted",
    (node) => node.client.post(`/v1/keys/${ring}/promote`, { key_id: newId }, KeysReply),
    (reply) => reply[ring].primary === newId,
  );
  // Packets sealed under the old key a moment ago are still in flight; let them land.
  await new Promise((resolve) => setTimeout(resolve, settle));
  await step(
    "retired",
    (node) => node.client.post(`/v1/keys/${ring}/retire`, { key_id: oldId }, KeysReply),
    (reply) => reply[ring].retired.includes(oldId),
  );
}

function keyRows(name: string, keys: KeysReply) {
  return keyRings.map((ring) => ({
    node: name,
    ring,
    primary: keys[ring].primary,
    accepted: keys[ring].accepted.join(",") || "-",
    retired: keys[ring].retired.join(",") || "-",
  }));
}
