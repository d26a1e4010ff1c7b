// pnpm bench etcd-failover [--trials N]: a real 5-node mesh whose nodes each run an etcd
// member the fabric manages (Debian's etcd 3.4); kill -9 an etcd holder's whole host (the
// daemon and its etcd), alternating the Raft leader and a follower, and time from outside
// how etcd gets back to three voting members with the replacement promoted, step by step
// (docs/actuators.md, issue 12).
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { resolvePolicyConfig } from "../packages/fabric-core/src/policy/index.js";
import {
  type FabricState,
  homelabStrategy,
  loadBlake3,
} from "../packages/fabric-core/src/vocabulary/index.js";
import { etcdctlMembership } from "../packages/node/src/actuate/etcd-membership.js";
import { EtcdMembersReply } from "../packages/node/src/api/schemas.js";
import { LocalMesh } from "../packages/node/src/mesh/local-mesh.js";
import {
  findLeader,
  type MeshNodeHandle,
  meshOf,
  stateOf,
  statusOf,
  waitFor,
} from "../packages/node/src/mesh/observe.js";
import { loadClusterCa } from "../packages/node/src/pki/ca.js";
import { EtcdTlsFiles } from "../packages/node/src/pki/etcd-credentials.js";
import { benchArgs } from "./lib/args.js";
import { figure, latencyFigures, publishBenchReport } from "./report.js";

const args = benchArgs({
  name: "etcd-failover",
  summary:
    "kill -9 an etcd holder's host in a real 5-node mesh running etcd; time etcd's way back to 3 voters",
  flags: { trials: { type: "string", value: "N", default: "20", help: "hosts killed" } },
});
const trials = args.integer("trials");
const count = 5;
const run = promisify(execFile);

await loadBlake3();
const policyDefaults = resolvePolicyConfig(homelabStrategy, undefined);
const settleMs = policyDefaults.hysteresis_ms + policyDefaults.stabilization_ms;
const directory = await mkdtemp(join(tmpdir(), "revoada-bench-etcd-failover-"));
const local = await LocalMesh.start({
  directory,
  nodes: count,
  faceId: "kubernetes",
  policy: { flap_threshold: 1000 },
  actuator: { runtime: "process", etcd: true },
});
// etcd speaks TLS with the mesh's CA: the benchmark reads it with a client certificate of its own.
const issuedClient = await new EtcdTlsFiles(
  join(directory, "bench-client"),
  await loadClusterCa(join(directory, "ca.crt"), join(directory, "ca.key")),
).client("bench-etcd-failover");
if (issuedClient === null) throw new Error("could not issue the benchmark's etcd client certificate");
const clientTls = issuedClient;

interface Trial {
  readonly leader: boolean;
  /** The leader's gossip holds the victim dead. */
  detectedMs: number | null;
  /** The procedure for the replacement began (the policy decided). */
  decidedMs: number | null;
  /** The dead member's removal committed. */
  removedMs: number | null;
  /** The replacement's `member add --learner` committed. */
  addedMs: number | null;
  /** The replacement's `member promote` committed (etcd accepts it once the learner is in sync). */
  promotedMs: number | null;
  /** etcd itself: three voting members, none of them the victim, no learner. */
  fullMs: number | null;
}

async function committedMembers(node: MeshNodeHandle): Promise<EtcdMembersReply | undefined> {
  return node.client.get("/v1/etcd", EtcdMembersReply).catch(() => undefined);
}

function holders(state: FabricState): string[] {
  return Object.values(state.nodes)
    .filter((node) => node.roles.includes("etcd"))
    .map((node) => node.name)
    .sort();
}

async function etcdVoters(
  endpoints: readonly string[],
): Promise<{ voters: string[]; learners: number } | undefined> {
  const listed = await etcdctlMembership({ endpoints, timeoutMs: 2000, tls: clientTls })
    .list()
    .catch(() => undefined);
  if (listed === undefined) return undefined;
  return {
    voters: listed
      .filter((member) => !member.isLearner && member.name !== "")
      .map((member) => member.name)
      .sort(),
    learners: listed.filter((member) => member.isLearner || member.name === "").length,
  };
}

async function settled(): Promise<{ state: FabricState; leader: MeshNodeHandle } | undefined> {
  return waitFor(
    async () => {
      const leader = await findLeader(local.running());
      if (leader === undefined || leader.status.procedures.length > 0) return undefined;
      const state = await stateOf(leader.node);
      if (state === undefined || holders(state).length !== 3) return undefined;
      const committed = await committedMembers(leader.node);
      const endpoints = (committed?.members ?? []).flatMap((member) =>
        member.client === null ? [] : [`https://${member.client}`],
      );
      const etcd = await etcdVoters(endpoints);
      if (etcd === undefined || etcd.learners > 0 || etcd.voters.join(",") !== holders(state).join(","))
        return undefined;
      const views = await Promise.all(local.running().map((node) => meshOf(node)));
      const allAlive = views.every(
        (view) => view !== undefined && view.filter((m) => m.status === "alive").length === count,
      );
      return allAlive && local.running().length === count ? { state, leader: leader.node } : undefined;
    },
    180_000,
    200,
  );
}

