// Goal: garbage on the gossip port is counted by reason (the counters behind /metrics) and
// reported in the log, rate limited: a flood costs one warn line per interval, and the next
// line says how many it stands for. Method: a GossipDriver on 127.0.0.1 with a capturing
// logger, fed by a plain UDP socket (random bytes, a short packet, a packet sealed with a
// foreign key, an oversized datagram, garbage sealed with the cluster key); the throttle's
// intervals are checked with explicit clock values.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { after, describe, it } from "node:test";
import { homelabStrategy, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { waitFor } from "../scripts/gossip-agents.js";
import { createLogger } from "../src/daemon/log.js";
import { GossipDriver, parseHostPort, ReportThrottle, rejectReasons } from "../src/gossip/gossip-driver.js";
import { Keyring } from "../src/gossip/keyring.js";

describe("ReportThrottle", () => {
  it("admits one report per interval and counts the ones held back", () => {
    const throttle = new ReportThrottle(1_000);
    assert.deepEqual(throttle.admit(0), { report: true, suppressed: 0 });
    assert.deepEqual(throttle.admit(10), { report: false });
    assert.deepEqual(throttle.admit(999), { report: false });
    assert.deepEqual(throttle.admit(1_000), { report: true, suppressed: 2 });
    assert.deepEqual(throttle.admit(1_500), { report: false });
    assert.deepEqual(throttle.admit(5_000), { report: true, suppressed: 1 });
    assert.deepEqual(throttle.admit(5_000), { report: false });
  });
});

describe("garbage on the gossip port", { timeout: 60_000 }, () => {
  const keyring = Keyring.create([randomBytes(32)]);
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "info", write: (line) => lines.push(JSON.parse(line)) });
  let driver: GossipDriver | undefined;

  after(async () => {
    await driver?.close();
  });

  it("counts every rejected packet by reason and logs the flood once", async () => {
    driver = await GossipDriver.start({
      signer: signerFromSeed(randomBytes(32)),
      host: "127.0.0.1",
      port: 0,
      keyring,
      seeds: [],
      membership: homelabStrategy.membership,
      generation: 1,
      logger,
    });
    const target = parseHostPort(driver.address)!;
    const socket = createSocket("udp4");
    const send = (bytes: Uint8Array) =>
      new Promise((resolve) => socket.send(bytes, target.port, target.host, resolve));
    const flood = 40;
    for (let i = 0; i < flood; i += 1) await send(randomBytes(100));
    await send(randomBytes(5));
    await send(Keyring.create([randomBytes(32)]).seal(Buffer.from("{}")));
    await send(randomBytes(60_000));
    await send(keyring.seal(Buffer.from("not a gossip message")));
    socket.close();

    const expected = { "bad-magic": flood, short: 1, "unknown-key": 1, oversized: 1, malformed: 1 };
    const total = flood + 4;
    const counted = () => {
      const rejected = driver!.rejectedPackets();
      return Promise.resolve(rejectReasons.reduce((sum, reason) => sum + rejected[reason], 0) >= total);
    };
    assert.ok(await waitFor(counted, 10_000), JSON.stringify(driver.rejectedPackets()));
    const rejected = driver.rejectedPackets();
    for (const [reason, count] of Object.entries(expected)) {
      assert.equal(rejected[reason as keyof typeof expected], count, reason);
    }
    // The first packet is reported; the rest of the minute's flood is only counted.
    const reports = lines.filter((line) => line.msg === "gossip packet rejected");
    assert.equal(reports.length, 1, JSON.stringify(lines));
    assert.equal(reports[0]!.level, "warn");
    assert.equal(reports[0]!.reason, "bad-magic");
    assert.match(String(reports[0]!.from), /^127\.0\.0\.1:\d+$/);
  });

  it("refuses packets under a retired key: counted, one line per interval naming the key id", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const ring = Keyring.create([oldKey]);
    assert.ok(ring.keys.install(newKey).ok && ring.keys.promote(Keyring.create([newKey]).keys.primary.id).ok);
    const oldId = Keyring.create([oldKey]).keys.primary.id;
    assert.ok(ring.keys.retire(oldId).ok);
    const retiredLines: Record<string, unknown>[] = [];
    const retiredLogger = createLogger({
      level: "info",
      write: (line) => retiredLines.push(JSON.parse(line)),
    });
    const member = await GossipDriver.start({
      signer: signerFromSeed(randomBytes(32)),
      host: "127.0.0.1",
      port: 0,
      keyring: ring,
      seeds: [],
      membership: homelabStrategy.membership,
      generation: 1,
      logger: retiredLogger,
    });
    try {
      const target = parseHostPort(member.address)!;
      const socket = createSocket("udp4");
      const stale = Keyring.create([oldKey]);
      for (let i = 0; i < 5; i += 1) {
        const packet = stale.seal(
          Buffer.from(JSON.stringify({ type: "push", from: "a".repeat(64), updates: [] })),
        );
        await new Promise((resolve) => socket.send(packet, target.port, target.host, resolve));
      }
      socket.close();
      assert.ok(await waitFor(() => Promise.resolve(member.rejectedPackets()["retired-key"] === 5), 10_000));
      const reports = retiredLines.filter((line) => line.msg === "gossip packet under a retired key refused");
      assert.equal(reports.length, 1, JSON.stringify(retiredLines));
      assert.equal(reports[0]!.key_id, oldId);
      assert.equal(reports[0]!.level, "warn");
      const text = JSON.stringify(retiredLines);
      assert.ok(
        !text.includes(oldKey.toString("hex")) && !text.includes(newKey.toString("hex")),
        "no key logged",
      );
    } finally {
      await member.close();
    }
  });
});
