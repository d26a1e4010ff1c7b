import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/**
 * Starts `gossip-agent.ts` processes and talks to them over stdin/stdout (the multi-process
 * tests and the real-process half of `pnpm bench gossip` share it).
 */
const agentScript = fileURLToPath(new URL("./gossip-agent.ts", import.meta.url));

export interface AgentOptions {
  readonly keys: string;
  readonly seeds?: readonly string[];
  readonly port?: number;
  readonly identity?: string;
  readonly generation?: number;
  readonly cadenceMs?: number;
  readonly events?: boolean;
}

export interface AgentMemberView {
  readonly id: string;
  readonly status: string;
  readonly generation: number;
  readonly incarnation: number;
  readonly phi: number | null;
  readonly roles: string[] | null;
}

export interface AgentEvent {
  readonly wallMs: number;
  readonly event: {
    readonly type: string;
    readonly id: string;
    readonly status?: string;
    readonly generation?: number;
  };
}

export class AgentProcess {
  private readonly pending: ((line: Record<string, unknown>) => void)[] = [];
  private readonly eventListeners: ((event: AgentEvent) => void)[] = [];
  private exited = false;
  id = "";
  address = "";

  private constructor(readonly child: ChildProcess) {
    child.on("exit", () => {
      this.exited = true;
    });
  }

  static spawn(options: AgentOptions): Promise<AgentProcess> {
    const args = [
      "--conditions=source",
      "--import",
      import.meta.resolve("tsx"),
      agentScript,
      "--keys",
      options.keys,
    ];
    args.push("--port", String(options.port ?? 0), "--seeds", (options.seeds ?? []).join(","));
    if (options.identity !== undefined) args.push("--identity", options.identity);
    if (options.generation !== undefined) args.push("--generation", String(options.generation));
    if (options.cadenceMs !== undefined) args.push("--cadence-ms", String(options.cadenceMs));
    if (options.events === true) args.push("--events");
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
    const agent = new AgentProcess(child);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => agent.onLine(line));
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`gossip agent exited early with ${code}`)));
      agent.pending.push((ready) => {
        agent.id = String(ready.id);
        agent.address = String(ready.address);
        resolve(agent);
      });
    });
  }

  isRunning(): boolean {
    return !this.exited;
  }

  request(command: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(new Error("gossip agent has exited"));
        return;
      }
      this.pending.push(resolve);
      this.child.stdin!.write(`${command}\n`);
    });
  }

  async view(): Promise<AgentMemberView[]> {
    const answer = await this.request("view");
    return answer.members as AgentMemberView[];
  }

  onEvent(listener: (event: AgentEvent) => void): void {
    this.eventListeners.push(listener);
  }

  kill9(): void {
    this.child.kill("SIGKILL");
  }

  /** Closes stdin (the agent closes its sockets and exits) and waits for the exit. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (parsed.type === "event") {
      for (const listener of this.eventListeners) listener(parsed as unknown as AgentEvent);
      return;
    }
    this.pending.shift()?.(parsed);
  }
}

/** Polls `check` every `everyMs` until it holds or `limitMs` passes. */
export async function waitFor(
  check: () => Promise<boolean>,
  limitMs: number,
  everyMs = 100,
): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return check();
}
