import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/durable.js";
import { ApiClient } from "./api-client.js";
import { type MeshFile, meshFileName } from "./mesh-file.js";
import { createMeshLayout, type MeshPlan } from "./mesh-setup.js";
import type { MeshNodeHandle } from "./observe.js";
import { type NodeProcess, startNodeProcess, stopNodeProcess } from "./supervisor.js";

/**
 * A local mesh of node processes, as the demo, the end-to-end tests and the failover
 * benchmark drive it: lay it out, start every node, reach each through its API and output
 * directory, kill and restart nodes, stop them all.
 */
export class LocalMesh {
  readonly nodes: readonly MeshNodeHandle[];
  private readonly processes = new Map<string, NodeProcess>();
  /** mesh.json rewrites, one at a time, in the order the pids changed. */
  private pidsWritten: Promise<void> = Promise.resolve();

  private constructor(
    readonly directory: string,
    readonly mesh: MeshFile,
    readonly token: string,
    private readonly env: Readonly<Record<string, string>>,
    private readonly launcherOf: (name: string) => readonly string[],
    /** The cluster CA when the nodes' APIs are HTTPS (mesh.json `ca_file`). */
    readonly caPem?: string,
  ) {
    this.nodes = mesh.nodes.map((node) => ({
      name: node.name,
      client: new ApiClient(node.api, token, 3000, caPem),
      outputDir: join(directory, node.name, "out"),
    }));
  }

  /**
   * Lays the mesh out in `plan.directory` and starts every node; `launcherOf` names the
   * command each node runs under (`ip netns exec NAME` for a node in its own namespace).
   */
  static async start(
    plan: MeshPlan,
    env: Readonly<Record<string, string>> = {},
    launcherOf: (name: string) => readonly string[] = () => [],
  ): Promise<LocalMesh> {
    const { mesh } = await createMeshLayout(plan);
    const token = (await readFile(mesh.token_file, "utf8")).trim();
    const caPem = mesh.ca_file === undefined ? undefined : await readFile(mesh.ca_file, "utf8");
    const local = new LocalMesh(plan.directory, mesh, token, env, launcherOf, caPem);
    for (const node of mesh.nodes) local.startNode(node.name);
    await local.pidsRecorded();
    return local;
  }

  startNode(name: string): void {
    const entry = this.mesh.nodes.find((node) => node.name === name);
    if (entry === undefined) throw new Error(`no node ${name} in this mesh`);
    const started = startNodeProcess(name, entry.config, this.directory, this.env, this.launcherOf(name));
    this.processes.set(name, started);
    this.recordPids();
    void started.exited.then(() => this.recordPids());
  }

  /** Resolves once mesh.json names the pid of every running node (and null for the others). */
  async pidsRecorded(): Promise<void> {
    await this.pidsWritten;
  }

  /** Rewrites mesh.json with the pid of each running node, so `revoada status` and operators see them. */
  private recordPids(): void {
    this.pidsWritten = this.pidsWritten
      .then(async () => {
        const nodes = this.mesh.nodes.map((node) => {
          const child = this.processes.get(node.name)?.child;
          const running = child !== undefined && child.exitCode === null && child.signalCode === null;
          return { ...node, pid: running ? (child.pid ?? null) : null };
        });
        const text = `${JSON.stringify({ ...this.mesh, nodes }, null, 2)}\n`;
        await writeFileAtomic(join(this.directory, meshFileName), text);
      })
      .catch(() => undefined);
  }

  isRunning(name: string): boolean {
    const child = this.processes.get(name)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  running(): MeshNodeHandle[] {
    return this.nodes.filter((node) => this.isRunning(node.name));
  }

  /** `kill -9`; resolves once the process is gone. */
  async kill(name: string): Promise<void> {
    const process_ = this.processes.get(name);
    process_?.child?.kill("SIGKILL");
    await process_?.exited;
  }

  /** Sends `signal` (SIGSTOP/SIGCONT pause and resume a node). */
  signal(name: string, signal: NodeJS.Signals): void {
    this.processes.get(name)?.child?.kill(signal);
  }

  /** Graceful stop of one node (SIGTERM, SIGKILL after `graceMs`); its exit code. */
  async stopNode(name: string, graceMs = 10_000): Promise<number | null> {
    const process_ = this.processes.get(name);
    if (process_ === undefined) return null;
    await stopNodeProcess(process_, graceMs);
    return process_.child?.exitCode ?? null;
  }

  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all([...this.processes.values()].map((process_) => stopNodeProcess(process_, graceMs)));
    this.recordPids();
    await this.pidsRecorded();
  }
}
