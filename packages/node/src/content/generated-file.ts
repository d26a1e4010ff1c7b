import { open } from "node:fs/promises";

/**
 * Writes `size` bytes of a deterministic pseudo-random stream (xorshift32 from `seed`) to
 * `path`, one step at a time, so tests and benchmarks can make multi-GiB blobs without holding
 * them in memory. The same (size, seed) always gives the same bytes.
 */
export async function writeGeneratedFile(path: string, size: number, seed: number): Promise<void> {
  const stepBytes = 4 * 1024 * 1024;
  const handle = await open(path, "w");
  try {
    const buffer = Buffer.allocUnsafe(stepBytes);
    const words = new Uint32Array(buffer.buffer, buffer.byteOffset, stepBytes / 4);
    let state = seed >>> 0 || 0x9e3779b9;
    for (let position = 0; position < size; position += stepBytes) {
      for (let i = 0; i < words.length; i += 1) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state >>> 0;
      }
      const length = Math.min(stepBytes, size - position);
      await handle.write(buffer, 0, length, position);
    }
  } finally {
    await handle.close();
  }
}
