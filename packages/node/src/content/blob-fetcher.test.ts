// Goal: a jump of the wall clock during a blob download does not break it. The fetch core
// refuses a clock that runs backwards (an assertion), so the driver must feed it monotonic
// time: fed `Date.now()`, a clock set back by ten minutes mid-download threw inside the
// driver's timer and took the whole node down.
// Method: a real store and content service over an in-memory link; the provider's answers are
// held back while `Date.now` is moved ten minutes back (and later ahead) and the fetch's timer
// ticks many times, then released: the blob arrives whole and verified.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { chunkGroupBytes } from "@revoada/fabric-core/content";
import { fetchBlob } from "./blob-fetcher.js";
import { BlobStore } from "./blob-store.js";
import { ContentService } from "./content-service.js";
import { addListener, type FrameLink, memoryLinkPair } from "./frame-link.js";

let scratch = "";
after(() => rm(scratch, { recursive: true, force: true }));

/** A link whose incoming frames wait until `release()`. */
function heldLink(link: FrameLink): { link: FrameLink; release: () => void } {
  const listeners: ((frame: Uint8Array) => void)[] = [];
  let held: Uint8Array[] | null = [];
  link.onFrame((frame) => {
    if (held !== null) held.push(frame);
    else for (const listener of listeners) listener(frame);
  });
  return {
    link: {
      remote: link.remote,
      send: (parts) => link.send(parts),
      onFrame: (listener) => addListener(listeners, listener),
      onClose: (listener) => link.onClose(listener),
      close: () => link.close(),
      queuedBytes: () => link.queuedBytes(),
    },
    release: () => {
      const frames = held ?? [];
      held = null;
      for (const frame of frames) for (const listener of listeners) listener(frame);
    },
  };
}

test("a blob download survives the wall clock jumping back and ahead by ten minutes", async (t) => {
  scratch = await mkdtemp(join(tmpdir(), "revoada-fetch-clock-"));
  const data = new Uint8Array(5 * chunkGroupBytes + 17).map((_, i) => (i * 31) & 0xff);
  const source = await BlobStore.open(join(scratch, "source"));
  const stored = await source.put(data);
  const target = await BlobStore.open(join(scratch, "target"));
  const [serverSide, clientSide] = memoryLinkPair();
  new ContentService(source).serve(serverSide);
  const held = heldLink(clientSide);
  const realNow = Date.now.bind(Date);
  let offsetMs = 0;
  t.mock.method(Date, "now", () => realNow() + offsetMs);

  const fetched = fetchBlob({
    store: target,
    hash: stored.hash,
    providers: new Map([["source", { link: held.link, complete: null }]]),
    tickMs: 5,
  });
  const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
  await sleep(50);
  offsetMs = -600_000;
  await sleep(100);
  offsetMs = 600_000;
  await sleep(100);
  held.release();
  assert.deepEqual(await fetched, stored);
  assert.deepEqual(new Uint8Array((await target.read(stored.hash))!), data);
  assert.equal(await target.verify(stored.hash), "ok");
});
