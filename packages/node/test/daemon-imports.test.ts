// Goal: `revoada node` (every daemon of a mesh, started again at each restart) compiles only what
// a daemon needs at start; the CLI's other command groups and the libraries only some nodes or
// commands use load on first use (docs/daemon.md "Memory", docs/scale.md "Start-up CPU").
// Method: the command groups' names against what each group's file registers, then the static
// import graph of the source (type-only imports left out: TypeScript erases them) from the CLI
// entry and the node command.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { buildProgram, commandGroups } from "../src/cli/main.js";
import { nodePackageRoot } from "./cli-harness.js";

const packagesRoot = resolve(nodePackageRoot, "..");
const coreExports = JSON.parse(readFileSync(join(packagesRoot, "fabric-core", "package.json"), "utf8")) as {
  exports: Record<string, { source: string }>;
};

/** A module a static import names: a source file of the repository, or a package by name. */
function resolveImport(from: string, specifier: string): string {
  if (specifier.startsWith(".")) return resolve(dirname(from), specifier.replace(/\.js$/, ".ts"));
  const core = "@revoada/fabric-core";
  if (specifier === core || specifier.startsWith(`${core}/`)) {
    const entry = coreExports.exports[`.${specifier.slice(core.length)}`];
    assert.ok(entry !== undefined, `${specifier} is exported by fabric-core`);
    return resolve(packagesRoot, "fabric-core", entry.source);
  }
  return `package:${specifier}`;
}

/** Specifiers of the `import … from` / `export … from` / `import "…"` statements that survive compilation. */
function staticImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const statements = /^(?:import|export)\s+(?!type\s)(?:[^;]*?\sfrom\s+)?"([^"]+)"/gm;
  return [...source.matchAll(statements)].map((match) => match[1]!);
}

function staticGraph(entries: readonly string[]): Set<string> {
  const seen = new Set<string>(entries);
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (file.startsWith("package:")) continue;
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith("node:")) continue;
      const target = resolveImport(file, specifier);
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return seen;
}

const source = (path: string): string => resolve(nodePackageRoot, "src", path);

describe("what a daemon loads at start", () => {
  it("every command group is listed with exactly the top-level names its file registers", async () => {
    const listed: string[] = [];
    for (const group of commandGroups) {
      const alone = new Command("revoada");
      (await group.load())(alone);
      assert.deepEqual(
        alone.commands.map((command) => command.name()).sort(),
        [...group.names].sort(),
        `the group of ${group.names.join(", ")}`,
      );
      listed.push(...group.names);
    }
    const full = (await buildProgram()).commands.map((command) => command.name());
    assert.deepEqual([...listed].sort(), [...full].sort(), "the groups together are the whole program");
    assert.equal(new Set(listed).size, listed.length, "no name in two groups");
  });

  it("the node command line loads the node group alone", async () => {
    const program = await buildProgram(["node", "revoada", "node", "--config", "node.yaml"]);
    assert.deepEqual(
      program.commands.map((command) => command.name()),
      ["node"],
    );
    const help = await buildProgram(["node", "revoada", "--help"]);
    assert.ok(help.commands.length > 1, "help and unknown words load every group");
  });

  it("the CLI entry and the node command import no other command group, the local mesh, the simulator, the all-algorithms hash-wasm, a face or a library loaded on first use", () => {
    const graph = staticGraph([source("cli/main.ts"), source("cli/commands/node.ts")]);
    const nodeGroup = source("cli/commands/node.ts");
    const forbidden = [
      ...[
        "strategy",
        "schema",
        "mesh",
        "up",
        "demo",
        "face",
        "render",
        "blob",
        "chain",
        "policy",
        "etcd",
        "join",
        "keys",
      ].map((group) => source(`cli/commands/${group}.ts`)),
      source("mesh/supervisor.ts"),
      source("mesh/local-mesh.ts"),
      resolve(packagesRoot, "fabric-core", "src", "sim", "index.ts"),
      "package:hash-wasm",
      "package:@kubernetes/client-node",
      "package:@peculiar/x509",
      "package:@revoada/face-kubernetes",
      "package:@revoada/face-pureraft",
    ];
    assert.ok(graph.has(source("daemon/fabric-node.ts")), "the walk reaches the daemon");
    assert.ok(graph.has(nodeGroup));
    const loaded = forbidden.filter((module) => graph.has(module));
    assert.deepEqual(
      loaded.map((module) => (module.startsWith("package:") ? module : relative(packagesRoot, module))),
      [],
    );
  });
});
