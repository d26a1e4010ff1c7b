import { readdir, readFile, stat } from "node:fs/promises";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  builtinFacePackages,
  type Face,
  FaceName,
  type FaceNameMap,
  type FaceParameters,
  type FaceSource,
  faceDeclaration,
  faceFromModule,
  knownFaceNames,
  resolveFaceSource,
  unknownFaceIssue,
} from "@revoada/fabric-core/face";
import {
  type FabricFace,
  type FabricIssue,
  type FaceProtocol,
  isBuiltInFaceKind,
  parseSourceText,
  type Result,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * The IO half of the face registry. A face name resolves, in order, to: a name mapped in the
 * faces config (`revoada-faces.yaml`), a built-in name, an installed package that declares a
 * face (`"revoada": { "face": NAME }` or the `revoada-face` keyword in its package.json) found
 * in a `node_modules` from the working directory upwards or in a plugin directory, or a
 * package name or path given as-is. Paths load built (`dist`) or from TypeScript source (through
 * tsx), so a new face is a new package and no change here.
 */

/** The faces config file: extra names and plugin directories, paths relative to the file. */
export const FacesConfig = z.strictObject({
  /** Face name -> package name or path (a file, or a package directory). */
  faces: z.record(FaceName, z.string().min(1).max(4096)).default({}),
  /** Directories holding face packages (as subfolders, or in their own `node_modules`). */
  plugin_directories: z.array(z.string().min(1).max(4096)).max(64).default([]),
});
export type FacesConfig = z.infer<typeof FacesConfig>;

/** The faces config read when no `REVOADA_FACES_CONFIG` names one: this file in the working directory. */
export const facesConfigFileName = "revoada-faces.yaml";

export interface FaceLoadOptions {
  /** Extra names: face name -> package name or path. */
  readonly configured?: FaceNameMap;
  /** Where relative paths and installed packages resolve from (default: the process cwd). */
  readonly baseDirectory?: string;
  /** Plugin directories searched for face packages after the project's `node_modules`. */
  readonly pluginDirectories?: readonly string[];
  /** The faces config file `configured` came from (for `face list`). */
  readonly configFile?: string;
}

export type FaceLoadFailure = {
  /** `unknown`: no face by that name; `invalid`: it loads but is no face; `config`: the faces config is bad. */
  readonly kind: "unknown" | "invalid" | "config";
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

const packageJsonBytesMax = 1024 * 1024;
const directoryEntriesMax = 10_000;
const ancestorsMax = 64;

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

async function isFile(path: string): Promise<boolean> {
  return stat(path)
    .then((info) => info.isFile())
    .catch(() => false);
}

/** A package.json as plain data, or undefined when missing, oversized or not JSON. */
async function readManifest(directory: string): Promise<unknown> {
  const path = join(directory, "package.json");
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile() || info.size > packageJsonBytesMax) return undefined;
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/** The `.` export's targets for the conditions a face loader may use: built first, then source. */
function entryCandidates(manifest: unknown): string[] {
  if (manifest === null || typeof manifest !== "object") return ["index.js"];
  const record = manifest as Record<string, unknown>;
  const targets: string[] = [];
  const collect = (value: unknown, depth: number): void => {
    if (depth > 8) return;
    if (typeof value === "string") targets.push(value);
    else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const conditions = value as Record<string, unknown>;
      if ("." in conditions) collect(conditions["."], depth + 1);
      else for (const key of ["import", "default", "node", "source"]) collect(conditions[key], depth + 1);
    }
  };
  collect(record.exports, 0);
  if (typeof record.main === "string") targets.push(record.main);
  targets.push("index.js");
  return targets;
}

/** A package directory's ESM entry: the first `exports`/`main` target that exists (built, else source). */
async function packageEntry(directory: string): Promise<string> {
  const candidates = entryCandidates(await readManifest(directory)).map((entry) => join(directory, entry));
  for (const candidate of candidates) if (await isFile(candidate)) return candidate;
  return candidates[0]!;
}

/** Where packages the node does not depend on are looked up. */
interface SearchRoots {
  readonly baseDirectory: string;
  readonly pluginDirectories: readonly string[];
}

/** Finds package `name` in a `node_modules` from the base directory upwards, then in the plugin directories. */
async function findPackageDirectory(name: string, roots: SearchRoots): Promise<string | undefined> {
  for (const { folder } of searchFolders(roots.baseDirectory, roots.pluginDirectories)) {
    const candidate = join(folder, name);
    if (await isDirectory(candidate)) return candidate;
  }
  return undefined;
}

function nodeModulesDirectories(directory: string): string[] {
  const found: string[] = [];
  let current = resolve(directory);
  for (let depth = 0; depth < ancestorsMax; depth += 1) {
    found.push(join(current, "node_modules"));
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return found;
}

/** Imports a file: JavaScript directly, TypeScript source through tsx (a face used before its build). */
async function importFile(path: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  if (!/\.[cm]?tsx?$/.test(path)) return import(url);
  const { tsImport } = await import("tsx/esm/api");
  return tsImport(url, import.meta.url);
}

async function importSpecifier(specifier: string, roots: SearchRoots): Promise<unknown> {
  if (isPath(specifier)) {
    const path = specifier.startsWith("file:")
      ? new URL(specifier).pathname
      : resolve(roots.baseDirectory, specifier);
    return importFile((await isDirectory(path)) ? await packageEntry(path) : path);
  }
  try {
    return await import(specifier);
  } catch (error) {
    const directory = await findPackageDirectory(specifier, roots);
    if (directory === undefined) throw error;
    return importFile(await packageEntry(directory));
  }
}

/** Where a discovered face package was found. */
export type DiscoveryOrigin =
  | { readonly kind: "project"; readonly nodeModules: string }
  | { readonly kind: "plugin-directory"; readonly directory: string };

export interface DiscoveredFace {
  readonly name: string;
  readonly packageName: string;
  readonly directory: string;
  readonly origin: DiscoveryOrigin;
}

export interface Discovery {
  readonly faces: readonly DiscoveredFace[];
  /** Packages that declare a face badly, or whose name another face already took. */
  readonly issues: readonly FabricIssue[];
}

async function listEntries(directory: string): Promise<string[]> {
  const entries = await readdir(directory).catch(() => [] as string[]);
  return entries
    .filter((entry) => !entry.startsWith("."))
    .sort()
    .slice(0, directoryEntriesMax);
}

/** Package directories in a `node_modules`-shaped folder (`name/`, `@scope/name/`). */
async function packageDirectories(folder: string): Promise<string[]> {
  const directories: string[] = [];
  for (const entry of await listEntries(folder)) {
    if (!entry.startsWith("@")) directories.push(join(folder, entry));
    else
      for (const scoped of await listEntries(join(folder, entry)))
        directories.push(join(folder, entry, scoped));
  }
  return directories;
}

/** The folders searched, nearest first: the project's `node_modules` upwards, then each plugin directory. */
function searchFolders(baseDirectory: string, pluginDirectories: readonly string[]) {
  const folders: { folder: string; origin: DiscoveryOrigin }[] = nodeModulesDirectories(baseDirectory).map(
    (nodeModules) => ({ folder: nodeModules, origin: { kind: "project", nodeModules } }),
  );
  for (const plugin of pluginDirectories) {
    const directory = resolve(baseDirectory, plugin);
    const origin: DiscoveryOrigin = { kind: "plugin-directory", directory };
    folders.push({ folder: directory, origin }, { folder: join(directory, "node_modules"), origin });
  }
  return folders;
}

/**
 * Installed face packages: every package in the project's `node_modules` (from `baseDirectory`
 * upwards) and in the plugin directories whose package.json declares a face. The nearest
 * package wins a name; a built-in name stays with its built-in package.
 */
export async function discoverFaces(
  baseDirectory: string,
  pluginDirectories: readonly string[] = [],
): Promise<Discovery> {
  const faces = new Map<string, DiscoveredFace>();
  const issues: FabricIssue[] = [];
  for (const { folder, origin } of searchFolders(baseDirectory, pluginDirectories)) {
    for (const directory of await packageDirectories(folder)) {
      const declared = faceDeclaration(await readManifest(directory), join(directory, "package.json"));
      if (declared === undefined) continue;
      if (!declared.ok) {
        issues.push(...declared.issues);
        continue;
      }
      const { name, packageName } = declared.value;
      const taken = faces.get(name)?.packageName ?? builtinFacePackages[name];
      if (taken === undefined) faces.set(name, { name, packageName, directory, origin });
      else if (taken !== packageName) {
        const message = `face '${name}' of ${packageName} (${directory}) is hidden by ${taken}; select it by path or package name`;
        issues.push({
          code: "face_name_taken",
          message,
          path: ["revoada", "face"],
          file: join(directory, "package.json"),
        });
      }
    }
  }
  return { faces: [...faces.values()], issues };
}

/**
 * The registry options from the environment: the faces config (`REVOADA_FACES_CONFIG`, else
 * `revoada-faces.yaml` in `cwd` when present) and `REVOADA_FACE_PATH` (plugin directories,
 * separated like PATH). A config that does not parse is issues with file:line:column.
 */
export async function faceOptionsFromEnvironment(
  cwd: string = process.cwd(),
  environment: NodeJS.ProcessEnv = process.env,
): Promise<Result<FaceLoadOptions>> {
  const named = environment.REVOADA_FACES_CONFIG;
  const configFile =
    named !== undefined && named !== "" ? resolve(cwd, named) : join(cwd, facesConfigFileName);
  const fromPath = (environment.REVOADA_FACE_PATH ?? "")
    .split(delimiter)
    .filter((entry) => entry !== "")
    .map((entry) => resolve(cwd, entry));
  if (named === undefined && !(await isFile(configFile))) {
    return { ok: true, value: { baseDirectory: cwd, pluginDirectories: fromPath } };
  }
  const text = await readFile(configFile, "utf8").catch(() => undefined);
  if (text === undefined) {
    return { ok: false, issues: [{ code: "not_found", message: `no faces config ${configFile}`, path: [] }] };
  }
  const parsed = parseSourceText(FacesConfig, text, configFile);
  if (!parsed.ok) return parsed;
  const base = dirname(configFile);
  const relativeTo = (value: string): string =>
    value.startsWith("./") || value.startsWith("../") ? resolve(base, value) : value;
  const configured = Object.fromEntries(
    Object.entries(parsed.value.faces).map(([name, specifier]) => [name, relativeTo(specifier)]),
  );
  const pluginDirectories = [
    ...parsed.value.plugin_directories.map((entry) => resolve(base, entry)),
    ...fromPath,
  ];
  return { ok: true, value: { baseDirectory: cwd, configured, pluginDirectories, configFile } };
}

/** The options given, else the registry the environment configures. */
async function optionsOrEnvironment(options: FaceLoadOptions | undefined): Promise<Result<FaceLoadOptions>> {
  return options === undefined ? faceOptionsFromEnvironment() : { ok: true, value: options };
}

function discoveredNames(discovery: Discovery): FaceNameMap {
  return Object.fromEntries(discovery.faces.map((face) => [face.name, face.directory]));
}

async function loadSource(
  source: FaceSource,
  name: string,
  configured: FaceNameMap,
  discovered: FaceNameMap,
  roots: SearchRoots,
): Promise<FaceLoadResult> {
  let loaded: unknown;
  try {
    loaded = await importSpecifier(source.specifier, roots);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    const issue: FabricIssue = {
      code: "face_not_loadable",
      message: `face '${name}' (${source.specifier}) could not be loaded: ${reason}`,
      path: ["face"],
    };
    const kind = source.kind === "module" ? "unknown" : "invalid";
    const issues = kind === "unknown" ? [issue, unknownFaceIssue(name, configured, discovered)] : [issue];
    return { ok: false, kind, issues };
  }
  const face: Result<Face> = faceFromModule(loaded, source.specifier);
  if (!face.ok) return { ok: false, kind: "invalid", issues: face.issues };
  return { ok: true, face: face.value, specifier: source.specifier };
}

/**
 * Resolves and loads a face by name (`systemd`, an installed face's name, a configured name),
 * package name or path. Without options, the registry comes from the environment
 * (`faceOptionsFromEnvironment`).
 */
export async function loadFace(name: string, options?: FaceLoadOptions): Promise<FaceLoadResult> {
  const given = await optionsOrEnvironment(options);
  if (!given.ok) return { ok: false, kind: "config", issues: given.issues };
  const resolvedOptions = given.value;
  const configured = resolvedOptions.configured ?? {};
  const baseDirectory = resolvedOptions.baseDirectory ?? process.cwd();
  const pluginDirectories = resolvedOptions.pluginDirectories ?? [];
  const quick = resolveFaceSource(name, configured);
  const needsDiscovery = !quick.ok || quick.value.kind === "module";
  const discovered = needsDiscovery
    ? discoveredNames(await discoverFaces(baseDirectory, pluginDirectories))
    : {};
  const source = needsDiscovery ? resolveFaceSource(name, configured, discovered) : quick;
  if (!source.ok) return { ok: false, kind: "unknown", issues: source.issues };
  return loadSource(source.value, name, configured, discovered, { baseDirectory, pluginDirectories });
}

/**
 * The face a node config names: `face_module` (a face name, package name or path) when given,
 * else the built-in package for a built-in protocol, else the add-on face of that name (found
 * like `--face NAME`). The registry comes from the environment.
 */
export async function loadConfiguredFace(face: FabricFace, faceModule?: string): Promise<FaceLoadResult> {
  const kind = face.kind;
  const loaded = await loadFace(
    faceModule ?? (isBuiltInFaceKind(kind) ? packageByProtocol[kind.protocol] : kind.protocol),
  );
  return loaded.ok ? configureLoadedFace(loaded, faceKindParameters(kind)) : loaded;
}

/** The parameters a face kind gives its face: a built-in kind's fields but `protocol`, an add-on's `options`. */
export function faceKindParameters(kind: FabricFace["kind"]): FaceParameters {
  if (!isBuiltInFaceKind(kind)) return "options" in kind && kind.options !== undefined ? kind.options : {};
  const { protocol: _protocol, ...parameters } = kind as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(parameters).filter(
      (entry): entry is [string, string | number | boolean] =>
        typeof entry[1] === "string" || typeof entry[1] === "number" || typeof entry[1] === "boolean",
    ),
  );
}

/**
 * The loaded face with the kind's parameters applied (`face.configure`); a face that declares no
 * parameters takes none. Issues name the field under `face.kind`.
 */
export function configureLoadedFace(
  loaded: Extract<FaceLoadResult, { ok: true }>,
  parameters: FaceParameters,
): FaceLoadResult {
  if (Object.keys(parameters).length === 0) return loaded;
  const at = (path: readonly (string | number)[]): (string | number)[] => ["face", "kind", ...path];
  if (loaded.face.configure === undefined) {
    const message = `face ${loaded.face.id} takes no parameters`;
    return { ok: false, kind: "config", issues: [{ code: "invalid_value", message, path: at([]) }] };
  }
  const configured = loaded.face.configure(parameters);
  if (!configured.ok) {
    const issues = configured.issues.map((issue) => ({
      ...issue,
      message: `${at(issue.path).join(".")}: ${issue.message}`,
      path: at(issue.path),
    }));
    return { ok: false, kind: "config", issues };
  }
  return { ...loaded, face: configured.value };
}

export interface KnownFace {
  readonly name: string;
  readonly package: string;
  readonly protocol: string | null;
  readonly description: string;
  readonly available: boolean;
  /** Where the name comes from: `built-in`, `config FILE`, `installed DIR`, `plugin directory DIR`. */
  readonly from: string;
}

export interface FaceListing {
  readonly faces: readonly KnownFace[];
  readonly issues: readonly FabricIssue[];
}

function originText(origin: DiscoveryOrigin): string {
  return origin.kind === "project"
    ? `installed ${origin.nodeModules}`
    : `plugin directory ${origin.directory}`;
}

/** Every face found (built-in, configured, installed, in plugin directories), each loaded to describe itself. */
export async function listKnownFaces(options?: FaceLoadOptions): Promise<FaceListing> {
  const given = await optionsOrEnvironment(options);
  if (!given.ok) return { faces: [], issues: given.issues };
  const resolvedOptions = given.value;
  const configured = resolvedOptions.configured ?? {};
  const discovery = await discoverFaces(
    resolvedOptions.baseDirectory ?? process.cwd(),
    resolvedOptions.pluginDirectories ?? [],
  );
  const discovered = new Map(discovery.faces.map((face) => [face.name, face]));
  const fixed: FaceLoadOptions = {
    ...resolvedOptions,
    pluginDirectories: resolvedOptions.pluginDirectories ?? [],
  };
  const rows: KnownFace[] = [];
  for (const name of knownFaceNames(configured, discoveredNames(discovery))) {
    const found = discovered.get(name);
    const configuredSpecifier = configured[name];
    const builtin = builtinFacePackages[name];
    const packageName = configuredSpecifier ?? builtin ?? found?.packageName ?? name;
    const from =
      configuredSpecifier !== undefined
        ? `config ${resolvedOptions.configFile ?? "(options)"}`
        : builtin !== undefined
          ? "built-in"
          : found !== undefined
            ? originText(found.origin)
            : "";
    const loaded = await loadFace(name, fixed);
    rows.push(
      loaded.ok
        ? {
            name,
            package: packageName,
            protocol: loaded.face.protocol,
            description: loaded.face.description,
            available: true,
            from,
          }
        : {
            name,
            package: packageName,
            protocol: null,
            description: `not available: ${loaded.issues[0]?.message ?? "not loadable"}`,
            available: false,
            from,
          },
    );
  }
  return { faces: rows, issues: discovery.issues };
}
