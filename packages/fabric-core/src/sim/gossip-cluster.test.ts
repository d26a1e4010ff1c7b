/**
 * Goal: the membership layer behaves at N = 10, 50 and 100 on the deterministic simulator:
 * views converge, a crash is declared dead everywhere, a stalled node does not accuse its
 * healthy peers when it wakes, 20% loss causes no false death, an advertised role change
 * reaches everyone, a mass restart re-converges, and bytes are counted per node.
 * Method: one GossipCluster per size with fixed seeds and 1-3 ms delivery jitter; each
 * check runs the virtual clock until the property holds, within a generous bound (a bound,
 * not a timing target: speed is `pnpm bench gossip`'s job).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GossipCluster } from "./gossip-cluster.js";
import type { NetworkFaults } from "./network.js";

const jitter: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 3 };
const boundMs = 30_000;

function healthyDeaths(cluster: GossipCluster): number {
  return cluster.falseDeaths.filter((death) => !death.targetStalled).length;
}

function everyLiveNodeSeesRoles(cluster: GossipCluster, target: number, role: string): boolean {
  const id = cluster.members[target]!.signer.nodeId;
  return cluster.liveIndexes().every((index) => {
    const view = cluster.members[index]!.core!.membershipView(cluster.nowMs);
    return view.members.find((member) => member.id === id)?.state?.roles.includes(role as "etcd") === true;
  });
}

for (const size of [10, 50, 100]) {
  describe(`gossip simulation at N = ${size}`, () => {
    const cluster = new GossipCluster({ size, seed: 1000 + size, faults: jitter, startSpreadMs: 500 });

    it("joins through the seeds and converges to one view", () => {
      cluster.start();
      assert.ok(
        cluster.runUntilTrue(() => cluster.converged(), boundMs),
        "views did not converge",
      );
      for (const index of cluster.liveIndexes()) {
        assert.equal(cluster.members[index]!.core!.membershipView(cluster.nowMs).members.length, size);
      }
    });

    it("counts the bytes each node sends, and keeps a steady state under 20 KB/s per node", () => {
      // The start-up burst (every node's state relayed epidemically) drains first.
      cluster.runFor(15_000);
      const before = cluster.members.map((member) => cluster.bytesSentBy(member.index));
      cluster.runFor(5_000);
      const rates = cluster.members.map(
        (member) => (cluster.bytesSentBy(member.index) - before[member.index]!) / 5,
      );
      assert.ok(
        rates.every((rate) => rate > 0),
        "every node sends",
      );
      // A behaviour bound (no runaway traffic), not a benchmark figure.
      assert.ok(Math.max(...rates) < 20_000, `a node sent ${Math.max(...rates)} B/s`);
    });

    it("spreads a role change advertised by one node to every node", () => {
      cluster.setRoles(size - 1, ["etcd", "api-server"]);
      assert.ok(cluster.runUntilTrue(() => everyLiveNodeSeesRoles(cluster, size - 1, "etcd"), boundMs, 10));
    });

    it("declares a crashed node dead everywhere, and nobody else", () => {
      cluster.crash(1);
      assert.ok(
        cluster.runUntilTrue(
          () => cluster.liveIndexes().every((index) => cluster.statusOf(index, 1) === "dead"),
          boundMs,
        ),
      );
      assert.ok(cluster.runUntilTrue(() => cluster.converged(), boundMs));
      assert.equal(healthyDeaths(cluster), 0);
    });

    it("a node stalled for 2 s does not declare its healthy peers dead when it wakes", () => {
      const stalled = 2;
      const deathsBefore = cluster.falseDeaths.length;
      cluster.stall(stalled, 2_000);
      cluster.runFor(10_000);
      const byStalled = cluster.falseDeaths.slice(deathsBefore).filter((death) => death.observer === stalled);
      assert.deepEqual(byStalled, []);
      assert.equal(healthyDeaths(cluster), 0);
      // Whatever the others concluded during the stall, the woken node refutes and rejoins.
      assert.ok(cluster.runUntilTrue(() => cluster.converged(), boundMs));
    });

    it("re-converges after a mass restart of every node", () => {
      for (const member of cluster.members) cluster.crash(member.index);
      cluster.runFor(200);
      for (const member of cluster.members) cluster.restart(member.index);
      assert.ok(
        cluster.runUntilTrue(() => cluster.converged(), boundMs),
        "no convergence after mass restart",
      );
      for (const index of cluster.liveIndexes()) {
        const view = cluster.members[index]!.core!.membershipView(cluster.nowMs);
        assert.ok(view.members.every((member) => member.generation === 2));
      }
    });

    it("sees a graceful leave as left, not dead", () => {
      cluster.leave(3);
      assert.ok(
        cluster.runUntilTrue(
          () => cluster.liveIndexes().every((index) => cluster.statusOf(index, 3) === "left"),
          boundMs,
        ),
      );
      assert.equal(healthyDeaths(cluster), 0);
    });
  });
}

describe("gossip simulation under 20% packet loss", () => {
  it("declares no healthy node dead over a long run, and still detects a crash", () => {
    const minutes = process.env.SOAK === "1" ? 60 : 5;
    const cluster = new GossipCluster({
      size: 10,
      seed: 77,
      faults: { dropRate: 0.2, duplicateRate: 0.01, delayMsMin: 1, delayMsMax: 5 },
    });
    cluster.start();
    assert.ok(cluster.runUntilTrue(() => cluster.converged(), boundMs));
    cluster.runFor(minutes * 60_000);
    assert.deepEqual(cluster.falseDeaths, []);
    cluster.crash(4);
    assert.ok(
      cluster.runUntilTrue(
        () => cluster.liveIndexes().every((index) => cluster.statusOf(index, 4) === "dead"),
        boundMs,
      ),
    );
  });

  it("declares no healthy node dead at N = 50 (40 simulated seconds; 10 minutes with SOAK=1)", () => {
    const cluster = new GossipCluster({ size: 50, seed: 78, faults: { ...jitter, dropRate: 0.2 } });
    cluster.start();
    assert.ok(cluster.runUntilTrue(() => cluster.converged(), boundMs));
    cluster.runFor(process.env.SOAK === "1" ? 600_000 : 40_000);
    assert.deepEqual(cluster.falseDeaths, []);
  });
});

describe("gossip simulation across a partition", () => {
  for (const [name, durationMs] of [
    ["short", 5_000],
    ["longer than the dead-member grace", 70_000],
  ] as const) {
    it(`each side declares the other dead, and one view returns after a ${name} partition heals`, () => {
      const cluster = new GossipCluster({ size: 10, seed: 31, faults: jitter });
      cluster.start();
      assert.ok(cluster.runUntilTrue(() => cluster.converged(), boundMs));
      const addresses = cluster.members.map((member) => member.address);
      cluster.network.partition([addresses.slice(0, 5), addresses.slice(5)]);
      assert.ok(
        cluster.runUntilTrue(
          () => cluster.statusOf(0, 9) === "dead" && cluster.statusOf(9, 0) === "dead",
          boundMs,
        ),
      );
      cluster.runFor(durationMs);
      cluster.network.heal();
      assert.ok(
        cluster.runUntilTrue(() => cluster.converged(), 60_000),
        "the sides did not find each other",
      );
    });
  }
});

describe("gossip simulation replays", () => {
  it("the same seed gives the same bytes on the wire", () => {
    const run = () => {
      const cluster = new GossipCluster({ size: 10, seed: 5, faults: { ...jitter, dropRate: 0.1 } });
      cluster.start();
      cluster.runFor(5_000);
      return cluster.members.map((member) => cluster.bytesSentBy(member.index));
    };
    assert.deepEqual(run(), run());
  });
});
