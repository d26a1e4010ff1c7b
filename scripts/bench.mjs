#!/usr/bin/env node
// `pnpm bench <name>` runs bench/<name>.ts (built packages, real drivers); `pnpm bench` lists them.
// Each benchmark's flags: `pnpm bench <name> --help` (bench/lib/args.ts).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const available = readdirSync(join(root, "bench"))
  .filter((file) => file.endsWith(".ts") && file !== "report.ts")
  .map((file) => file.slice(0, -3))
  .sort();
const usage = `usage: pnpm bench <name> [flags]
benchmarks: ${available.join(", ") || "(none yet)"}
pnpm bench <name> --help   that benchmark's flags and their defaults, then exit
`;
const name = process.argv[2];
if (name === undefined || name === "--help" || name === "-h") {
  process.stdout.write(usage);
  process.exit(0);
}
if (!available.includes(name)) {
  process.stderr.write(`error: no benchmark ${JSON.stringify(name)}\n${usage}`);
  process.exit(2);
}
const script = join(root, "bench", `${name}.ts`);
if (!existsSync(script)) process.exit(2);
const result = spawnSync(
  process.execPath,
  ["--conditions=source", "--import", "tsx", script, ...process.argv.slice(3)],
  { stdio: "inherit", cwd: root },
);
process.exit(result.status ?? 1);
