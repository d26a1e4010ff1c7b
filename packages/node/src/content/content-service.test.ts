// Goal: a content service closes every file it opens itself, even when it is dropped without
// close(): no FileHandle is ever left to the garbage collector (Node warns "Closing file
// descriptor N on garbage collection", and will throw in a future release).
// Method: serve a stored blob over an in-memory link from a service with a short idle time,
// drop the service and the links without close(), let the idle time pass, force a garbage
// collection, and fail on any FileHandle warning the process emits meanwhile.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { chunkGroupBytes } from "@revoada/fabric-core/content";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import { fetchBlob } from "./blob-fetcher.js";
import { BlobStore } from "./blob-store.js";
import { ContentService } from "./content-service.js";
import { memoryLinkPair } from "./frame-link.js";

let scratch = "";
after(async () => {
  if (scratch !== "") await rm(scratch, { recursive: true, force: true });
});

function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
}

test("a dropped content service leaves no FileHandle to the garbage collector", async () => {
  await loadBlake3();
  scratch = await mkdtemp(join(tmpdir(), "revoada-handles-"));
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  process.on("warning", onWarning);
  try {
    const idleCloseMs = 50;
    const served = async () => {
      const source = await BlobStore.open(join(scratch, "source"));
      const target = await BlobStore.open(join(scratch, "target"));
      const stored = await source.put(new Uint8Array(3 * chunkGroupBytes + 7).fill(7));
      const [serverSide, clientSide] = memoryLinkPair();
      new ContentService(source, { idleCloseMs }).serve(serverSide);
      const fetched = await fetchBlob({
        store: target,
        hash: stored.hash,
        providers: new Map([["source", { link: clientSide, complete: null }]]),
      });
      assert.deepEqual(fetched, stored, "the blob moved");
    };
    await served();
    await new Promise((resolve) => setTimeout(resolve, idleCloseMs * 4));
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 100));
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off("warning", onWarning);
  }
  const leaks = warnings.filter((message) => /garbage collection/i.test(message));
  assert.deepEqual(leaks, [], "no file descriptor was closed by the garbage collector");
});
