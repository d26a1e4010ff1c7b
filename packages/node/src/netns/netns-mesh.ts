import { spawn } from "node:child_process";
import { access, mkdir, open, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert } from "@revoada/fabric-core/vocabulary";
import { LocalMesh } from "../mesh/local-mesh.js";
import { freePorts, hostPorts, type MeshPlan } from "../mesh/mesh-setup.js";
import type { MeshNodeHandle } from "../mesh/observe.js";
import { relayTcpToUnix } from "./api-relay.js";
import {
  createHosts,
  ipIn,
  mountSource,
  type NetnsHost,
  type NetnsRun,
  removeHosts,
  runCommand,
} from "./hosts.js";

/**
 * A mesh of node daemons, one per network namespace (hosts.ts), each listening on its own
 * address, laid out by `createMeshLayout` with an address plan and run by `LocalMesh` under
 * `ip netns exec`. Clients reach each node's API through a relay (api-relay.ts) on host
 * loopback; mesh.json names those addresses, so `revoada status --dir` works unchanged.
 *
 * Faults are real: packet drops by nftables inside the namespaces (two-way, one-way, ring),
 * an interface set down, SIGSTOP/SIGCONT, kill -9 and restart, a full disk on a node whose
 * data directory is a size-limited tmpfs, and a jump of a node's wall clock (libfaketime).
 * `stop()` removes everything; a harness that dies without it leaves a sweeper behind, and the
 * next run sweeps what is left in any case.
 */
export interface NetnsMeshPlan extends Omit<MeshPlan, "addresses"> {
  /** First three octets of the hosts' /24 (default 10.77.0). */
  readonly subnet?: string;
  /** Nodes whose data directory is a tmpfs of `diskBytes` (for disk-full faults). */
  readonly smallDisks?: { readonly nodes: readonly string[]; readonly bytes: number };
  /**
   * Nodes whose wall clock can be moved (`jumpClock`): they run under libfaketime (Debian's
   * `libfaketime`), which reads the offset from a file of this run at most once a second.
   * Only the wall clock moves: monotonic time (timers, `performance.now()`) is left alone.
   */
  readonly clockNodes?: readonly string[];
}

