import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { EtcdAction, EtcdMemberState, FabricMachine } from "@revoada/fabric-core/fabric";
import { etcdMemberName, etcdRevocationListFile } from "@revoada/fabric-core/face";
import type { Blake3Hash, Command, EtcdCredential, NodeId, NodeState } from "@revoada/fabric-core/vocabulary";
import { etcdComponentSpec, httpUrl } from "../actuate/etcd-component.js";
import {
  type EtcdClientTls,
  type EtcdMembership,
  etcdctlMembership,
  presentedSerial,
} from "../actuate/etcd-membership.js";
import type { ComponentSpec } from "../actuate/process-runtime.js";
import {
  controlPlaneProcessSpecs,
  createRuntime,
  type Runtime,
  type RuntimeStatus,
} from "../actuate/runtime.js";
import { writeFileAtomic } from "../fs/durable.js";
import type { ClusterCa } from "../pki/ca.js";
import {
  EtcdRevocationList,
  EtcdRevocations,
  EtcdTlsFiles,
  issueEtcdMemberCredential,
  openEtcdMemberCredential,
} from "../pki/etcd-credentials.js";
import type { Unsealer } from "../pki/seal.js";
import type { ActuatorConfig } from "./config.js";
import type { Logger } from "./log.js";

/**
 * The node's actuation (docs/actuators.md): after the committed state changes, the host is
 * made to match it through the configured runtime, and, when the fabric runs etcd, this
 * node's etcd member is started or stopped as the committed etcd membership says:
 * - the founder, holding `etcd` before any member is recorded, starts a one-member cluster
 *   (`--initial-cluster-state=new`);
 * - a node whose member the leader added (`etcd-member added`) starts it as a learner of the
 *   recorded cluster (`existing`), before its Promote, so it is in sync when promoted;
 * - a node whose member was removed stops it and moves its data directory aside (etcd
 *   refuses a removed member's data).
 * The spec of a started member never changes (etcd reads `--initial-cluster` only once), so a
 * later membership change does not restart it.
 *
 * On the leader, `perform` makes the executor's etcd calls (member add / promote / remove,
 * or finding the founder's member) against the recorded voting members' client URLs and
 * returns the `etcd-member` record to commit, or null when etcd is not ready yet.
 *
 * With `pki` (the node config names the cluster CA), etcd speaks TLS on peer and client URLs
 * and refuses peers and clients without a certificate of the CA: the founder issues its own
 * member certificate, the leader issues each added member's (sealed to that node, published
 * as a content blob the `added` record names), a removed member's certificate and key are
 * deleted, and the leader's etcdctl presents a client certificate.
 */
type EtcdMemberRecord = Extract<Command, { type: "etcd-member" }>;

/** `<etcd data dir>.member` names the member the data belongs to; the founder's, before its id is recorded. */
const founderMarker = "founder";
const etcdCallTimeoutMs = 1500;

export interface NodeActuationOptions {
  readonly config: ActuatorConfig;
  readonly self: NodeId;
  /** This node founds the cluster (its etcd member is the first). */
  readonly founder: boolean;
  readonly logDirectory: string;
  readonly outputDirectory: string;
  readonly machine: () => FabricMachine;
  /** Whether gossip sees a node alive: etcd calls go to live members only (etcdctl waits out its dial timeout on a dead endpoint). */
  readonly alive: (node: NodeId) => boolean;
  readonly logger: Logger;
  /** The etcd client (tests pass another). */
  readonly membership?: (endpoints: readonly string[], tls: EtcdClientTls | undefined) => EtcdMembership;
  /** etcd with TLS from the cluster CA; absent: plain http (a mesh without a CA). */
  readonly pki?: EtcdPki;
}

