import { type FileHandle, open } from "node:fs/promises";
import { sourceTextCharsMax } from "@revoada/fabric-core/vocabulary";
import { CliError, exitCodes } from "./exit-codes.js";

/**
 * The largest file the CLI reads, per kind of input (documented in docs/cli.md). The size is
 * checked before anything is parsed: parsing YAML costs about 13 times the text in memory,
 * so an unbounded file would let one command exhaust the machine.
 */
export const inputBytesMax = {
  /** Hand-written documents: strategy, node config, workload, proof files. */
  document: 1024 * 1024,
  /** Machine-written documents: a fabric state, policy inputs (the parser's own cap). */
  state: sourceTextCharsMax,
  /** A chain export: one line per attestation block, not parsed as YAML. */
  chain: 256 * 1024 * 1024,
} as const;
export type InputKind = keyof typeof inputBytesMax;

const readChunkBytes = 1024 * 1024;

/**
 * Reads a text file named on the command line, bounded by its kind's maximum. Every failure
 * is a `CliError` with the exit code it deserves: missing is 4; a directory, a file over the
 * limit or bytes that are not UTF-8 are 3 (invalid input); anything else the OS refuses is 1.
 */
export async function readInputFile(path: string, kind: InputKind = "document"): Promise<string> {
  const bytesMax = inputBytesMax[kind];
  const handle = await open(path, "r").catch((error: unknown) => {
    throw fileError(path, error);
  });
  try {
    const bytes = await readBounded(handle, path, bytesMax);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new CliError(`${path}: not UTF-8 text`, exitCodes.invalidInput);
    }
  } finally {
    await handle.close();
  }
}

/** Reads at most `bytesMax` bytes; a regular file is judged by its size before any read. */
async function readBounded(handle: FileHandle, path: string, bytesMax: number): Promise<Uint8Array> {
  const stats = await handle.stat().catch((error: unknown) => {
    throw fileError(path, error);
  });
  if (stats.isDirectory()) {
    throw new CliError(`${path} is a directory; give a file`, exitCodes.invalidInput);
  }
  if (stats.isFile() && stats.size > bytesMax) throw tooLarge(path, stats.size, bytesMax);
  // A pipe or a file that grows while we read is bounded by the loop, not by its stat.
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(readChunkBytes, bytesMax + 1 - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null).catch((error: unknown) => {
      throw fileError(path, error);
    });
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > bytesMax) throw tooLarge(path, total, bytesMax);
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(path: string, size: number, bytesMax: number): CliError {
  const over = size > bytesMax ? `${size} bytes or more` : `${size} bytes`;
  return new CliError(
    `${path} is too large (${over}); the limit for this input is ${bytesMax} bytes`,
    exitCodes.invalidInput,
  );
}

/** Maps an OS error on an input file to an exit code and a one-line message. */
export function fileError(path: string, error: unknown): CliError {
  const code = errnoCode(error);
  if (code === "ENOENT") return new CliError(`no such file: ${path}`, exitCodes.notFound);
  if (code === "EISDIR") return new CliError(`${path} is a directory; give a file`, exitCodes.invalidInput);
  if (code === "ENOTDIR")
    return new CliError(`no such file: ${path} (a parent is not a directory)`, exitCodes.notFound);
  if (code === "EACCES" || code === "EPERM")
    return new CliError(`${path}: permission denied`, exitCodes.failed);
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`cannot read ${path}: ${message}`, exitCodes.failed);
}

/** The `code` of a Node.js system error (`ENOENT`, ...), or undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || !("code" in error)) return undefined;
  const { code } = error as { code: unknown };
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}
