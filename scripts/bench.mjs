#!/usr/bin/env node
// `pnpm bench <name>` runs bench/<name>.ts (built packages, real drivers); `pnpm bench` lists them.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const available = readdirSync(join(root, "bench"))
  .filter((file) => file.endsWith(".ts") && file !== "report.ts")
  .map((file) => file.slice(0, -3))
  .sort();
const name = process.argv[2];
if (name === undefined || name === "--help" || !available.includes(name)) {
  process.stdout.write(
    `usage: pnpm bench <name> [args]\nbenchmarks: ${available.join(", ") || "(none yet)"}\n`,
  );
  process.exit(name === undefined || name === "--help" ? 0 : 2);
}
const script = join(root, "bench", `${name}.ts`);
if (!existsSync(script)) process.exit(2);
const result = spawnSync(
  process.execPath,
  ["--conditions=source", "--import", "tsx", script, ...process.argv.slice(3)],
  { stdio: "inherit", cwd: root },
);
process.exit(result.status ?? 1);
