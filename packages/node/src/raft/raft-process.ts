import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { defaultRaftConfig, type Entry } from "@revoada/fabric-core/raft";
import { NodeId, type Signer, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { createLogger } from "../daemon/log.js";
import { RaftUnavailableError } from "../errors.js";
import { loadOrCreateIdentity } from "../identity.js";
import type { PeerAddress } from "../transport/index.js";
import { type RaftApplier, RaftDriver } from "./driver.js";

/**
 * One Raft node as a process, for the integration test and `pnpm bench raft` (the daemon
 * embeds `RaftDriver` directly). Flags:
 *
 *   --data DIR  --cluster-key HEX  --listen HOST:PORT  [--seed HEX]  [--peer ID=HOST:PORT]...
 *   [--voters ID,ID,...]  [--election-ms 150]  [--snapshot-interval 10000]  [--segment-bytes N]
 *   [--http HOST:PORT]
 *
 * With --http the node also serves its client API over HTTP/1.1 (keep-alive), the path
 * `pnpm bench raft` drives: `POST /v1/propose` with the entry's bytes as the body (at most
 * 64 KiB) answers 200 `{"index":N}` once the entry is committed and applied here, or 503
 * `{"reason":"notLeader","leader":ID|null}` (or `dropped`, `stopped`).
 *
 * Control channel: JSON lines on stdin, answers (with the request's `id`) and events as JSON
 * lines on stdout (`leader` changes; `rollback` for the data-directory rollback events). The
 * applier is a register of proposed strings: `applied` lists them, so a test can check that
 * every acknowledged proposal is on every node.
 */
const Request = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("propose"), id: z.int(), data: z.string().max(65_536) }),
  z.strictObject({ op: z.literal("status"), id: z.int() }),
  z.strictObject({ op: z.literal("read"), id: z.int() }),
  z.strictObject({ op: z.literal("applied"), id: z.int() }),
  z.strictObject({
    op: z.literal("peers"),
    id: z.int(),
    peers: z
      .array(z.strictObject({ id: NodeId, host: z.string(), port: z.int().min(1).max(65_535) }))
      .max(64),
  }),
  z.strictObject({ op: z.literal("transfer"), id: z.int() }),
  z.strictObject({ op: z.literal("stop"), id: z.int() }),
  // Holds the event loop for this long, as a long synchronous task or a starved process does.
  z.strictObject({ op: z.literal("stall"), id: z.int(), ms: z.int().min(1).max(10_000) }),
]);
type Request = z.infer<typeof Request>;

class RegisterApplier implements RaftApplier<number> {
  values: string[] = [];

  apply(entry: Entry): number {
    if (entry.kind === "normal") this.values.push(Buffer.from(entry.data).toString("utf8"));
    return this.values.length;
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.values), "utf8");
  }

  restore(data: Uint8Array): void {
    const parsed = z.array(z.string()).parse(JSON.parse(Buffer.from(data).toString("utf8")));
    this.values = parsed;
  }
}

let outputLines: string[] = [];
function emit(value: Record<string, unknown>): void {
  if (outputLines.length === 0) setImmediate(flushOutput);
  outputLines.push(JSON.stringify(value));
}
function flushOutput(): void {
  const text = `${outputLines.join("\n")}\n`;
  outputLines = [];
  process.stdout.write(text);
}

function parseAddress(text: string): PeerAddress {
  const separator = text.lastIndexOf(":");
  const port = Number(text.slice(separator + 1));
  if (separator < 1 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`not HOST:PORT: ${text}`);
  }
  return { host: text.slice(0, separator), port };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      "cluster-key": { type: "string" },
      listen: { type: "string", default: "127.0.0.1:0" },
      seed: { type: "string" },
      peer: { type: "string", multiple: true, default: [] },
      voters: { type: "string" },
      "election-ms": { type: "string", default: "150" },
      "snapshot-interval": { type: "string", default: "10000" },
      "segment-bytes": { type: "string" },
      http: { type: "string" },
    },
  });
  if (values.data === undefined || values["cluster-key"] === undefined) {
    throw new Error("--data and --cluster-key are required");
  }
  const signer: Signer =
    values.seed === undefined
      ? await loadOrCreateIdentity(values.data)
      : signerFromSeed(Buffer.from(values.seed, "hex"));
  const peers = new Map<NodeId, PeerAddress>();
  for (const text of values.peer) {
    const [id, address] = text.split("=");
    peers.set(NodeId.parse(id), parseAddress(address ?? ""));
  }
  const voters = values.voters === undefined ? [signer.nodeId, ...peers.keys()] : values.voters.split(",");
  for (const voter of voters) {
    const id = NodeId.parse(voter);
    if (id !== signer.nodeId && !peers.has(id)) peers.set(id, { host: "127.0.0.1", port: 1 });
  }
  const config = {
    ...defaultRaftConfig(signer.nodeId, Number(values["election-ms"])),
    snapshotIntervalEntries: Number(values["snapshot-interval"]),
  };
  const applier = new RegisterApplier();
  const driver = await RaftDriver.start({
    config,
    signer,
    clusterKey: Buffer.from(values["cluster-key"], "hex"),
    dataDirectory: values.data,
    listen: parseAddress(values.listen),
    peers,
    initialVoters: voters.map((voter) => NodeId.parse(voter)),
    applier,
    logger: createLogger({ level: "warn", component: "raft" }),
    ...(values["segment-bytes"] === undefined ? {} : { segmentBytesMax: Number(values["segment-bytes"]) }),
    onEvent: (event) => {
      if (event.type === "leader-changed") emit({ event: "leader", leader: event.leader, term: event.term });
      if (event.type === "role-changed") emit({ event: "role", role: event.role });
      if (
        event.type === "rollback-detected" ||
        event.type === "rollback-recovered" ||
        event.type === "follower-rolled-back"
      ) {
        emit({ event: "rollback", detail: event });
      }
    },
  });
  const httpPort = values.http === undefined ? null : await serveHttp(parseAddress(values.http), driver);
  emit({
    event: "started",
    nodeId: signer.nodeId,
    host: driver.address.host,
    port: driver.address.port,
    httpPort,
  });
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => handleLine(line, driver, applier));
  lines.on("close", () => {
    void driver.stop({ transfer: false }).then(() => process.exit(0));
  });
}

