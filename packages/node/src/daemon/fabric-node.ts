import { mkdir, readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { foundingRoles } from "@revoada/fabric-core/attest";
import type { Face } from "@revoada/fabric-core/face";
import type { GossipEvent } from "@revoada/fabric-core/gossip";
import { raftConfigFromStrategy } from "@revoada/fabric-core/raft";
import {
  canonicalJson,
  type FabricState,
  loadBlake3,
  type NodeId,
  type NodeState,
  type Signer,
  shortNodeId,
} from "@revoada/fabric-core/vocabulary";
import { loadConfiguredFace } from "../faces.js";
import { writeFileAtomic } from "../fs/durable.js";
import { GossipDriver, parseHostPort } from "../gossip/gossip-driver.js";
import { Keyring } from "../gossip/keyring.js";
import { loadOrCreateIdentity } from "../identity.js";
import { RaftDriver } from "../raft/index.js";
import { renderToDirectory } from "../render/index.js";
import type { LoadedConfig, NodeConfig } from "./config.js";
import { NodeContent } from "./content.js";
import { type AppliedEntry, FabricApplier } from "./fabric-applier.js";
import { PolicyMemory } from "./history.js";
import type { Logger } from "./log.js";
import { MetricsRegistry, trackEventLoopDelay } from "./metrics.js";
import { lockDataDirectory, unlockDataDirectory } from "./pid-file.js";
import { Reconciler } from "./reconciler.js";
import { Sealing } from "./sealing.js";

/**
 * The revoada daemon: membership (gossip), consensus (Raft), attestation (the chain the
 * log drives), policy (the leader's reconciler) and the face renderer, wired to sockets,
 * disk and timers. Every node renders its own view of the committed state on each change.
 */
export interface FabricNodeOptions {
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
}

export class FabricNode {
  readonly metrics = new MetricsRegistry();
  readonly startedAtMs = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private renderScheduled = false;
  private rendering: Promise<void> = Promise.resolve();
  private stopping = false;
  private advertised = "";
  renders = 0;
  lastRender: { readonly at_ms: number; readonly written: number; readonly removed: number } | null = null;
  apiServer: Server | null = null;

  private constructor(
    readonly config: NodeConfig,
    readonly signer: Signer,
    readonly face: Face,
    readonly applier: FabricApplier,
    readonly raft: RaftDriver<AppliedEntry>,
    readonly gossip: GossipDriver,
    readonly reconciler: Reconciler,
    readonly memory: PolicyMemory,
    readonly logger: Logger,
    readonly generation: number,
    readonly sealing: Sealing,
    readonly content: NodeContent,
  ) {}

  get nodeId(): NodeId {
    return this.signer.nodeId;
  }

  static async start(options: FabricNodeOptions): Promise<FabricNode> {
    const { config, clusterKey } = options.loaded;
    const logger = options.logger;
    await loadBlake3();
    await mkdir(config.data_dir, { recursive: true, mode: 0o700 });
    await lockDataDirectory(config.data_dir);
    const signer = await loadOrCreateIdentity(config.data_dir);
    const generation = await nextGeneration(config.data_dir);
    const face = await loadConfiguredFace(config.face, config.face_module);
    if (!face.ok) throw new Error(face.issues.map((issue) => issue.message).join("; "));
    const raftConfig = raftConfigFromStrategy(signer.nodeId, config.strategy);
    if (!raftConfig.ok) throw new Error(raftConfig.issues.map((issue) => issue.message).join("; "));
    const applier = new FabricApplier(
      join(config.data_dir, "chain"),
      `revoada.local/${config.strategy.name}`,
      config.strategy.attestation.require_operator_signature,
      logger.child("attest"),
    );
    const memory = new PolicyMemory(10 * 60_000);
    const holder: { node?: FabricNode } = {};
    const raftListen = parseHostPort(config.listen.raft);
    if (raftListen === null) throw new Error(`listen.raft: not host:port: ${config.listen.raft}`);
    const raft = await RaftDriver.start<AppliedEntry>({
      config: raftConfig.value,
      signer,
      clusterKey,
      dataDirectory: join(config.data_dir, "raft"),
      listen: raftListen,
      peers: new Map(),
      initialVoters: config.bootstrap ? [signer.nodeId] : [],
      applier,
      logger: logger.child("raft"),
      onApplied: (_entry, result) => holder.node?.onApplied(result),
      onEvent: (event) => holder.node?.onRaftEvent(event.type),
    });
    const gossipListen = parseHostPort(config.listen.gossip);
    if (gossipListen === null) throw new Error(`listen.gossip: not host:port: ${config.listen.gossip}`);
    const gossip = await GossipDriver.start({
      signer,
      host: gossipListen.host,
      port: gossipListen.port,
      keyring: Keyring.create([clusterKey]),
      seeds: config.seeds,
      membership: config.strategy.membership,
      generation,
      onEvent: (event) => holder.node?.onGossipEvent(event),
    });
    const reconciler = new Reconciler({
      self: signer,
      raft,
      applier,
      memory,
      strategy: config.strategy,
      formation: config.formation,
      logger: logger.child("policy"),
      view: () => gossip.membershipView(),
      ownState: () => holder.node!.ownState(config.bootstrap ? [...foundingRoles] : ["worker"]),
      founder: config.bootstrap,
      policy: config.policy,
    });
    const sealing = new Sealing({
      signer,
      applier,
      dataDirectory: config.data_dir,
      sealIntervalMs: config.strategy.attestation.seal_interval_ms,
      logger: logger.child("seal"),
      token: options.loaded.apiToken,
      witnesses: () => alivePeers(gossip, signer.nodeId),
      proposeCheckpoint: async (size, note) => {
        await reconciler.proposeCommand({ type: "attest-checkpoint", size, note }, "policy", false);
      },
    });
    const content = await NodeContent.start({
      dataDirectory: config.data_dir,
      signer,
      clusterKey,
      listen: config.listen.content,
      syncCadenceMs: config.strategy.content.sync_cadence_ms,
      gcRetentionMs: config.strategy.content.gc_retention_ms,
      gossip: () => gossip,
      fabricState: () => applier.state(),
      logger: logger.child("content"),
    });
    const node = new FabricNode(
      config,
      signer,
      face.face,
      applier,
      raft,
      gossip,
      reconciler,
      memory,
      logger,
      generation,
      sealing,
      content,
    );
    holder.node = node;
    node.defineMetrics();
    node.advertise();
    node.timers.push(setInterval(() => void reconciler.round(), config.strategy.reconciliation.millis));
    node.timers.push(setInterval(() => node.advertise(), 1000));
    const sealTickMs = Math.max(20, Math.floor(config.strategy.attestation.seal_interval_ms / 10));
    node.timers.push(
      setInterval(
        () => void sealing.leaderTick(raft.status().role === "leader").catch(() => undefined),
        sealTickMs,
      ),
    );
    node.scheduleRender();

    logger.info("node started", {
      id: signer.nodeId,
      short: shortNodeId(signer.nodeId),
      face: face.face.id,
      generation,
      bootstrap: config.bootstrap,
    });
    return node;
  }

  /** This node's advertisement: its addresses and capacity, with its committed roles. */
  ownState(fallbackRoles: NodeState["roles"]): NodeState {
    const committed = this.applier.node(this.nodeId);
    return {
      id: this.nodeId,
      name: this.config.name,
      addresses: { ...this.config.listen },
      roles: committed?.roles ?? fallbackRoles,
      capacity: this.config.capacity,
      zone: this.config.zone,
      rack: this.config.rack,
      labels: this.config.labels,
      version: "0.1.0",
      generation: this.generation,
    };
  }

  /** Graceful stop: hand leadership over, leave gossip, let a render in progress finish. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.reconciler.close();
    this.logger.info("stopping", { leader: this.raft.status().role === "leader" });
    await this.raft.stop({ transfer: true });
    this.logger.debug("raft stopped");
    await this.gossip.leave().catch(() => undefined);
    await this.gossip.close();
    await this.content.close();
    this.logger.debug("gossip and content closed");
    await this.rendering;
    this.apiServer?.closeAllConnections();
    this.apiServer?.close();
    this.sealing.close();
    this.applier.close();
    await unlockDataDirectory(this.config.data_dir);
    this.logger.info("stopped");
  }

  private onApplied(result: AppliedEntry): void {
    if (result.proposal !== null) this.memory.noteCommitted(result.proposal);
    if (result.state.type === "applied") this.scheduleRender();
  }

  private onRaftEvent(type: string): void {
    if (type === "leader-changed" || type === "role-changed") void this.reconciler.round();
  }

  private onGossipEvent(event: GossipEvent): void {
    if (event.type === "member-status") {
      if (event.previous === "alive" && (event.status === "suspect" || event.status === "dead")) {
        this.memory.noteFlap(event.id as NodeId, Date.now());
      }
      this.updatePeers();
      void this.reconciler.round();
    } else if (event.type === "state-changed") {
      this.updatePeers();
    }
  }

  /** Raft peers come from gossip: every member's advertised Raft address. */
  private updatePeers(): void {
    for (const member of this.gossip.membershipView().members) {
      const address = member.state?.addresses.raft;
      const parsed = address === undefined ? null : parseHostPort(address);
      if (parsed !== null && member.id !== this.nodeId) this.raft.setPeer(member.id as NodeId, parsed);
    }
  }

  /** Re-advertises when the committed roles (or anything else) changed. */
  private advertise(): void {
    const state = this.ownState(this.config.bootstrap ? [...foundingRoles] : ["worker"]);
    const text = canonicalJson(state);
    if (text === this.advertised) return;
    this.advertised = text;
    this.gossip.setNodeState(state);
  }

  private scheduleRender(): void {
    if (this.renderScheduled || this.stopping) return;
    this.renderScheduled = true;
    setTimeout(() => {
      this.renderScheduled = false;
      if (this.stopping) return;
      this.rendering = this.rendering
        .then(() => this.render())
        .catch((error: unknown) => {
          this.logger.error("render failed", {
            error: error instanceof Error ? error.message : String(error),
          });
        });
    }, 20);
  }

  private async render(): Promise<void> {
    this.advertise();
    const committed = this.applier.state();
    if (committed.nodes[this.nodeId] === undefined) return;
    // A workload whose config blobs are not here yet is rendered once they are fetched.
    const waiting = await this.content.missingFor(committed, this.nodeId);
    const state = waiting.size === 0 ? committed : withoutWorkloads(committed, waiting);
    if (waiting.size > 0) {
      this.content.sync
        .round()
        .catch((error: unknown) =>
          this.logger.warn("content sync failed", {
            error: error instanceof Error ? error.message : String(error),
          }),
        )
        .finally(() => this.scheduleRenderLater());
    }
    const output = this.face.writer.write(state, { kind: "node", node: this.nodeId });
    const report = await renderToDirectory(this.config.output_dir, this.face.id, output.files);
    this.renders += 1;
    this.lastRender = { at_ms: Date.now(), written: report.written.length, removed: report.removed.length };
    if (report.written.length > 0 || report.removed.length > 0) {
      this.logger.info("rendered", {
        written: report.written.join(","),
        removed: report.removed.join(","),
        index: state.applied.index,
      });
    }
  }

  private scheduleRenderLater(): void {
    setTimeout(() => this.scheduleRender(), this.config.strategy.content.sync_cadence_ms);
  }

  private defineMetrics(): void {
    const m = this.metrics;
    const term = m.gauge("revoada_raft_term", "current Raft term");
    const leader = m.gauge("revoada_raft_is_leader", "1 when this node leads");
    const commit = m.gauge("revoada_raft_commit_index", "Raft commit index");
    const lag = m.gauge("revoada_raft_apply_lag", "committed entries not yet applied");
    const peers = m.gauge("revoada_gossip_members", "members by status in this node's view");
    const shifts = m.gauge("revoada_shifts_executed", "role shifts this node executed as leader");
    const decisions = m.gauge("revoada_policy_decisions", "decision records kept");
    const height = m.gauge("revoada_attestation_height", "blocks in the attestation chain");
    const renders = m.gauge("revoada_renders", "face renders done");
    const served = m.gauge("revoada_blob_bytes_served", "blob bytes uploaded to peers");
    const fetching = m.gauge("revoada_blob_fetches_active", "blob fetches in progress");
    m.onCollect(() => {
      const status = this.raft.status();
      term(status.term);
      leader(status.role === "leader" ? 1 : 0);
      commit(status.commit);
      lag(Math.max(0, status.commit - status.applied));
      const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const member of this.gossip.membershipView().members) counts[member.status] += 1;
      for (const [status_, count] of Object.entries(counts)) peers(count, { status: status_ });
      shifts(this.reconciler.shiftsExecuted);
      decisions(this.reconciler.decisions.length);
      height(this.applier.chain?.chain.blocks.length ?? 0);
      renders(this.renders);
      served(this.content.counters().servedBytes);
      fetching(this.content.sync.fetching().length);
    });
    trackEventLoopDelay(m);
  }
}

