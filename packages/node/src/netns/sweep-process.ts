import { sweepStaleRuns } from "./hosts.js";

/**
 * Entry point of the sweeper a netns harness leaves behind when its process exits without
 * removing its run (an uncaught error, process.exit): it waits for that process to be gone,
 * then sweeps every run whose owner is gone (hosts.ts). A harness killed with SIGKILL leaves
 * no sweeper; the next run to start sweeps instead.
 */
const ownerPid = Number(process.argv[3] ?? process.argv[2]?.split("x")[0]);
for (let i = 0; i < 600; i += 1) {
  try {
    process.kill(ownerPid, 0);
  } catch {
    break;
  }
  await new Promise((done) => setTimeout(done, 100));
}
await sweepStaleRuns();
