// Goal: the cores stay pure and the layers stay separable. Method: read every non-test source
// file under fabric-core/src and fail on IO modules, ambient time or randomness, deep imports
// into another layer, and any import from `vocabulary` into another layer.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, it } from "node:test";

const sourceRoot = new URL(".", import.meta.url).pathname;

const forbiddenModules = ["fs", "net", "dgram", "child_process", "timers", "fs/promises", "timers/promises"];
const forbiddenCalls = ["Date.now(", "Math.random(", "setTimeout(", "setInterval(", "setImmediate("];
/** Test tooling that only tests reach: the face conformance kit reads and rewrites golden files. */
const ioAllowed = new Set(["face/conformance/golden-files.ts"]);

interface SourceFile {
  /** Path relative to src, with `/` separators. */
  readonly path: string;
  /** The layer folder, or "" for files directly in src. */
  readonly layer: string;
  /** The text with comments removed, so prose may name what code may not call. */
  readonly code: string;
}

function listSources(directory: string): string[] {
  const files: string[] = [];
  const pending = [directory];
  for (let guard = 0; pending.length > 0; guard += 1) {
    assert.ok(guard < 10_000, "source tree too deep");
    const current = pending.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory() && entry.name !== "testdata" && entry.name !== "node_modules") {
        pending.push(full);
      } else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        files.push(full);
      }
    }
  }
  return files.sort();
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

function readSources(): SourceFile[] {
  return listSources(sourceRoot).map((file) => {
    const path = relative(sourceRoot, file).split(sep).join("/");
    const layer = path.includes("/") ? path.slice(0, path.indexOf("/")) : "";
    return { path, layer, code: stripComments(readFileSync(file, "utf8")) };
  });
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(code: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\bfrom\s+["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /^\s*import\s+["']([^"']+)["']/gm,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) specifiers.push(match[1]!);
  }
  return specifiers;
}

/** The layer an import lands in and the file inside it, or null for packages and same-layer files. */
function targetOf(file: SourceFile, specifier: string): { layer: string; rest: string } | null {
  const packagePrefix = "@revoada/fabric-core/";
  if (specifier.startsWith(packagePrefix)) {
    return { layer: specifier.slice(packagePrefix.length), rest: "index.js" };
  }
  if (!specifier.startsWith(".")) return null;
  const fromParts = file.path.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") fromParts.pop();
    else if (part !== ".") fromParts.push(part);
  }
  if (fromParts.length < 2) return { layer: "", rest: fromParts.join("/") };
  const [layer, ...rest] = fromParts;
  return { layer: layer!, rest: rest.join("/") };
}

describe("fabric-core layering", () => {
  const sources = readSources();

  it("finds the sources it checks", () => {
    assert.ok(sources.some((source) => source.path === "vocabulary/strategy.ts"));
  });

  it("uses no IO modules, ambient clock, randomness or timers", () => {
    const offences: string[] = [];
    for (const source of sources) {
      for (const specifier of importsOf(source.code)) {
        const bare = specifier.startsWith("node:") ? specifier.slice("node:".length) : specifier;
        if (forbiddenModules.includes(bare) && !ioAllowed.has(source.path)) {
          offences.push(`${source.path} imports ${specifier}`);
        }
      }
      for (const call of forbiddenCalls) {
        if (source.code.includes(call)) offences.push(`${source.path} calls ${call}`);
      }
    }
    assert.deepEqual(offences, []);
  });

  it("imports another layer only through its index, and vocabulary imports no layer", () => {
    const offences: string[] = [];
    for (const source of sources) {
      for (const specifier of importsOf(source.code)) {
        const target = targetOf(source, specifier);
        if (target === null || target.layer === source.layer || target.layer === "") continue;
        if (source.layer === "vocabulary") offences.push(`${source.path} imports layer ${target.layer}`);
        if (target.rest !== "index.js") offences.push(`${source.path} deep-imports ${specifier}`);
      }
    }
    assert.deepEqual(offences, []);
  });

  it("catches the offences it looks for", () => {
    const fake: SourceFile = {
      path: "raft/raft-node.ts",
      layer: "raft",
      code: stripComments(
        'import { x } from "../gossip/probe.js";\nimport { y } from "../gossip/index.js";\n// Date.now( in prose\nconst t = Date.now();\n',
      ),
    };
    assert.deepEqual(
      importsOf(fake.code).map((specifier) => targetOf(fake, specifier)),
      [
        { layer: "gossip", rest: "probe.js" },
        { layer: "gossip", rest: "index.js" },
      ],
    );
    assert.equal(fake.code.split("Date.now(").length - 1, 1);
  });
});
