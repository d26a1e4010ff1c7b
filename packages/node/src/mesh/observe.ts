import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { DecisionRecord } from "@revoada/fabric-core/policy";
import { FabricState, type NodeId } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { MeshMember, NodeStatusReply } from "../api/schemas.js";
import type { ApiClient } from "./api-client.js";

/**
 * Polling helpers that watch a running mesh from the outside, as an operator would: through
 * each node's API and its rendered output directory. The demo and the failover benchmark
 * time every step of a failover with them.
 */
export interface MeshNodeHandle {
  readonly name: string;
  readonly client: ApiClient;
  readonly outputDir: string;
}

export async function statusOf(node: MeshNodeHandle): Promise<NodeStatusReply | undefined> {
  return node.client.get("/v1/status", NodeStatusReply).catch(() => undefined);
}

export async function stateOf(node: MeshNodeHandle): Promise<FabricState | undefined> {
  return node.client.get("/v1/state", FabricState).catch(() => undefined);
}

export async function meshOf(node: MeshNodeHandle): Promise<MeshMember[] | undefined> {
  return node.client.get("/v1/mesh", z.array(MeshMember)).catch(() => undefined);
}

export async function chainOf(node: MeshNodeHandle): Promise<string | undefined> {
  return node.client.text("/v1/chain/export").catch(() => undefined);
}

/** The policy's recent decision records on this node (its rounds as leader), oldest first. */
export async function decisionsOf(
  node: MeshNodeHandle,
): Promise<{ at_ms: number; record: DecisionRecord }[] | undefined> {
  return node.client
    .get("/v1/decisions", z.array(z.object({ at_ms: z.number(), record: DecisionRecord })))
    .catch(() => undefined);
}

/**
 * One line per node for a failed wait's message: Raft role, term, applied index, voters, and
 * how the node's gossip sees each member; then the last distinct policy records of every node
 * that decided, so a CI failure says what the policy was waiting for.
 */
export async function describeMesh(nodes: readonly MeshNodeHandle[], decisionsShown = 8): Promise<string> {
  const lines: string[] = [];
  for (const node of nodes) {
    const [status, view, decisions] = await Promise.all([statusOf(node), meshOf(node), decisionsOf(node)]);
    const raft = status?.raft;
    lines.push(
      `${node.name}: ${raft === undefined ? "no answer" : `${raft.state} term ${raft.term} applied ${raft.applied_index} voters ${raft.voters.map((v) => v.slice(0, 8)).join(",")}`}; view ${view?.map((m) => `${m.name}=${m.status}`).join(",") ?? "none"}`,
    );
    const distinct: string[] = [];
    for (const { record } of decisions ?? []) {
      const line = `  ${record.outcome} ${record.action} ${record.rule} ${record.subject.slice(0, 8)}: ${record.message}`;
      if (distinct.at(-1) !== line) distinct.push(line);
    }
    lines.push(...distinct.slice(-decisionsShown));
  }
  return lines.join("\n");
}

/** Polls `probe` every `intervalMs` until it returns a value, or gives up after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Voters of the control plane as the committed state says: nodes holding `etcd`. */
export function etcdHolders(state: FabricState): NodeId[] {
  return Object.values(state.nodes)
    .filter((node) => node.roles.includes("etcd"))
    .map((node) => node.id)
    .sort();
}

/** The first live node whose status names itself leader. */
export async function findLeader(
  nodes: readonly MeshNodeHandle[],
): Promise<{ node: MeshNodeHandle; status: NodeStatusReply } | undefined> {
  for (const node of nodes) {
    const status = await statusOf(node);
    if (status?.raft.state === "leader") return { node, status };
  }
  return undefined;
}

/**
 * A mutation sent to whoever leads when it is sent: on a loaded machine leadership can move
 * between finding the leader and posting (421), and the API does not forward. For idempotent
 * mutations (a workload upsert, a blob): a retried one that had committed changes nothing.
 */
export async function postToLeader<T>(
  nodes: readonly MeshNodeHandle[],
  path: string,
  body: unknown,
  reply: z.ZodType<T>,
): Promise<{ node: MeshNodeHandle; value: T }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const leader = await findLeader(nodes);
    if (leader !== undefined) {
      try {
        return { node: leader.node, value: await leader.node.client.post(path, body, reply) };
      } catch (error) {
        lastError = error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw lastError instanceof Error ? lastError : new Error(`no leader took ${path}`);
}

/** path -> sha256 of every file under `directory` (the rendered view). */
export async function snapshotFiles(directory: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      // An atomic write's temp file (`.<name>.tmp-<suffix>`, fs/durable.ts) is not a rendered file.
      else if (entry.isFile() && !/^\..+\.tmp-[^/]+$/.test(entry.name)) {
        // A render in progress writes a temp file and renames it: it may be gone by now.
        const bytes = await readFile(path).catch((error: unknown) => {
          if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
          throw error;
        });
        if (bytes !== undefined)
          files.set(relative(directory, path), createHash("sha256").update(bytes).digest("hex"));
      }
    }
  };
  await walk(directory);
  return files;
}

export interface FileChanges {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

export function diffFiles(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): FileChanges {
  const added = [...after.keys()].filter((path) => !before.has(path)).sort();
  const removed = [...before.keys()].filter((path) => !after.has(path)).sort();
  const changed = [...after.keys()]
    .filter((path) => before.has(path) && before.get(path) !== after.get(path))
    .sort();
  return { added, removed, changed };
}
