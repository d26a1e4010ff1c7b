import { parseArgs } from "node:util";
import {
  type FabricSimProfile,
  fabricSimProfiles,
  runFabricSimulation,
  SimViolation,
} from "../src/sim/index.js";
import { loadBlake3 } from "../src/vocabulary/index.js";

/**
 * The whole-fabric simulator from the command line:
 *   pnpm sim:fabric --seed 7 --profile mixed     replay one seed (prints its report)
 *   pnpm sim:fabric --seeds 200 [--from 1]       sweep seeds of every profile (or --profile P)
 *   --nodes N (default 5)  --fault-ms N (default 20000)
 *   --sabotage double-begin|stale-chain-head|etcd-remove-live-first   a broken driver the invariants must catch
 * Exit 0 when every run kept its invariants and settled, 1 on the first violation.
 */
const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string" },
    from: { type: "string", default: "1" },
    profile: { type: "string" },
    nodes: { type: "string" },
    "fault-ms": { type: "string" },
    sabotage: { type: "string" },
  },
});

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`--${name}: not a non-negative integer: ${text}\n`);
    process.exit(2);
  }
  return value;
}

function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const profileText = values.profile;
if (profileText !== undefined && !(fabricSimProfiles as readonly string[]).includes(profileText)) {
  usage(`--profile is one of ${fabricSimProfiles.join(", ")}`);
}
const sabotages = ["double-begin", "stale-chain-head", "etcd-remove-live-first"] as const;
const sabotage = sabotages.find((name) => name === values.sabotage);
if (values.sabotage !== undefined && sabotage === undefined) usage(`--sabotage is ${sabotages.join(" or ")}`);
const nodes = integer(values.nodes, "nodes");
const faultMs = integer(values["fault-ms"], "fault-ms");
const common = {
  ...(nodes === undefined ? {} : { nodes }),
  ...(faultMs === undefined ? {} : { faultMs }),
  ...(sabotage === undefined ? {} : { sabotage }),
};

await loadBlake3();
const seed = integer(values.seed, "seed");
if (seed !== undefined) {
  const profile = (profileText ?? "mixed") as FabricSimProfile;
  try {
    const report = runFabricSimulation({ seed, profile, ...common });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
} else {
  const count = integer(values.seeds, "seeds") ?? 50;
  const from = integer(values.from, "from") ?? 1;
  const profiles = profileText === undefined ? fabricSimProfiles : [profileText as FabricSimProfile];
  let runs = 0;
  let procedures = 0;
  for (const profile of profiles) {
    for (let current = from; current < from + count; current += 1) {
      try {
        const report = runFabricSimulation({ seed: current, profile, ...common });
        runs += 1;
        procedures += report.stats.proceduresCompleted;
      } catch (error) {
        const invariant = error instanceof SimViolation ? ` [${error.invariant}]` : "";
        process.stderr.write(
          `seed ${current} profile ${profile} failed${invariant}: ${error instanceof Error ? error.message : String(error)}\n` +
            `replay: pnpm sim:fabric --seed ${current} --profile ${profile}\n`,
        );
        process.exit(1);
      }
    }
    process.stdout.write(`${profile}: ${count} seeds from ${from} kept every invariant\n`);
  }
  process.stdout.write(`${runs} runs, ${procedures} procedures completed\n`);
}
