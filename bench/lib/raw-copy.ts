// The ceiling a verified transfer is measured against (`pnpm bench content`): the same bytes
// copied between two processes over loopback TCP with no framing, hashing or verification,
// written to a file and fdatasync'd, as the transfer writes and syncs its blob. With
// `writebackStepBytes` it also starts the file's writeback along the way, as the blob store
// does (`WritebackPacer`: a background fdatasync after every step), so the two compare like
// for like.
import { spawn } from "node:child_process";
import { fdatasyncSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { WritebackPacer } from "../../packages/node/src/fs/durable.js";

const serverScript = `
const { createReadStream } = require("node:fs");
const { createServer } = require("node:net");
const server = createServer((socket) => {
  createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(socket);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

export interface RawCopy {
  /** From the connection to the end of the final fdatasync. */
  readonly ms: number;
  /** Of which the final fdatasync (after the last byte was written). */
  readonly syncMs: number;
  readonly bytes: number;
}

/** Copies `sourceFile` from a child process over loopback TCP into `targetFile`, fdatasync'd. */
export async function rawTcpCopy(
  sourceFile: string,
  targetFile: string,
  writebackStepBytes: number | null = null,
): Promise<RawCopy> {
  const child = spawn(process.execPath, ["-e", serverScript, sourceFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`raw copy server exited (${code})`)));
      createInterface({ input: child.stdout! }).once("line", (line) => resolve(Number(line)));
    });
    const handle = await open(targetFile, "w");
    const descriptor = handle.fd;
    const pacer = writebackStepBytes === null ? null : new WritebackPacer(handle, writebackStepBytes);
    try {
      const started = performance.now();
      let bytes = 0;
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port });
        socket.on("data", (chunk: Buffer) => {
          let written = 0;
          while (written < chunk.length) written += writeSync(descriptor, chunk, written);
          bytes += chunk.length;
          pacer?.noteWritten(chunk.length);
        });
        socket.once("end", () => resolve());
        socket.once("error", reject);
      });
      const lastWritten = performance.now();
      await pacer?.caughtUp();
      fdatasyncSync(descriptor);
      const ended = performance.now();
      return { ms: ended - started, syncMs: ended - lastWritten, bytes };
    } finally {
      await pacer?.settle();
      await handle.close();
    }
  } finally {
    child.kill("SIGKILL");
  }
}
