/**
 * Goal: real gossip processes on loopback discover each other from one seed, converge,
 * detect a `kill -9`, see a restarted member (same key, next generation) rejoin, spread a
 * role change, and refuse packets without the cluster key (counting them, staying up).
 * Method: five `gossip-agent.ts` processes on 127.0.0.1 with one shared cluster key; the
 * test polls their views over stdin/stdout within generous bounds, and throws hostile UDP
 * datagrams at the seed from a plain socket.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { after, before, describe, it } from "node:test";
import { AgentProcess, waitFor } from "../scripts/gossip-agents.js";
import { Keyring } from "../src/gossip/keyring.js";

const key = randomBytes(32).toString("hex");
const boundMs = 30_000;

async function allSee(agents: readonly AgentProcess[], id: string, status: string): Promise<boolean> {
  for (const agent of agents) {
    const member = (await agent.view()).find((entry) => entry.id === id);
    if (member?.status !== status) return false;
  }
  return true;
}

async function converged(agents: readonly AgentProcess[], size: number): Promise<boolean> {
  for (const agent of agents) {
    const view = await agent.view();
    if (view.length !== size || view.some((member) => member.status !== "alive")) return false;
  }
  return true;
}

describe("gossip across processes on loopback", { timeout: 120_000 }, () => {
  const agents: AgentProcess[] = [];
  const identities = Array.from({ length: 5 }, () => randomBytes(32).toString("hex"));

  before(async () => {
    agents.push(await AgentProcess.spawn({ keys: key, identity: identities[0]!, generation: 1 }));
    const seed = agents[0]!.address;
    const rest = await Promise.all(
      identities
        .slice(1)
        .map((identity) => AgentProcess.spawn({ keys: key, identity, generation: 1, seeds: [seed] })),
    );
    agents.push(...rest);
  });

  after(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
  });

  it("discovers every member from one seed and converges", async () => {
    assert.ok(await waitFor(() => converged(agents, 5), boundMs), "five processes did not converge");
  });

  it("spreads a role change to every process", async () => {
    await agents[2]!.request("roles etcd,api-server");
    assert.ok(
      await waitFor(async () => {
        for (const agent of agents) {
          const member = (await agent.view()).find((entry) => entry.id === agents[2]!.id);
          if (member?.roles?.includes("etcd") !== true) return false;
        }
        return true;
      }, boundMs),
    );
  });

  it("refuses packets without the cluster key, counting them and staying up", async () => {
    const seed = agents[0]!;
    const [host, port] = [seed.address.split(":")[0]!, Number(seed.address.split(":")[1])];
    const ping = JSON.stringify({ type: "push", from: "f".repeat(64), address: "127.0.0.1:9", updates: [] });
    const strangers = Keyring.create([randomBytes(32)]);
    const hostile = [
      Buffer.from(ping),
      strangers.seal(Buffer.from(ping)),
      Buffer.from("RVG2garbage"),
      randomBytes(1_300),
      Buffer.alloc(0),
    ];
    const before = (await seed.request("metrics")) as { driver: { unauthenticated: number } };
    const socket = createSocket("udp4");
    for (const packet of hostile) await new Promise((resolve) => socket.send(packet, port, host, resolve));
    socket.close();
    assert.ok(
      await waitFor(async () => {
        const now = (await seed.request("metrics")) as { driver: { unauthenticated: number } };
        return now.driver.unauthenticated - before.driver.unauthenticated >= hostile.length;
      }, 5_000),
      "hostile datagrams not counted",
    );
    assert.ok(seed.isRunning());
    assert.ok(await converged(agents, 5), "the view did not change");
  });

  it("declares a kill -9'd process dead everywhere", async () => {
    const victim = agents[4]!;
    victim.kill9();
    const survivors = agents.slice(0, 4);
    assert.ok(
      await waitFor(() => allSee(survivors, victim.id, "dead"), boundMs),
      "the kill was not detected",
    );
  });

  it("sees the restarted process (same key, next generation) rejoin", async () => {
    const reborn = await AgentProcess.spawn({
      keys: key,
      identity: identities[4]!,
      generation: 2,
      seeds: [agents[0]!.address],
    });
    agents[4] = reborn;
    assert.ok(await waitFor(() => converged(agents, 5), boundMs), "the restarted process did not rejoin");
    const seen = (await agents[0]!.view()).find((member) => member.id === reborn.id)!;
    assert.equal(seen.generation, 2);
  });
});
