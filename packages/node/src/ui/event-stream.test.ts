// Goal: the console's event hub pushes, never makes pages poll: a topic is sent only when its
// JSON changed, a page that connects gets every topic at once, one sampler serves every page,
// and nothing is sampled while no page listens.
// Method: a real HTTP server on loopback whose one route hands the response to the hub, pages
// read with fetch streams; the sampler is a counter the test controls.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { waitFor } from "../mesh/observe.js";
import type { ConsoleTopics } from "./console-topics.js";
import { EventHub } from "./event-stream.js";

let height = 1;
let samples = 0;
let server: Server;
let hub: EventHub;
let base = "";

const serving = { id: "a".repeat(64), name: "node-1", api: "127.0.0.1:1" };

before(async () => {
  hub = new EventHub({
    sample: async (): Promise<Partial<ConsoleTopics>> => {
      samples += 1;
      return { serving, blobs: [{ hash: "h".repeat(64), size: height, workloads: [] }] };
    },
    sampleMs: 20,
    keepAliveMs: 60_000,
    subscribersMax: 2,
  });
  server = createServer((request, response) => hub.subscribe(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  hub.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Opens a stream and collects its named events until `stop()`. */
async function listen(): Promise<{ events: string[]; stop: () => void }> {
  const controller = new AbortController();
  const response = await fetch(base, { signal: controller.signal });
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const events: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body!) {
        for (const line of decoder.decode(chunk as Uint8Array).split("\n")) {
          if (line.startsWith("event: ")) events.push(line.slice("event: ".length));
        }
      }
    } catch {
      // Aborted by stop().
    }
  })();
  return { events, stop: () => controller.abort() };
}

test("topics are pushed on change only, every topic to a new page, one sampler for all", async () => {
  const first = await listen();
  assert.ok(await waitFor(async () => (first.events.length >= 2 ? true : undefined), 5000));
  assert.deepEqual(first.events.slice(0, 2).sort(), ["blobs", "serving"], "a new page gets every topic");
  const quietSince = samples;
  assert.ok(await waitFor(async () => (samples >= quietSince + 5 ? true : undefined), 5000));
  assert.equal(first.events.length, 2, "five samples that changed nothing pushed nothing");

  height = 2;
  assert.ok(await waitFor(async () => (first.events.length === 3 ? true : undefined), 5000));
  assert.equal(first.events[2], "blobs", "only the changed topic is pushed");

  const second = await listen();
  assert.ok(await waitFor(async () => (second.events.length === 2 ? true : undefined), 5000));
  assert.equal(first.events.length, 3, "the first page is not sent what the second one joined with");
  assert.equal(hub.listeners, 2);

  const refused = await fetch(base);
  assert.equal(refused.status, 503, "one stream over the limit is refused");

  first.stop();
  second.stop();
  assert.ok(await waitFor(async () => (hub.listeners === 0 ? true : undefined), 5000));
  const idleSince = samples;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(samples <= idleSince + 1, "nothing is sampled while no page listens");
});
