import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseSourceText, type Result } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * `mesh.json` in a local mesh directory: which nodes `revoada up` started, where their APIs
 * listen and which process runs each, so `status`, `shift`, `kill` and friends find them.
 */
export const MeshNodeEntry = z.strictObject({
  name: z.string(),
  config: z.string(),
  api: z.string(),
  pid: z.int().nullable(),
});
export type MeshNodeEntry = z.infer<typeof MeshNodeEntry>;

export const MeshFile = z.strictObject({
  version: z.literal(1),
  face: z.string(),
  token_file: z.string(),
  /** The cluster CA certificate when the nodes' APIs are HTTPS (absent: plain HTTP on loopback). */
  ca_file: z.string().optional(),
  nodes: z.array(MeshNodeEntry).min(1),
});
export type MeshFile = z.infer<typeof MeshFile>;

export const meshFileName = "mesh.json";

export async function readMeshFile(directory: string): Promise<Result<MeshFile>> {
  const path = join(directory, meshFileName);
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text === undefined) {
    return {
      ok: false,
      issues: [
        {
          code: "not-found",
          message: `no mesh at ${directory} (start one with revoada up)`,
          path: [],
          file: path,
        },
      ],
    };
  }
  return parseSourceText(MeshFile, text, path);
}
