import { FabricState } from "../vocabulary/index.js";
import type { FaceFile } from "./contract.js";

/**
 * A reader's fast path, proven: a state read without the file-by-file schemas and located
 * issues is accepted only when it passes the `FabricState` schema and renders back to exactly
 * the bytes given, every file. Equal bytes mean the input is what the writer emits for a
 * schema-valid state, so the checks skipped could not have found anything. Undefined means:
 * read again with every check on (which gives the located issues and the unknown fields).
 * `renderer` prepares, for the validated state, the text of each file by path.
 */
export function provenByRendering(
  candidate: unknown,
  files: readonly FaceFile[],
  renderer: (state: FabricState) => (path: string) => string | undefined,
): FabricState | undefined {
  const checked = FabricState.safeParse(candidate);
  if (!checked.success) return undefined;
  const render = renderer(checked.data);
  return files.every((file) => render(file.path) === file.content) ? checked.data : undefined;
}
