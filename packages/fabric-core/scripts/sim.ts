import { parseArgs } from "node:util";
import { countingReplicasCommitRule, runRaftSimulation } from "../src/sim/index.js";
import { type RaftSimProfile, raftSimProfiles } from "../src/sim/raft-sim.js";

/**
 * The Raft simulator from the command line:
 *   pnpm sim --seed 1234              replay one seed (prints its report)
 *   pnpm sim --seeds 1000 [--from 1]  sweep seeds, stop at the first failure
 *   --steps N (fault-phase steps, default 400)  --nodes N (founding voters, default 3)
 *   --profile leader-churn   the Figure 8 hunting profile (see RaftSimOptions.profile)
 *   --profile disk-rollback  mixed faults plus nodes restarted from older copies of their disk
 *   --broken-commit-rule     run with a commit rule that counts earlier-term replicas
 */
const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string" },
    from: { type: "string", default: "1" },
    steps: { type: "string" },
    nodes: { type: "string" },
    profile: { type: "string" },
    "broken-commit-rule": { type: "boolean", default: false },
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
if (values.profile !== undefined && !raftSimProfiles.includes(values.profile as RaftSimProfile)) {
  process.stderr.write(`--profile is one of ${raftSimProfiles.join(", ")}\n`);
  process.exit(2);
}
const profile = values.profile as RaftSimProfile | undefined;
const commitRule = values["broken-commit-rule"] ? countingReplicasCommitRule : undefined;
const common = { steps, nodes, profile, commitRule };

if (seed !== undefined) {
  const report = runRaftSimulation({ seed, ...common });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const count = seeds ?? 100;
  let operations = 0;
  let worstRecoveryMs = 0;
  for (let current = from; current < from + count; current += 1) {
    try {
      const report = runRaftSimulation({ seed: current, ...common });
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