const maxProposalBytes = 65_536;

/** The client API over HTTP (keep-alive): `POST /v1/propose`; resolves with the bound port. */
function serveHttp(address: PeerAddress, driver: RaftDriver<number>): Promise<number> {
  const server = createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
    if (request.method !== "POST" || request.url !== "/v1/propose") {
      answer(response, 404, { reason: "not found: POST /v1/propose is the only route" });
      request.resume();
      return;
    }
    readBody(request, (body) => {
      if (body === null) {
        answer(response, 413, { reason: `a proposal is at most ${maxProposalBytes} bytes` });
        return;
      }
      driver.propose(body).then(
        ({ index }) => answer(response, 200, { index }),
        (error: unknown) => {
          const unavailable = error instanceof RaftUnavailableError;
          answer(response, unavailable ? 503 : 500, {
            reason: unavailable ? error.reason : "error",
            leader: unavailable ? error.leaderHint : null,
          });
        },
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      const bound = server.address();
      resolve(typeof bound === "object" && bound !== null ? bound.port : address.port);
    });
  });
}

/** The request body, or null once it exceeds maxProposalBytes (the rest is drained). */
function readBody(request: IncomingMessage, done: (body: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  request.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size <= maxProposalBytes) chunks.push(chunk);
  });
  request.on("end", () => done(size > maxProposalBytes ? null : Buffer.concat(chunks, size)));
}

function answer(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

function handleLine(line: string, driver: RaftDriver<number>, applier: RegisterApplier): void {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    emit({ error: "not JSON" });
    return;
  }
  const parsed = Request.safeParse(input);
  if (!parsed.success) {
    emit({ error: parsed.error.issues[0]?.message ?? "bad request" });
    return;
  }
  void handleRequest(parsed.data, driver, applier).catch((error: unknown) => {
    const reason = error instanceof RaftUnavailableError ? error.reason : "error";
    const leader = error instanceof RaftUnavailableError ? error.leaderHint : null;
    emit({ id: parsed.data.id, ok: false, reason, leader, message: String(error) });
  });
}

async function handleRequest(
  request: Request,
  driver: RaftDriver<number>,
  applier: RegisterApplier,
): Promise<void> {
  switch (request.op) {
    case "propose": {
      const { index } = await driver.propose(Buffer.from(request.data, "utf8"));
      emit({ id: request.id, ok: true, index });
      return;
    }
    case "status":
      emit({ id: request.id, ok: true, status: driver.status(), counters: driver.counters });
      return;
    case "read": {
      const index = await driver.readIndex();
      emit({ id: request.id, ok: true, index, count: applier.values.length });
      return;
    }
    case "applied":
      emit({ id: request.id, ok: true, values: applier.values });
      return;
    case "peers":
      for (const peer of request.peers) {
        if (peer.id !== driver.nodeId) driver.setPeer(peer.id, { host: peer.host, port: peer.port });
      }
      emit({ id: request.id, ok: true });
      return;
    case "transfer":
      emit({ id: request.id, ok: driver.transferLeadership() });
      return;
    case "stall": {
      const until = performance.now() + request.ms;
      while (performance.now() < until) {
        // Busy: the point is that nothing else on this event loop runs meanwhile.
      }
      emit({ id: request.id, ok: true });
      return;
    }
    case "stop":
      await driver.stop({ transfer: true });
      emit({ id: request.id, ok: true });
      flushOutput();
      process.exit(0);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `raft-process: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
