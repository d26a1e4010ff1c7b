// Goal: a witness's state survives restarts, and a save torn by a crash leaves the previous
// state readable. Method: save, reopen, then damage the slot written last by hand.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { WitnessStore, witnessStateFileName } from "./witness-store.js";

const root = mkdtempSync(join(tmpdir(), "revoada-witness-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
const origin = "revoada.example/witness";
const stateOf = (size: number) => ({ origin, size, root: Buffer.alloc(32, size % 256).toString("base64") });

describe("witness store", () => {
  test("starts empty, keeps the last saved state across reopen", () => {
    const directory = join(root, "a");
    const first = WitnessStore.open(directory);
    assert.equal(first.state, null);
    for (const size of [1, 64, 128]) first.save(stateOf(size));
    first.close();
    const reopened = WitnessStore.open(directory);
    assert.deepEqual(reopened.state, stateOf(128));
    reopened.save(stateOf(192));
    reopened.close();
    assert.deepEqual(WitnessStore.open(directory).state, stateOf(192));
  });

  test("a torn save falls back to the previous state", () => {
    const directory = join(root, "b");
    const store = WitnessStore.open(directory);
    store.save(stateOf(10));
    store.save(stateOf(20));
    store.close();
    const path = join(directory, witnessStateFileName);
    const bytes = readFileSync(path);
    // Save 2 went to slot 0 (counter 2): tear it in the middle of its payload.
    bytes.fill(0, 40, 512);
    writeFileSync(path, bytes);
    assert.deepEqual(WitnessStore.open(directory).state, stateOf(10));
  });
});