const results: Trial[] = [];
try {
  if ((await settled()) === undefined) throw new Error("the mesh and its etcd did not form");
  for (let index = 0; index < trials; index += 1) {
    const before = await settled();
    if (before === undefined) throw new Error(`not settled before trial ${index + 1}`);
    const killLeader = index % 2 === 0;
    const victimName = killLeader
      ? before.leader.name
      : holders(before.state).find((name) => name !== before.leader.name)!;
    const victim = local.nodes.find((node) => node.name === victimName)!;
    const survivors = local.nodes.filter((node) => node !== victim);
    const etcdPid =
      (await statusOf(victim))?.actuator?.components.find((c) => c.name === "etcd")?.pid ?? null;
    const trial: Trial = {
      leader: killLeader,
      detectedMs: null,
      decidedMs: null,
      removedMs: null,
      addedMs: null,
      promotedMs: null,
      fullMs: null,
    };
    const start = performance.now();
    if (etcdPid !== null) process.kill(etcdPid, "SIGKILL");
    await local.kill(victim.name);
    const at = () => Math.round(performance.now() - start);
    const done = await waitFor(
      async () => {
        const leader = await findLeader(survivors);
        if (leader === undefined) return undefined;
        if (trial.detectedMs === null) {
          const view = await meshOf(leader.node);
          if (view?.some((member) => member.name === victim.name && member.status === "dead"))
            trial.detectedMs = at();
        }
        if (trial.decidedMs === null && leader.status.procedures.some((p) => p.shift === "promote"))
          trial.decidedMs = at();
        const committed = await committedMembers(leader.node);
        if (committed === undefined) return undefined;
        if (trial.removedMs === null && !committed.members.some((member) => member.name === victim.name)) {
          trial.removedMs = at();
        }
        const fresh = committed.members.find((member) => !holders(before.state).includes(member.name));
        if (fresh !== undefined) {
          if (trial.addedMs === null) trial.addedMs = at();
          if (trial.promotedMs === null && !fresh.learner) trial.promotedMs = at();
        }
        const endpoints = committed.members.flatMap((member) =>
          member.client === null ? [] : [`https://${member.client}`],
        );
        const etcd = await etcdVoters(endpoints);
        if (etcd === undefined) return undefined;
        if (
          etcd.voters.length === 3 &&
          etcd.learners === 0 &&
          !etcd.voters.includes(victim.name) &&
          trial.promotedMs !== null
        ) {
          trial.fullMs = at();
          return true;
        }
        return undefined;
      },
      60_000,
      20,
    );
    results.push(trial);
    process.stderr.write(
      `trial ${index + 1}/${trials}: ${killLeader ? "leader" : "follower"} ${victim.name} -> detected ${trial.detectedMs ?? "-"} ` +
        `decided ${trial.decidedMs ?? "-"} removed ${trial.removedMs ?? "-"} added ${trial.addedMs ?? "-"} ` +
        `promoted ${trial.promotedMs ?? "-"} etcd full ${trial.fullMs ?? "-"} ms${done === undefined ? " (did not heal)" : ""}\n`,
    );
    local.startNode(victim.name);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  }
} finally {
  await local.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
  // Kill etcd members a killed daemon left behind (they outlive SIGKILL; docs/actuators.md).
  await run("pkill", ["-f", directory]).catch(() => undefined);
}

const series = (pick: (trial: Trial) => number | null) =>
  results.map(pick).filter((value): value is number => value !== null);
const stats = latencyFigures;
publishBenchReport({
  name: "etcd-failover",
  fsyncMode: "real fsync",
  figures: [
    figure("trials", results.length, "count"),
    figure("trials that did not heal", results.filter((trial) => trial.fullMs === null).length, "count", "0"),
    ...stats(
      "detected (leader's gossip: dead)",
      series((trial) => trial.detectedMs),
    ),
    ...stats(
      "decided (promotion procedure begun)",
      series((trial) => trial.decidedMs),
    ),
    ...stats(
      "dead member removed (committed)",
      series((trial) => trial.removedMs),
    ),
    ...stats(
      "replacement added as learner (committed)",
      series((trial) => trial.addedMs),
    ),
    ...stats(
      "learner promoted (committed)",
      series((trial) => trial.promotedMs),
    ),
    ...stats(
      "etcd back to 3 voters, replacement promoted",
      series((trial) => trial.fullMs),
      "<= 10000 ms",
    ),
  ],
  notes: [
    `${count} node processes on loopback, each with an etcd 3.4 member (process runtime) with TLS from the cluster CA, homelab strategy`,
    "each trial kills -9 an etcd holder's daemon and its etcd (alternating the Raft leader and a follower); times from the kill, observed through the API and etcdctl every 20 ms",
    "flap damping raised (flap_threshold 1000) so a node killed every few seconds is not quarantined",
    `between trials the killed node restarts and the mesh settles ${settleMs} ms`,
  ],
});
