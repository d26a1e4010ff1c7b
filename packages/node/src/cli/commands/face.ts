import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { faceNamePattern } from "@revoada/fabric-core/face";
import { formatIssue } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { type KnownFace, listKnownFaces } from "../../faces.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { type OutputFormat, outputOption, render } from "../output.js";

/**
 * `revoada face list`: every face found (built-in, configured, installed, in plugin
 * directories) and where from. `revoada face new NAME`: a new face package, copied from
 * `@revoada/face-template`, that passes the conformance kit as it is.
 */
export function registerFace(program: Command): void {
  const face = program.command("face").description("the faces (output formats) revoada renders");

  face
    .command("list")
    .description("list every face found: name, protocol, package, description, where from")
    .addOption(outputOption("table"))
    .action(async (options: { output: OutputFormat }) => {
      const listing = await listKnownFaces();
      for (const issue of listing.issues) process.stderr.write(`warning: ${formatIssue(issue)}\n`);
      const faces = listing.faces;
      process.stdout.write(
        render(options.output, faces, () => faces.map(faceRow), [
          "name",
          "protocol",
          "package",
          "description",
          "from",
        ]),
      );
      if (faces.length === 0 && listing.issues.length > 0)
        throw new CliError("the faces config does not parse", exitCodes.invalidInput);
    });

  face
    .command("new")
    .description("scaffold a face package NAME (face-NAME/) that passes the conformance kit")
    .argument("<name>", "face name: lowercase letters, digits and '-'")
    .option("--dir <dir>", "parent directory of the new package", ".")
    .option("--package <package>", "package name (default face-NAME)")
    .action(async (name: string, options: { dir: string; package?: string }) => {
      const created = await scaffoldFace(name, resolve(options.dir), options.package ?? `face-${name}`);
      process.stdout.write(`created ${created} (face '${name}'); see its README.md\n`);
    });
}

function faceRow(face: KnownFace): Record<string, string | null> {
  return {
    name: face.name,
    protocol: face.protocol,
    package: face.package,
    description: face.description,
    from: face.from,
  };
}

const templateName = "template";
const packageNamePattern = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const templateFilesMax = 1000;

/** `docker-compose` -> `dockerCompose`. */
function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

async function exists(path: string): Promise<boolean> {
  return stat(path)
    .then(() => true)
    .catch(() => false);
}

/** Files of the template package to copy: `src/**` minus build output, as relative paths. */
async function templateFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const pending = ["src"];
  while (pending.length > 0) {
    if (files.length > templateFilesMax) throw new Error("face template: too many files");
    const folder = pending.pop()!;
    for (const entry of await readdir(join(root, folder), { withFileTypes: true })) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) files.push(path);
    }
  }
  return files.sort();
}

