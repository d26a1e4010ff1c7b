import type { IHasher } from "hash-wasm";
import { assert } from "./assert.js";
import { createBlake3Hasher } from "./blake3-wasm.js";

/**
 * BLAKE3 for the whole code base (block links, Merkle nodes, content ids), through
 * hash-wasm's WASM build: ~800 MB/s per core here, no native build (toolchain.md §6).
 * WASM instantiation is async, so drivers and tests `await loadBlake3()` once at start;
 * after that hashing is synchronous and the cores stay free of promises.
 */
let hasher: IHasher | undefined;

export async function loadBlake3(): Promise<void> {
  hasher ??= await createBlake3Hasher();
}

export function isBlake3Loaded(): boolean {
  return hasher !== undefined;
}

function loadedHasher(): IHasher {
  assert(hasher !== undefined, "loadBlake3() must be awaited before hashing");
  return hasher;
}

/** BLAKE3-256 of the concatenation of `parts`. */
export function blake3(...parts: readonly Uint8Array[]): Uint8Array {
  const h = loadedHasher().init();
  for (const part of parts) h.update(part);
  const digest = h.digest("binary");
  assert(digest.length === 32, "BLAKE3 digest is 32 bytes");
  return digest;
}

export function blake3Hex(...parts: readonly Uint8Array[]): string {
  return Buffer.from(blake3(...parts)).toString("hex");
}
