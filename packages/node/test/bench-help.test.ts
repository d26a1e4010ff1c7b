// Goal (issue 14): `pnpm bench <name> --help` prints every flag of that benchmark with its
// default and exits 0 without starting any benchmark work; a flag it does not know is a usage
// error (exit 2, the usage on stderr). Method: `scripts/bench.mjs` as `pnpm bench` runs it, one
// child process per benchmark; one that started its work instead of printing the usage fails
// on its output, and is killed after 5 minutes (a loaded machine starts tsx slowly; gossip's
// full run would take 13).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { type CliRun, collect } from "./cli-harness.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** The flags each benchmark reads (bench/<name>.ts); its --help must name every one. */
const expectedFlags: Record<string, readonly string[]> = {
  attest: ["--blocks", "--verify-blocks", "--runs", "--threads", "--only"],
  content: [
    "--hash-mib",
    "--transfer-mib",
    "--swarm-mib",
    "--fetchers",
    "--encryption-mib",
    "--encryption-rounds",
    "--only",
  ],
  "etcd-failover": ["--trials"],
  failover: ["--trials", "--nodes"],
  curves: [
    "--only",
    "--gossip-sizes",
    "--gossip-trials",
    "--gossip-window-s",
    "--nodes",
    "--per-node",
    "--policy-runs",
    "--render-runs",
    "--render-faces",
    "--voters",
    "--raft-seconds",
    "--raft-vs",
    "--real-nodes",
    "--rows-out",
    "--rows-in",
    "--svg",
  ],
  gossip: ["--quick", "--sim-only", "--real-only", "--loss-minutes", "--real-nodes"],
  policy: ["--runs", "--nodes", "--workloads"],
  raft: [
    "--vs",
    "--seconds",
    "--clients",
    "--payload",
    "--voters",
    "--trials",
    "--faults",
    "--only",
    "--unencrypted",
    "--compare-encryption",
    "--election-ms",
  ],
  "raft-core": ["--quick"],
  render: ["--runs", "--workloads", "--nodes", "--faces"],
  scale: [
    "--sizes",
    "--commits",
    "--no-baseline",
    "--baseline-only",
    "--rows-out",
    "--rows-in",
    "--real",
    "--real-only",
    "--netns",
    "--learners-max",
  ],
};

/** `pnpm bench ARGS...` as the root package script runs it (killed after 5 minutes: code -1). */
function bench(args: readonly string[]): Promise<CliRun> {
  return collect(
    spawn(process.execPath, ["scripts/bench.mjs", ...args], {
      cwd: repoRoot,
      stdio: "pipe",
      timeout: 300_000,
      killSignal: "SIGKILL",
    }),
  );
}

/** Runs `jobs` two at a time (the machine has two cores; each job is mostly tsx start-up). */
async function twoAtATime<T>(jobs: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next;
      next += 1;
      results[index] = await jobs[index]!();
    }
  };
  await Promise.all([lane(), lane()]);
  return results;
}

it("every benchmark's --help lists its flags with their defaults and exits 0; unknown flags and names exit 2", async () => {
  const names = readdirSync(`${repoRoot}/bench`)
    .filter((file) => file.endsWith(".ts") && file !== "report.ts")
    .map((file) => file.slice(0, -3))
    .sort();
  assert.deepEqual(names, Object.keys(expectedFlags).sort(), "every benchmark has its flags listed here");

  const runs = await twoAtATime([
    ...names.map((name) => () => bench([name, "--help"])),
    () => bench(["policy", "--no-such-flag"]),
    () => bench(["failover", "--trials", "many"]),
    () => bench(["no-such-bench"]),
    () => bench([]),
  ]);

  names.forEach((name, index) => {
    const run = runs[index]!;
    const where = `pnpm bench ${name} --help`;
    assert.equal(run.code, 0, `${where} exits 0 by itself (-1: killed after 5 minutes): ${run.stderr}`);
    assert.ok(run.stdout.startsWith(`usage: pnpm bench ${name} [flags]\n`), `${where} prints its usage`);
    // One entry per flag: its line and the lines wrapped under it.
    const entries = new Map<string, string>();
    let current = "";
    for (const line of run.stdout.split("\n")) {
      const text = line.trim();
      if (text.startsWith("--")) {
        current = text.split(" ")[0]!;
        entries.set(current, text);
      } else if (current !== "" && text !== "") entries.set(current, `${entries.get(current)} ${text}`);
    }
    assert.ok(entries.has("--help"), `${where} names --help`);
    for (const flag of expectedFlags[name]!) {
      const entry = entries.get(flag);
      assert.ok(entry !== undefined, `${where} names ${flag}:\n${run.stdout}`);
      assert.match(entry, /\(default [^)]+\)$/, `${where} gives ${flag}'s default`);
    }
    assert.equal(run.stderr, "", `${where} writes nothing else (no benchmark started)`);
  });

  const [unknownFlag, badValue, unknownBench, list] = runs.slice(names.length);
  assert.equal(unknownFlag!.code, 2, "an unknown flag is a usage error");
  assert.equal(unknownFlag!.stdout, "");
  assert.match(unknownFlag!.stderr, /--no-such-flag/);
  assert.match(unknownFlag!.stderr, /usage: pnpm bench policy \[flags\]/);
  assert.equal(badValue!.code, 2, "a bad value is a usage error");
  assert.match(badValue!.stderr, /--trials takes an integer >= 1, not "many"/);
  assert.equal(unknownBench!.code, 2, "an unknown benchmark is a usage error");
  assert.equal(unknownBench!.stdout, "");
  assert.match(unknownBench!.stderr, /no benchmark "no-such-bench"/);
  assert.equal(list!.code, 0, "`pnpm bench` alone lists the benchmarks");
  for (const name of names) assert.ok(list!.stdout.includes(name), `\`pnpm bench\` names ${name}`);
});
