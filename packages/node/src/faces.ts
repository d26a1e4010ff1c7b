import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  builtinFacePackages,
  type Face,
  faceFromModule,
  knownFaceNames,
  resolveFaceSource,
  unknownFaceIssue,
} from "@revoada/fabric-core/face";
import type { FabricFace, FabricIssue, FaceProtocol, Result } from "@revoada/fabric-core/vocabulary";

/**
 * The IO half of the face registry: loads the module a face name resolves to and checks that
 * what it exports is a face. Built-in names map to the `@revoada/face-*` packages; a config
 * (or `--face`) may name any package or path instead, so a new face is a new package and a
 * line of config, with no change here.
 */

export interface FaceLoadOptions {
  /** Extra names: face name -> package name or path (from config). */
  readonly configured?: Readonly<Record<string, string>>;
  /** Where relative paths and non-built-in packages resolve from (default: the process cwd). */
  readonly baseDirectory?: string;
}

export type FaceLoadFailure = {
  readonly kind: "unknown" | "invalid";
  readonly issues: readonly FabricIssue[];
};

export type FaceLoadResult =
  | { readonly ok: true; readonly face: Face; readonly specifier: string }
  | ({ readonly ok: false } & FaceLoadFailure);

/** The package serving each face protocol, for configs that name only a `FabricFace`. */
export const packageByProtocol: Readonly<Record<FaceProtocol, string>> = {
  kubernetes: builtinFacePackages.kubernetes!,
  nomad: builtinFacePackages.nomad!,
  systemd: builtinFacePackages.systemd!,
  "pure-raft": builtinFacePackages.pureraft!,
  "bare-metal-supervisor": builtinFacePackages.baremetal!,
};

function isPath(specifier: string): boolean {
  return (
    specifier.startsWith(".") ||
    specifier.startsWith("/") ||
    specifier.startsWith("file:") ||
    isAbsolute(specifier)
  );
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path)
    .then((info) => info.isDirectory())
    .catch(() => false);
}

/** A package directory's ESM entry: `exports` (string, or `.` with import/default), `main`, or index.js. */
async function packageEntry(directory: string): Promise<string> {
  const text = await readFile(join(directory, "package.json"), "utf8").catch(() => undefined);
  if (text === undefined) return join(directory, "index.js");
  const manifest = JSON.parse(text) as { exports?: unknown; main?: unknown };
  const pick = (value: unknown): string | undefined => {
    if (typeof value === "string") return value;
    if (value === null || typeof value !== "object") return undefined;
    const record = value as Record<string, unknown>;
    return pick(record["."]) ?? pick(record.import) ?? pick(record.default);
  };
  const entry = pick(manifest.exports) ?? (typeof manifest.main === "string" ? manifest.main : "index.js");
  return join(directory, entry);
}

/** Finds `node_modules/<name>` from `directory` upwards (for packages the node does not depend on). */
async function findPackageDirectory(name: string, directory: string): Promise<string | undefined> {
  let current = resolve(directory);
  for (let depth = 0; depth < 64; depth += 1) {
    const candidate = join(current, "node_modules", name);
    if (await isDirectory(candidate)) return candidate;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
  return undefined;
}

async function importSpecifier(specifier: string, baseDirectory: string): Promise<unknown> {
  if (isPath(specifier)) {
    const path = specifier.startsWith("file:")
      ? new URL(specifier).pathname
      : resolve(baseDirectory, specifier);
    const entry = (await isDirectory(path)) ? await packageEntry(path) : path;
    return import(pathToFileURL(entry).href);
  }
  try {
    return await import(specifier);
  } catch (error) {
    const directory = await findPackageDirectory(specifier, baseDirectory);
    if (directory === undefined) throw error;
    return import(pathToFileURL(await packageEntry(directory)).href);
  }
}

/** Resolves and loads a face by name (`systemd`), configured name, package name or path. */
export async function loadFace(name: string, options: FaceLoadOptions = {}): Promise<FaceLoadResult> {
  const configured = options.configured ?? {};
  const source = resolveFaceSource(name, configured);
  if (!source.ok) return { ok: false, kind: "unknown", issues: source.issues };
  let loaded: unknown;
  try {
    loaded = await importSpecifier(source.value.specifier, options.baseDirectory ?? process.cwd());
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    const issue: FabricIssue = {
      code: "face_not_loadable",
      message: `face '${name}' (${source.value.specifier}) could not be loaded: ${reason}`,
      path: ["face"],
    };
    const kind = source.value.kind === "builtin" ? "invalid" : "unknown";
    return {
      ok: false,
      kind,
      issues: kind === "unknown" ? [issue, unknownFaceIssue(name, configured)] : [issue],
    };
  }
  const face: Result<Face> = faceFromModule(loaded, source.value.specifier);
  if (!face.ok) return { ok: false, kind: "invalid", issues: face.issues };
  return { ok: true, face: face.value, specifier: source.value.specifier };
}

/** The face a node config names: `face_module` when given, else the package for its protocol. */
export async function loadConfiguredFace(face: FabricFace, faceModule?: string): Promise<FaceLoadResult> {
  return loadFace(faceModule ?? packageByProtocol[face.kind.protocol]);
}

export interface KnownFace {
  readonly name: string;
  readonly package: string;
  readonly protocol: string | null;
  readonly description: string;
  readonly available: boolean;
}

/** Every known face name with what its package says about itself (loading each one). */
export async function listKnownFaces(options: FaceLoadOptions = {}): Promise<KnownFace[]> {
  const configured = options.configured ?? {};
  const rows: KnownFace[] = [];
  for (const name of knownFaceNames(configured)) {
    const specifier = configured[name] ?? builtinFacePackages[name] ?? name;
    const loaded = await loadFace(name, options);
    if (loaded.ok) {
      rows.push({
        name,
        package: specifier,
        protocol: loaded.face.protocol,
        description: loaded.face.description,
        available: true,
      });
    } else {
      const reason = loaded.issues[0]?.message ?? "not loadable";
      rows.push({
        name,
        package: specifier,
        protocol: null,
        description: `not available: ${reason}`,
        available: false,
      });
    }
  }
  return rows;
}
