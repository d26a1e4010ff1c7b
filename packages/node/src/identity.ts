import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Signer, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { writeFileAtomic } from "./fs/durable.js";
import { type Unsealer, unsealerFromSeed } from "./pki/seal.js";

/**
 * The node's ed25519 identity: created on first start, persisted as `identity.key` (the
 * 32-byte seed, hex) with 0600 permissions, reused on every restart so the NodeId is stable.
 */
export const identityFileName = "identity.key";

export async function loadOrCreateIdentity(dataDir: string): Promise<Signer> {
  return signerFromSeed(await loadOrCreateSeed(dataDir));
}

/** The identity's signer and its unsealer (opens boxes sealed to this NodeId, pki/seal.ts). */
export async function loadOrCreateNodeKeys(dataDir: string): Promise<{ signer: Signer; unsealer: Unsealer }> {
  const seed = await loadOrCreateSeed(dataDir);
  const signer = signerFromSeed(seed);
  return { signer, unsealer: unsealerFromSeed(seed, signer.nodeId) };
}

async function loadOrCreateSeed(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, identityFileName);
  const existing = await readFile(path, "utf8").catch((error: unknown) => {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing !== undefined) {
    const seedHex = existing.trim();
    if (!/^[0-9a-f]{64}$/.test(seedHex)) throw new Error(`${path}: not a 32-byte hex ed25519 seed`);
    return Buffer.from(seedHex, "hex");
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const seed = randomBytes(32);
  await writeFileAtomic(path, `${seed.toString("hex")}\n`, { mode: 0o600 });
  return seed;
}
