import { FabricState, type Workload } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { CommittedReply, NodeStatusReply } from "../api/schemas.js";
import type { ApiClient } from "../mesh/api-client.js";
import { chaosNamespace, valueVariable } from "./checks.js";
import type { HistoryEvent, HistoryWriter } from "./history.js";

/**
 * One client process of a chaos campaign: it finds the leader (GET /v1/status, following the
 * leader a follower names), then invokes one operation at a time against it through the HTTP
 * API and records the invoke and its completion. A completion is `fail` only when the
 * operation certainly had no effect (a refusal the server made before proposing, or a request
 * never sent); a 421 after a mutation, a timeout or a dropped connection is `info`, because the
 * entry may have reached the log before the leader lost its post.
 */
export interface ChaosNode {
  readonly name: string;
  /** A client of its API (token, CA) that gives up after `timeoutMs`. */
  readonly client: (timeoutMs: number) => ApiClient;
}

export type ClientOperation =
  | { readonly f: "apply"; readonly key: string; readonly value: string }
  | { readonly f: "add"; readonly key: string; readonly value: string }
  | { readonly f: "delete"; readonly key: string }
  | { readonly f: "read"; readonly keys: readonly string[] }
  | { readonly f: "shift"; readonly action: "quarantine" | "restore"; readonly node: string };

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

class NoReply extends Error {
  override readonly name = "NoReply";
}

const statusTimeoutMs = 4000;
const writeTimeoutMs = 10_000;
const shiftTimeoutMs = 20_000;
const readTimeoutMs = 5000;

export class ChaosClient {
  private leaderGuess = 0;
  private readonly names = new Map<string, string>();

  constructor(
    readonly process: number,
    private readonly nodes: readonly ChaosNode[],
    private readonly history: HistoryWriter,
  ) {}

  /** Runs one operation to completion and records it; never throws for what the server does. */
  async run(operation: ClientOperation): Promise<HistoryEvent> {
    const { f, ...value } = operation;
    const target = await this.findLeader();
    if (target === undefined) {
      this.history.record({ process: this.process, type: "invoke", f, value });
      return this.history.record({ process: this.process, type: "fail", f, value, error: "no leader found" });
    }
    this.history.record({ process: this.process, type: "invoke", f, value, node: target.name });
    const completion = await this.send(operation, target).catch((error: unknown) => ({
      type: operation.f === "read" ? ("fail" as const) : ("info" as const),
      error: error instanceof Error ? error.message : String(error),
    }));
    return this.history.record({ process: this.process, f, node: target.name, value, ...completion });
  }

  private async send(
    operation: ClientOperation,
    target: ChaosNode,
  ): Promise<Omit<HistoryEvent, "process" | "f" | "time_ns" | "node">> {
    switch (operation.f) {
      case "apply":
      case "add":
        return this.write(
          await request(
            target,
            "POST",
            "/v1/workloads",
            workloadOf(operation.key, operation.value),
            writeTimeoutMs,
          ),
          operation,
        );
      case "delete": {
        const [namespace, name] = operation.key.split("/");
        const reply = await request(
          target,
          "DELETE",
          `/v1/workloads/${namespace}/${name}`,
          undefined,
          writeTimeoutMs,
        );
        return this.write(reply, operation);
      }
      case "shift": {
        const body = { action: operation.action, node: operation.node, force: false };
        return this.write(await request(target, "POST", "/v1/shifts", body, shiftTimeoutMs), operation);
      }
      case "read": {
        const reply = await request(target, "GET", "/v1/state?consistent=true", undefined, readTimeoutMs);
        const state = reply.status === 200 ? FabricState.safeParse(reply.body) : undefined;
        if (state === undefined || !state.success)
          return { type: "fail", value: { keys: operation.keys }, error: `HTTP ${reply.status}` };
        const values: Record<string, string | null> = {};
        for (const key of operation.keys) values[key] = state.data.workloads[key]?.env[valueVariable] ?? null;
        return { type: "ok", value: { keys: operation.keys, values }, index: state.data.applied.index };
      }
      default:
        return operation satisfies never;
    }
  }

  private write(
    reply: Reply,
    operation: ClientOperation,
  ): Omit<HistoryEvent, "process" | "f" | "time_ns" | "node"> {
    const { f: _f, ...value } = operation;
    if (reply.status === 200) {
      const committed = CommittedReply.safeParse(reply.body);
      if (committed.success) {
        return { type: "ok", value, index: committed.data.index, term: committed.data.term };
      }
      return { type: "info", value, error: "a 200 reply of an unexpected shape" };
    }
    const error = `HTTP ${reply.status}: ${describe(reply.body)}`;
    // Refused before anything was proposed: the policy (409), no such workload (404), bad input (400/401).
    if ([400, 401, 404, 409].includes(reply.status)) return { type: "fail", value, error };
    return { type: "info", value, error };
  }

  /** The node that says it leads, trying the last one that did first. */
  private async findLeader(): Promise<ChaosNode | undefined> {
    for (let attempt = 0; attempt < this.nodes.length + 1; attempt += 1) {
      const node = this.nodes[this.leaderGuess % this.nodes.length]!;
      const reply = await request(node, "GET", "/v1/status", undefined, statusTimeoutMs).catch(
        () => undefined,
      );
      const status = reply?.status === 200 ? NodeStatusReply.safeParse(reply.body) : undefined;
      if (status?.success === true) {
        this.names.set(status.data.id, node.name);
        if (status.data.raft.state === "leader") return node;
        const hinted = status.data.raft.leader === null ? undefined : this.names.get(status.data.raft.leader);
        const hintedIndex = this.nodes.findIndex((candidate) => candidate.name === hinted);
        if (hintedIndex >= 0 && hintedIndex !== this.leaderGuess % this.nodes.length) {
          this.leaderGuess = hintedIndex;
          continue;
        }
      }
      this.leaderGuess += 1;
    }
    return undefined;
  }
}

/** The workload a register key holds: its value in an env var, one replica, nothing else. */
export function workloadOf(key: string, value: string): Workload {
  const [namespace, name] = key.split("/");
  return {
    name: name!,
    namespace: namespace ?? chaosNamespace,
    image: "docker.io/library/busybox:1.36",
    command: [],
    args: [],
    env: { [valueVariable]: value },
    ports: [],
    replicas: 1,
    resources: { cpu_millis: 10, memory_bytes: 1024 * 1024 },
    config_blobs: [],
    placement: { zones: [], labels: {}, tolerate_control_plane: false },
  };
}

async function request(
  node: ChaosNode,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<Reply> {
  let response: Response;
  try {
    response = await node.client(timeoutMs).fetch(method, path, body);
  } catch (error) {
    throw new NoReply(`${node.name}: no reply: ${error instanceof Error ? error.message : String(error)}`);
  }
  const payload: unknown = await response.json().catch(() => undefined);
  return { status: response.status, body: payload };
}

function describe(body: unknown): string {
  const parsed = z.object({ error: z.string() }).safeParse(body);
  return parsed.success ? parsed.data.error.slice(0, 300) : "";
}
