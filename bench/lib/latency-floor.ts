// The floor under a one-client commit on this machine, measured in the same run as the
// systems it bounds: a commit acknowledged to one client needs at least one HTTP round trip
// (client -> leader -> client) and one fdatasync on a follower's critical path (the leader's
// own runs beside it). Neither revoada nor etcd can answer one client faster than their sum
// plus one replication round trip, so a 1-client latency target below the sum is a target for
// the disk and the kernel, not for the consensus code.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { runLoad } from "./http-load.js";

/** Latencies (ms) of `count` appends of `bytes` each to a file in `directory`, each followed by fdatasync. */
export function fdatasyncLatencies(directory: string, bytes: number, count: number): number[] {
  const path = join(directory, "fdatasync-floor.log");
  const fd = openSync(path, "a");
  const record = Buffer.alloc(bytes + 24, "f");
  const latencies: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const started = process.hrtime.bigint();
      writeSync(fd, record);
      fdatasyncSync(fd);
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return latencies;
}

// A Node HTTP server in its own process that answers every request at once, as a leader
// would if committing cost nothing.
const instantServer = `
const http = require("node:http");
const server = http.createServer((request, response) => {
  request.resume();
  request.on("end", () => { response.writeHead(200, { "content-length": 2 }); response.end("{}"); });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

/** Latencies (ms) of one closed-loop keep-alive client against a server that answers at once, for `durationMs`. */
export async function httpRoundTripLatencies(bodyBytes: number, durationMs: number): Promise<number[]> {
  const child: ChildProcess = spawn(process.execPath, ["-e", instantServer], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the floor's HTTP server exited (${code})`)));
      child.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    const body = Buffer.alloc(bodyBytes, "v");
    const target = () => ({
      host: "127.0.0.1",
      port,
      path: "/",
      contentType: "application/octet-stream",
      body: () => body,
    });
    await runLoad(target, 1, Math.min(500, durationMs)); // warm-up
    const result = await runLoad(target, 1, durationMs);
    return result.latenciesMs;
  } finally {
    child.stdin?.end();
    child.kill();
  }
}
