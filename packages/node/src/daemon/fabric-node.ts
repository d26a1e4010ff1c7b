import { mkdir, readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { foundingRoles, strategyDigest } from "@revoada/fabric-core/attest";
import { defaultRelayConfig, type MachineOutcome, planStrategyChange } from "@revoada/fabric-core/fabric";
import type { Face } from "@revoada/fabric-core/face";
import type { GossipEvent } from "@revoada/fabric-core/gossip";
import { resolvePolicyConfig } from "@revoada/fabric-core/policy";
import {
  type Entry,
  type RaftConfig,
  type RaftEvent,
  raftConfigFromStrategy,
  raftTimingFromStrategy,
} from "@revoada/fabric-core/raft";
import {
  type Blake3Hash,
  canonicalJson,
  type FabricState,
  type FabricStrategy,
  isNodeId,
  loadBlake3,
  type NodeId,
  type NodeState,
  type Signer,
  shortNodeId,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { apiUsesTls } from "../api/api-config.js";
import { loadConfiguredFace } from "../faces.js";
import { writeFileAtomic } from "../fs/durable.js";
import { GossipDriver, parseHostPort } from "../gossip/gossip-driver.js";
import { Keyring } from "../gossip/keyring.js";
import { loadOrCreateNodeKeys } from "../identity.js";
import type { KeySet } from "../keys/key-set.js";
import { loadNodeKeys, type NodeKeys } from "../keys/node-keys.js";
import { type ApiAccess, apiClientFor } from "../mesh/api-client.js";
import type { ClusterCa } from "../pki/ca.js";
import type { Unsealer } from "../pki/seal.js";
import { RaftDriver } from "../raft/index.js";
import { renderToDirectory } from "../render/index.js";
import { transportRefusals } from "../transport/transport.js";
import { credentialBlobs, NodeActuation } from "./actuation.js";
import type { LoadedConfig, NodeConfig } from "./config.js";
import { NodeContent } from "./content.js";
import { EventQueue, type NodeEvent } from "./events.js";
import { FabricApplier } from "./fabric-applier.js";
import type { Logger } from "./log.js";
import { MetricsRegistry, trackEventLoopDelay, trackProcessMemory } from "./metrics.js";
import { lockDataDirectory, unlockDataDirectory } from "./pid-file.js";
import { defineRaftMetrics } from "./raft-metrics.js";
import { Reconciler } from "./reconciler.js";
import { NodeRelay } from "./relay.js";
import { RelayStateFile, relayStateFileName } from "./relay-state-file.js";
import { Sealing } from "./sealing.js";

/**
 * The revoada daemon: membership (gossip), consensus (Raft) driving the fabric machine
 * (state, chain, history, procedures), the leader's reconciler (the executor's driver),
 * sealing, content and the face renderer, wired to sockets, disk and timers.
 *
 * Start runs in named stages (data directory, face, machine and Raft, gossip, content, then
 * the node and its timers); everything that happens afterwards arrives as a `NodeEvent` on
 * one queue and is handled in order by `handle`. A walk of one promotion: the reconciler
 * asks `execute` for a step and proposes it -> Raft commits -> `FabricApplier.apply` feeds the
 * machine -> an `applied` event -> the reconciler's next step, and a render of the new state.
 */
export interface FabricNodeOptions {
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
}

/** The committed strategy against the node's own file (`GET /v1/strategy`, `status`). */
export interface StrategyStatus {
  readonly committed: { readonly name: string; readonly digest: string; readonly index: number } | null;
  readonly local: { readonly name: string; readonly digest: string };
  /** False when the node's file differs from the committed strategy (the committed one runs). */
  readonly agrees: boolean;
}

/**
 * The timing in force on this node, read from the components themselves (`/v1/status`
 * `timing`, `revoada_timing` metrics): a committed strategy swap changes it without a restart.
 */
export interface TimingInForce {
  /** The strategy whose timing runs (the committed one, or the file's before one commits). */
  readonly strategy: string;
  readonly raft: {
    readonly election_timeout_ms: number;
    readonly heartbeat_interval_ms: number;
    readonly snapshot_interval_entries: number;
  };
  readonly gossip: {
    readonly cadence_ms: number;
    readonly probe_interval_ms: number;
    readonly probe_timeout_ms: number;
    readonly phi_threshold: number;
    readonly failure_detector_timeout_ms: number;
  };
  readonly policy: {
    readonly reconciliation_ms: number;
    readonly hysteresis_ms: number;
    readonly stabilization_ms: number;
    readonly restore_window_ms: number;
    readonly flap_window_ms: number;
    readonly dead_grace_ms: number;
  };
  readonly attestation: { readonly seal_interval_ms: number };
  readonly content: { readonly sync_cadence_ms: number; readonly gc_retention_ms: number };
}

/** What the data-directory stage leaves: the lock is held, the identity loaded. */
interface DataDirectory {
  readonly signer: Signer;
  /** Opens what peers seal to this node's identity (its etcd credential). */
  readonly unsealer: Unsealer;
  /** This start's count (advertised in gossip, so a restarted node's state wins). */
  readonly generation: number;
}

/** The parts a node is assembled from. */
interface NodeParts {
  readonly config: NodeConfig;
  readonly keys: NodeKeys;
  readonly peerApi: ApiAccess;
  readonly logger: Logger;
  /** The cluster CA from the config's `pki`, when it names one. */
  readonly clusterCa: ClusterCa | undefined;
  readonly disk: DataDirectory;
  readonly face: Face;
  readonly applier: FabricApplier;
  readonly raft: RaftDriver<MachineOutcome>;
  readonly gossip: GossipDriver;
  readonly content: NodeContent;
  readonly events: EventQueue;
  /**
   * Raft applies entries before the relay exists: it is told through this; until then they
   * are kept in `early` (the relay window's worth), so a restarted log holder serves the
   * entries it replayed at start to followers that restarted a little behind it.
   */
  readonly relayHook: { relay: NodeRelay | null; readonly early: Entry[] };
}

export class FabricNode {
  readonly metrics = new MetricsRegistry();
  /** Monotonic: the uptime a status reports does not move with a jump of the wall clock. */
  readonly startedMonotonicMs = performance.now();
  readonly config: NodeConfig;
  readonly signer: Signer;
  readonly generation: number;
  readonly face: Face;
  readonly applier: FabricApplier;
  readonly raft: RaftDriver<MachineOutcome>;
  readonly gossip: GossipDriver;
  readonly content: NodeContent;
  readonly reconciler: Reconciler;
  readonly sealing: Sealing;
  /** How this node learns committed state when it holds no log, and serves it to others (docs/scale.md). */
  readonly relay: NodeRelay;
  /** Makes the host match the committed state (docs/actuators.md); null: files only. */
  readonly actuation: NodeActuation | null;
  readonly logger: Logger;
  /** How this node reaches its peers' APIs (witnesses, the console's peer reads): its token and CA. */
  readonly peerApi: ApiAccess;
  /** The live cluster and gossip key sets (keys/node-keys.ts), rotated through the API. */
  readonly keys: NodeKeys;
  private readonly events: EventQueue;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The strategy in this node's file (re-read on SIGHUP). */
  private localStrategy: FabricStrategy;
  /** The reconciler's tick, at the committed strategy's cadence. */
  private tickTimer: NodeJS.Timeout | null = null;
  private tickEveryMs = 0;
  /** The sealer's tick, a tenth of the committed strategy's seal interval. */
  private sealTimer: NodeJS.Timeout | null = null;
  private sealTickMs = 0;
  /** The strategy whose timing the components run (`applyStrategyTiming`). */
  private timingStrategy: FabricStrategy | null = null;
  private renderScheduled = false;
  private rendering: Promise<void> = Promise.resolve();
  private stopping = false;
  private advertised = "";
  renders = 0;
  lastRender: { readonly at_ms: number; readonly written: number; readonly removed: number } | null = null;
  apiServer: Server | null = null;

  private constructor(parts: NodeParts) {
    this.config = parts.config;
    this.localStrategy = parts.config.strategy;
    this.peerApi = parts.peerApi;
    this.keys = parts.keys;
    this.logger = parts.logger;
    this.signer = parts.disk.signer;
    this.generation = parts.disk.generation;
    this.face = parts.face;
    this.applier = parts.applier;
    this.raft = parts.raft;
    this.gossip = parts.gossip;
    this.content = parts.content;
    this.events = parts.events;
    const actuator = this.config.actuator;
    this.actuation =
      actuator === undefined
        ? null
        : NodeActuation.create({
            config: actuator,
            self: this.signer.nodeId,
            founder: this.config.bootstrap,
            logDirectory: join(this.config.data_dir, "components"),
            outputDirectory: this.config.output_dir,
            machine: () => this.applier.machine,
            alive: (id) =>
              id === this.nodeId ||
              this.gossip
                .membershipView()
                .members.some((member) => member.id === id && member.status === "alive"),
            logger: this.logger.child("actuate"),
            ...(parts.clusterCa === undefined
              ? {}
              : {
                  pki: {
                    ca: parts.clusterCa,
                    unsealer: parts.disk.unsealer,
                    directory: join(this.config.data_dir, "pki"),
                    publish: (bytes: Uint8Array) => this.content.publish(bytes),
                    fetch: (hash: Blake3Hash) => this.content.fetchNow(hash),
                    available: (hash: Blake3Hash) => this.content.available(hash),
                  },
                }),
          });
    this.reconciler = new Reconciler({
      self: this.signer,
      raft: this.raft,
      applier: this.applier,
      strategy: this.config.strategy,
      formation: this.config.formation,
      logger: this.logger.child("policy"),
      view: () => this.gossip.membershipView(),
      ownState: () => this.ownState(),
      policy: this.config.policy,
      etcd: this.actuation?.managesEtcd === true ? this.actuation : null,
      ...(this.config.learners_max === undefined ? {} : { learnersMax: this.config.learners_max }),
    });
    this.relay = new NodeRelay({
      self: this.signer.nodeId,
      signer: this.signer,
      machineOptions: this.applier.machineOptions,
      applier: this.applier,
      view: () => this.gossip.membershipView(),
      apiOf: (id) =>
        this.gossip.membershipView().members.find((member) => member.id === id)?.state?.addresses.api,
      api: parts.peerApi,
      publish: (bytes) => this.content.publish(bytes),
      fetch: (hash, from) => this.content.fetchNow(hash, from),
      onApplied: (outcome) => {
        if (outcome === null) this.scheduleRender();
        else this.events.push({ type: "applied", outcome });
      },
      logger: this.logger.child("relay"),
      stateFile: new RelayStateFile(join(this.config.data_dir, relayStateFileName)),
      ...(this.config.relay_fanout === undefined
        ? {}
        : { config: { ...defaultRelayConfig, fanout: this.config.relay_fanout } }),
    });
    this.relay.recordRestored(this.applier.machine.applied().index);
    this.relay.recordWindow(parts.relayHook.early, "raft");
    parts.relayHook.early.length = 0;
    parts.relayHook.relay = this.relay;
    this.applier.onRestored = (index) => this.relay.recordRestored(index);
    this.sealing = new Sealing({
      signer: this.signer,
      applier: this.applier,
      dataDirectory: this.config.data_dir,
      sealIntervalMs: () => this.strategy().attestation.seal_interval_ms,
      logger: this.logger.child("seal"),
      api: parts.peerApi,
      witnesses: () => alivePeers(this.gossip, this.nodeId),
      proposeCheckpoint: async (size, note) => {
        await this.reconciler.proposeCommand({ type: "attest-checkpoint", size, note }, "policy", false);
      },
    });
  }

  /** The strategy this node runs: the committed one, or its own file's until one is committed. */
  strategy(): FabricStrategy {
    return this.applier.machine.strategy()?.strategy ?? this.config.strategy;
  }

  /** The committed strategy against this node's file (`status` shows it; a mismatch is logged). */
  strategyStatus(): StrategyStatus {
    const committed = this.applier.machine.strategy();
    const local = { name: this.localStrategy.name, digest: strategyDigest(this.localStrategy) };
    const digest = committed === null ? null : strategyDigest(committed.strategy);
    return {
      committed:
        committed === null || digest === null
          ? null
          : { name: committed.strategy.name, digest, index: committed.index },
      local,
      agrees: digest === null || digest === local.digest,
    };
  }

  /**
   * SIGHUP: the node re-read its file; its strategy is proposed like `revoada strategy apply
   * --yes` (through the leader, with the same checks). Resolves with what happened, logged.
   */
  async proposeLocalStrategy(strategy: FabricStrategy): Promise<string> {
    const log = this.logger.child("strategy");
    this.localStrategy = strategy;
    if (strategyDigest(strategy) === this.strategyStatus().committed?.digest) {
      log.info("strategy file re-read: it is the committed strategy", { strategy: strategy.name });
      return "unchanged";
    }
    let outcome: string;
    if (this.raft.status().role === "leader") {
      // The same plan check as `POST /v1/strategy` (not live, below quorum, ...).
      const plan = planStrategyChange(
        this.reconciler.policyInputs(),
        this.applier.machine.strategy()?.strategy ?? null,
        strategy,
      );
      const refusal = plan.refusals[0];
      const result =
        refusal === undefined
          ? await this.reconciler.proposeStrategy(strategy)
          : { type: "refused" as const, rule: refusal.rule, message: refusal.message };
      outcome =
        result.type === "committed"
          ? `committed at ${result.index}`
          : `refused: ${result.rule}: ${result.message}`;
    } else {
      const leader = this.raft.status().leader;
      const api = this.gossip.membershipView().members.find((member) => member.id === leader)?.state
        ?.addresses.api;
      if (leader === null || api === undefined) outcome = "refused: no leader is known to send it to";
      else {
        const response = await apiClientFor(api, this.peerApi, 15_000)
          .fetch("POST", "/v1/strategy", { strategy, yes: true })
          .catch((error: unknown) => error as Error);
        if (response instanceof Error) outcome = `refused: the leader is unreachable: ${response.message}`;
        else {
          const body = (await response.json().catch(() => ({}))) as { error?: string; index?: number };
          outcome = response.ok
            ? `committed at ${body.index ?? "?"}`
            : `refused: ${body.error ?? response.status}`;
        }
      }
    }
    if (outcome.startsWith("refused"))
      log.warn("strategy reload refused", { strategy: strategy.name, outcome });
    else log.info("strategy reload", { strategy: strategy.name, outcome });
    return outcome;
  }

  /** A strategy entry applied: log it, follow its reconciliation cadence, say if the file differs. */
  private onStrategyEntry(outcome: MachineOutcome): void {
    const log = this.logger.child("strategy");
    if (outcome.state.type === "rejected") {
      log.warn("strategy refused by every node", { index: outcome.index, reason: outcome.state.reason });
      return;
    }
    const status = this.strategyStatus();
    log.info("strategy committed", {
      strategy: status.committed?.name ?? "",
      digest: status.committed?.digest.slice(0, 16) ?? "",
      index: outcome.index,
    });
    if (!status.agrees) {
      log.warn("this node's strategy file disagrees with the committed strategy; the committed one runs", {
        local: status.local.name,
        committed: status.committed?.name ?? "",
      });
    }
    this.applyStrategyTiming();
  }

  /**
   * Puts the running strategy's timing in force on every component, without a restart: Raft
   * (election timeout, heartbeat, snapshot interval: at its next reset), gossip (cadence,
   * probes, phi threshold, detector timeout: from its next round), the reconciler's tick and
   * the sealer's, content rounds. The policy reads the committed strategy every round. Called
   * when a strategy entry applies and on every tick (a snapshot can carry a swap too).
   */
  private applyStrategyTiming(): void {
    const strategy = this.strategy();
    if (strategy === this.timingStrategy || this.stopping) return;
    const first = this.timingStrategy === null;
    this.timingStrategy = strategy;
    try {
      this.raft.setTiming(raftTimingFromStrategy(strategy));
      this.gossip.setMembership(strategy.membership);
    } catch (error) {
      this.logger.error("the committed strategy's timing could not be applied", {
        strategy: strategy.name,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    const cadence = strategy.reconciliation.millis;
    if (cadence !== this.tickEveryMs) {
      if (this.tickTimer !== null) clearInterval(this.tickTimer);
      this.tickEveryMs = cadence;
      this.tickTimer = setInterval(() => this.events.push({ type: "tick" }), cadence);
    }
    const sealTickMs = Math.max(20, Math.floor(strategy.attestation.seal_interval_ms / 10));
    if (sealTickMs !== this.sealTickMs) {
      if (this.sealTimer !== null) clearInterval(this.sealTimer);
      this.sealTickMs = sealTickMs;
      this.sealTimer = setInterval(() => {
        this.sealing.leaderTick(this.raft.status().role === "leader").catch((error: unknown) => {
          this.logger.warn("sealing failed", {
            error: error instanceof Error ? error.message : String(error),
          });
        });
      }, sealTickMs);
    }
    if (!first) {
      const timing = this.timingInForce();
      this.logger.child("strategy").info("timing in force", {
        strategy: timing.strategy,
        election_timeout_ms: timing.raft.election_timeout_ms,
        heartbeat_interval_ms: timing.raft.heartbeat_interval_ms,
        gossip_cadence_ms: timing.gossip.cadence_ms,
        failure_detector_timeout_ms: timing.gossip.failure_detector_timeout_ms,
        reconciliation_ms: timing.policy.reconciliation_ms,
      });
    }
  }

  /** The timing each component runs now (read from the components, not from the strategy). */
  timingInForce(): TimingInForce {
    const raft = this.raft.timing();
    const gossip = this.gossip.timing();
    const strategy = this.strategy();
    const policy = resolvePolicyConfig(strategy, this.config.policy);
    return {
      strategy: this.timingStrategy?.name ?? strategy.name,
      raft: {
        election_timeout_ms: raft.electionTimeoutMs,
        heartbeat_interval_ms: raft.heartbeatIntervalMs,
        snapshot_interval_entries: raft.snapshotIntervalEntries,
      },
      gossip: {
        cadence_ms: gossip.gossipIntervalMs,
        probe_interval_ms: gossip.probeIntervalMs,
        probe_timeout_ms: gossip.probeTimeoutMs,
        phi_threshold: gossip.phiThreshold,
        failure_detector_timeout_ms: gossip.failureDetectorTimeoutMs,
      },
      policy: {
        reconciliation_ms: this.tickEveryMs,
        hysteresis_ms: policy.hysteresis_ms,
        stabilization_ms: policy.stabilization_ms,
        restore_window_ms: policy.restore_window_ms,
        flap_window_ms: policy.flap_window_ms,
        dead_grace_ms: policy.dead_grace_ms,
      },
      attestation: { seal_interval_ms: strategy.attestation.seal_interval_ms },
      content: {
        sync_cadence_ms: strategy.content.sync_cadence_ms,
        gc_retention_ms: strategy.content.gc_retention_ms,
      },
    };
  }

  get nodeId(): NodeId {
    return this.signer.nodeId;
  }

  static async start(options: FabricNodeOptions): Promise<FabricNode> {
    const { config, clusterKey, apiToken } = options.loaded;
    const logger = options.logger;
    await loadBlake3();
    const disk = await openDataDirectory(config);
    const keys = await loadNodeKeys(config.data_dir, clusterKey);
    const face = await loadFace(config);
    const raftConfig = raftConfigFromStrategy(disk.signer.nodeId, config.strategy);
    if (!raftConfig.ok) throw new Error(raftConfig.issues.map((issue) => issue.message).join("; "));
    const events = new EventQueue();
    const applier = new FabricApplier(
      join(config.data_dir, "chain"),
      {
        origin: `revoada.local/${config.strategy.name}`,
        requireOperatorSignature: config.strategy.attestation.require_operator_signature,
        operators: config.strategy.attestation.operators ?? [],
      },
      logger.child("attest"),
    );
    const relayHook: NodeParts["relayHook"] = { relay: null, early: [] };
    // A snapshot restored before the relay exists: what Raft applied before it is no window.
    applier.onRestored = () => {
      relayHook.early.length = 0;
    };
    const raft = await startRaft(
      config,
      keys.cluster,
      disk,
      raftConfig.value,
      applier,
      events,
      logger,
      (entry) => {
        if (relayHook.relay !== null) relayHook.relay.recordApplied(entry, "raft");
        else if (relayHook.early.push(entry) > defaultRelayConfig.windowEntries) relayHook.early.shift();
      },
    );
    const gossip = await startGossip(config, keys.gossip, disk, events, logger);
    const content = await NodeContent.start({
      dataDirectory: config.data_dir,
      signer: disk.signer,
      clusterKey: keys.cluster,
      listen: config.listen.content,
      cadence: () => {
        const running = applier.machine.strategy()?.strategy ?? config.strategy;
        return {
          syncCadenceMs: running.content.sync_cadence_ms,
          gcRetentionMs: running.content.gc_retention_ms,
        };
      },
      gossip: () => gossip,
      fabricState: () => applier.state(),
      // Every node holds the etcd members' sealed credentials: any of them may serve one. The
      // relay's snapshot answer stays while it is served (followers fetch it after the answer).
      extraPins: () => [
        ...credentialBlobs(applier.machine.etcdMembers()),
        ...(relayHook.relay?.servedSnapshot() ?? []),
      ],
      logger: logger.child("content"),
    });
    const node = new FabricNode({
      config,
      clusterCa: options.loaded.clusterCa,
      keys,
      peerApi: {
        token: apiToken,
        caPem: apiUsesTls(config) ? options.loaded.clusterCa?.certPem : undefined,
      },
      logger,
      disk,
      face,
      applier,
      raft,
      gossip,
      content,
      events,
      relayHook,
    });
    node.defineMetrics();
    node.advertise();
    node.startTimers();
    await node.resumeRelayState();
    node.relay.start();
    events.start((event) => node.handle(event));
    node.scheduleRender();
    logger.info("node started", {
      id: disk.signer.nodeId,
      short: shortNodeId(disk.signer.nodeId),
      face: face.id,
      generation: disk.generation,
      bootstrap: config.bootstrap,
      strategy: config.strategy.name,
    });
    return node;
  }

  /** This node's advertisement: its addresses and capacity, with its committed roles. */
  ownState(): NodeState {
    const committed = this.applier.node(this.nodeId);
    const fallback: NodeState["roles"] = this.config.bootstrap ? [...foundingRoles] : ["worker"];
    return {
      id: this.nodeId,
      name: this.config.name,
      addresses: {
        ...this.config.listen,
        ...(this.config.actuator?.etcd === undefined
          ? {}
          : { etcd_peer: this.config.actuator.etcd.peer, etcd_client: this.config.actuator.etcd.client }),
      },
      roles: committed?.roles ?? fallback,
      capacity: this.config.capacity,
      zone: this.config.zone,
      rack: this.config.rack,
      labels: this.config.labels,
      version: "0.1.0",
      generation: this.generation,
    };
  }

  /**
   * Start: a node Raft's own configuration names (voter or learner) restarts from its Raft
   * log, which wins: a relay state file it kept as a follower before is removed. Any other
   * node resumes from its relay state file (docs/scale.md), before the relay starts.
   */
  private async resumeRelayState(): Promise<void> {
    const conf = this.raft.status().conf;
    const holdsLog = [
      ...conf.voters,
      ...conf.votersOutgoing,
      ...conf.learners,
      ...conf.learnersNext,
    ].includes(this.nodeId);
    const file = new RelayStateFile(join(this.config.data_dir, relayStateFileName));
    if (holdsLog) {
      await file.remove().catch((error: unknown) => {
        this.logger.warn("relay state file not removed", {
          error: error instanceof Error ? error.message : String(error),
        });
      });
      return;
    }
    await this.relay.resumeFromStateFile(this.applier.chain?.chain.genesis.hash ?? null);
  }

  /** Graceful stop: hand leadership over, leave gossip, let a render in progress finish. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    if (this.sealTimer !== null) clearInterval(this.sealTimer);
    this.events.stop();
    this.reconciler.close();
    this.relay.stop();
    await this.relay.flush();
    this.logger.info("stopping", { leader: this.raft.status().role === "leader" });
    await this.raft.stop({ transfer: true });
    this.logger.debug("raft stopped");
    await this.gossip.leave().catch(() => undefined);
    await this.gossip.close();
    await this.content.close();
    this.logger.debug("gossip and content closed");
    await this.rendering;
    await this.actuation?.stop();
    this.apiServer?.closeAllConnections();
    this.apiServer?.close();
    this.sealing.close();
    this.applier.close();
    await unlockDataDirectory(this.config.data_dir);
    this.logger.info("stopped");
  }

  /** The one place events are handled, in the order they happened. */
  private handle(event: NodeEvent): void {
    try {
      switch (event.type) {
        case "applied":
          if (event.outcome.proposal?.command.type === "strategy") this.onStrategyEntry(event.outcome);
          this.reconciler.onApplied(event.outcome);
          if (event.outcome.state.type === "applied" || event.outcome.kind === "conf-change")
            this.scheduleRender();
          return;
        case "raft":
          this.onRaftEvent(event.event);
          return;
        case "gossip":
          this.onGossipEvent(event.event);
          return;
        case "tick":
          this.applyStrategyTiming();
          this.reconciler.run("tick");
          return;
      }
    } catch (error) {
      this.logger.error("event handling failed", {
        event: event.type,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private onRaftEvent(event: RaftEvent): void {
    if (event.type === "leader-changed" || event.type === "role-changed") this.reconciler.run();
  }

  private onGossipEvent(event: GossipEvent): void {
    if (event.type === "member-status") {
      this.logger.debug("gossip member status", {
        id: event.id,
        status: event.status,
        previous: event.previous,
      });
      if (
        event.previous === "alive" &&
        (event.status === "suspect" || event.status === "dead") &&
        isNodeId(event.id)
      ) {
        this.reconciler.noteFlap(event.id);
      }
      this.updatePeers();
      this.reconciler.run();
    } else if (event.type === "state-changed") {
      this.updatePeers();
      this.reconciler.run();
    }
  }

  private startTimers(): void {
    // The reconciler's and the sealer's ticks, at the running strategy's cadences.
    this.applyStrategyTiming();
    this.timers.push(setInterval(() => this.advertise(), 1000));
  }

  /** Raft peers come from gossip: every member's advertised Raft address. */
  private updatePeers(): void {
    for (const member of this.gossip.membershipView().members) {
      const address = member.state?.addresses.raft;
      const parsed = address === undefined ? null : parseHostPort(address);
      if (parsed !== null && member.id !== this.nodeId && isNodeId(member.id))
        this.raft.setPeer(member.id, parsed);
    }
  }

  /** Re-advertises when the committed roles (or anything else) changed. */
  private advertise(): void {
    const state = this.ownState();
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
    // The committed etcd members decide a joining member's --initial-cluster(-state) in the files;
    // etcd's CRL flags are rendered once the revocation list they name is written.
    const revocationList = (await this.actuation?.refreshHostRevocations()) === true;
    const output = this.face.writer.write(
      state,
      { kind: "node", node: this.nodeId },
      {
        etcdMembers: this.applier.machine.etcdMembers(),
        ...(revocationList ? { etcdRevocationList: true } : {}),
      },
    );
    const report = await renderToDirectory(this.config.output_dir, this.face.id, output.files);
    // What was rendered is what the host runs (the runtime reads the files or the state).
    void this.actuation?.reconcile();
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
    setTimeout(() => this.scheduleRender(), this.strategy().content.sync_cadence_ms);
  }

  private defineMetrics(): void {
    const m = this.metrics;
    const term = m.gauge("revoada_raft_term", "current Raft term");
    const leader = m.gauge("revoada_raft_is_leader", "1 when this node leads");
    const commit = m.gauge("revoada_raft_commit_index", "Raft commit index");
    const lag = m.gauge("revoada_raft_apply_lag", "committed entries not yet applied");
    const peers = m.gauge("revoada_gossip_members", "members by status in this node's view");
    const shifts = m.gauge("revoada_shifts_executed", "role commands this node proposed as leader");
    const procedures = m.gauge("revoada_procedures_open", "role-shift procedures in flight (replicated)");
    const decisions = m.gauge("revoada_policy_decisions", "decision records kept");
    const walks = m.gauge(
      "revoada_policy_rounds_total",
      "policy rounds this node ran as leader, by walk: full (every workload) or incremental (only what may have changed)",
    );
    const height = m.gauge("revoada_attestation_height", "blocks in the attestation chain");
    const renders = m.gauge("revoada_renders", "face renders done");
    const strategyInfo = m.gauge(
      "revoada_strategy_info",
      "1 for the strategy this node runs (committed, or its file's before one is committed), by name and digest",
    );
    const strategyAgrees = m.gauge(
      "revoada_strategy_file_agrees",
      "1 when this node's strategy file is the committed strategy, 0 when it differs",
    );
    const timing = m.gauge(
      "revoada_timing_in_force",
      "the running strategy's timing as each component holds it (ms, or the phi threshold), by parameter; a committed swap changes it live",
    );
    const served = m.gauge("revoada_blob_bytes_served", "blob bytes uploaded to peers");
    const fetching = m.gauge("revoada_blob_fetches_active", "blob fetches in progress");
    const etcdMembers = m.gauge("revoada_etcd_members", "etcd members the fabric committed, by role");
    const etcdCalls = m.gauge(
      "revoada_etcd_calls_total",
      "etcd membership calls this node made as leader, by action and outcome",
    );
    const etcdCallCount = m.gauge(
      "revoada_etcd_call_duration_seconds_count",
      "etcd membership calls timed, by action",
    );
    const etcdCallSum = m.gauge(
      "revoada_etcd_call_duration_seconds_sum",
      "seconds this node's etcd membership calls took as leader, by action (member add, promote, remove)",
    );
    const rejected = m.gauge(
      "revoada_gossip_packets_rejected_total",
      "packets refused on the gossip port since start, by reason (bad key, replay, oversized, malformed...)",
    );
    const transportRefused = m.gauge(
      "revoada_transport_refusals_total",
      "Raft and content connections closed since start: frames that failed to open, refused handshakes (by reason)",
    );
    m.onCollect(() => {
      for (const [reason, count] of Object.entries(transportRefusals())) transportRefused(count, { reason });
      const status = this.raft.status();
      term(status.term);
      leader(status.role === "leader" ? 1 : 0);
      commit(status.commit);
      lag(Math.max(0, status.commit - status.applied));
      const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const member of this.gossip.membershipView().members) counts[member.status] += 1;
      for (const [status_, count] of Object.entries(counts)) peers(count, { status: status_ });
      shifts(this.reconciler.shiftsExecuted);
      procedures(this.applier.machine.procedures().length);
      decisions(this.reconciler.decisions.length);
      for (const [walk, count] of Object.entries(this.reconciler.policyWalks)) walks(count, { walk });
      height(this.applier.chain?.chain.blocks.length ?? 0);
      renders(this.renders);
      const running = this.strategy();
      strategyInfo(1, { name: running.name, digest: strategyDigest(running).slice(0, 16) });
      strategyAgrees(this.strategyStatus().agrees ? 1 : 0);
      const inForce = this.timingInForce();
      for (const [section, values] of Object.entries(inForce)) {
        if (typeof values === "string") continue;
        for (const [parameter, value] of Object.entries(values as Readonly<Record<string, number>>))
          timing(value, { parameter: `${section}.${parameter}` });
      }
      served(this.content.counters().servedBytes);
      fetching(this.content.sync.fetching().length);
      for (const [reason, count] of Object.entries(this.gossip.rejectedPackets()))
        rejected(count, { reason });
      const recorded = this.applier.machine.etcdMembers();
      etcdMembers(recorded.filter((member) => !member.learner).length, { role: "voter" });
      etcdMembers(recorded.filter((member) => member.learner).length, { role: "learner" });
      for (const [key, count] of this.reconciler.etcdCalls) {
        const [action, outcome] = key.split(" ");
        etcdCalls(count, { action: action ?? "", outcome: outcome ?? "" });
      }
      for (const [action, took] of this.reconciler.etcdCallSeconds) {
        etcdCallCount(took.count, { action });
        etcdCallSum(took.sum, { action });
      }
    });
    defineRaftMetrics(m, () => this.raft.status());
    trackEventLoopDelay(m);
    trackProcessMemory(m);
  }
}

// ---------------------------------------------------------------------------------------
// Start stages.

/** Stage 1: the data directory exists, is locked for this process, and holds the identity. */
async function openDataDirectory(config: NodeConfig): Promise<DataDirectory> {
  await mkdir(config.data_dir, { recursive: true, mode: 0o700 });
  await lockDataDirectory(config.data_dir);
  const { signer, unsealer } = await loadOrCreateNodeKeys(config.data_dir);
  const generation = await nextGeneration(config.data_dir);
  return { signer, unsealer, generation };
}

/** Stage 2: the face this node renders through, by name or module. */
async function loadFace(config: NodeConfig): Promise<Face> {
  const face = await loadConfiguredFace(config.face, config.face_module);
  if (!face.ok) throw new Error(face.issues.map((issue) => issue.message).join("; "));
  return face.face;
}

/** Stage 3: Raft over the machine's applier; its outcomes and events go to the queue. */
async function startRaft(
  config: NodeConfig,
  clusterKey: KeySet,
  disk: DataDirectory,
  raftConfig: RaftConfig,
  applier: FabricApplier,
  events: EventQueue,
  logger: Logger,
  onEntry: (entry: Entry) => void,
): Promise<RaftDriver<MachineOutcome>> {
  const listen = parseHostPort(config.listen.raft);
  if (listen === null) throw new Error(`listen.raft: not host:port: ${config.listen.raft}`);
  return RaftDriver.start<MachineOutcome>({
    config: raftConfig,
    signer: disk.signer,
    clusterKey,
    dataDirectory: join(config.data_dir, "raft"),
    listen,
    peers: new Map(),
    initialVoters: config.bootstrap ? [disk.signer.nodeId] : [],
    applier,
    logger: logger.child("raft"),
    onApplied: (entry, outcome) => {
      onEntry(entry);
      events.push({ type: "applied", outcome });
    },
    onEvent: (event) => events.push({ type: "raft", event }),
  });
}

/** Stage 4: gossip on the gossip key set, advertising this start's generation. */
async function startGossip(
  config: NodeConfig,
  gossipKeys: KeySet,
  disk: DataDirectory,
  events: EventQueue,
  logger: Logger,
): Promise<GossipDriver> {
  const listen = parseHostPort(config.listen.gossip);
  if (listen === null) throw new Error(`listen.gossip: not host:port: ${config.listen.gossip}`);
  return GossipDriver.start({
    signer: disk.signer,
    host: listen.host,
    port: listen.port,
    keyring: Keyring.of(gossipKeys),
    seeds: config.seeds,
    membership: config.strategy.membership,
    generation: disk.generation,
    logger: logger.child("gossip"),
    onEvent: (event) => events.push({ type: "gossip", event }),
  });
}

/** Alive peers at the API address gossip advertises (witness candidates). */
function alivePeers(gossip: GossipDriver, self: NodeId): { id: NodeId; api: string }[] {
  const peers: { id: NodeId; api: string }[] = [];
  for (const member of gossip.membershipView().members) {
    const api = member.state?.addresses.api;
    if (member.id !== self && member.status === "alive" && api !== undefined && isNodeId(member.id)) {
      peers.push({ id: member.id, api });
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

const GenerationFile = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The restart counter advertised in gossip, so a restarted node's state wins over its old one. */
async function nextGeneration(dataDir: string): Promise<number> {
  const path = join(dataDir, "generation");
  const text = await readFile(path, "utf8").catch(() => "0");
  const previous = GenerationFile.safeParse(text.trim());
  const next = (previous.success ? previous.data : 0) + 1;
  await writeFileAtomic(path, `${next}\n`);
  return next;
}
