// Goal: the sans-IO fetch downloads a blob exactly, from several providers, verifying every
// group before it is handed out for writing; it bans a lying provider and finishes from the
// others; it resumes from a bitfield without re-asking for durable groups; it fetches ranges.
// Method: in-memory providers answering through planContentResponse (the real provider logic),
// some of them lying or silent, driven by a loop that plays the node driver.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { SeededRandom } from "../sim/index.js";
import type { Blake3Hash } from "../vocabulary/index.js";
import { type BlobHasher, chunkGroupBytes, loadBlobHasher } from "./blake3-tree.js";
import {
  BlobFetch,
  type BlobFetchConfig,
  defaultFetchConfig,
  type FetchEvent,
  type FetchResume,
} from "./blob-fetch.js";
import { type Holding, planContentResponse } from "./blob-serve.js";
import { type BlobTree, buildBlobTree } from "./blob-tree.js";
import { GroupBitfield } from "./group-bitfield.js";
import { type ContentFrame, decodeContentFrame, encodeContentFrame } from "./messages.js";

let hasher: BlobHasher;
before(async () => {
  hasher = await loadBlobHasher();
});

function generated(size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  const random = new SeededRandom(seed);
  for (let i = 0; i < size; i += 4) {
    const word = random.nextUint32();
    for (let b = 0; b < 4 && i + b < size; b += 1) data[i + b] = (word >>> (8 * b)) & 0xff;
  }
  return data;
}

interface FakeProvider {
  readonly holding: Holding;
  readonly data: Uint8Array;
  /** Rewrites a response before it is sent (a lying provider). */
  readonly tamper?: (frame: ContentFrame) => ContentFrame;
  /** Never answers. */
  readonly silent?: boolean;
  served: number;
}

function provider(tree: BlobTree, data: Uint8Array, extra: Partial<FakeProvider> = {}): FakeProvider {
  return {
    holding: { hash: tree.hash, size: tree.size, outboard: tree.outboard, durable: null },
    data,
    served: 0,
    ...extra,
  };
}

interface Run {
  readonly target: Uint8Array;
  readonly events: FetchEvent[];
  readonly requestedGroups: number[];
  readonly writtenGroups: number[];
}

/** Plays the node driver: persist writes, send requests, deliver answers, tick the clock. */
function drive(
  fetch: BlobFetch,
  providers: ReadonlyMap<string, FakeProvider>,
  size: number,
  options: { stopAfterWrites?: number } = {},
): Run {
  const run: Run = { target: new Uint8Array(size), events: [], requestedGroups: [], writtenGroups: [] };
  let now = 0;
  for (let round = 0; round < 100_000; round += 1) {
    if (!fetch.hasReady()) {
      if (fetch.status().done) return run;
      now += 1000;
      fetch.tick(now);
      if (!fetch.hasReady()) return run;
    }
    const ready = fetch.ready();
    for (const write of ready.writes) {
      run.target.set(write.data, write.offset);
      run.writtenGroups.push(write.index);
    }
    run.events.push(...ready.events);
    const answers: [string, ContentFrame][] = [];
    for (const request of ready.requests) {
      const fake = providers.get(request.provider)!;
      if (request.message.type === "range-request") {
        for (let g = 0; g < request.message.group_count; g += 1)
          run.requestedGroups.push(request.message.first_group + g);
      }
      if (fake.silent === true) continue;
      const plan = planContentResponse(request.message, fake.holding);
      const payload =
        plan.read === null
          ? plan.payload
          : fake.data.slice(plan.read.offset, plan.read.offset + plan.read.length);
      fake.served += payload.length;
      const frame = { message: plan.message, payload };
      // Through the wire encoding, as a real peer would send it.
      const [header, body] = encodeContentFrame(fake.tamper === undefined ? frame : fake.tamper(frame));
      const decoded = decodeContentFrame(Buffer.concat([header, body]));
      assert.ok(decoded.ok);
      answers.push([request.provider, decoded.value]);
    }
    fetch.advance(ready);
    if (options.stopAfterWrites !== undefined && run.writtenGroups.length >= options.stopAfterWrites)
      return run;
    for (const [from, frame] of answers) fetch.receive(from, frame);
  }
  assert.fail("fetch did not settle");
}

function config(hash: Blake3Hash, overrides: Partial<BlobFetchConfig> = {}): BlobFetchConfig {
  return { hash, ...defaultFetchConfig, groupsPerRequest: 8, ...overrides };
}

