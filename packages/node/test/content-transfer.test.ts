// Goal: blobs move between stores over the content protocol exactly and verified: over an
// in-memory link and over TCP on loopback, from several providers at once, past a provider
// that serves corrupted bytes (banned, the fetch completes from the others, no bad byte lands
// on disk). Method: real stores in temp dirs, ContentService providers, fetchBlob fetchers.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { chunkGroupBytes, type FetchEvent } from "@revoada/fabric-core/content";
import { signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { fetchBlob } from "../src/content/blob-fetcher.js";
import { BlobStore } from "../src/content/blob-store.js";
import { ContentService } from "../src/content/content-service.js";
import {
  connectFrameLink,
  type FrameLink,
  listenFrameLinks,
  memoryLinkPair,
} from "../src/content/frame-link.js";
import { TransportContentLinks } from "../src/content/transport-links.js";

const scratch = mkdtempSync(join(tmpdir(), "revoada-transfer-"));
const closers: (() => void)[] = [];
after(() => {
  for (const close of closers) close();
});

function blobBytes(size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  let state = seed;
  for (let i = 0; i < size; i += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return data;
}

async function provider(
  name: string,
  data: Uint8Array,
): Promise<{ store: BlobStore; service: ContentService; port: number }> {
  const store = await BlobStore.open(join(scratch, name));
  await store.put(data);
  const service = new ContentService(store);
  const listening = await listenFrameLinks("127.0.0.1", 0, (link) => service.serve(link));
  closers.push(() => listening.server.close());
  return { store, service, port: listening.port };
}

describe("content transfer", () => {
  it("moves a blob over an in-memory link", async () => {
    const data = blobBytes(9 * chunkGroupBytes + 11, 1);
    const source = await BlobStore.open(join(scratch, "mem-source"));
    const stored = await source.put(data);
    const target = await BlobStore.open(join(scratch, "mem-target"));
    const [serverSide, clientSide] = memoryLinkPair();
    new ContentService(source).serve(serverSide);
    const fetched = await fetchBlob({
      store: target,
      hash: stored.hash,
      providers: new Map([["source", { link: clientSide, complete: null }]]),
    });
    assert.deepEqual(fetched, stored);
    assert.deepEqual(new Uint8Array((await target.read(stored.hash))!), data);
    assert.equal(await target.verify(stored.hash), "ok");
  });

  for (const size of [0, 5, chunkGroupBytes]) {
    it(`moves a ${size}-byte blob over TCP`, async () => {
      const data = blobBytes(size, 2 + size);
      const seed = await provider(`tiny-seed-${size}`, data);
      const hash = (await seed.store.list())[0]!.hash;
      const target = await BlobStore.open(join(scratch, `tiny-target-${size}`));
      const link = await connectFrameLink("127.0.0.1", seed.port);
      closers.push(() => link.close());
      const fetched = await fetchBlob({
        store: target,
        hash,
        providers: new Map([["seed", { link, complete: null }]]),
      });
      assert.equal(fetched.size, size);
      assert.deepEqual(new Uint8Array((await target.read(hash))!), data);
    });
  }

  it("fetches from several providers over TCP at once", async () => {
    const data = blobBytes(4 * 1024 * 1024 + 333, 3);
    const seeds = await Promise.all(["a", "b", "c"].map((name) => provider(`multi-${name}`, data)));
    const hash = (await seeds[0]!.store.list())[0]!.hash;
    const target = await BlobStore.open(join(scratch, "multi-target"));
    const providers = new Map<string, { link: FrameLink; complete: boolean | null }>();
    for (const [i, seed] of seeds.entries()) {
      const link = await connectFrameLink("127.0.0.1", seed.port);
      closers.push(() => link.close());
      providers.set(`seed-${i}`, { link, complete: true });
    }
    await fetchBlob({
      store: target,
      hash,
      providers,
      config: { groupsPerRequest: 16, requestsInflightPerProvider: 2 },
    });
    assert.equal(await target.verify(hash), "ok");
    for (const seed of seeds)
      assert.ok(seed.service.counters.uploadedBytes > 0, "every provider served some of it");
    const total = seeds.reduce((sum, seed) => sum + seed.service.counters.uploadedBytes, 0);
    assert.equal(total, data.length, "no group was downloaded twice");
  });

  it("bans a provider serving corrupted bytes and completes from the honest one", async () => {
    const data = blobBytes(3 * 1024 * 1024, 4);
    const liar = await provider("liar", data);
    const honest = await provider("honest", data);
    const hash = (await liar.store.list())[0]!.hash;
    // The liar's disk rots: one byte in every chunk group flips, so whichever spans the
    // fetcher's random order hands it, what it serves is corrupt. Its outboard is still true.
    const path = liar.store.blobPath(hash);
    const bytes = readFileSync(path);
    for (let at = 1000; at < bytes.length; at += chunkGroupBytes) bytes[at] = bytes[at]! ^ 0x40;
    writeFileSync(path, bytes);
    const target = await BlobStore.open(join(scratch, "liar-target"));
    const events: FetchEvent[] = [];
    const providers = new Map<string, { link: FrameLink; complete: boolean | null }>();
    for (const [id, port] of [
      ["liar", liar.port],
      ["honest", honest.port],
    ] as const) {
      const link = await connectFrameLink("127.0.0.1", port);
      closers.push(() => link.close());
      providers.set(id, { link, complete: true });
    }
    await fetchBlob({
      store: target,
      hash,
      providers,
      onProgress: (_, batch) => events.push(...batch),
      config: { groupsPerRequest: 16 },
    });
    assert.deepEqual(new Uint8Array((await target.read(hash))!), data);
    const bans = events.filter((e) => e.type === "provider-banned");
    assert.deepEqual(
      bans.map((e) => e.type === "provider-banned" && e.provider),
      ["liar"],
    );
  });

  it("fails with a clear error when the only provider does not hold the blob", async () => {
    const seed = await provider("empty-handed", new Uint8Array([1, 2, 3]));
    const target = await BlobStore.open(join(scratch, "nothing-target"));
    const link = await connectFrameLink("127.0.0.1", seed.port);
    closers.push(() => link.close());
    await assert.rejects(
      fetchBlob({
        store: target,
        hash: "0".repeat(64) as never,
        providers: new Map([["seed", { link, complete: null }]]),
      }),
      /no provider left/,
    );
  });

  it("moves a blob over the authenticated transport, and not to a node without the cluster key", async () => {
    const clusterKey = randomBytes(32);
    const data = blobBytes(2 * 1024 * 1024 + 99, 5);
    const seedStore = await BlobStore.open(join(scratch, "auth-seed"));
    const stored = await seedStore.put(data);
    const service = new ContentService(seedStore);
    const seedLinks = new TransportContentLinks({
      signer: signerFromSeed(randomBytes(32)),
      clusterKey,
      onNewPeer: (link) => service.serve(link),
    });
    const address = await seedLinks.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => void seedLinks.close());

    const fetcherLinks = new TransportContentLinks({
      signer: signerFromSeed(randomBytes(32)),
      clusterKey,
      onNewPeer: () => {},
    });
    closers.push(() => void fetcherLinks.close());
    const target = await BlobStore.open(join(scratch, "auth-target"));
    const link = fetcherLinks.linkTo(seedLinks.nodeId, address);
    await fetchBlob({
      store: target,
      hash: stored.hash,
      providers: new Map([[seedLinks.nodeId, { link, complete: null }]]),
    });
    assert.deepEqual(new Uint8Array((await target.read(stored.hash))!), data);

    const outsiderLinks = new TransportContentLinks({
      signer: signerFromSeed(randomBytes(32)),
      clusterKey: randomBytes(32),
      onNewPeer: () => {},
    });
    closers.push(() => void outsiderLinks.close());
    const outsiderStore = await BlobStore.open(join(scratch, "auth-outsider"));
    const outsiderLink = outsiderLinks.linkTo(seedLinks.nodeId, address);
    await assert.rejects(
      fetchBlob({
        store: outsiderStore,
        hash: stored.hash,
        providers: new Map([[seedLinks.nodeId, { link: outsiderLink, complete: null }]]),
        config: { requestTimeoutMs: 200 },
        tickMs: 50,
      }),
      /no provider left/,
    );
    assert.equal(await outsiderStore.has(stored.hash), false);
    assert.equal(service.counters.requests > 0, true);
  });

  it("a node that fetched from a peer also serves that peer: both ways over one link pair", async () => {
    // Two daemons' content layers: each serves every link. a fetches from b first (so a's link
    // to b was made by a's dial); then b fetches from a, which must answer on that link.
    const clusterKey = randomBytes(32);
    const node = async (name: string) => {
      const store = await BlobStore.open(join(scratch, `both-${name}`));
      const service = new ContentService(store);
      const links = new TransportContentLinks({
        signer: signerFromSeed(randomBytes(32)),
        clusterKey,
        onNewPeer: (link) => service.serve(link),
      });
      const address = await links.listen({ host: "127.0.0.1", port: 0 });
      closers.push(() => void links.close());
      return { store, links, address };
    };
    const a = await node("a");
    const b = await node("b");
    const fromB = await b.store.put(blobBytes(300_000, 7));
    const fromA = await a.store.put(blobBytes(200_000, 8));
    await fetchBlob({
      store: a.store,
      hash: fromB.hash,
      providers: new Map([
        [b.links.nodeId, { link: a.links.linkTo(b.links.nodeId, b.address), complete: true }],
      ]),
    });
    await fetchBlob({
      store: b.store,
      hash: fromA.hash,
      providers: new Map([
        [a.links.nodeId, { link: b.links.linkTo(a.links.nodeId, a.address), complete: true }],
      ]),
      config: { requestTimeoutMs: 2_000 },
    });
    assert.equal(await b.store.verify(fromA.hash), "ok");
  });
});