/** The monorepo root when `directory` sits in the revoada workspace (it has packages/fabric-core). */
async function workspaceRoot(directory: string): Promise<string | undefined> {
  let current = directory;
  for (let depth = 0; depth < 64; depth += 1) {
    if (await exists(join(current, "pnpm-workspace.yaml")))
      return (await exists(join(current, "packages", "fabric-core"))) ? current : undefined;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
  return undefined;
}

/** The zod version the template pins (the new package uses the same). */
async function templateZodVersion(templateRoot: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(templateRoot, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const version = manifest.dependencies?.zod;
  if (version === undefined) throw new Error("@revoada/face-template pins no zod version");
  return version;
}

function manifestFor(
  name: string,
  packageName: string,
  fabricCore: string,
  standalone: boolean,
  zod: string,
) {
  const source = "./src/index.ts";
  return {
    name: packageName,
    version: "0.1.0",
    description: `revoada face '${name}'`,
    keywords: ["revoada-face"],
    type: "module",
    sideEffects: false,
    revoada: { face: name },
    exports: { ".": { source, types: "./dist/index.d.ts", default: "./dist/index.js" } },
    scripts: {
      build: "tsc -p tsconfig.build.json",
      typecheck: "tsc -p tsconfig.json --noEmit",
      test: "node --conditions=source --import tsx --test --test-timeout=600000 --test-force-exit $(find src -name '*.test.ts' | sort)",
    },
    dependencies: { "@revoada/fabric-core": fabricCore, zod },
    ...(standalone
      ? { devDependencies: { "@types/node": "20.19.43", tsx: "4.23.15", typescript: "7.0.2" } }
      : {}),
  };
}

const baseCompilerOptions = {
  target: "es2022",
  lib: ["es2023"],
  module: "nodenext",
  moduleResolution: "nodenext",
  strict: true,
  noUncheckedIndexedAccess: true,
  declaration: true,
  skipLibCheck: true,
  verbatimModuleSyntax: true,
  types: ["node"],
};

function tsconfigs(base: string | undefined): { check: unknown; build: unknown } {
  const shared = base === undefined ? { compilerOptions: baseCompilerOptions } : { extends: base };
  const withOptions = (options: Record<string, unknown>) =>
    base === undefined
      ? { compilerOptions: { ...baseCompilerOptions, ...options } }
      : { extends: base, compilerOptions: options };
  return {
    check: { ...shared, ...withOptions({ noEmit: true, customConditions: ["source"] }), include: ["src"] },
    build: {
      ...withOptions({ rootDir: "src", outDir: "dist" }),
      include: ["src"],
      exclude: ["src/**/*.test.ts", "src/**/testdata/**"],
    },
  };
}

function readme(name: string, packageName: string): string {
  return `# ${packageName}: the revoada face '${name}'

Scaffolded by \`revoada face new ${name}\` from @revoada/face-template: it writes the fabric
state as small JSON files and passes the conformance kit as it is. Make it yours:

1. Change the writer in \`src/${name}-face.ts\` to your orchestrator's format, the reader to
   read it back, \`model\` to what the format carries and \`dropped\` to what it does not.
2. \`UPDATE_GOLDEN=1 pnpm test\` rewrites \`src/testdata/golden/\`; review the diff; \`pnpm test\`
   runs the conformance kit.
3. Install the package where revoada runs (a \`node_modules\` of the project, or a plugin
   directory in \`REVOADA_FACE_PATH\`), then \`revoada face list\` shows it and
   \`revoada render --face ${name} ...\` uses it. See docs/faces.md.
`;
}

/** Writes `<parent>/face-NAME/` from the template package; refuses an existing directory. */
async function scaffoldFace(name: string, parent: string, packageName: string): Promise<string> {
  if (!faceNamePattern.test(name)) {
    throw new CliError(
      `face name '${name}': lowercase letters, digits and '-', starting with a letter`,
      exitCodes.usage,
    );
  }
  if (!packageNamePattern.test(packageName))
    throw new CliError(`package name '${packageName}' is not valid`, exitCodes.usage);
  const target = join(parent, `face-${name}`);
  if (await exists(target)) throw new CliError(`${target} already exists`, exitCodes.failed);
  const templateRoot = dirname(fileURLToPath(import.meta.resolve("@revoada/face-template/package.json")));
  const fabricCoreRoot = resolve(templateRoot, "..", "fabric-core");
  const root = await workspaceRoot(parent);
  const camel = camelCase(name);
  const rename = (text: string): string =>
    text
      .replaceAll(`${templateName}Face`, `${camel}Face`)
      .replaceAll(`./${templateName}-face.js`, `./${name}-face.js`)
      .replaceAll(`id: "${templateName}"`, `id: "${name}"`)
      .replaceAll(`protocol: "${templateName}"`, `protocol: "${name}"`);
  for (const file of await templateFiles(templateRoot)) {
    const text = await readFile(join(templateRoot, file), "utf8");
    const path = file.replace(`src/${templateName}-face.ts`, `src/${name}-face.ts`);
    await mkdir(dirname(join(target, path)), { recursive: true });
    await writeFile(join(target, path), file.includes("/testdata/") ? text : rename(text));
  }
  const zod = await templateZodVersion(templateRoot);
  const fabricCore = root === undefined ? `file:${fabricCoreRoot}` : "workspace:*";
  await writeFile(
    join(target, "package.json"),
    canonicalJsonKeepOrder(manifestFor(name, packageName, fabricCore, root === undefined, zod), true),
  );
  const base =
    root === undefined ? undefined : relative(target, join(root, "tsconfig.base.json")).split(sep).join("/");
  const configs = tsconfigs(base);
  await writeFile(join(target, "tsconfig.json"), canonicalJsonKeepOrder(configs.check));
  await writeFile(join(target, "tsconfig.build.json"), canonicalJsonKeepOrder(configs.build));
  await writeFile(join(target, "README.md"), readme(name, packageName));
  return target;
}

const jsonLineWidth = 110;

/**
 * JSON the way the repository's formatter (Biome) writes it, so a scaffold inside the repo
 * passes `pnpm lint`: the caller's key order, two-space indent, objects one key per line,
 * arrays on one line when they fit in 110 columns (never in package.json, as npm writes it),
 * a final newline.
 */
function canonicalJsonKeepOrder(value: unknown, expandArrays = false): string {
  return `${formatJson(value, "", 0, expandArrays)}\n`;
}

function formatJson(value: unknown, indent: string, column: number, expandArrays: boolean): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    const flat = `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
    const primitive = value.every((item) => item === null || typeof item !== "object");
    if (value.length === 0 || (primitive && !expandArrays && column + flat.length <= jsonLineWidth))
      return flat;
    const items = value.map((item) => `${inner}${formatJson(item, inner, inner.length, expandArrays)}`);
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  const lines = entries.map(([key, item]) => {
    const prefix = `${inner}${JSON.stringify(key)}: `;
    return `${prefix}${formatJson(item, inner, prefix.length, expandArrays)}`;
  });
  return `{\n${lines.join(",\n")}\n${indent}}`;
}
