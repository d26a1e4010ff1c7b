// The ceiling a verified transfer is measured against (`pnpm bench content`): the same bytes
// copied between two processes over loopback TCP with no framing, hashing or verification,
// written to a file and fdatasync'd, as the transfer writes and syncs its blob.
import { spawn } from "node:child_process";
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { createInterface } from "node:readline";

const serverScript = `
const { createReadStream } = require("node:fs");
const { createServer } = require("node:net");
const server = createServer((socket) => {
  createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(socket);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

/** Copies `sourceFile` from a child process over loopback TCP into `targetFile`, fdatasync'd. */
export async function rawTcpCopy(
  sourceFile: string,
  targetFile: string,
): Promise<{ ms: number; bytes: number }> {
  const child = spawn(process.execPath, ["-e", serverScript, sourceFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`raw copy server exited (${code})`)));
      createInterface({ input: child.stdout! }).once("line", (line) => resolve(Number(line)));
    });
    const descriptor = openSync(targetFile, "w");
    try {
      const started = performance.now();
      let bytes = 0;
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port });
        socket.on("data", (chunk: Buffer) => {
          let written = 0;
          while (written < chunk.length) written += writeSync(descriptor, chunk, written);
          bytes += chunk.length;
        });
        socket.once("end", () => resolve());
        socket.once("error", reject);
      });
      fdatasyncSync(descriptor);
      return { ms: performance.now() - started, bytes };
    } finally {
      closeSync(descriptor);
    }
  } finally {
    child.kill("SIGKILL");
  }
}