/** libfaketime's multi-threaded build (Node runs threads), where Debian installs it. */
export const libfaketimePath = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu/faketime/libfaketimeMT.so.1`;

const relayScript = fileURLToPath(new URL("../../dist/netns/relay-process.js", import.meta.url));
const sweepScript = fileURLToPath(new URL("../../dist/netns/sweep-process.js", import.meta.url));
const chaosTable = "revoada_chaos";
const ballastName = "chaos-ballast";

export class NetnsMesh {
  readonly nodes: readonly MeshNodeHandle[];
  private readonly relays: Server[] = [];
  private stopped = false;
  private readonly onExit = () => this.leaveSweeper();

  private constructor(
    readonly run: NetnsRun,
    readonly local: LocalMesh,
    readonly directory: string,
    relays: readonly Server[],
  ) {
    this.nodes = local.nodes;
    this.relays.push(...relays);
    process.once("exit", this.onExit);
  }

  static async start(plan: NetnsMeshPlan, env: Readonly<Record<string, string>> = {}): Promise<NetnsMesh> {
    const directory = resolve(plan.directory);
    const run = await createHosts(plan.nodes, plan.subnet);
    const relays: Server[] = [];
    try {
      const ports = await freePorts(plan.nodes);
      for (const [index, host] of run.hosts.entries()) {
        await startNamespaceRelay(run, host);
        relays.push((await relayTcpToUnix(ports[index]!, socketOf(run, host))).server);
      }
      await mountSmallDisks(run, directory, plan.smallDisks);
      await prepareClocks(run, plan.clockNodes ?? []);
      const launcher = (name: string) => [
        "ip",
        "netns",
        "exec",
        hostNamed(run, name).namespace,
        ...((plan.clockNodes ?? []).includes(name) ? clockLauncher(run, name) : []),
      ];
      const local = await LocalMesh.start(
        {
          ...plan,
          directory,
          addresses: {
            hostOf: (index) => run.hosts[index]!.address,
            apiOf: (index) => `127.0.0.1:${ports[index]!}`,
          },
        },
        env,
        launcher,
      );
      return new NetnsMesh(run, local, directory, relays);
    } catch (error) {
      for (const relay of relays) relay.close();
      await removeHosts(run);
      throw error;
    }
  }

  host(name: string): NetnsHost {
    return hostNamed(this.run, name);
  }

  // ---- faults ----

  /**
   * Two-way partition: no packet passes between hosts of different groups. Hosts named in no
   * group keep talking to everyone. Replaces the drop rules in effect.
   */
  async partition(groups: readonly (readonly string[])[]): Promise<void> {
    const drops = new Map<string, Set<string>>();
    for (const [i, group] of groups.entries()) {
      for (const [j, other] of groups.entries()) {
        if (i === j) continue;
        for (const name of group) {
          const set = drops.get(name) ?? new Set<string>();
          for (const peer of other) set.add(peer);
          drops.set(name, set);
        }
      }
    }
    await this.applyDrops(drops, drops);
  }

  /** One-way: packets from `from` never reach `to` (`to` still reaches `from`). */
  async dropOneWay(from: readonly string[], to: readonly string[]): Promise<void> {
    const inbound = new Map<string, Set<string>>(to.map((name) => [name, new Set(from)]));
    await this.applyDrops(inbound, new Map());
  }

  /** A ring: each host reaches only its two neighbours in `order`. */
  async ring(order: readonly string[]): Promise<void> {
    assert(order.length >= 4, "a ring of fewer than four hosts is a full mesh");
    const drops = new Map<string, Set<string>>();
    for (const [index, name] of order.entries()) {
      const left = order[(index + order.length - 1) % order.length]!;
      const right = order[(index + 1) % order.length]!;
      drops.set(name, new Set(order.filter((peer) => peer !== name && peer !== left && peer !== right)));
    }
    await this.applyDrops(drops, drops);
  }

  /** `ip link set eth0 down` in the host's namespace: cut off from every other host. */
  async linkDown(name: string): Promise<void> {
    await ipIn(this.host(name).namespace, "link", "set", "eth0", "down");
  }

  async linkUp(name: string): Promise<void> {
    await ipIn(this.host(name).namespace, "link", "set", "eth0", "up");
  }

  /** Removes every drop rule and brings every interface up. */
  async heal(): Promise<void> {
    await this.applyDrops(new Map(), new Map());
    for (const host of this.run.hosts) await this.linkUp(host.name);
  }

  pause(name: string): void {
    this.local.signal(name, "SIGSTOP");
  }

  resume(name: string): void {
    this.local.signal(name, "SIGCONT");
  }

  async kill(name: string): Promise<void> {
    // A paused process dies of SIGKILL too; nothing to resume first.
    await this.local.kill(name);
  }

  restart(name: string): void {
    assert(!this.local.isRunning(name), "restart a node that is not running");
    this.local.startNode(name);
  }

  /** Fills a small-disk node's data directory until the tmpfs has no byte left. */
  async fillDisk(name: string): Promise<number> {
    const ballast = join(this.directory, name, "data", ballastName);
    const chunk = Buffer.alloc(1024 * 1024);
    const file = await open(ballast, "a");
    let written = 0;
    try {
      for (let i = 0; i < 100_000; i += 1) {
        const size = await file
          .write(chunk, 0, chunk.length)
          .then((result) => result.bytesWritten)
          .catch((error: unknown) => {
            if (error instanceof Error && "code" in error && error.code === "ENOSPC") return 0;
            throw error;
          });
        written += size;
        if (size < chunk.length) break;
      }
      // The last partial megabyte: fill it byte-wise in smaller steps.
      for (let step = 64 * 1024; step >= 1; step = Math.floor(step / 4)) {
        for (;;) {
          const size = await file.write(chunk, 0, step).then(
            (result) => result.bytesWritten,
            () => 0,
          );
          written += size;
          if (size < step) break;
        }
      }
    } finally {
      await file.close();
    }
    return written;
  }

  async freeDisk(name: string): Promise<void> {
    await rm(join(this.directory, name, "data", ballastName), { force: true });
  }

  /**
   * Sets the wall clock of a clock node (`clockNodes`) to the real time plus `offsetSeconds`
   * (negative: behind), from now on and across restarts; 0 puts it back. The process sees the
   * jump within a second (libfaketime's cache); its monotonic clock does not move.
   */
  async jumpClock(name: string, offsetSeconds: number): Promise<void> {
    assert(Number.isSafeInteger(offsetSeconds), "a clock offset is whole seconds");
    const file = clockFileOf(this.run, this.host(name));
    await access(file).catch(() => {
      throw new Error(`${name} is not a clock node of this mesh (NetnsMeshPlan.clockNodes)`);
    });
    await writeFile(file, `${offsetSeconds >= 0 ? "+" : ""}${offsetSeconds}\n`);
  }

  /**
   * Drop rules: `inbound.get(h)` lists hosts whose packets h drops on input, `outbound.get(h)`
   * hosts h drops on output. One nftables table per namespace, replaced atomically.
   */
  private async applyDrops(
    inbound: ReadonlyMap<string, ReadonlySet<string>>,
    outbound: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<void> {
    for (const host of this.run.hosts) {
      const addressesOf = (names: ReadonlySet<string> | undefined) =>
        [...(names ?? [])].map((name) => this.host(name).address).sort();
      const script = nftScript(addressesOf(inbound.get(host.name)), addressesOf(outbound.get(host.name)));
      await runCommand(["ip", "netns", "exec", host.namespace, "nft", "-f", "-"], script);
    }
  }

  // ---- lifecycle ----

  /** Stops every node (SIGTERM, SIGKILL after `graceMs`), then removes the hosts and mounts. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const host of this.run.hosts) this.resume(host.name);
    await this.local.stopAll(graceMs).catch(() => undefined);
    for (const relay of this.relays) relay.close();
    await removeHosts(this.run);
    process.removeListener("exit", this.onExit);
  }

  /** At an exit without stop(): a detached sweeper removes this run once this process is gone. */
  private leaveSweeper(): void {
    if (this.stopped) return;
    const child = spawn(process.execPath, [sweepScript, this.run.runId], { detached: true, stdio: "ignore" });
    child.unref();
  }
}

function hostNamed(run: NetnsRun, name: string): NetnsHost {
  const host = run.hosts.find((candidate) => candidate.name === name);
  if (host === undefined) throw new Error(`no host ${name} in netns run ${run.runId}`);
  return host;
}

function socketOf(run: NetnsRun, host: NetnsHost): string {
  return join(run.socketDirectory, `${host.name}.sock`);
}

function clockFileOf(run: NetnsRun, host: NetnsHost): string {
  return join(run.socketDirectory, `${host.name}.faketime`);
}

/** Each clock node's offset file, at +0; refuses at once when libfaketime is not installed. */
async function prepareClocks(run: NetnsRun, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await access(libfaketimePath).catch(() => {
    throw new Error(
      `clock jumps need libfaketime (${libfaketimePath}); install Debian's libfaketime (scripts/setup-system.sh)`,
    );
  });
  for (const name of names) await writeFile(clockFileOf(run, hostNamed(run, name)), "+0\n");
}

