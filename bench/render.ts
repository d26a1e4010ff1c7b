/**
 * `pnpm bench render`: a fabric state of 10 000 workloads on 1 000 nodes through every face
 * present (pureraft, systemd, baremetal, and kubernetes/nomad when their packages export a
 * face), written at cluster scope and read back. Prints ms per face per direction (median of
 * a few runs after a warm-up). Target: <= 1 s per face for each direction. Pure functions
 * only: no files are written, so fsync does not enter these numbers.
 *
 * Usage: `pnpm bench render --help` (bench/lib/args.ts).
 */
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { Face } from "../packages/fabric-core/src/face/index.js";
import { FabricState } from "../packages/fabric-core/src/vocabulary/index.js";
import { loadFace } from "../packages/node/src/faces.js";
import { benchArgs } from "./lib/args.js";
import { type Figure, figure, publishBenchReport } from "./report.js";

const allFaces = ["pureraft", "systemd", "baremetal", "kubernetes", "nomad"];
const args = benchArgs({
  name: "render",
  summary: "a 10k-workload / 1k-node fabric state written and read back by every face (pure, no files)",
  flags: {
    runs: { type: "string", value: "N", default: "3", help: "runs per face and direction after a warm-up" },
    workloads: { type: "string", value: "N", default: "10000", help: "workloads of the state" },
    nodes: { type: "string", value: "N", default: "1000", help: "nodes of the state" },
    faces: {
      type: "string",
      value: "LIST",
      default: allFaces.join(","),
      help: "faces measured, comma-separated",
    },
  },
});
const runs = args.integer("runs");
const workloadCount = args.integer("workloads");
const nodeCount = args.integer("nodes");
const faceNames = args.values.faces.split(",").filter((name) => name !== "");
const roles = ["api-server", "etcd", "scheduler", "controller-manager"];
const zones = ["zone-a", "zone-b", "zone-c"];

/** A deterministic large state: 3 control-plane nodes, 1-3 replicas per workload. */
function largeState(): FabricState {
  const nodes: Record<string, unknown> = {};
  const ids: string[] = [];
  for (let index = 0; index < nodeCount; index += 1) {
    const id = index.toString(16).padStart(8, "0").repeat(8);
    ids.push(id);
    nodes[id] = {
      id,
      name: `node-${index}`,
      addresses: {
        gossip: `10.${index >> 8}.${index & 255}.1:7946`,
        raft: `10.${index >> 8}.${index & 255}.1:7947`,
      },
      roles: index < 3 ? roles : index % 97 === 0 ? ["quarantined"] : ["worker"],
      capacity: { cpu_millis: 8000, memory_bytes: 17_179_869_184, storage_bytes: 214_748_364_800, pods: 110 },
      zone: zones[index % 3],
      rack: `rack-${index % 40}`,
      labels: { disk: index % 2 === 0 ? "ssd" : "hdd" },
      version: "0.1.0",
      generation: 1,
    };
  }
  const workloads: Record<string, unknown> = {};
  const placements: Record<string, string[]> = {};
  for (let index = 0; index < workloadCount; index += 1) {
    const namespace = `team-${index % 50}`;
    const name = `app-${index}`;
    const replicas = 1 + (index % 3);
    workloads[`${namespace}/${name}`] = {
      name,
      namespace,
      image: `registry.example/${namespace}/${name}:1.${index % 10}`,
      command: index % 4 === 0 ? ["/usr/bin/app"] : [],
      args: ["--port=8080", `--name=${name}`, "--ratio=50%"],
      env: { LOG_LEVEL: "info", GREETING: `hello "${name}"` },
      ports: [{ name: "http", container_port: 8080, protocol: "tcp" }],
      replicas,
      resources: { cpu_millis: 250, memory_bytes: 134_217_728 },
      config_blobs:
        index % 5 === 0
          ? [{ name: "config", hash: "ab".repeat(32), mount_path: `/etc/${name}/config.yaml` }]
          : [],
      placement: { zones: [zones[index % 3]!], labels: {}, tolerate_control_plane: index % 10 === 0 },
    };
    placements[`${namespace}/${name}`] = Array.from(
      { length: replicas },
      (_, r) => ids[(index * 7 + r * 13) % nodeCount]!,
    );
  }
  return FabricState.parse({ nodes, workloads, placements, applied: { term: 42, index: 1_000_000 } });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** CPU time (user + system) in ms: less sensitive than wall time to other processes on the machine. */
function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

interface Measurement {
  readonly write: number;
  readonly read: number;
  readonly writeCpu: number;
  readonly readCpu: number;
  readonly files: number;
  readonly bytes: number;
}

async function measure(face: Face, state: FabricState): Promise<Measurement> {
  const writes: number[] = [];
  const reads: number[] = [];
  const writeCpus: number[] = [];
  const readCpus: number[] = [];
  let files = 0;
  let bytes = 0;
  for (let run = 0; run <= runs; run += 1) {
    const writeStart = performance.now();
    const writeCpu = process.cpuUsage();
    const written = face.writer.write(state, { kind: "cluster" });
    const writeMs = performance.now() - writeStart;
    const writeCpuMs = cpuMs(process.cpuUsage(writeCpu));
    const readStart = performance.now();
    const readCpu = process.cpuUsage();
    const read = await face.reader.read(written.files);
    const readMs = performance.now() - readStart;
    const readCpuMs = cpuMs(process.cpuUsage(readCpu));
    if (!read.ok) throw new Error(`${face.id}: read failed: ${read.issues[0]?.message ?? ""}`);
    files = written.files.length;
    bytes = written.files.reduce((sum, file) => sum + file.content.length, 0);
    if (run === 0) continue; // warm-up
    writes.push(writeMs);
    reads.push(readMs);
    writeCpus.push(writeCpuMs);
    readCpus.push(readCpuMs);
  }
  return {
    write: median(writes),
    read: median(reads),
    writeCpu: median(writeCpus),
    readCpu: median(readCpus),
    files,
    bytes,
  };
}

const state = largeState();
const figures: Figure[] = [];
const notes: string[] = [
  `${nodeCount} nodes, ${workloadCount} workloads, ${Object.values(state.placements).reduce((sum, nodes) => sum + nodes.length, 0)} placed replicas; cluster scope; median of ${runs} runs after one warm-up; wall time and CPU time (user+system, includes GC threads); load average at start ${loadavg()[0]?.toFixed(1)}`,
];
for (const name of faceNames) {
  const loaded = await loadFace(name);
  if (!loaded.ok) {
    notes.push(`${name}: not measured (${loaded.issues[0]?.message ?? "not loadable"})`);
    continue;
  }
  try {
    const result = await measure(loaded.face, state);
    figures.push(figure(`${name} write`, Math.round(result.write), "ms", "<= 1000 ms"));
    figures.push(figure(`${name} read`, Math.round(result.read), "ms", "<= 1000 ms"));
    figures.push(figure(`${name} write cpu`, Math.round(result.writeCpu), "ms"));
    figures.push(figure(`${name} read cpu`, Math.round(result.readCpu), "ms"));
    notes.push(`${name}: ${result.files} files, ${(result.bytes / 2 ** 20).toFixed(1)} MiB`);
  } catch (error) {
    notes.push(`${name}: failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
publishBenchReport({ name: "render", fsyncMode: "not applicable", figures, notes });