describe("BlobFetch", () => {
  for (const size of [0, 1, 100, chunkGroupBytes, chunkGroupBytes + 1, 37 * chunkGroupBytes + 5]) {
    it(`downloads a ${size}-byte blob exactly from one provider`, () => {
      const data = generated(size, size);
      const tree = buildBlobTree(hasher, data);
      const fetch = new BlobFetch(config(tree.hash), hasher, new SeededRandom(1));
      fetch.addProvider("seed", null);
      const run = drive(fetch, new Map([["seed", provider(tree, data)]]), size);
      assert.deepEqual(run.target, data);
      assert.ok(fetch.status().done);
      assert.deepEqual(
        run.events.filter((e) => e.type === "done"),
        [{ type: "done", size }],
      );
      assert.equal(new Set(run.writtenGroups).size, run.writtenGroups.length, "each group written once");
    });
  }

  it("spreads requests over several providers", () => {
    const data = generated(64 * chunkGroupBytes, 7);
    const tree = buildBlobTree(hasher, data);
    const providers = new Map(["a", "b", "c"].map((id) => [id, provider(tree, data)] as const));
    const fetch = new BlobFetch(
      config(tree.hash, { requestsInflightPerProvider: 2 }),
      hasher,
      new SeededRandom(2),
    );
    for (const id of providers.keys()) fetch.addProvider(id, true);
    const run = drive(fetch, providers, data.length);
    assert.deepEqual(run.target, data);
    for (const [id, fake] of providers)
      assert.ok(fake.served > chunkGroupBytes, `${id} served ${fake.served}`);
  });

  it("bans a provider that flips a byte, writes nothing unverified, and finishes from the others", () => {
    const data = generated(40 * chunkGroupBytes + 123, 9);
    const tree = buildBlobTree(hasher, data);
    const liar = provider(tree, data, {
      tamper: (frame) => {
        if (frame.message.type !== "range") return frame;
        const payload = frame.payload.slice();
        payload[payload.length >> 1] = payload[payload.length >> 1]! ^ 0x01;
        return { message: frame.message, payload };
      },
    });
    const providers = new Map([
      ["liar", liar],
      ["honest-1", provider(tree, data)],
      ["honest-2", provider(tree, data)],
    ]);
    const fetch = new BlobFetch(config(tree.hash), hasher, new SeededRandom(3));
    fetch.addProvider("liar", true);
    fetch.addProvider("honest-1", true);
    fetch.addProvider("honest-2", true);
    const writes: { offset: number; data: Uint8Array }[] = [];
    const original = fetch.ready.bind(fetch);
    fetch.ready = () => {
      const ready = original();
      for (const write of ready.writes)
        writes.push({ offset: write.offset, data: new Uint8Array(write.data) });
      return ready;
    };
    const run = drive(fetch, providers, data.length);
    assert.deepEqual(run.target, data);
    for (const write of writes)
      assert.deepEqual(write.data, data.subarray(write.offset, write.offset + write.data.length));
    const bans = run.events.filter((e) => e.type === "provider-banned");
    assert.equal(bans.length, 1);
    assert.equal(bans[0]!.type === "provider-banned" && bans[0]!.provider, "liar");
    assert.ok(fetch.status().providers.find((p) => p.id === "liar")!.banned);
  });

  it("bans a provider whose outboard does not hash to the id, and takes it from another", () => {
    const data = generated(10 * chunkGroupBytes, 11);
    const tree = buildBlobTree(hasher, data);
    const liar = provider(tree, data, {
      tamper: (frame) => {
        if (frame.message.type !== "outboard") return frame;
        const payload = frame.payload.slice();
        payload[0] = payload[0]! ^ 0xff;
        return { message: frame.message, payload };
      },
    });
    const fetch = new BlobFetch(config(tree.hash), hasher, new SeededRandom(4));
    fetch.addProvider("liar", true);
    fetch.addProvider("honest", true);
    const run = drive(
      fetch,
      new Map([
        ["liar", liar],
        ["honest", provider(tree, data)],
      ]),
      data.length,
    );
    assert.deepEqual(run.target, data);
    assert.ok(run.events.some((e) => e.type === "provider-banned" && e.provider === "liar"));
  });

  it("reports a stall when its only provider lies, and never hands out a bad group", () => {
    const data = generated(4 * chunkGroupBytes, 12);
    const tree = buildBlobTree(hasher, data);
    const liar = provider(tree, data, {
      tamper: (frame) =>
        frame.message.type === "range"
          ? { message: frame.message, payload: new Uint8Array(frame.payload.length) }
          : frame,
    });
    const fetch = new BlobFetch(config(tree.hash), hasher, new SeededRandom(5));
    fetch.addProvider("liar", true);
    const run = drive(fetch, new Map([["liar", liar]]), data.length);
    assert.deepEqual(run.writtenGroups, []);
    assert.equal(fetch.status().done, false);
    assert.ok(run.events.some((e) => e.type === "stalled"));
  });

  it("resumes from the durable bitfield without asking again for durable groups", () => {
    const data = generated(48 * chunkGroupBytes + 77, 13);
    const tree = buildBlobTree(hasher, data);
    const providers = new Map([["seed", provider(tree, data)]]);
    const first = new BlobFetch(
      config(tree.hash, { requestsInflightPerProvider: 1 }),
      hasher,
      new SeededRandom(6),
    );
    first.addProvider("seed", true);
    const partial = drive(first, providers, data.length, { stopAfterWrites: 20 });
    const durable = first.durableGroups()!;
    assert.ok(durable.count() >= 20 && durable.count() < 49);
    const resume: FetchResume = {
      size: tree.size,
      outboard: first.verifiedTree()!.outboard,
      durable: durable.bytes.slice(),
    };
    const second = new BlobFetch(config(tree.hash), hasher, new SeededRandom(7), resume);
    second.addProvider("seed", true);
    const rest = drive(second, providers, data.length);
    for (const index of rest.requestedGroups)
      assert.equal(durable.has(index), false, `group ${index} fetched twice`);
    assert.equal(rest.requestedGroups.length, 49 - durable.count());
    const combined = partial.target;
    for (const index of rest.writtenGroups) {
      const offset = index * chunkGroupBytes;
      combined.set(rest.target.subarray(offset, Math.min(data.length, offset + chunkGroupBytes)), offset);
    }
    assert.deepEqual(combined, data);
    assert.ok(second.status().done);
  });

  it("fetches only the groups covering a byte range", () => {
    const data = generated(100 * chunkGroupBytes, 15);
    const tree = buildBlobTree(hasher, data);
    const range = { offset: 10 * chunkGroupBytes + 5, length: 3 * chunkGroupBytes };
    const fetch = new BlobFetch(config(tree.hash, { range }), hasher, new SeededRandom(8));
    fetch.addProvider("seed", true);
    const run = drive(fetch, new Map([["seed", provider(tree, data)]]), data.length);
    assert.deepEqual(
      [...new Set(run.requestedGroups)].sort((a, b) => a - b),
      [10, 11, 12, 13],
    );
    assert.deepEqual(
      run.target.subarray(range.offset, range.offset + range.length),
      data.subarray(range.offset, range.offset + range.length),
    );
    assert.ok(fetch.status().done);
  });

  it("gives a silent provider's requests to another after the timeout", () => {
    const data = generated(16 * chunkGroupBytes, 17);
    const tree = buildBlobTree(hasher, data);
    const fetch = new BlobFetch(config(tree.hash, { requestTimeoutMs: 500 }), hasher, new SeededRandom(9));
    fetch.addProvider("silent", true);
    fetch.addProvider("honest", true);
    const run = drive(
      fetch,
      new Map([
        ["silent", provider(tree, data, { silent: true })],
        ["honest", provider(tree, data)],
      ]),
      data.length,
    );
    assert.deepEqual(run.target, data);
    assert.ok(run.events.some((e) => e.type === "request-timed-out" && e.provider === "silent"));
    assert.ok(run.events.some((e) => e.type === "provider-removed" && e.provider === "silent"));
  });

  it("prefers a partial provider for the groups it holds, sparing the seed", () => {
    const data = generated(32 * chunkGroupBytes, 19);
    const tree = buildBlobTree(hasher, data);
    const half = new GroupBitfield(32);
    for (let index = 0; index < 16; index += 1) half.maybeSet(index);
    const peer: FakeProvider = {
      holding: { ...provider(tree, data).holding, durable: half },
      data,
      served: 0,
    };
    const seed = provider(tree, data);
    // One request in flight per provider: the seed cannot take every span before the peer's
    // `have` arrives, so the choice between them is exercised.
    const fetch = new BlobFetch(
      config(tree.hash, { requestsInflightPerProvider: 1 }),
      hasher,
      new SeededRandom(10),
    );
    fetch.addProvider("peer", null);
    fetch.addProvider("seed", true);
    const run = drive(
      fetch,
      new Map([
        ["peer", peer],
        ["seed", seed],
      ]),
      data.length,
    );
    assert.deepEqual(run.target, data);
    assert.ok(peer.served >= 8 * chunkGroupBytes, `peer served ${peer.served}`);
    assert.ok(seed.served < data.length, `seed served ${seed.served} of ${data.length}`);
  });
});

