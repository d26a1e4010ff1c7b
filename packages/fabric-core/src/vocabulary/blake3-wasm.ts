import { createRequire } from "node:module";
import type * as HashWasm from "hash-wasm";

/**
 * hash-wasm's BLAKE3 alone. The package's main file (`hash-wasm`) is a 280 kB UMD bundle of
 * every algorithm with its WASM inlined, which a daemon compiled at import for this one hash
 * (~30 ms of CPU per start); `dist/blake3.umd.min.js` is the same BLAKE3 build on its own
 * (22 kB), required when the first hasher is made. It is CommonJS with no typings of its own:
 * its exports are the main file's BLAKE3 ones.
 */
type Blake3Build = Pick<typeof HashWasm, "createBLAKE3">;

let build: Blake3Build | undefined;

export function createBlake3Hasher(): Promise<HashWasm.IHasher> {
  build ??= createRequire(import.meta.url)("hash-wasm/dist/blake3.umd.min.js") as Blake3Build;
  return build.createBLAKE3();
}
