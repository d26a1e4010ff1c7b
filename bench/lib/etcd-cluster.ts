// A throwaway 3-member etcd (the `etcd` binary scripts/setup-system.sh installs) on loopback,
// for `pnpm bench raft --vs etcd`: plain HTTP, data directories under the bench's temporary
// directory (the same disk as revoada's), etcd's default fsync policy (fdatasync of the WAL
// per batch; its default snapshot count of 100 000 entries).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "../../packages/node/src/mesh/mesh-setup.js";
import { KeepAliveConnection } from "./http-load.js";

export interface EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly child: ChildProcess;
  stderr: string;
}

export class EtcdCluster {
  private constructor(readonly members: readonly EtcdMember[]) {}

  static async start(directory: string, size = 3): Promise<EtcdCluster> {
    const ports = await freePorts(size * 2);
    const names = Array.from({ length: size }, (_, position) => `etcd-${position}`);
    const peerUrl = (position: number) => `http://127.0.0.1:${ports[2 * position + 1]}`;
    const initialCluster = names.map((name, position) => `${name}=${peerUrl(position)}`).join(",");
    const members = names.map((name, position): EtcdMember => {
      const dataDirectory = join(directory, name);
      mkdirSync(dataDirectory, { recursive: true });
      const clientUrl = `http://127.0.0.1:${ports[2 * position]}`;
      const child = spawn(
        "etcd",
        [
          "--name",
          name,
          "--data-dir",
          dataDirectory,
          "--listen-client-urls",
          clientUrl,
          "--advertise-client-urls",
          clientUrl,
          "--listen-peer-urls",
          peerUrl(position),
          "--initial-advertise-peer-urls",
          peerUrl(position),
          "--initial-cluster",
          initialCluster,
          "--initial-cluster-state",
          "new",
          "--initial-cluster-token",
          "revoada-bench",
          "--logger",
          "zap",
          "--log-level",
          "error",
        ],
        { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } },
      );
      const member: EtcdMember = { name, clientPort: ports[2 * position]!, child, stderr: "" };
      child.stderr?.on("data", (chunk: Buffer) => {
        member.stderr = (member.stderr + chunk.toString()).slice(-20_000);
      });
      return member;
    });
    const cluster = new EtcdCluster(members);
    try {
      await cluster.waitForLeader(60_000);
    } catch (error) {
      await cluster.stop();
      throw new Error(`${String(error)}\n${members.map((m) => `${m.name}: ${m.stderr}`).join("\n")}`);
    }
    return cluster;
  }

  /** The member that leads (by `/v3/maintenance/status` through the JSON gateway). */
  async waitForLeader(timeoutMs: number): Promise<EtcdMember> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      for (const member of this.members) {
        const status = await gatewayStatus(member.clientPort).catch(() => null);
        if (status !== null && status.leader !== "0" && status.leader === status.memberId) return member;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("etcd elected no leader in time");
  }

  pids(): number[] {
    return this.members.flatMap((member) => (member.child.pid === undefined ? [] : [member.child.pid]));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(
        (member) =>
          new Promise<void>((resolve) => {
            if (member.child.exitCode !== null || member.child.signalCode !== null) {
              resolve();
              return;
            }
            member.child.once("exit", () => resolve());
            member.child.kill("SIGKILL");
          }),
      ),
    );
  }
}

async function gatewayStatus(port: number): Promise<{ memberId: string; leader: string }> {
  const connection = new KeepAliveConnection("127.0.0.1", port);
  try {
    const answer = await connection.request(
      "POST",
      "/v3/maintenance/status",
      Buffer.from("{}"),
      "application/json",
    );
    if (answer.status !== 200) throw new Error(`status ${answer.status}`);
    const parsed = JSON.parse(answer.body.toString("utf8")) as {
      header?: { member_id?: string };
      leader?: string;
    };
    return { memberId: parsed.header?.member_id ?? "", leader: parsed.leader ?? "0" };
  } finally {
    connection.close();
  }
}
