import type { FaceFile } from "@revoada/fabric-core/face";
import type { FabricIssue } from "@revoada/fabric-core/vocabulary";
import { readNomadFiles } from "./reader.js";

/**
 * The Nomad face's validator, offline (there is no `nomad job validate` on Debian or npm):
 * HCL syntax through HashiCorp's own parser (hcl2json), zod schemas over the hcl2json shape
 * and over the job API JSON (durations as whole nanoseconds, Go duration strings in HCL),
 * unique group/task/port names, services and configs naming declared ports, and each
 * jobspec agreeing with its API JSON.
 */
export async function validateNomad(files: readonly FaceFile[]): Promise<FabricIssue[]> {
  const read = await readNomadFiles(files);
  const issues = [...read.issues];
  for (const unknown of read.unknown) {
    issues.push({ code: "unknown_file", message: unknown.reason, path: [], file: unknown.file });
  }
  return issues;
}
