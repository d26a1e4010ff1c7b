// Goal: the background round fetches the blobs the fabric state references and does not hold,
// once each, and collects unreferenced ones past the retention. Method: two stores joined by
// in-memory links, a fabric state naming one blob, a clock the test moves.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type Blake3Hash,
  emptyFabricState,
  type FabricState,
  Workload,
} from "@revoada/fabric-core/vocabulary";
import { BlobStore } from "./blob-store.js";
import { ContentService } from "./content-service.js";
import { ContentSync } from "./content-sync.js";
import { type FrameLink, memoryLinkPair } from "./frame-link.js";

function stateReferencing(hash: Blake3Hash): FabricState {
  const workload = Workload.parse({
    name: "web",
    namespace: "default",
    image: "web:1",
    command: [],
    args: [],
    env: {},
    ports: [],
    replicas: 1,
    resources: { cpu_millis: 1, memory_bytes: 1 },
    config_blobs: [{ name: "config", hash, mount_path: "/etc/web" }],
    placement: { zones: [], labels: {}, tolerate_control_plane: false },
  });
  return { ...emptyFabricState(), workloads: { "default/web": workload } };
}

describe("ContentSync", () => {
  it("fetches referenced blobs it lacks and collects unreferenced ones after the retention", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "revoada-sync-"));
    const seed = await BlobStore.open(join(scratch, "seed"));
    const config = await seed.put(new Uint8Array(100_000).fill(3));
    const node = await BlobStore.open(join(scratch, "node"));
    const stale = await node.put(new Uint8Array([9, 9, 9]));
    const seedService = new ContentService(seed);
    let now = 1_000;
    let providerCalls = 0;
    const sync = new ContentSync({
      store: node,
      service: new ContentService(node),
      cadence: () => ({ syncCadenceMs: 200, gcRetentionMs: 60_000 }),
      fabricState: () => stateReferencing(config.hash),
      providersOf: () => {
        providerCalls += 1;
        const [serverSide, clientSide] = memoryLinkPair();
        seedService.serve(serverSide);
        return new Map([["seed", { link: clientSide, complete: true }]]);
      },
      nowMs: () => now,
    });
    const first = await sync.round();
    assert.deepEqual(first.started, [config.hash]);
    assert.deepEqual(first.collected, []);
    const second = await sync.round();
    assert.deepEqual(second.started, [], "no second fetch of a blob being fetched");
    for (let attempt = 0; attempt < 400 && !(await node.has(config.hash)); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(await node.has(config.hash));
    assert.equal(await node.verify(config.hash), "ok");
    now += 60_000;
    const third = await sync.round();
    assert.deepEqual(third.started, []);
    assert.deepEqual(third.collected, [stale.hash]);
    assert.ok(await node.has(config.hash), "the referenced blob is pinned");
    assert.equal(providerCalls, 1);
  });

  it("a fetch asked for during the round's fetch of the same blob joins it, and lets go of the link", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "revoada-sync-"));
    const seed = await BlobStore.open(join(scratch, "seed"));
    const config = await seed.put(new Uint8Array(300_000).fill(5));
    const node = await BlobStore.open(join(scratch, "node"));
    const seedService = new ContentService(seed);
    // One shared link to the provider, as the node transport keeps one per peer; it counts
    // the listeners fetches add and remove.
    const [serverSide, clientSide] = memoryLinkPair();
    seedService.serve(serverSide);
    let listening = 0;
    const shared: FrameLink = {
      remote: clientSide.remote,
      send: (parts) => clientSide.send(parts),
      onFrame: (listener) => {
        listening += 1;
        const release = clientSide.onFrame(listener);
        return () => {
          listening -= 1;
          release();
        };
      },
      onClose: (listener) => clientSide.onClose(listener),
      close: () => clientSide.close(),
      queuedBytes: () => clientSide.queuedBytes(),
    };
    const providers = new Map([["seed", { link: shared, complete: true }]]);
    const sync = new ContentSync({
      store: node,
      service: new ContentService(node),
      cadence: () => ({ syncCadenceMs: 200, gcRetentionMs: 60_000 }),
      fabricState: () => stateReferencing(config.hash),
      providersOf: () => providers,
    });
    const round = await sync.round();
    assert.deepEqual(round.started, [config.hash]);
    const asked = sync.fetch(config.hash, providers);
    assert.equal(sync.fetch(config.hash, providers), asked, "one fetch per blob");
    assert.equal(listening, 1, "only the round's fetch listens on the link");
    const stored = await asked;
    assert.equal(stored.hash, config.hash);
    assert.equal(await node.verify(config.hash), "ok");
    assert.equal(listening, 0, "the finished fetch removed its listener");
    assert.deepEqual(sync.fetching(), []);
  });
});
