import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shortNodeId, type Workload } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { CommittedReply } from "../../api/schemas.js";
import { measureFailover, verifyServedChain } from "../../mesh/failover.js";
import { LocalMesh } from "../../mesh/local-mesh.js";
import { fabricFaceFor, faceByCliName } from "../../mesh/mesh-setup.js";
import { diffFiles, etcdHolders, findLeader, snapshotFiles, stateOf, waitFor } from "../../mesh/observe.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { wholeNumber } from "../numbers.js";

/**
 * `revoada demo`: the guided tour. Five nodes form a control plane, a workload is placed,
 * the Raft leader is killed with SIGKILL, and the mesh heals by itself: every step is
 * timed, the attestation chain is verified, and the rendered files that changed are shown.
 * Exits 0 only when the mesh healed and the chain verifies.
 */
export const sampleWorkload: Workload = {
  name: "web",
  namespace: "default",
  image: "docker.io/library/nginx:1.27",
  command: [],
  args: [],
  env: { GREETING: "hello from revoada" },
  ports: [{ name: "http", container_port: 80, protocol: "tcp" }],
  replicas: 2,
  resources: { cpu_millis: 100, memory_bytes: 64 * 1024 * 1024 },
  config_blobs: [],
  placement: { zones: [], labels: {}, tolerate_control_plane: false },
};

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("a scripted tour: form a 5-node mesh, kill -9 the leader, watch it heal, verify the chain")
    .option("--face <face>", `face the nodes render (${Object.keys(faceByCliName).join(", ")})`, "kubernetes")
    .option("--dir <dir>", "keep the mesh here instead of a temporary directory")
    .option("--nodes <n>", "number of nodes (at least 4, so a replacement exists)", "5")
    .action(async (options: { face: string; dir?: string; nodes: string }) => {
      const count = wholeNumber("--nodes", options.nodes, 4, 16);
      if ((await fabricFaceFor(options.face)) === undefined) {
        throw new CliError(
          `unknown face ${options.face}; known: ${Object.keys(faceByCliName).join(", ")}`,
          exitCodes.notFound,
        );
      }
      const directory = options.dir ?? (await mkdtemp(join(tmpdir(), "revoada-demo-")));
      const healed = await runDemo(directory, count, options.face);
      if (options.dir === undefined) await rm(directory, { recursive: true, force: true });
      if (!healed) throw new CliError("the mesh did not heal or the chain did not verify", exitCodes.failed);
    });
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (started: number, text: string) =>
  say(`[${((performance.now() - started) / 1000).toFixed(2).padStart(6)} s] ${text}`);

async function runDemo(directory: string, count: number, face: string): Promise<boolean> {
  const started = performance.now();
  const local = await LocalMesh.start({ directory, nodes: count, faceId: face });
  const nodes = local.nodes;
  try {
    step(started, `started ${count} node processes (face: ${face}) in ${directory}`);
    const formed = await waitFor(
      async () => {
        const leader = await findLeader(nodes);
        const state = leader === undefined ? undefined : await stateOf(leader.node);
        if (state === undefined || Object.keys(state.nodes).length < count) return undefined;
        return etcdHolders(state).length >= 3 ? state : undefined;
      },
      60_000,
      100,
    );
    if (formed === undefined) {
      step(started, "the control plane did not form within 60 s");
      return false;
    }
    const voters = etcdHolders(formed).map((id) => formed.nodes[id]?.name ?? shortNodeId(id));
    step(
      started,
      `control plane formed: ${voters.join(", ")} hold api-server, etcd, scheduler, controller-manager`,
    );

    const leader = await findLeader(nodes);
    if (leader === undefined) return false;
    const applied = await leader.node.client.post("/v1/workloads", sampleWorkload, CommittedReply);
    const placed = await waitFor(
      async () => {
        const state = await stateOf(leader.node);
        const placement = state?.placements["default/web"];
        if (state === undefined || placement === undefined) return undefined;
        return placement.length === sampleWorkload.replicas ? { state, placement } : undefined;
      },
      30_000,
      50,
    );
    const placedOn = placed?.placement
      .map((id) => placed.state.nodes[id]?.name ?? shortNodeId(id))
      .join(", ");
    step(
      started,
      `workload default/web committed at index ${applied.index}, placed on ${placedOn ?? "(not placed)"}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const before = new Map(
      await Promise.all(nodes.map(async (n) => [n.name, await snapshotFiles(n.outputDir)] as const)),
    );
    step(started, `kill -9 the Raft leader ${leader.node.name} (${shortNodeId(leader.status.id)})`);
    const steps = await measureFailover({
      nodes,
      victim: leader.node,
      timeoutMs: 30_000,
      kill: () => local.kill(leader.node.name),
    });
    const show = (label: string, ms: number | null) =>
      say(`           ${label.padEnd(34)} ${ms === null ? "did not happen" : `${ms} ms`}`);
    show("new leader elected", steps.electedMs);
    show("failure declared by every survivor", steps.declaredMs);
    show(`replacement ${steps.replacement ?? "?"} promoted and committed`, steps.promotedMs);
    show("promotion attested in the chain", steps.attestedMs);
    show("control-plane files rendered on it", steps.renderedMs);

    const survivors = nodes.filter((node) => node !== leader.node);
    // Leadership can still move right after a failover (a replacement joining the voters):
    // the chain is read from whichever node leads once one does.
    const verdict = (await waitFor(
      async () => {
        const newLeader = await findLeader(survivors);
        return newLeader === undefined ? undefined : await verifyServedChain(newLeader.node);
      },
      30_000,
      100,
    )) ?? { ok: false, line: "no leader within 30 s" };
    step(started, verdict.line);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const node of survivors) {
      const changes = diffFiles(before.get(node.name) ?? new Map(), await snapshotFiles(node.outputDir));
      const parts = [
        ...changes.added.map((p) => `+${p}`),
        ...changes.removed.map((p) => `-${p}`),
        ...changes.changed.map((p) => `~${p}`),
      ];
      say(`           ${node.name}: ${parts.length === 0 ? "no file changed" : parts.join(" ")}`);
    }
    const healed = steps.promotedMs !== null && steps.attestedMs !== null && steps.renderedMs !== null;
    step(started, healed ? "the mesh healed by itself" : "the mesh did not heal");
    return healed && verdict.ok;
  } finally {
    await local.stopAll();
    step(started, "stopped every node");
  }
}