export interface EtcdPki {
  readonly ca: ClusterCa;
  readonly unsealer: Unsealer;
  /** Where the node keeps its etcd TLS files (0700). */
  readonly directory: string;
  /** Stores and announces a blob (the leader's sealed credentials). */
  readonly publish: (bytes: Uint8Array) => Promise<Blake3Hash>;
  /** A blob's bytes, fetched from peers when not held; null while no one offers it yet. */
  readonly fetch: (hash: Blake3Hash) => Promise<Uint8Array | null>;
  /** This node or a live peer holds the blob (so the member it is sealed to can still get it). */
  readonly available: (hash: Blake3Hash) => Promise<boolean>;
}

/** How soon a member waiting for its credential blob looks again. */
const credentialRetryMs = 200;
/** How long one attempt to fetch a credential blob may take before the reconcile moves on. */
const credentialFetchMs = 3_000;

export class NodeActuation {
  private readonly runtime: Runtime | null;
  private etcdSpec: ComponentSpec | null = null;
  /** The running member was started as the founder's, before its id was recorded. */
  private startedAsFounder = false;
  private warnedNoRevocations = false;
  /** The serials the chain revoked, folded in as the chain grows. */
  private readonly revocations = new EtcdRevocations();
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private stopped = false;
  private readonly tlsFiles: EtcdTlsFiles | null;
  /** The revocation list the rendered etcd reads, when the host runs it (`kubelet`, `systemd`). */
  private readonly hostRevocations: EtcdRevocationList | null;
  private warnedHostRevocations = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Credentials this leader issued, by node: an add retried after a failure reuses its own. */
  private readonly issued = new Map<NodeId, EtcdCredential>();

  private constructor(
    private readonly options: NodeActuationOptions,
    runtime: Runtime | null,
  ) {
    this.runtime = runtime;
    this.tlsFiles =
      options.pki === undefined ? null : new EtcdTlsFiles(options.pki.directory, options.pki.ca);
    const hostRunsRenderedEtcd = options.config.runtime === "kubelet" || options.config.runtime === "systemd";
    this.hostRevocations =
      options.pki === undefined || !hostRunsRenderedEtcd
        ? null
        : new EtcdRevocationList(
            join(options.config.host_root ?? "/", etcdRevocationListFile),
            options.pki.ca,
          );
  }

  /** etcd runs with TLS from the cluster CA. */
  get tls(): boolean {
    return this.tlsFiles !== null;
  }

  static create(options: NodeActuationOptions): NodeActuation {
    const created = createRuntime(options.config.runtime, {
      logDirectory: options.logDirectory,
      ...(options.config.kubeconfig === undefined ? {} : { kubeconfigPath: options.config.kubeconfig }),
    });
    if (!created.ok) throw new Error(created.issues.map((issue) => issue.message).join("; "));
    return new NodeActuation(options, created.value);
  }

  /** The fabric runs etcd here: the leader's executor manages etcd's membership. */
  get managesEtcd(): boolean {
    return this.options.config.etcd !== undefined && this.options.config.runtime === "process";
  }

  status(): RuntimeStatus | null {
    return this.runtime?.status() ?? null;
  }

