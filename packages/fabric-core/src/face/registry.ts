import { z } from "zod";
import type { FabricIssue, Result } from "../vocabulary/index.js";
import { failed, issuesFromZod, ok } from "../vocabulary/index.js";
import type { Face } from "./contract.js";

/**
 * The pure half of the face registry: which package serves which built-in name, what a
 * package declares about the face it carries (`package.json`), how a name resolves, and
 * whether a loaded module's export is a face. The node does the IO (scanning `node_modules`
 * and plugin directories, `import()`) and calls these. Adding a face is installing a package
 * that declares one, or naming a package or path in config: nothing here changes.
 */

/** A face name or protocol: lowercase letters, digits and `-`, starting with a letter. */
export const faceNamePattern = /^[a-z][a-z0-9-]{0,62}$/;
/** Protocols are open names with the same spelling rule (`docker-compose`, `pure-raft`, ...). */
export const faceProtocolPattern = faceNamePattern;
/** The `package.json` keyword that marks a face package (its name then comes from the package name). */
export const faceKeyword = "revoada-face";

export const FaceName = z
  .string()
  .regex(
    faceNamePattern,
    "a face name is lowercase letters, digits and '-', starting with a letter (at most 63)",
  );

/** Built-in face names and the packages that serve them. */
export const builtinFacePackages: Readonly<Record<string, string>> = {
  baremetal: "@revoada/face-baremetal",
  kubernetes: "@revoada/face-kubernetes",
  nomad: "@revoada/face-nomad",
  pureraft: "@revoada/face-pureraft",
  systemd: "@revoada/face-systemd",
};

/** Other spellings of built-in names (the `FabricFace` examples use these). */
const aliases: Readonly<Record<string, string>> = {
  "bare-metal": "baremetal",
  k8s: "kubernetes",
  "pure-raft": "pureraft",
};

/**
 * Where a name came from: a built-in package, a config entry (name -> package or path), an
 * installed package that declares the face (`revoada.face` or the `revoada-face` keyword), or
 * a package name or path given as-is.
 */
export type FaceSource =
  | { readonly kind: "builtin"; readonly name: string; readonly specifier: string }
  | { readonly kind: "configured"; readonly name: string; readonly specifier: string }
  | { readonly kind: "discovered"; readonly name: string; readonly specifier: string }
  | { readonly kind: "module"; readonly name: string; readonly specifier: string };

/** Face names found beside the built-ins: name -> package directory, package name or path. */
export type FaceNameMap = Readonly<Record<string, string>>;

/**
 * Resolves a face name to a module specifier, in this order: a configured name, a built-in
 * name (or alias), a discovered package's face name, a specifier used as-is (`@acme/face-x`,
 * `./faces/x`, `/abs/path`). Anything else is an unknown-face issue listing the known names.
 */
export function resolveFaceSource(
  name: string,
  configured: FaceNameMap = {},
  discovered: FaceNameMap = {},
): Result<FaceSource> {
  const configuredSpecifier = configured[name];
  if (configuredSpecifier !== undefined)
    return ok({ kind: "configured", name, specifier: configuredSpecifier });
  const canonical = aliases[name] ?? name;
  const builtin = builtinFacePackages[canonical];
  if (builtin !== undefined) return ok({ kind: "builtin", name: canonical, specifier: builtin });
  const discoveredSpecifier = discovered[name];
  if (discoveredSpecifier !== undefined)
    return ok({ kind: "discovered", name, specifier: discoveredSpecifier });
  if (looksLikeSpecifier(name)) return ok({ kind: "module", name, specifier: name });
  return failed([unknownFaceIssue(name, configured, discovered)]);
}

function looksLikeSpecifier(name: string): boolean {
  return name.startsWith("@") || name.startsWith(".") || name.startsWith("/") || name.startsWith("file:");
}

/** The names `revoada face list` shows: built-ins, then configured and discovered ones, sorted. */
export function knownFaceNames(configured: FaceNameMap = {}, discovered: FaceNameMap = {}): string[] {
  const builtins = Object.keys(builtinFacePackages).sort();
  const extra = [...new Set([...Object.keys(configured), ...Object.keys(discovered)])]
    .filter((name) => !builtins.includes(name))
    .sort();
  return [...builtins, ...extra];
}

