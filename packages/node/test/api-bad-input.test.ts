// Goal: the node's HTTP layer answers bad requests with the status that names the problem
// (400 "body is not JSON", 415 for a body that is not declared JSON, 413 for a body over the
// cap, announced or not) and does not let slow clients hold sockets: an idle connection and a
// request whose headers never end are closed by the server, and connections over the cap are
// refused while the admitted ones keep working. Method: createApiServer on 127.0.0.1 with a
// tiny route table and small configured limits; raw TCP sockets play the slow clients, and
// each test waits for the server to act (the socket closing), with no timing assertion.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { bodyBytesMax, createApiServer, defaultApiServerLimits, route } from "../src/api/http-server.js";
import { silentLogger } from "../src/daemon/log.js";

const token = "a-very-secret-token";
const Echo = z.strictObject({ value: z.int().min(0) });
const routes = [
  route({
    method: "POST",
    path: "/v1/items",
    summary: "write",
    mutates: true,
    body: Echo,
    reply: Echo,
    handle: async ({ body }) => ({ status: 200, body }),
  }),
  route({
    method: "GET",
    path: "/v1/ping",
    summary: "read",
    mutates: false,
    access: "open",
    reply: z.object({ pong: z.boolean() }),
    handle: async () => ({ status: 200, body: { pong: true } }),
  }),
];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Connects a raw socket; collects what the server sends; resolves `closed` when it ends. */
function rawClient(port: number): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.setEncoding("utf8").on("data", (text: string) => {
    received += text;
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => received, closed };
}

describe("API answers to malformed bodies", () => {
  const server = createApiServer({ routes, token, logger: silentLogger });
  let base = "";
  before(async () => {
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const post = (body: string, contentType?: string) =>
    fetch(`${base}/v1/items`, {
      method: "POST",
      body,
      headers: {
        authorization: `Bearer ${token}`,
        ...(contentType === undefined ? {} : { "content-type": contentType }),
      },
    });

  it("answers malformed JSON with 400 body is not JSON", async () => {
    for (const text of ["{", "", "{'value': 1}", "value=1"]) {
      const reply = await post(text, "application/json");
      assert.equal(reply.status, 400, text);
      assert.deepEqual(await reply.json(), { error: "body is not JSON" });
    }
  });

  it("answers a body that is not declared JSON with 415", async () => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "text/json"]) {
      const reply = await post('{"value":1}', contentType);
      assert.equal(reply.status, 415, contentType);
      assert.match(((await reply.json()) as { error: string }).error, /content-type: application\/json/);
    }
    // fetch declares a string body text/plain when nobody says otherwise.
    assert.equal((await post('{"value":1}')).status, 415);
  });

  it("accepts JSON with parameters and +json types, and still validates it", async () => {
    const good = await post('{"value":3}', "application/json; charset=utf-8");
    assert.deepEqual(await good.json(), { value: 3 });
    assert.equal((await post('{"value":3}', "application/merge-patch+json")).status, 200);
    const invalid = await post('{"value":-1}', "application/json");
    assert.equal(invalid.status, 400);
    assert.equal(((await invalid.json()) as { error: string }).error, "request body does not validate");
  });

  it("answers a body over the cap with 413, announced by Content-Length or streamed", async () => {
    const announced = rawClient(Number(new URL(base).port));
    announced.socket.write(
      `POST /v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${bodyBytesMax + 1}\r\n\r\n`,
    );
    await announced.closed;
    assert.match(announced.received(), /^HTTP\/1\.1 413 /);
    const streamed = await post(`{"value":1,"pad":"${"x".repeat(bodyBytesMax)}"}`, "application/json");
    assert.equal(streamed.status, 413);
  });
});

describe("API against slow clients", () => {
  it("applies limits suited to an infrastructure API unless told otherwise", () => {
    const server = createApiServer({ routes, token, logger: silentLogger });
    assert.equal(server.headersTimeout, defaultApiServerLimits.headersTimeoutMs);
    assert.equal(server.requestTimeout, defaultApiServerLimits.requestTimeoutMs);
    assert.equal(server.keepAliveTimeout, defaultApiServerLimits.keepAliveTimeoutMs);
    assert.equal(server.maxConnections, defaultApiServerLimits.connectionsMax);
    assert.ok(defaultApiServerLimits.headersTimeoutMs < 60_000, "below Node's default");
    assert.ok(defaultApiServerLimits.requestTimeoutMs < 300_000, "below Node's default");
  });

  it("closes a connection that never sends a request, and one whose headers never end", async () => {
    const server = createApiServer({
      routes,
      token,
      logger: silentLogger,
      limits: { headersTimeoutMs: 200, requestTimeoutMs: 400 },
    });
    const port = await listen(server);
    try {
      const idle = rawClient(port);
      const slow = rawClient(port);
      slow.socket.write("GET /v1/ping HTTP/1.1\r\nHost: x\r\n");
      await Promise.all([idle.closed, slow.closed]);
      assert.match(idle.received(), /^HTTP\/1\.1 408 /);
      assert.match(slow.received(), /^HTTP\/1\.1 408 /);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("closes a kept-alive connection once it is idle after a response", async () => {
    const server = createApiServer({
      routes,
      token,
      logger: silentLogger,
      limits: { keepAliveTimeoutMs: 100 },
    });
    const port = await listen(server);
    try {
      const client = rawClient(port);
      client.socket.write("GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n");
      await client.closed;
      assert.match(client.received(), /^HTTP\/1\.1 200 /);
      // The server announces its own keep-alive limit (whole seconds: 100 ms is 0), not Node's 5 s.
      assert.match(client.received(), /\r\nKeep-Alive: timeout=0\r\n/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("refuses connections over the cap; the admitted ones keep working", async () => {
    const server = createApiServer({ routes, token, logger: silentLogger, limits: { connectionsMax: 2 } });
    const port = await listen(server);
    try {
      const admitted = [rawClient(port), rawClient(port)];
      await Promise.all(admitted.map((c) => new Promise((resolve) => c.socket.once("connect", resolve))));
      // The server counts a connection once it accepted it; wait until both are counted.
      for (;;) {
        const count = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
        if (count === 2) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const refused = rawClient(port);
      await refused.closed;
      assert.equal(refused.received(), "", "a refused connection gets nothing");
      const first = admitted[0]!;
      first.socket.write("GET /v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      await first.closed;
      assert.match(first.received(), /^HTTP\/1\.1 200 [\s\S]*"pong": true/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
