import { parseArgs } from "node:util";
import { runRaftSimulation } from "../src/sim/index.js";

/**
 * The Raft simulator from the command line:
 *   pnpm sim --seed 1234              replay one seed (prints its report)
 *   pnpm sim --seeds 1000 [--from 1]  sweep seeds, stop at the first failure
 *   --steps N (fault-phase steps, default 400)  --nodes N (founding voters, default 3)
 */
const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string" },
    from: { type: "string", default: "1" },
    steps: { type: "string" },
    nodes: { type: "string" },
  },
});

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative integer\n`);
    process.exit(2);
  }
  return value;
}

const steps = integer(values.steps, "steps");
const nodes = integer(values.nodes, "nodes");
const seed = integer(values.seed, "seed");
const seeds = integer(values.seeds, "seeds");
const from = integer(values.from, "from") ?? 1;

if (seed !== undefined) {
  const report = runRaftSimulation({ seed, steps, nodes });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const count = seeds ?? 100;
  let operations = 0;
  let worstRecoveryMs = 0;
  for (let current = from; current < from + count; current += 1) {
    try {
      const report = runRaftSimulation({ seed: current, steps, nodes });
      operations += report.operations;
      worstRecoveryMs = Math.max(worstRecoveryMs, report.recoveryMs);
    } catch (error) {
      process.stderr.write(
        `seed ${current} FAILED\n${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    }
  }
  process.stdout.write(
    `${count} seeds passed (from ${from}); ${operations} client operations checked; worst recovery ${worstRecoveryMs} ms virtual\n`,
  );
}