export function unknownFaceIssue(
  name: string,
  configured: FaceNameMap = {},
  discovered: FaceNameMap = {},
): FabricIssue {
  return {
    code: "unknown_face",
    message: `unknown face '${name}'; known faces: ${knownFaceNames(configured, discovered).join(", ")}`,
    path: ["face"],
  };
}

/** What an installed package says about the face it carries. */
export interface FaceDeclaration {
  readonly name: string;
  readonly packageName: string;
  /** `field`: `"revoada": { "face": NAME }`; `keyword`: the `revoada-face` keyword. */
  readonly via: "field" | "keyword";
}

const FaceManifest = z.looseObject({
  name: z.string().min(1).max(214),
  keywords: z.array(z.string().max(214)).max(256).optional(),
  revoada: z.looseObject({ face: z.union([FaceName, z.strictObject({ name: FaceName })]) }).optional(),
});

/**
 * The face a `package.json` declares, or `undefined` when it declares none. A package
 * declares a face with `"revoada": { "face": "compose" }` (or `{ "name": "compose" }`), or
 * with the `revoada-face` keyword, in which case the name is the package name without its
 * scope and a `revoada-face-`/`face-` prefix (`@acme/face-compose` -> `compose`).
 */
export function faceDeclaration(manifest: unknown, file: string): Result<FaceDeclaration> | undefined {
  if (!isRecord(manifest)) return undefined;
  const declares =
    (isRecord(manifest.revoada) && manifest.revoada.face !== undefined) ||
    (Array.isArray(manifest.keywords) && manifest.keywords.includes(faceKeyword));
  if (!declares) return undefined;
  const parsed = FaceManifest.safeParse(manifest);
  if (!parsed.success) return failed(issuesFromZod(parsed.error).map((issue) => ({ ...issue, file })));
  const packageName = parsed.data.name;
  const field = parsed.data.revoada?.face;
  if (field !== undefined) {
    return ok({ name: typeof field === "string" ? field : field.name, packageName, via: "field" });
  }
  const name = packageName.replace(/^@[^/]+\//, "").replace(/^(revoada-face-|face-)/, "");
  if (!faceNamePattern.test(name)) {
    const message = `the face name '${name}' taken from the package name is not a face name; set "revoada": { "face": NAME }`;
    return failed([{ code: "invalid_face_name", message, path: ["name"], file }]);
  }
  return ok({ name, packageName, via: "keyword" });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object";
}

/** Checks that a module's export has the `Face` shape (the contract is structural). */
export function checkFaceShape(value: unknown, specifier: string): Result<Face> {
  const issues: FabricIssue[] = [];
  const problem = (path: string, message: string): void => {
    issues.push({ code: "invalid_face", message: `${specifier}: ${message}`, path: [path] });
  };
  if (!isRecord(value))
    return failed([{ code: "invalid_face", message: `${specifier}: not an object`, path: [] }]);
  if (typeof value.id !== "string" || !faceNamePattern.test(value.id)) {
    problem("id", "id must be a face name: lowercase letters, digits and '-', starting with a letter");
  }
  if (typeof value.description !== "string") problem("description", "description must be a string");
  if (typeof value.protocol !== "string" || !faceProtocolPattern.test(value.protocol)) {
    problem("protocol", "protocol must be a lowercase name: letters, digits and '-' (e.g. docker-compose)");
  }
  if (!isRecord(value.writer) || typeof value.writer.write !== "function")
    problem("writer", "writer.write missing");
  if (!isRecord(value.reader) || typeof value.reader.read !== "function")
    problem("reader", "reader.read missing");
  if (typeof value.model !== "function") problem("model", "model must be a function");
  if (value.validate !== undefined && typeof value.validate !== "function") {
    problem("validate", "validate must be a function when present");
  }
  if (issues.length > 0) return failed(issues);
  return ok(value as unknown as Face);
}

/**
 * Picks the face out of a loaded module: its default export, else the only export that
 * has the face shape.
 */
export function faceFromModule(module: unknown, specifier: string): Result<Face> {
  if (!isRecord(module)) return checkFaceShape(module, specifier);
  if (module.default !== undefined) return checkFaceShape(module.default, specifier);
  const candidates = Object.values(module).filter((value) => checkFaceShape(value, specifier).ok);
  if (candidates.length === 1) return checkFaceShape(candidates[0], specifier);
  return failed([
    {
      code: "invalid_face",
      message: `${specifier}: expected a default export that is a face (found ${candidates.length} face exports)`,
      path: [],
    },
  ]);
}