  /** Makes the host match the committed state (serialized; a call during a run runs once more after it). */
  reconcile(): Promise<void> {
    if (this.stopped) return this.running;
    if (this.pending) return this.running;
    this.pending = true;
    this.running = this.running
      .then(async () => {
        this.pending = false;
        await this.reconcileOnce();
      })
      .catch((error: unknown) => {
        this.options.logger.error("actuation failed", {
          error: error instanceof Error ? error.message : String(error),
        });
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    await this.running;
    await this.runtime?.stop();
  }

  /** The leader's etcd call for one executor step; the record to commit, or null (not ready). */
  async perform(action: EtcdAction): Promise<EtcdMemberRecord | null> {
    const machine = this.options.machine();
    const node = machine.node(action.node);
    if (node === undefined) return null;
    const endpoints = this.clientUrls(machine, action.kind === "etcd-adopt" ? [node] : []);
    if (endpoints.length === 0) return null;
    const tls = await this.clientTls();
    // A short timeout: a call that meets etcd without a leader (its leader's host just died)
    // is retried by the executor sooner than etcdctl's 5 s default would give up.
    const etcd = (
      this.options.membership ??
      ((urls, clientTls) =>
        etcdctlMembership({
          endpoints: urls,
          timeoutMs: etcdCallTimeoutMs,
          ...(clientTls === undefined ? {} : { tls: clientTls }),
        }))
    )(endpoints, tls);
    switch (action.kind) {
      case "etcd-add-learner": {
        const peer = node.addresses.etcd_peer;
        if (peer === undefined) throw new Error(`${node.name} advertises no etcd peer address`);
        // Issued before the add: the record that says "added" carries the member's credential.
        const credential = await this.issueCredential(node);
        const member = await etcd.addLearner(etcdMemberName(node), httpUrl(peer, this.tls));
        return record(action.node, member.isLearner ? "added" : "promoted", member.id, credential);
      }
      case "etcd-promote": {
        const outcome = await etcd.promote(action.member_id);
        if (outcome === "promoted") return record(action.node, "promoted", action.member_id);
        // A learner whose credential nobody can serve any more (the leader that issued it died
        // before anyone fetched the blob) would never start: it is given a new one, recorded
        // under the same member.
        const credential = machine.etcdMembers().find((member) => member.node === action.node)?.credential;
        if (credential?.blob === undefined || this.options.pki === undefined) return null;
        if (await this.options.pki.available(credential.blob)) return null;
        this.issued.delete(node.id);
        this.options.logger.warn("etcd learner's credential is held by no live node: issuing another", {
          node: node.name,
          serial: credential.serial,
        });
        return record(action.node, "added", action.member_id, await this.issueCredential(node));
      }
      case "etcd-remove":
        if (action.member_id !== null) await etcd.remove(action.member_id);
        return record(action.node, "removed", action.member_id ?? "0");
      case "etcd-adopt": {
        const peer = node.addresses.etcd_peer;
        const name = etcdMemberName(node);
        const found = (await etcd.list()).find(
          (candidate) =>
            candidate.name === name ||
            (peer !== undefined && candidate.peerUrls.includes(httpUrl(peer, this.tls))),
        );
        if (found?.isLearner === true) {
          // A learner an earlier leader added whose record never committed: it is recorded
          // now with a credential of its own (its node waits for one before it starts).
          return record(action.node, "added", found.id, await this.issueCredential(node));
        }
        if (found !== undefined) {
          // The member's certificate is on record too (the founder issued its own), so the
          // chain can revoke it when the member goes.
          const client = node.addresses.etcd_client;
          const serial =
            client === undefined || tls === undefined
              ? null
              : await presentedSerial(httpUrl(client, this.tls), tls, etcdCallTimeoutMs);
          return record(action.node, "promoted", found.id, serial === null ? undefined : { serial });
        }
        // A holder whose member was removed (it was down): it comes back as a new learner.
        if (peer === undefined) return null;
        const credential = await this.issueCredential(node);
        const added = await etcd.addLearner(name, httpUrl(peer, this.tls));
        return record(action.node, added.isLearner ? "added" : "promoted", added.id, credential);
      }
      default:
        return null;
    }
  }

  /** Client URLs of the recorded voting members gossip sees alive (and of `extra` nodes). */
  private clientUrls(machine: FabricMachine, extra: readonly NodeState[]): string[] {
    const nodes = machine
      .etcdMembers()
      .filter((member) => !member.learner && this.options.alive(member.node))
      .map((member) => machine.node(member.node))
      .filter((node): node is NodeState => node !== undefined);
    const urls = new Set<string>();
    for (const node of [...nodes, ...extra]) {
      const client = node.addresses.etcd_client;
      if (client !== undefined) urls.add(httpUrl(client, this.tls));
    }
    return [...urls].sort();
  }

  /** etcdctl's client certificate; undefined without TLS; throws when this node has none. */
  private async clientTls(): Promise<EtcdClientTls | undefined> {
    if (this.tlsFiles === null) return undefined;
    const self = this.options.machine().node(this.options.self);
    const tls = await this.tlsFiles.client(`revoada-${self?.name ?? this.options.self.slice(0, 12)}`);
    if (tls === null) {
      throw new Error(
        "no etcd client certificate: this node holds neither the CA key nor an etcd member certificate",
      );
    }
    return tls;
  }

  /** A new member's certificate, its key sealed to the member, published; undefined without TLS. */
  private async issueCredential(node: NodeState): Promise<EtcdCredential | undefined> {
    const pki = this.options.pki;
    if (pki === undefined) return undefined;
    if (pki.ca.keyPem === undefined) {
      throw new Error(`this node holds no CA key: it cannot issue ${node.name}'s etcd certificate`);
    }
    // A retried add reuses the credential it issued, unless the chain revoked it meanwhile
    // (the member was added, then removed: a new membership gets a new certificate).
    const reused = this.issued.get(node.id);
    const chain = this.options.machine().chain;
    if (
      reused !== undefined &&
      !(chain !== null && this.revocations.of(chain.blocks).includes(reused.serial))
    )
      return reused;
    const addresses = [node.addresses.etcd_peer, node.addresses.etcd_client].filter(
      (address): address is string => address !== undefined,
    );
    const issued = await issueEtcdMemberCredential(pki.ca, {
      id: node.id,
      name: etcdMemberName(node),
      addresses,
    });
    const blob = await pki.publish(issued.bundle);
    this.options.logger.info("etcd member certificate issued", {
      node: node.name,
      serial: issued.serial,
      blob,
    });
    const credential = { blob, serial: issued.serial };
    if (this.issued.size >= 64) this.issued.clear();
    this.issued.set(node.id, credential);
    return credential;
  }

  /**
   * Writes this member's certificate and key before etcd starts: the founder issues its own,
   * a member the leader added opens the credential its record names, a member already on disk
   * with a valid certificate keeps it. False while the credential's blob is not here yet.
   */
  private async materializeCredential(
    self: NodeState,
    credential: EtcdCredential | undefined,
    addresses: readonly string[],
  ): Promise<boolean> {
    const pki = this.options.pki;
    const files = this.tlsFiles;
    if (pki === undefined || files === null) return true;
    if (credential === undefined) {
      if ((await files.memberSerial()) !== null) return true;
      // Only the founder issues its own certificate (no leader exists to issue it); any other
      // member waits for the credential the leader records, so that every member certificate
      // is on the chain and can be revoked.
      if (!this.options.founder) return false;
      if (pki.ca.keyPem === undefined)
        throw new Error("no etcd member certificate and no CA key to issue one");
      const issued = await issueEtcdMemberCredential(pki.ca, {
        id: self.id,
        name: etcdMemberName(self),
        addresses,
      });
      const opened = await openEtcdMemberCredential(issued.bundle, {
        serial: issued.serial,
        ca: pki.ca,
        unsealer: pki.unsealer,
      });
      if (!opened.ok) throw new Error(opened.issues.map((issue) => issue.message).join("; "));
      await files.writeMember(opened.value.certPem, opened.value.keyPem);
      this.options.logger.info("etcd member certificate issued to itself (founder)", {
        serial: issued.serial,
      });
      return true;
    }
    if ((await files.memberSerial()) === credential.serial) return true;
    // An adopted member's certificate is the one it issued itself: nothing to fetch.
    if (credential.blob === undefined) return false;
    // Bounded: a fetch that stalls must not hold up the reconcile chain (it retries instead;
    // the background content round keeps fetching the pinned blob too).
    const bytes = await Promise.race([
      pki.fetch(credential.blob),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), credentialFetchMs).unref()),
    ]);
    if (bytes === null) return false;
    const opened = await openEtcdMemberCredential(bytes, {
      serial: credential.serial,
      ca: pki.ca,
      unsealer: pki.unsealer,
    });
    if (!opened.ok) {
      throw new Error(
        `etcd credential ${credential.serial} refused: ${opened.issues.map((issue) => issue.message).join("; ")}`,
      );
    }
    await files.writeMember(opened.value.certPem, opened.value.keyPem);
    this.options.logger.info("etcd member certificate received", { serial: credential.serial });
    return true;
  }

  private retryLater(): void {
    if (this.stopped || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.reconcile();
    }, credentialRetryMs);
  }

  private async reconcileOnce(): Promise<void> {
    const machine = this.options.machine();
    const self = machine.node(this.options.self);
    if (self === undefined || this.runtime === null) return;
    const removed = this.managesEtcd && (await this.followEtcdMembership(machine, self));
    const state = machine.state();
    const components = [...controlPlaneProcessSpecs(state, self, null)];
    if (this.etcdSpec !== null) components.push(this.etcdSpec);
    const outcome = await this.runtime.apply({
      state,
      nodeId: this.options.self,
      outputDirectory: this.options.outputDirectory,
      components,
    });
    if (!outcome.applied) this.options.logger.warn("the runtime refused", { reason: outcome.reason });
    // The runtime stopped the removed member above (apply waits for it): its data goes aside,
    // its certificate and key are deleted.
    if (removed) {
      await this.moveEtcdDataAside("removed");
      await this.tlsFiles?.removeMember();
    }
  }

  /** etcd refuses a removed member's data: it is kept beside, never reused. */
  private async moveEtcdDataAside(why: "removed" | "stale"): Promise<void> {
    const dataDirectory = this.options.config.etcd?.data_dir ?? "";
    const aside = `${dataDirectory}.${why}-${Date.now()}`;
    await rename(dataDirectory, aside).catch(() => undefined);
    this.options.logger.info(`etcd member data moved aside (${why})`, { aside });
  }

  /**
   * Under the `kubelet` and `systemd` runtimes the host runs the etcd the face rendered: the
   * revocation list of what the chain revoked is written where those files read it
   * (`etcdRevocationListFile`, under `actuator.host_root`). The daemon calls this before each render and
   * renders etcd's CRL flags only when it is true (a list is there: etcd refuses every
   * connection while a list it was given is missing). False under the other runtimes, without
   * a CA, without its key, or when the file cannot be written (logged once).
   */
  async refreshHostRevocations(): Promise<boolean> {
    const list = this.hostRevocations;
    if (list === null) return false;
    const chain = this.options.machine().chain;
    let why: string | null = null;
    try {
      if (await list.write(chain === null ? [] : this.revocations.of(chain.blocks))) return true;
      why = "no CA key on this node";
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    }
    const exists = await list.exists();
    if (!this.warnedHostRevocations) {
      this.warnedHostRevocations = true;
      this.options.logger.warn(
        exists
          ? "etcd revocation list not rewritten: the rendered etcd reads the last one written"
          : "no etcd revocation list: the rendered etcd runs without one",
        { file: list.file, why },
      );
    }
    return exists;
  }

  /**
   * Keeps the revocation list equal to what the chain revoked (removed members' certificates,
   * replaced credentials); etcd reads it on every connection, so a running member needs no
   * restart. False when there is no list (no TLS, or no CA key to sign one).
   */
  private async refreshRevocations(machine: FabricMachine): Promise<boolean> {
    const files = this.tlsFiles;
    const chain = machine.chain;
    if (files === null || chain === null) return false;
    const written = await files.writeRevocations(this.revocations.of(chain.blocks));
    if (!written && !this.warnedNoRevocations) {
      this.warnedNoRevocations = true;
      this.options.logger.warn("no CA key on this node: its etcd member runs without a revocation list");
    }
    return written;
  }

  /**
   * Decides this node's etcd member as the committed membership says: starts it (sets
   * `etcdSpec`), keeps it, or drops it; true when it was just removed (the caller's apply
   * stops it, then its data goes aside).
   */
  private async followEtcdMembership(machine: FabricMachine, self: NodeState): Promise<boolean> {
    const etcd = this.options.config.etcd;
    if (etcd === undefined) return false;
    const members = machine.etcdMembers();
    const mine = members.find((member) => member.node === self.id);
    const founding = members.length === 0 && this.options.founder && self.roles.includes("etcd");
    const dataDirectory = etcd.data_dir ?? "";
    const markerPath = `${dataDirectory}.member`;
    const revocations = await this.refreshRevocations(machine);
    if (this.etcdSpec !== null) {
      // The founder's member got its id recorded (adopted): the same data, now under its id.
      if (mine !== undefined && this.startedAsFounder) {
        await writeFileAtomic(markerPath, `${mine.member_id}\n`);
        this.startedAsFounder = false;
      }
      if (mine !== undefined || founding) return false;
      this.etcdSpec = null;
      return true;
    }
    if (mine === undefined && !founding) return false;
    const ownAddresses = [etcd.peer, etcd.client];
    if (!(await this.materializeCredential(self, mine?.credential, ownAddresses))) {
      this.options.logger.info("etcd member waiting for its credential blob", {
        blob: mine?.credential?.blob,
      });
      this.retryLater();
      return false;
    }
    const marker = (await readFile(markerPath, "utf8").catch(() => "")).trim();
    const memberId = mine?.member_id ?? founderMarker;
    if (marker === founderMarker && mine !== undefined) {
      await writeFileAtomic(markerPath, `${mine.member_id}\n`);
    } else if (marker !== memberId) {
      // A data directory left by an earlier member (removed while this node was down) would
      // start that removed member: a new member starts from an empty directory.
      await this.moveEtcdDataAside("stale");
      await writeFileAtomic(markerPath, `${memberId}\n`);
    }
    this.startedAsFounder = founding;
    const cluster = founding
      ? [self]
      : members
          .map((member) => machine.node(member.node))
          .filter((node): node is NodeState => node !== undefined && node.addresses.etcd_peer !== undefined);
    if (!cluster.some((node) => node.id === self.id)) cluster.push(self);
    this.etcdSpec = etcdComponentSpec({
      name: etcdMemberName(self),
      dataDirectory,
      peerAddress: etcd.peer,
      clientAddress: etcd.client,
      initialCluster: cluster.map((node) => ({
        name: etcdMemberName(node),
        peerUrl: httpUrl(node.id === self.id ? etcd.peer : (node.addresses.etcd_peer ?? ""), this.tls),
      })),
      clusterState: founding ? "new" : "existing",
      ...(this.tlsFiles === null
        ? {}
        : {
            tls: {
              caFile: this.tlsFiles.caFile,
              certFile: this.tlsFiles.memberCertFile,
              keyFile: this.tlsFiles.memberKeyFile,
              ...(revocations ? { revocationFile: this.tlsFiles.revocationFile } : {}),
            },
          }),
    });
    this.options.logger.info("etcd member starting", {
      state: founding ? "new" : "existing",
      members: cluster.length,
    });
    return false;
  }
}

/** The blobs of the etcd members' sealed credentials (every node holds them, so any can serve one). */
export function credentialBlobs(members: readonly EtcdMemberState[]): Blake3Hash[] {
  return members.flatMap((member) => (member.credential?.blob === undefined ? [] : [member.credential.blob]));
}

function record(
  node: NodeId,
  event: EtcdMemberRecord["event"],
  memberId: string,
  credential?: EtcdCredential,
): EtcdMemberRecord {
  return {
    type: "etcd-member",
    node,
    event,
    member_id: memberId,
    ...(credential === undefined ? {} : { credential }),
  };
}