/** Alive peers at the API address gossip advertises (witness candidates). */
function alivePeers(gossip: GossipDriver, self: NodeId): { id: NodeId; api: string }[] {
  const peers: { id: NodeId; api: string }[] = [];
  for (const member of gossip.membershipView().members) {
    const api = member.state?.addresses.api;
    if (member.id !== self && member.status === "alive" && api !== undefined) {
      peers.push({ id: member.id as NodeId, api });
    }
  }
  return peers;
}

/** The state without the given workloads (and their placements). */
function withoutWorkloads(state: FabricState, keys: ReadonlySet<string>): FabricState {
  const workloads = Object.fromEntries(Object.entries(state.workloads).filter(([key]) => !keys.has(key)));
  const placements = Object.fromEntries(Object.entries(state.placements).filter(([key]) => !keys.has(key)));
  return { ...state, workloads, placements };
}

/** The restart counter advertised in gossip, so a restarted node's state wins over its old one. */
async function nextGeneration(dataDir: string): Promise<number> {
  const path = join(dataDir, "generation");
  const previous = Number.parseInt(await readFile(path, "utf8").catch(() => "0"), 10);
  const next = (Number.isSafeInteger(previous) ? previous : 0) + 1;
  await writeFileAtomic(path, `${next}\n`);
  return next;
}