describe("content frames", () => {
  it("round-trip and reject payloads that do not match the header", () => {
    const hash = "ab".repeat(32) as Blake3Hash;
    const frame: ContentFrame = {
      message: { type: "range", id: 3, hash, first_group: 2, group_count: 1 },
      payload: new Uint8Array(10),
    };
    const [header, body] = encodeContentFrame(frame);
    const decoded = decodeContentFrame(Buffer.concat([header, body]));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.message, frame.message);
    const tooLong = decodeContentFrame(Buffer.concat([header, new Uint8Array(chunkGroupBytes + 1)]));
    assert.equal(tooLong.ok, false);
    const [outboardHeader] = encodeContentFrame({
      message: { type: "outboard", id: 1, hash, size: 3 * chunkGroupBytes },
      payload: new Uint8Array(96),
    });
    assert.equal(decodeContentFrame(Buffer.concat([outboardHeader, new Uint8Array(64)])).ok, false);
    assert.equal(decodeContentFrame(new Uint8Array([0, 0, 0, 9, 1])).ok, false);
    const bad = Buffer.from(
      JSON.stringify({ type: "range-request", id: 1, hash, first_group: 0, group_count: 100_000 }),
    );
    const prefixed = Buffer.concat([Buffer.from([0, 0, 0, bad.length]), bad]);
    assert.equal(decodeContentFrame(prefixed).ok, false);
  });
});
