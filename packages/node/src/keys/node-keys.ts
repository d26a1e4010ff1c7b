import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/durable.js";
import { type KeyChange, type KeyId, KeySet } from "./key-set.js";

/**
 * A node's two rotating key sets: `cluster` (the node transport's handshake: Raft and
 * content) and `gossip` (the gossip keyring). Both start as the one key of
 * `cluster_key_file`; once `revoada keys rotate` changes a set, the node keeps it in
 * `data_dir/keys/<ring>.keys` (mode 0600, in a 0700 directory, written atomically before the
 * step is acknowledged) and reads it from there on every start, so a restart keeps the
 * rotation. A node that was down during a rotation comes back with the retired key only,
 * and is refused until it is given the current one.
 */
export const keyRings = ["cluster", "gossip"] as const;
export type KeyRingName = (typeof keyRings)[number];

export interface NodeKeys {
  readonly cluster: KeySet;
  readonly gossip: KeySet;
  /** Where the sets are persisted (`data_dir/keys`). */
  readonly directory: string;
}

export function keyFileOf(directory: string, ring: KeyRingName): string {
  return join(directory, `${ring}.keys`);
}

/** The key sets from `data_dir/keys`, or the cluster key for a set never rotated. */
export async function loadNodeKeys(dataDirectory: string, clusterKey: Uint8Array): Promise<NodeKeys> {
  const directory = join(dataDirectory, "keys");
  const load = async (ring: KeyRingName): Promise<KeySet> => {
    const path = keyFileOf(directory, ring);
    const text = await readFile(path, "utf8").catch((error: unknown) => {
      if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
      throw error;
    });
    return text === undefined ? KeySet.create([clusterKey]) : KeySet.parse(text, path);
  };
  return { cluster: await load("cluster"), gossip: await load("gossip"), directory };
}

export async function saveKeySet(keys: NodeKeys, ring: KeyRingName): Promise<void> {
  await mkdir(keys.directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyFileOf(keys.directory, ring), keys[ring].format(), { mode: 0o600 });
}

export type RotationStep = "install" | "promote" | "retire";

/**
 * One rotation step on one set, persisted when it changed anything. Install takes the key,
 * promote and retire its id. Steps are idempotent, so a rotation that stopped half-way can be
 * run again.
 */
export async function applyRotationStep(
  keys: NodeKeys,
  ring: KeyRingName,
  step:
    | { readonly type: "install"; readonly key: Uint8Array }
    | { readonly type: "promote" | "retire"; readonly id: KeyId },
): Promise<KeyChange> {
  const set = keys[ring];
  const change =
    step.type === "install"
      ? set.install(step.key)
      : step.type === "promote"
        ? set.promote(step.id)
        : set.retire(step.id);
  if (change.ok && change.changed) await saveKeySet(keys, ring);
  return change;
}
