import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { RaftEvent, RaftStatus } from "@revoada/fabric-core/raft";
import { signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { nodeFlagsOf } from "../mesh/supervisor.js";

/**
 * Spawns and drives `raft-process.ts` children over their JSON-lines control channel. Used
 * by the multi-process integration test and by `pnpm bench raft`; not by the daemon.
 */
export interface ControlResponse {
  readonly id: number;
  readonly ok: boolean;
  readonly [field: string]: unknown;
}

/** Node flags every child gets from REVOADA_RAFT_NODE_FLAGS (e.g. "--cpu-prof" when profiling). */
function nodeFlags(): string[] {
  return nodeFlagsOf(process.env.REVOADA_RAFT_NODE_FLAGS);
}

const scriptPath = fileURLToPath(new URL("./raft-process.ts", import.meta.url));

export class RaftProcess {
  readonly nodeId: string;
  readonly seedHex: string;
  readonly dataDirectory: string;
  port = 0;
  /** The client HTTP API's port when the cluster was started with `--http` (else 0). */
  httpPort = 0;
  child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  /** Every `leader` event line seen, newest last. */
  readonly leaderEvents: { leader: string | null; term: number; atMs: number }[] = [];
  /** Every role this process took (`role-changed` events), oldest first. */
  readonly roleEvents: RaftStatus["role"][] = [];
  /** Every `rollback` event line seen (the core's rollback events), oldest first. */
  readonly rollbackEvents: RaftEvent[] = [];
  stderr = "";
  private readonly pending = new Map<number, (response: ControlResponse) => void>();
  private nextId = 1;

  constructor(dataDirectory: string) {
    this.seedHex = randomBytes(32).toString("hex");
    this.nodeId = signerFromSeed(Buffer.from(this.seedHex, "hex")).nodeId;
    this.dataDirectory = dataDirectory;
    mkdirSync(dataDirectory, { recursive: true });
  }

  /** Starts the process; resolves once it listens. */
  async start(options: {
    clusterKeyHex: string;
    voters: readonly string[];
    extraArgs?: readonly string[];
  }): Promise<void> {
    const args = [
      ...nodeFlags(),
      "--conditions=source",
      "--import",
      // Resolved here, not against the child's working directory (a benchmark may run elsewhere).
      import.meta.resolve("tsx"),
      scriptPath,
      "--data",
      this.dataDirectory,
      "--cluster-key",
      options.clusterKeyHex,
      "--seed",
      this.seedHex,
      "--listen",
      "127.0.0.1:0",
      "--voters",
      options.voters.join(","),
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    // A killed process's stdin fails with EPIPE; `request` reports it through its callback.
    child.stdin?.on("error", () => undefined);
    this.stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const started = new Promise<void>((resolve, reject) => {
      child.once("exit", (code) =>
        reject(new Error(`raft process exited (${code}) before starting: ${this.stderr}`)),
      );
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message.event === "started") {
          this.port = message.port as number;
          this.httpPort = typeof message.httpPort === "number" ? message.httpPort : 0;
          resolve();
        } else if (message.event === "leader") {
          this.leaderEvents.push({
            leader: message.leader as string | null,
            term: message.term as number,
            atMs: performance.now(),
          });
        } else if (message.event === "role") {
          this.roleEvents.push(message.role as RaftStatus["role"]);
        } else if (message.event === "rollback") {
          this.rollbackEvents.push(message.detail as RaftEvent);
        } else if (typeof message.id === "number") {
          const resolver = this.pending.get(message.id);
          this.pending.delete(message.id);
          resolver?.(message as unknown as ControlResponse);
        }
      });
    });
    await started;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends one request; resolves with its answer, or rejects after `timeoutMs`. */
  request(op: string, fields: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<ControlResponse> {
    const child = this.child;
    if (child === null || !this.running) return Promise.reject(new Error("process not running"));
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op} timed out`));
      }, timeoutMs);
      this.pending.set(id, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      child.stdin?.write(`${JSON.stringify({ op, id, ...fields })}\n`, (error) => {
        if (error === null || error === undefined) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${op}: the process is gone (${error.message})`));
      });
    });
  }

  async status(): Promise<RaftStatus | null> {
    try {
      const response = await this.request("status", {}, 5000);
      return response.ok ? (response.status as RaftStatus) : null;
    } catch {
      return null;
    }
  }

  /** A clean stop (a leader hands over first); resolves once the process exited. */
  async stop(): Promise<void> {
    if (this.child === null) return;
    if (this.running) {
      const stopped = await this.request("stop", {}, 10_000).catch(() => null);
      // It answers before it exits: give the exit (and a --cpu-prof profile's write) a moment.
      if (stopped?.ok === true) await Promise.race([this.exited, delay(5_000)]);
    }
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
    this.child = null;
  }

  /** Closes the control channel: the node stops without a hand-over and exits (5 s at most, then kill -9). */
  async endInput(): Promise<void> {
    if (this.child === null || !this.running) return;
    this.child.stdin?.end();
    await Promise.race([this.exited, delay(5_000)]);
  }

  /** kill -9: no chance to flush or hand over anything. */
  async kill(): Promise<void> {
    if (this.child === null) return;
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
    for (const resolver of this.pending.values()) resolver({ id: -1, ok: false, reason: "killed" });
    this.pending.clear();
    this.child = null;
  }
}

export class ProcessCluster {
  readonly nodes: RaftProcess[];
  readonly clusterKeyHex = randomBytes(32).toString("hex");
  private readonly extraArgs: readonly string[];

  constructor(baseDirectory: string, size: number, extraArgs: readonly string[] = []) {
    this.nodes = [];
    for (let position = 0; position < size; position += 1) {
      this.nodes.push(new RaftProcess(join(baseDirectory, `node-${position}`)));
    }
    this.extraArgs = extraArgs;
  }

  async start(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.startNode(node)));
    await this.announcePeers();
  }

  async restart(node: RaftProcess): Promise<void> {
    await this.startNode(node);
    await this.announcePeers();
  }

  /** Tells every running node every node's current address. */
  async announcePeers(): Promise<void> {
    const peers = this.nodes.map((node) => ({ id: node.nodeId, host: "127.0.0.1", port: node.port }));
    await Promise.all(
      this.nodes.filter((node) => node.running).map((node) => node.request("peers", { peers })),
    );
  }

  /** Polls until one running node is the leader of the highest term seen; returns it. */
  async waitForLeader(timeoutMs = 30_000, except: RaftProcess | null = null): Promise<RaftProcess> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const running = this.nodes.filter((node) => node.running && node !== except);
      const statuses = await Promise.all(running.map((node) => node.status()));
      for (const [position, status] of statuses.entries()) {
        if (status?.role === "leader") return running[position]!;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error("no leader elected in time");
  }

  async stop(): Promise<void> {
    // A profiled run (REVOADA_RAFT_NODE_FLAGS) lets each node exit by itself, which writes
    // its --cpu-prof profile; otherwise kill -9, the fastest end for a test.
    if (nodeFlags().length > 0) await Promise.all(this.nodes.map((node) => node.endInput()));
    await Promise.all(this.nodes.map((node) => node.kill()));
  }

  private async startNode(node: RaftProcess): Promise<void> {
    await node.start({
      clusterKeyHex: this.clusterKeyHex,
      voters: this.nodes.map((each) => each.nodeId),
      extraArgs: this.extraArgs,
    });
  }
}
