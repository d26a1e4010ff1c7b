/**
 * `pnpm bench curves`: how cost grows with size, one row per size, so an operator sees where a
 * curve bends (issue 14). Curves (`--only`, comma-separated):
 *   - gossip: the gossip simulator at N = --gossip-sizes (10,50,100,500): steady bytes/s per
 *     node and crash detection by every live node, in simulated time (bench/lib/curve-gossip.ts);
 *   - policy: `pnpm bench policy` at --nodes (1000,5000,10000) with --per-node (10) workloads
 *     per node: the steady round (full walk and incremental), a death, a zone loss, CPU and wall;
 *   - render: `pnpm bench render` at the same sizes: write and read of every face, CPU and wall;
 *   - raft (real processes, opt-in): `pnpm bench raft --voters V --only throughput` for
 *     V in --voters (3,5,7);
 *   - gossip-real (real processes, opt-in): `pnpm bench gossip --real-only --real-nodes N`
 *     for N in --real-nodes (10,20).
 * The policy, render, raft and gossip-real rows run the existing benchmark, unchanged, as a
 * child process in a temporary directory (so its bench-results/<name>.json is not overwritten)
 * and keep every figure it wrote, with the load average at its start and end. Each curve is
 * published as bench-results/curves-<curve>.json. `--rows-out FILE` also saves the rows,
 * `--rows-in A,B` publishes saved rows without running them (e.g. one size per process).
 * Gossip rows are drawn to docs/curves.svg together with policy and render rows when
 * they are there (`--svg FILE`, `--svg none` skips it).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchArgs } from "./lib/args.js";
import { gossipCurvePoint } from "./lib/curve-gossip.js";
import { type Figure, figure, publishBenchReport } from "./report.js";
import { panel, type Series, svgOfPanels } from "./scale/plot.js";

const args = benchArgs({
  name: "curves",
  summary: "how cost grows: one row per size (gossip simulator, policy, render; raft and real gossip opt-in)",
  flags: {
    only: {
      type: "string",
      value: "LIST",
      default: "gossip,policy,render",
      help: "curves, comma-separated: gossip, policy, render; raft and gossip-real run real processes",
    },
    "gossip-sizes": {
      type: "string",
      value: "LIST",
      default: "10,50,100,500",
      help: "gossip simulator sizes",
    },
    "gossip-trials": { type: "string", value: "N", default: "20", help: "crashes per gossip size" },
    "gossip-window-s": {
      type: "string",
      value: "S",
      default: "10",
      help: "simulated seconds of the steady bytes/s window",
    },
    nodes: {
      type: "string",
      value: "LIST",
      default: "1000,5000,10000",
      help: "policy and render sizes in nodes",
    },
    "per-node": {
      type: "string",
      value: "N",
      default: "10",
      help: "workloads per node, the same at every size",
    },
    "policy-runs": { type: "string", value: "N", default: "50", help: "bench policy --runs" },
    "render-runs": {
      type: "string",
      value: "N",
      default: "1",
      help: "bench render --runs, after its warm-up",
    },
    "render-faces": {
      type: "string",
      value: "LIST",
      defaultText: "every face",
      help: "bench render --faces",
    },
    voters: { type: "string", value: "LIST", default: "3,5,7", help: "raft voter counts" },
    "raft-seconds": { type: "string", value: "N", default: "8", help: "bench raft --seconds" },
    "raft-vs": {
      type: "string",
      value: "etcd",
      choices: ["etcd"],
      defaultText: "none",
      help: "bench raft --vs etcd: etcd with as many members beside it",
    },
    "real-nodes": { type: "string", value: "LIST", default: "10,20", help: "real gossip agent counts" },
    "rows-out": { type: "string", value: "FILE", defaultText: "none", help: "also save the rows as JSON" },
    "rows-in": {
      type: "string",
      value: "LIST",
      defaultText: "none",
      help: "publish rows saved by earlier runs instead of running",
    },
    svg: { type: "string", value: "FILE", default: "docs/curves.svg", help: "the plot; none skips it" },
  },
});
const values = args.values;
const curveNames = ["gossip", "policy", "render", "raft", "gossip-real"] as const;
type CurveName = (typeof curveNames)[number];
const only = values.only.split(",") as CurveName[];
for (const name of only) if (!curveNames.includes(name)) args.fail(`--only: unknown curve ${name}`);
const gossipSizes = args.integers("gossip-sizes", 4);
const gossipTrials = args.integer("gossip-trials", 1);
const gossipWindowS = args.integer("gossip-window-s", 1);
const nodeSizes = args.integers("nodes", 10);
const perNode = args.integer("per-node", 1);
const policyRuns = args.integer("policy-runs", 1);
const renderRuns = args.integer("render-runs", 1);
const voterCounts = args.integers("voters", 1);
const raftSeconds = args.integer("raft-seconds", 1);
const realNodes = args.integers("real-nodes", 2);

/** One size of one curve: every figure measured at that size. */
export interface CurveRow {
  readonly curve: CurveName;
  readonly size: number;
  /** What `size` counts: nodes, voters. */
  readonly sizeUnit: string;
  readonly command: string;
  readonly figures: readonly Figure[];
  readonly notes: readonly string[];
  readonly load: { readonly start: readonly number[]; readonly end: readonly number[] };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const root = fileURLToPath(new URL("..", import.meta.url));
const tsx = import.meta.resolve("tsx");

/** Runs `bench/<name>.ts args` in a temporary directory; its figures and notes from the JSON it wrote. */
function childBench(
  name: string,
  args: readonly string[],
): { figures: Figure[]; notes: string[]; load: CurveRow["load"] } {
  const directory = mkdtempSync(join(tmpdir(), `revoada-curves-${name}-`));
  try {
    const result = spawnSync(
      process.execPath,
      ["--conditions=source", "--import", tsx, join(root, "bench", `${name}.ts`), ...args],
      { cwd: directory, stdio: ["ignore", "inherit", "inherit"] },
    );
    if (result.status !== 0) throw new Error(`bench ${name} ${args.join(" ")} exited ${result.status}`);
    const report = JSON.parse(readFileSync(join(directory, "bench-results", `${name}.json`), "utf8")) as {
      figures: Figure[];
      notes?: string[];
      load: { start: number[]; end: number[] };
    };
    return { figures: report.figures, notes: report.notes ?? [], load: report.load };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function gossipRow(size: number): CurveRow {
  const start = loadavg();
  log(`gossip simulator: N = ${size}`);
  const point = gossipCurvePoint(size, gossipTrials, gossipWindowS * 1000, log);
  return {
    curve: "gossip",
    size,
    sizeUnit: "nodes",
    command: `pnpm bench curves --only gossip --gossip-sizes ${size} --gossip-trials ${gossipTrials} --gossip-window-s ${gossipWindowS}`,
    figures: [
      figure("steady bytes/s per node, mean", Math.round(point.bytesPerNodeMean), "B/s"),
      figure("steady bytes/s per node, max", Math.round(point.bytesPerNodeMax), "B/s"),
      figure("detection by every live node p50", point.detectionP50Ms, "ms"),
      figure("detection by every live node p99", point.detectionP99Ms, "ms"),
      figure("detection by every live node max", Math.max(...point.detectionMs), "ms"),
      figure("start-up burst over at", point.quietAtMs, "ms"),
      figure("simulator CPU per simulated second", point.simCpuSecondsPerSimulatedSecond, "s"),
    ],
    notes: [
      `${point.detectionMs.length} crashes, detection ms sorted: ${[...point.detectionMs].sort((a, b) => a - b).join(", ")}; bytes over ${point.windowMs / 1000} simulated s`,
    ],
    load: { start, end: loadavg() },
  };
}

function childRow(curve: CurveName, size: number, sizeUnit: string, bench: string, args: string[]): CurveRow {
  const command = `pnpm bench ${bench} ${args.join(" ")}`;
  log(`${curve}: ${command}`);
  const result = childBench(bench, args);
  return { curve, size, sizeUnit, command, ...result };
}

/** The rows so far, saved after each one with `--rows-out` (a long run stopped keeps its sizes). */
let rows: CurveRow[] = [];
const pushRow = (row: CurveRow) => {
  rows.push(row);
  if (values["rows-out"] !== undefined)
    writeFileSync(values["rows-out"], `${JSON.stringify(rows, null, 2)}\n`);
};
if (values["rows-in"] !== undefined) {
  for (const file of values["rows-in"].split(","))
    rows.push(...(JSON.parse(readFileSync(file, "utf8")) as CurveRow[]));
} else {
  for (const curve of only) {
    if (curve === "gossip") for (const size of gossipSizes) pushRow(gossipRow(size));
    if (curve === "policy" || curve === "render")
      for (const nodes of nodeSizes) {
        const faces = values["render-faces"];
        const extra =
          curve === "policy"
            ? ["--runs", String(policyRuns)]
            : ["--runs", String(renderRuns), ...(faces === undefined ? [] : ["--faces", faces])];
        const size = ["--nodes", String(nodes), "--workloads", String(nodes * perNode)];
        pushRow(childRow(curve, nodes, "nodes", curve, [...size, ...extra]));
      }
    if (curve === "raft")
      for (const voters of voterCounts)
        pushRow(
          childRow(curve, voters, "voters", "raft", [
            "--voters",
            String(voters),
            "--only",
            "throughput",
            "--seconds",
            String(raftSeconds),
            ...(values["raft-vs"] === undefined ? [] : ["--vs", values["raft-vs"]]),
          ]),
        );
    if (curve === "gossip-real")
      for (const nodes of realNodes)
        pushRow(
          childRow(curve, nodes, "processes", "gossip", ["--real-only", "--real-nodes", String(nodes)]),
        );
  }
}
rows = rows.sort((a, b) => curveNames.indexOf(a.curve) - curveNames.indexOf(b.curve) || a.size - b.size);
if (values["rows-out"] !== undefined) writeFileSync(values["rows-out"], `${JSON.stringify(rows, null, 2)}\n`);

const round = (load: readonly number[]) => load.map((value) => value.toFixed(1)).join(" ");
for (const curve of curveNames) {
  const of = rows.filter((row) => row.curve === curve);
  if (of.length === 0) continue;
  publishBenchReport({
    name: `curves-${curve}`,
    fsyncMode: curve === "raft" ? "real fsync" : "not applicable",
    figures: of.flatMap((row) =>
      row.figures.map((f) => ({ ...f, name: `${row.sizeUnit} = ${row.size}: ${f.name}` })),
    ),
    notes: of.flatMap((row) => [
      `${row.sizeUnit} = ${row.size}: ${row.command}; load average (1/5/15 min) ${round(row.load.start)} at its start, ${round(row.load.end)} at its end`,
      ...row.notes.map((note) => `${row.sizeUnit} = ${row.size}: ${note}`),
    ]),
  });
}

/** The value of `name` in a row (NaN when the benchmark did not report it). */
function figureValue(row: CurveRow, name: string): number {
  return row.figures.find((f) => f.name === name)?.value ?? Number.NaN;
}

function line(label: string, color: string, of: readonly CurveRow[], name: string, scale = 1): Series {
  return {
    label,
    color,
    points: of
      .map((row) => [row.size, figureValue(row, name) * scale] as const)
      .filter(([, value]) => Number.isFinite(value)),
  };
}

// A curve needs two sizes at least: one with fewer rows is left out of the plot.
if (values.svg !== "none") {
  const gossip = rows.filter((row) => row.curve === "gossip");
  const policy = rows.filter((row) => row.curve === "policy");
  const render = rows.filter((row) => row.curve === "render");
  const panels = [
    ...(gossip.length < 2
      ? []
      : [
          panel("gossip (sim): bytes/s per node", [
            line("mean", "#1f77b4", gossip, "steady bytes/s per node, mean"),
            line("max", "#ff7f0e", gossip, "steady bytes/s per node, max"),
          ]),
          panel("gossip (sim): detection (ms)", [
            line("p50", "#1f77b4", gossip, "detection by every live node p50"),
            line("p99", "#ff7f0e", gossip, "detection by every live node p99"),
          ]),
        ]),
    ...(policy.length < 2
      ? []
      : [
          panel("policy steady round, CPU p50 (ms)", [
            line("full walk", "#1f77b4", policy, "steady round CPU p50 (decide, full walk)"),
            line("incremental", "#ff7f0e", policy, "steady round CPU p50 (decideIncremental)"),
          ]),
        ]),
    ...(render.length < 2
      ? []
      : [
          panel("render, CPU (s)", [
            line("pureraft write", "#1f77b4", render, "pureraft write cpu", 1 / 1000),
            line("pureraft read", "#aec7e8", render, "pureraft read cpu", 1 / 1000),
            line("systemd write", "#ff7f0e", render, "systemd write cpu", 1 / 1000),
            line("systemd read", "#ffbb78", render, "systemd read cpu", 1 / 1000),
          ]),
        ]),
  ];
  if (panels.length > 0)
    writeFileSync(
      values.svg,
      svgOfPanels(
        panels,
        `How cost grows with the number of nodes (pnpm bench curves; policy and render at ${perNode} workloads per node)`,
        "pnpm bench curves (x: nodes); gossip figures in simulated time, policy and render in CPU time of one process",
      ),
    );
}