/**
 * What a clock node runs under, inside its namespace: libfaketime preloaded, the offset read
 * from the run's file (re-read at most once a second), the monotonic clocks left real.
 */
function clockLauncher(run: NetnsRun, name: string): string[] {
  return [
    "env",
    `LD_PRELOAD=${libfaketimePath}`,
    `FAKETIME_TIMESTAMP_FILE=${clockFileOf(run, hostNamed(run, name))}`,
    "FAKETIME_CACHE_DURATION=1",
    "FAKETIME_DONT_FAKE_MONOTONIC=1",
  ];
}

/** The relay inside the host's namespace; it dies with the namespace's processes at removal. */
async function startNamespaceRelay(run: NetnsRun, host: NetnsHost): Promise<void> {
  const socket = socketOf(run, host);
  const apiPort = String(hostPorts[3]);
  const child = spawn(
    "ip",
    ["netns", "exec", host.namespace, process.execPath, relayScript, socket, host.address, apiPort],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ready = await runCommand(["test", "-S", socket]).then(
      () => true,
      () => false,
    );
    if (ready) {
      child.stderr?.destroy();
      child.unref();
      return;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the API relay of ${host.name} did not start: ${stderr.trim() || "timeout"}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function mountSmallDisks(
  run: NetnsRun,
  directory: string,
  smallDisks: NetnsMeshPlan["smallDisks"],
): Promise<void> {
  if (smallDisks === undefined) return;
  assert(smallDisks.bytes >= 1024 * 1024, "a small disk of at least 1 MiB");
  for (const name of smallDisks.nodes) {
    hostNamed(run, name);
    const data = join(directory, name, "data");
    await mkdir(data, { recursive: true, mode: 0o700 });
    await runCommand([
      "mount",
      "-t",
      "tmpfs",
      "-o",
      `size=${smallDisks.bytes},mode=0700`,
      mountSource(run.runId),
      data,
    ]);
  }
}

/** An nftables script that replaces the chaos table: drops by source on input, by destination on output. */
export function nftScript(inbound: readonly string[], outbound: readonly string[]): string {
  const lines = [
    `table inet ${chaosTable}`,
    `delete table inet ${chaosTable}`,
    `table inet ${chaosTable} {`,
    "  chain input {",
    "    type filter hook input priority 0; policy accept;",
    ...(inbound.length > 0 ? [`    ip saddr { ${inbound.join(", ")} } drop`] : []),
    "  }",
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    ...(outbound.length > 0 ? [`    ip daddr { ${outbound.join(", ")} } drop`] : []),
    "  }",
    "}",
  ];
  return `${lines.join("\n")}\n`;
}
