import { verifyChain } from "@revoada/fabric-core/attest";
import { isNodeId } from "@revoada/fabric-core/vocabulary";
import {
  chainOf,
  etcdHolders,
  findLeader,
  type MeshNodeHandle,
  meshOf,
  snapshotFiles,
  stateOf,
  statusOf,
  waitFor,
} from "./observe.js";

/**
 * One failover, measured from outside: `kill` a control-plane node (`kill -9` of its
 * process), then time each step the mesh takes to heal, in ms from the kill:
 * - elected: a surviving node leads (only when the victim led);
 * - declared: every survivor's gossip view holds the victim dead;
 * - promoted: the committed state has a full control plane again without the victim;
 * - attested: the chain on the leader holds the Promote block of the replacement;
 * - rendered: the replacement's output directory holds its new control-plane files.
 * "promoted" includes the victim's demotion (its procedure follows the promotion's); the
 * replacement's files appear when its promotion commits, before that. So the output
 * directories are watched from the kill on, alongside the other waits: the time a file
 * appeared is when it is first seen, not when the waits before it have finished.
 */
export interface FailoverSteps {
  readonly victim: string;
  readonly victimWasLeader: boolean;
  readonly replacement: string | null;
  readonly electedMs: number | null;
  readonly declaredMs: number | null;
  readonly promotedMs: number | null;
  readonly attestedMs: number | null;
  readonly renderedMs: number | null;
}

export interface FailoverOptions {
  readonly nodes: readonly MeshNodeHandle[];
  readonly victim: MeshNodeHandle;
  readonly kill: () => Promise<void> | void;
  readonly timeoutMs: number;
}

export async function measureFailover(options: FailoverOptions): Promise<FailoverSteps> {
  const { victim } = options;
  const survivors = options.nodes.filter((node) => node !== victim);
  // The leader's state is the committed truth; a follower's may lag behind it.
  const currentLeader = await findLeader(options.nodes);
  const before = await stateOf(currentLeader?.node ?? survivors[0]!);
  const victimStatus = await statusOf(victim);
  if (before === undefined || victimStatus === undefined) throw new Error("the mesh is not answering");
  const victimId = victimStatus.id;
  if (!isNodeId(victimId)) throw new Error(`the victim's status names no node id: ${victimId}`);
  const wantVoters = etcdHolders(before).length;
  const chainBefore = (await chainOf(survivors[0]!))?.split("\n").length ?? 0;
  const filesBefore = new Map(
    await Promise.all(survivors.map(async (n) => [n.name, await snapshotFiles(n.outputDir)] as const)),
  );
  const victimWasLeader = victimStatus.raft.state === "leader";
  // Any survivor that holds no etcd yet may be the replacement: each one's output directory is
  // watched (files only, no API call, so the mesh is not polled harder) for a new path.
  const holderNames = new Set(etcdHolders(before).map((id) => before.nodes[id]?.name));
  const candidates = survivors.filter((node) => !holderNames.has(node.name));
  const firstNewFile = new Map<string, number>();
  let watching = true;
  const start = performance.now();
  await options.kill();
  const since = () => Math.round(performance.now() - start);
  const timeout = options.timeoutMs;
  const watcher = (async () => {
    while (watching) {
      for (const node of candidates) {
        if (firstNewFile.has(node.name)) continue;
        const previous = filesBefore.get(node.name) ?? new Map<string, string>();
        const files = await snapshotFiles(node.outputDir);
        if ([...files.keys()].some((path) => !previous.has(path))) firstNewFile.set(node.name, since());
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  try {
    const elected = victimWasLeader
      ? await waitFor(
          async () => ((await findLeader(survivors)) === undefined ? undefined : since()),
          timeout,
        )
      : null;
    const declared = await waitFor(async () => {
      const views = await Promise.all(survivors.map((node) => meshOf(node)));
      const all = views.every((view) => view?.some((m) => m.id === victimId && m.status === "dead") === true);
      return all ? since() : undefined;
    }, timeout);
    const promotion = await waitFor(async () => {
      const leader = await findLeader(survivors);
      const state = leader === undefined ? undefined : await stateOf(leader.node);
      if (state === undefined) return undefined;
      const holders = etcdHolders(state);
      if (holders.includes(victimId) || holders.length < wantVoters) return undefined;
      const replacement = holders.find((id) => !etcdHolders(before).includes(id)) ?? null;
      return { at: since(), replacement, leader: leader!.node, state };
    }, timeout);
    let attested: number | undefined;
    let rendered: number | undefined;
    let replacementName: string | null = null;
    if (promotion !== undefined && promotion.replacement === null) {
      throw new Error(
        `no new control-plane member after the kill: before ${etcdHolders(before).join(",")}, after ${etcdHolders(promotion.state).join(",")}`,
      );
    }
    if (promotion !== undefined && promotion.replacement !== null) {
      const replacementId = promotion.replacement;
      replacementName = promotion.state.nodes[replacementId]?.name ?? null;
      attested = await waitFor(async () => {
        const text = await chainOf(promotion.leader);
        if (text === undefined || text.split("\n").length <= chainBefore) return undefined;
        return text.includes(`"node":"${replacementId}"`) && text.includes('"type":"promote"')
          ? since()
          : undefined;
      }, timeout);
      const name = replacementName;
      if (name !== null) rendered = await waitFor(async () => firstNewFile.get(name), timeout);
    }
    return {
      victim: victim.name,
      victimWasLeader,
      replacement: replacementName,
      electedMs: elected ?? null,
      declaredMs: declared ?? null,
      promotedMs: promotion?.at ?? null,
      attestedMs: attested ?? null,
      renderedMs: rendered ?? null,
    };
  } finally {
    watching = false;
    await watcher;
  }
}

/** Verifies the chain a node serves; returns a one-line verdict. */
export async function verifyServedChain(node: MeshNodeHandle): Promise<{ ok: boolean; line: string }> {
  const text = await chainOf(node);
  if (text === undefined || text.length === 0) return { ok: false, line: "no chain served" };
  const report = verifyChain(text, { mode: "every-block" });
  if (report.ok) {
    const s = report.summary;
    return {
      ok: true,
      line: `chain verifies: ${s.blocks} blocks, ${s.checkpoints} checkpoints, genesis ${s.genesisHash.slice(0, 16)}`,
    };
  }
  return { ok: false, line: `chain does not verify: ${report.failure.reason}: ${report.failure.message}` };
}
