// Goal: the transport delivers between authenticated peers only, survives bad input and
// reconnects. Method: real sockets on 127.0.0.1 with ports from listen(0); misbehaving peers
// are real transports with a wrong key or a lying identity, or raw sockets.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createConnection, createServer, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { type NodeId, ok, type Signer, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { createLogger, type Logger } from "../src/daemon/log.js";
import { type ClusterKeys, KeySet } from "../src/keys/key-set.js";
import type { FrameProtection } from "../src/transport/handshake.js";
import { jsonCodec, type MessageCodec, type PeerAddress, Transport } from "../src/transport/index.js";

const Ping = z.strictObject({ type: z.literal("ping"), n: z.int().min(0) });
type Ping = z.infer<typeof Ping>;
const clusterKey = randomBytes(32);
const open: Transport<unknown>[] = [];

after(async () => {
  for (const transport of open) await transport.close();
});

interface Node<M> {
  readonly transport: Transport<M>;
  readonly received: { from: NodeId; message: M }[];
  readonly lines: string[];
  readonly address: PeerAddress;
}

async function startNode<M = Ping>(
  options: {
    signer?: Signer;
    key?: ClusterKeys;
    frameProtection?: FrameProtection;
    codec?: MessageCodec<M>;
    frameBytesMax?: number;
    port?: number;
    backoffMs?: number;
    dialOnDemand?: boolean;
  } = {},
): Promise<Node<M>> {
  const received: { from: NodeId; message: M }[] = [];
  const lines: string[] = [];
  const logger: Logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  const transport = new Transport<M>({
    signer: options.signer ?? signerFromSeed(randomBytes(32)),
    clusterKey: options.key ?? clusterKey,
    codec: options.codec ?? (jsonCodec(Ping) as unknown as MessageCodec<M>),
    onMessage: (from, message) => received.push({ from, message }),
    logger,
    backoffMinMs: options.backoffMs ?? 5,
    backoffMaxMs: options.backoffMs ?? 50,
    ...(options.frameBytesMax === undefined ? {} : { frameBytesMax: options.frameBytesMax }),
    ...(options.frameProtection === undefined ? {} : { frameProtection: options.frameProtection }),
    ...(options.dialOnDemand === undefined ? {} : { dialOnDemand: options.dialOnDemand }),
  });
  open.push(transport as Transport<unknown>);
  const address = await transport.listen({ host: "127.0.0.1", port: options.port ?? 0 });
  return { transport, received, lines, address };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function logged(node: Node<unknown>, text: string): boolean {
  return node.lines.some((line) => line.includes(text));
}

const rawBytes: MessageCodec<Uint8Array> = {
  encode: (bytes) => bytes,
  decode: (bytes) => ok(new Uint8Array(bytes)),
};

describe("transport", () => {
  test("authenticated peers exchange messages both ways, replies go over the inbound link", async () => {
    const a = await startNode();
    const b = await startNode();
    a.transport.setPeer(b.transport.nodeId, b.address);
    assert.equal(a.transport.send(b.transport.nodeId, { type: "ping", n: 1 }), true, "queued while dialing");
    await waitFor("b receives", () => b.received.length === 1);
    assert.deepEqual(b.received[0], { from: a.transport.nodeId, message: { type: "ping", n: 1 } });
    // b has no address for a: its reply rides the connection a opened.
    assert.equal(b.transport.send(a.transport.nodeId, { type: "ping", n: 2 }), true, "reply routed");
    await waitFor("a receives", () => a.received.length === 1);
    assert.equal(a.received[0]?.from, b.transport.nodeId);
  });

  test("with dialOnDemand a known address is dialed only when something must be sent", async () => {
    const a = await startNode({ dialOnDemand: true });
    const b = await startNode();
    a.transport.setPeer(b.transport.nodeId, b.address);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(b.transport.isConnected(a.transport.nodeId), false, "an address alone opens nothing");
    assert.equal(a.transport.isConnected(b.transport.nodeId), false);
    assert.equal(a.transport.send(b.transport.nodeId, { type: "ping", n: 1 }), true, "queued, dialing");
    await waitFor("b receives", () => b.received.length === 1);
    assert.equal(a.transport.isConnected(b.transport.nodeId), true, "the first send opened the link");
  });

  test("a peer with the wrong cluster key is refused", async () => {
    const b = await startNode();
    const intruder = await startNode({ key: randomBytes(32) });
    intruder.transport.setPeer(b.transport.nodeId, b.address);
    intruder.transport.send(b.transport.nodeId, { type: "ping", n: 1 });
    await waitFor(
      "refusal logged",
      () =>
        logged(b as Node<unknown>, "authentication failed: cluster-key") ||
        logged(intruder as Node<unknown>, "authentication failed: cluster-key"),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(b.received.length, 0, "nothing delivered");
    assert.equal(intruder.transport.isConnected(b.transport.nodeId), false, "never connected");
  });

  test("a peer claiming a NodeId it has no key for is refused", async () => {
    const b = await startNode();
    const victim = signerFromSeed(randomBytes(32));
    const impostorKey = signerFromSeed(randomBytes(32));
    const liar: Signer = { nodeId: victim.nodeId, sign: (message) => impostorKey.sign(message) };
    const impostor = await startNode({ signer: liar });
    impostor.transport.setPeer(b.transport.nodeId, b.address);
    impostor.transport.send(b.transport.nodeId, { type: "ping", n: 1 });
    await waitFor("refusal logged", () => logged(b as Node<unknown>, "authentication failed: signature"));
    assert.equal(b.received.length, 0, "nothing delivered");
    assert.equal(b.transport.isConnected(victim.nodeId), false, "the claimed id is not connected");
  });

  test("a dialer refuses a listener that is not the peer it called", async () => {
    const a = await startNode();
    const other = await startNode();
    const expected = signerFromSeed(randomBytes(32)).nodeId;
    a.transport.setPeer(expected, other.address);
    a.transport.send(expected, { type: "ping", n: 1 });
    await waitFor("refusal logged", () => logged(a as Node<unknown>, "unexpected peer identity"));
    assert.equal(other.received.length, 0, "nothing delivered");
  });

  test("undecodable frames are dropped and logged; the link keeps working", async () => {
    const b = await startNode();
    const sender = await startNode<Uint8Array>({ codec: rawBytes });
    sender.transport.setPeer(b.transport.nodeId, b.address);
    sender.transport.send(b.transport.nodeId, Buffer.from("{not json"));
    sender.transport.send(b.transport.nodeId, Buffer.from(JSON.stringify({ type: "ping", n: -1 })));
    sender.transport.send(b.transport.nodeId, Buffer.from(JSON.stringify({ type: "ping", n: 7 })));
    await waitFor("valid message delivered", () => b.received.length === 1);
    assert.deepEqual(b.received[0]?.message, { type: "ping", n: 7 });
    assert.equal(b.lines.filter((line) => line.includes("undecodable frame dropped")).length, 2);
    assert.equal(sender.transport.isConnected(b.transport.nodeId), true, "still connected");
  });

  test("an oversized frame closes the connection; an oversized send is refused locally", async () => {
    const b = await startNode({ frameBytesMax: 1024 });
    const sender = await startNode<Uint8Array>({ codec: rawBytes });
    sender.transport.setPeer(b.transport.nodeId, b.address);
    sender.transport.send(b.transport.nodeId, Buffer.from(JSON.stringify({ type: "ping", n: 1 })));
    await waitFor("first delivered", () => b.received.length === 1);
    sender.transport.send(b.transport.nodeId, Buffer.alloc(4096, 0x20));
    await waitFor("oversized close logged", () => logged(b as Node<unknown>, "oversized frame"));
    const small = await startNode<Uint8Array>({ codec: rawBytes, frameBytesMax: 1024 });
    small.transport.setPeer(b.transport.nodeId, b.address);
    assert.equal(
      small.transport.send(b.transport.nodeId, Buffer.alloc(4096)),
      false,
      "refused before sending",
    );
  });

  test("raw garbage and a huge length before the handshake close the socket", async () => {
    const b = await startNode();
    for (const bytes of [
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
    ]) {
      const socket = createConnection({ host: "127.0.0.1", port: b.address.port });
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      socket.on("error", () => undefined);
      socket.write(bytes);
      await closed;
    }
    assert.equal(b.received.length, 0, "nothing delivered");
    assert.ok(logged(b as Node<unknown>, "connection refused"), "refusals logged");
  });

  /** a dials b, b stops and starts again on the same address with the same identity. */
  async function peerRestarted(a: Node<Ping>): Promise<{ bSigner: Signer; b2: Node<Ping> }> {
    const bSigner = signerFromSeed(randomBytes(32));
    const b1 = await startNode({ signer: bSigner });
    a.transport.setPeer(bSigner.nodeId, b1.address);
    a.transport.send(bSigner.nodeId, { type: "ping", n: 1 });
    await waitFor("first delivered", () => b1.received.length === 1);
    await b1.transport.close();
    await waitFor("a sees the link down", () => !a.transport.isConnected(bSigner.nodeId));
    return { bSigner, b2: await startNode({ signer: bSigner, port: b1.address.port }) };
  }

  test("a link reconnects after the peer restarts on the same address", async () => {
    const a = await startNode();
    const { bSigner, b2 } = await peerRestarted(a);
    await waitFor("a reconnects", () => a.transport.isConnected(bSigner.nodeId));
    a.transport.send(bSigner.nodeId, { type: "ping", n: 2 });
    await waitFor("delivered after restart", () => b2.received.length === 1);
    assert.deepEqual(b2.received[0]?.message, { type: "ping", n: 2 });
  });

  test("a restarted peer that dials first is answered at once, not after our redial's backoff", async () => {
    // a's link to b waits ten minutes between dials once b is gone: only the connection the
    // restarted b opens can carry a's answer in time (a content fetch from a restarted node).
    const a = await startNode({ backoffMs: 600_000 });
    const { bSigner, b2 } = await peerRestarted(a);
    b2.transport.setPeer(a.transport.nodeId, a.address);
    b2.transport.send(a.transport.nodeId, { type: "ping", n: 10 });
    await waitFor("a hears the restarted b", () => a.received.some((got) => got.message.n === 10));
    assert.equal(a.transport.send(bSigner.nodeId, { type: "ping", n: 11 }), true);
    await waitFor(
      "the restarted b hears back",
      () => b2.received.some((got) => got.message.n === 11),
      10_000,
    );
  });

  test("a data frame altered on the wire closes the connection; the link recovers", async () => {
    const b = await startNode();
    // A TCP proxy that flips one byte of the first data frame a sends after the handshake.
    // The dialer's hello (101 bytes) and auth (97), each behind its 4-byte length.
    const handshakeBytes = 4 + 101 + 4 + 97;
    let tamper = true;
    const sockets: Socket[] = [];
    const proxy = createServer((inbound) => {
      const outbound = createConnection({ host: "127.0.0.1", port: b.address.port });
      sockets.push(inbound, outbound);
      let forwarded = 0;
      inbound.on("data", (chunk: Buffer) => {
        forwarded += chunk.length;
        if (tamper && forwarded > handshakeBytes) {
          tamper = false;
          chunk[chunk.length - 1]! ^= 0x01;
        }
        outbound.write(chunk);
      });
      outbound.on("data", (chunk: Buffer) => inbound.write(chunk));
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", () => resolve()));
    const proxyAddress = proxy.address();
    assert.ok(proxyAddress !== null && typeof proxyAddress === "object", "proxy listens");
    const a = await startNode();
    a.transport.setPeer(b.transport.nodeId, { host: "127.0.0.1", port: proxyAddress.port });
    await waitFor("a connects through the proxy", () => a.transport.isConnected(b.transport.nodeId));
    a.transport.send(b.transport.nodeId, { type: "ping", n: 1 });
    await waitFor("tampered frame refused", () => logged(b as Node<unknown>, "frame failed to open"));
    assert.equal(b.received.length, 0, "the altered frame is not delivered");
    assert.equal(b.transport.refusals()["frame-open-failed"], 1, "the refusal is counted");
    // Frames written while the refused connection was closing are lost, like packets:
    // resend until one arrives over the redialed link.
    const resend = setInterval(() => a.transport.send(b.transport.nodeId, { type: "ping", n: 2 }), 50);
    try {
      await waitFor("delivered after reconnecting", () => b.received.length > 0);
    } finally {
      clearInterval(resend);
    }
    assert.deepEqual(b.received[0]?.message, { type: "ping", n: 2 });
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  test("frames are encrypted on the wire (and only authenticated with mac frames)", async () => {
    // A proxy records what a sends; the message carries a marker that must not appear in the
    // clear. With `mac` frames (the pre-encryption format) it does, so the check can fail.
    const marker = "cleartext-marker-5f1c";
    const codec: MessageCodec<Uint8Array> = rawBytes;
    for (const frameProtection of ["aead", "mac"] as const) {
      const b = await startNode<Uint8Array>({ codec, frameProtection });
      const recorded: Buffer[] = [];
      const proxy = createServer((inbound) => {
        const outbound = createConnection({ host: "127.0.0.1", port: b.address.port });
        inbound.on("data", (chunk: Buffer) => {
          recorded.push(Buffer.from(chunk));
          outbound.write(chunk);
        });
        outbound.on("data", (chunk: Buffer) => inbound.write(chunk));
        for (const socket of [inbound, outbound]) socket.on("error", () => undefined);
        inbound.on("close", () => outbound.destroy());
        outbound.on("close", () => inbound.destroy());
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", () => resolve()));
      const port = (proxy.address() as { port: number }).port;
      const a = await startNode<Uint8Array>({ codec, frameProtection });
      a.transport.setPeer(b.transport.nodeId, { host: "127.0.0.1", port });
      a.transport.send(b.transport.nodeId, Buffer.from(`${marker} ${marker}`));
      await waitFor("delivered", () => b.received.length === 1);
      assert.equal(Buffer.from(b.received[0]!.message).toString(), `${marker} ${marker}`);
      const wire = Buffer.concat(recorded);
      assert.equal(
        wire.includes(marker),
        frameProtection === "mac",
        `marker in the clear with ${frameProtection}`,
      );
      await a.transport.close();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  test("cluster key rotation: both keys accepted meanwhile, a retired key refused by its id", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const oldId = KeySet.create([oldKey]).primary.id;
    const bKeys = KeySet.create([oldKey]);
    const b = await startNode({ key: bKeys });
    const aKeys = KeySet.create([oldKey]);
    const a = await startNode({ key: aKeys });
    a.transport.setPeer(b.transport.nodeId, b.address);
    a.transport.send(b.transport.nodeId, { type: "ping", n: 1 });
    await waitFor("delivered under the old key", () => b.received.length === 1);
    // Install everywhere, then promote on a only: a proves itself with the new key, b still
    // with the old one; each accepts the other's.
    assert.deepEqual(bKeys.install(newKey), { ok: true, changed: true });
    assert.deepEqual(aKeys.install(newKey), { ok: true, changed: true });
    assert.ok(aKeys.promote(KeySet.create([newKey]).primary.id).ok);
    const c = await startNode({ key: KeySet.create([newKey]) });
    c.transport.setPeer(b.transport.nodeId, b.address);
    c.transport.send(b.transport.nodeId, { type: "ping", n: 2 });
    await waitFor("a new-key-only peer is accepted during the rotation", () => b.received.length === 2);
    assert.ok(bKeys.promote(KeySet.create([newKey]).primary.id).ok);
    // Retiring the old key closes the session it authenticated (a's link, opened under it);
    // a redials under the new key.
    assert.ok(aKeys.retire(oldId).ok);
    assert.ok(bKeys.retire(oldId).ok);
    await waitFor("a redials and is connected", () => a.transport.isConnected(b.transport.nodeId));
    a.transport.send(b.transport.nodeId, { type: "ping", n: 3 });
    await waitFor("delivered after the retirement", () => b.received.some((r) => r.message.n === 3));
    // A node holding only the retired key is refused, and the refusal names the key id.
    const stale = await startNode({ key: oldKey });
    stale.transport.setPeer(b.transport.nodeId, b.address);
    stale.transport.send(b.transport.nodeId, { type: "ping", n: 4 });
    await waitFor("refused by name", () =>
      logged(
        b as Node<unknown>,
        `authentication failed: retired-cluster-key (the peer's cluster key ${oldId} is retired here)`,
      ),
    );
    assert.ok((b.transport.refusals()["retired-cluster-key"] ?? 0) >= 1, "counted");
    assert.equal(stale.transport.isConnected(b.transport.nodeId), false);
    assert.ok(!b.received.some((r) => r.message.n === 4), "nothing from the stale node delivered");
    assert.ok(
      !b.lines.some((line) => line.includes(oldKey.toString("hex"))),
      "the key itself is never logged",
    );
  });
});
