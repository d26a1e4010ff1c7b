/**
 * Goal: `@revoada/fabric-core/face` (what the daemon and the CLI load at run time) does not
 * pull in the conformance kit's test tooling (`node:test`, `fast-check`); the kit lives in
 * `@revoada/fabric-core/face/conformance`.
 * Method: spawn node with a module-resolution hook that records every URL it resolves, import
 * the entry point by its package name, and look for the test tooling in the record. The same
 * probe on the conformance entry point must find both (so the probe can see them at all).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const packageDirectory = fileURLToPath(new URL("../..", import.meta.url));
let root = "";

const hooksSource = `
import { appendFileSync } from "node:fs";
let log = "";
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + "\\n");
  return result;
}
`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "revoada-face-entry-"));
  await writeFile(join(root, "hooks.mjs"), hooksSource);
  await writeFile(
    join(root, "register.mjs"),
    `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url, { data: { log: process.env.RESOLVE_LOG } });\n`,
  );
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every URL resolved while importing `specifier` (from the source files, as the tests run). */
async function resolvedBy(specifier: string, name: string): Promise<string[]> {
  const log = join(root, `${name}.log`);
  await writeFile(log, "");
  const script = `await import(${JSON.stringify(specifier)});`;
  const args = ["--conditions=source", "--import", "tsx", "--import", join(root, "register.mjs")];
  await run(process.execPath, [...args, "--input-type=module", "--eval", script], {
    cwd: packageDirectory,
    env: { ...process.env, RESOLVE_LOG: log },
  });
  return (await readFile(log, "utf8")).split("\n").filter((line) => line.length > 0);
}

const isTestTooling = (url: string): boolean =>
  url === "node:test" || url.includes("/node_modules/fast-check/") || url.includes("/test_runner/");

describe("face entry points", () => {
  it("@revoada/fabric-core/face loads neither node:test nor fast-check", async () => {
    const urls = await resolvedBy("@revoada/fabric-core/face", "face");
    assert.ok(
      urls.some((url) => url.endsWith("/src/face/registry.ts")),
      "the probe saw the face layer load",
    );
    assert.deepEqual(urls.filter(isTestTooling), []);
  });

  it("@revoada/fabric-core/face/conformance does load them (the probe sees test tooling)", async () => {
    const urls = await resolvedBy("@revoada/fabric-core/face/conformance", "conformance");
    assert.ok(urls.includes("node:test"), "node:test resolved");
    assert.ok(
      urls.some((url) => url.includes("/node_modules/fast-check/")),
      "fast-check resolved",
    );
  });
});
