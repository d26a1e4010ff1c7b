import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";

/**
 * Every benchmark prints a readable table and writes the same figures to
 * bench-results/<name>.json with the machine, Node version and fsync mode, so runs can be
 * compared. Use `figure()` for each number so its unit travels with it.
 */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The target, as text (e.g. "<= 400 ms"), when there is one. */
  readonly target?: string;
}

export function figure(name: string, value: number, unit: string, target?: string): Figure {
  return target === undefined ? { name, value, unit } : { name, value, unit, target };
}

export interface BenchReport {
  readonly name: string;
  readonly fsyncMode: "real fsync" | "no fsync" | "not applicable";
  readonly figures: readonly Figure[];
  readonly notes?: readonly string[];
}

/** The 1-, 5- and 15-minute load averages when the benchmark started (this module loaded). */
const loadAtStart = loadavg();

/** The machine is shared: every report records the load average at its start and its end. */
export function loadDescription(): { start: number[]; end: number[]; text: string } {
  const end = loadavg();
  const round = (values: number[]) => values.map((value) => Math.round(value * 100) / 100);
  return {
    start: round(loadAtStart),
    end: round(end),
    text: `load average (1/5/15 min) ${round(loadAtStart).join(" ")} at the start, ${round(end).join(" ")} at the end, ${cpus().length} cores`,
  };
}

export function machineDescription(): {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
} {
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model ?? "unknown",
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function publishBenchReport(report: BenchReport): void {
  const machine = machineDescription();
  const lines = [
    `benchmark ${report.name}: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${report.fsyncMode}`,
  ];
  const width = Math.max(6, ...report.figures.map((f) => f.name.length));
  lines.push(`${"figure".padEnd(width)}  ${"value".padStart(12)}  unit        target`);
  for (const f of report.figures) {
    const value = Number.isInteger(f.value) ? String(f.value) : f.value.toFixed(2);
    lines.push(
      `${f.name.padEnd(width)}  ${value.padStart(12)}  ${f.unit.padEnd(10)}  ${f.target ?? ""}`.trimEnd(),
    );
  }
  const load = loadDescription();
  lines.push(load.text);
  for (const note of report.notes ?? []) lines.push(`note: ${note}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  const directory = join(process.cwd(), "bench-results");
  mkdirSync(directory, { recursive: true });
  const json = {
    ...report,
    machine,
    load: { start: load.start, end: load.end },
    recordedAt: new Date().toISOString(),
  };
  writeFileSync(join(directory, `${report.name}.json`), `${JSON.stringify(json, null, 2)}\n`);
}

/** `label p50` and `label p99` of a sample of milliseconds (the p99 with the target). */
export function latencyFigures(label: string, values: readonly number[], target?: string): Figure[] {
  return [
    figure(`${label} p50`, percentile(values, 50), "ms"),
    figure(`${label} p99`, percentile(values, 99), "ms", target),
  ];
}

/** p-th percentile (0..100) of a sample, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** User + system CPU time of a child process, in ms (Linux /proc, clock ticks of 10 ms); 0 once it is gone. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}
