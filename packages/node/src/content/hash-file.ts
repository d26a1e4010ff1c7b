import { open } from "node:fs/promises";
import { type BlobHasher, type BlobTree, BlobTreeBuilder } from "@revoada/fabric-core/content";

/** Bytes read per step when streaming a file through the tree builder. */
export const readStepBytes = 1024 * 1024;

/**
 * Streams `sourcePath` through the chunk-group tree builder and, when `copyTo` is given, into
 * that new file (fsynced before returning). Memory stays at one read step plus the outboard.
 */
export async function hashFile(hasher: BlobHasher, sourcePath: string, copyTo?: string): Promise<BlobTree> {
  const source = await open(sourcePath, "r");
  const target =
    copyTo === undefined
      ? null
      : await open(copyTo, "wx", 0o644).catch(async (error: unknown) => {
          await source.close();
          throw error;
        });
  try {
    const builder = new BlobTreeBuilder(hasher);
    const buffer = Buffer.allocUnsafe(readStepBytes);
    for (let position = 0; ; ) {
      const { bytesRead } = await source.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      const step = buffer.subarray(0, bytesRead);
      builder.update(step);
      if (target !== null) await writeAll(target, step, position);
      position += bytesRead;
    }
    if (target !== null) await target.sync();
    return builder.finish();
  } finally {
    await source.close();
    await target?.close();
  }
}

export async function writeAll(
  handle: Awaited<ReturnType<typeof open>>,
  data: Uint8Array,
  position: number,
): Promise<void> {
  for (let written = 0; written < data.length; ) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}
