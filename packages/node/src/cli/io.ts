import { readFile } from "node:fs/promises";
import { CliError, exitCodes } from "./exit-codes.js";

/** Reads a text file named on the command line, mapping "missing" to exit code 4. */
export async function readInputFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      throw new CliError(`no such file: ${path}`, exitCodes.notFound);
    }
    throw error;
  }
}
