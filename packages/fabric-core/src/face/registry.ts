import type { FabricIssue, FaceProtocol, Result } from "../vocabulary/index.js";
import { failed, ok } from "../vocabulary/index.js";
import type { Face } from "./contract.js";

/**
 * The pure half of the face registry: which package serves which built-in name, and whether
 * a loaded module's export is a face. The node does the `import()` (IO) and calls these.
 * Adding a face is adding a package and naming it (or its path) in config: nothing here changes.
 */

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

const protocols: readonly FaceProtocol[] = [
  "kubernetes",
  "nomad",
  "systemd",
  "pure-raft",
  "bare-metal-supervisor",
];

export type FaceSource =
  | { readonly kind: "builtin"; readonly name: string; readonly specifier: string }
  | { readonly kind: "configured"; readonly name: string; readonly specifier: string }
  | { readonly kind: "module"; readonly name: string; readonly specifier: string };

/**
 * Resolves a face name to a module specifier: a built-in name (or alias), a name the config
 * maps to a package or path, or a specifier used as-is (`@acme/face-x`, `./faces/x.js`,
 * `/abs/path`). Anything else is an unknown-face issue that lists the known names.
 */
export function resolveFaceSource(
  name: string,
  configured: Readonly<Record<string, string>> = {},
): Result<FaceSource> {
  const configuredSpecifier = configured[name];
  if (configuredSpecifier !== undefined)
    return ok({ kind: "configured", name, specifier: configuredSpecifier });
  const canonical = aliases[name] ?? name;
  const builtin = builtinFacePackages[canonical];
  if (builtin !== undefined) return ok({ kind: "builtin", name: canonical, specifier: builtin });
  if (looksLikeSpecifier(name)) return ok({ kind: "module", name, specifier: name });
  return failed([unknownFaceIssue(name, configured)]);
}

function looksLikeSpecifier(name: string): boolean {
  return name.startsWith("@") || name.startsWith(".") || name.startsWith("/") || name.startsWith("file:");
}

/** The names `revoada face list` shows: built-ins then configured ones, sorted within each. */
export function knownFaceNames(configured: Readonly<Record<string, string>> = {}): string[] {
  const builtins = Object.keys(builtinFacePackages).sort();
  const extra = Object.keys(configured)
    .filter((name) => !builtins.includes(name))
    .sort();
  return [...builtins, ...extra];
}

export function unknownFaceIssue(
  name: string,
  configured: Readonly<Record<string, string>> = {},
): FabricIssue {
  return {
    code: "unknown_face",
    message: `unknown face '${name}'; known faces: ${knownFaceNames(configured).join(", ")}`,
    path: ["face"],
  };
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
  if (typeof value.id !== "string" || value.id.length === 0) problem("id", "id must be a non-empty string");
  if (typeof value.description !== "string") problem("description", "description must be a string");
  if (typeof value.protocol !== "string" || !protocols.includes(value.protocol as FaceProtocol)) {
    problem("protocol", `protocol must be one of ${protocols.join(", ")}`);
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
