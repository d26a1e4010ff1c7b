// Goal: requests to a node's HTTPS API reuse one TLS connection (a relay follower renews its
// long poll every second; a handshake each time cost both ends CPU), while a name-blind
// request (the join) never shares a pooled connection, and a server whose certificate the
// CA did not issue is still refused. Method: a real HTTPS server on loopback counting its TLS
// handshakes, and certificates from a fresh cluster CA.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createClusterCa, issueCertificate } from "../pki/ca.js";
import { httpsFetch } from "./https-fetch.js";

describe("httpsFetch", () => {
  let server: Server;
  let caPem: string;
  let url: string;
  let handshakes = 0;

  before(async () => {
    const ca = await createClusterCa("test cluster");
    caPem = ca.certPem;
    const leaf = await issueCertificate(ca, {
      commonName: "node",
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ path: request.url }));
      });
    });
    server.on("secureConnection", () => {
      handshakes += 1;
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const get = (path: string, anyName = false) =>
    httpsFetch(`${url}${path}`, {
      method: "GET",
      headers: {},
      caPem,
      timeoutMs: 5_000,
      ...(anyName ? { anyNameTheCaIssued: true } : {}),
    });

  it("sends one request after another over one TLS connection", async () => {
    const before = handshakes;
    for (const path of ["/a", "/b", "/c", "/d"]) {
      const response = await get(path);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { path });
    }
    assert.equal(handshakes - before, 1);
  });

  it("gives a name-blind request a connection of its own", async () => {
    await get("/warm");
    const before = handshakes;
    const response = await get("/join", true);
    assert.equal(response.status, 200);
    assert.equal(handshakes - before, 1);
  });

  it("refuses a server whose certificate another CA issued", async () => {
    const stranger = await createClusterCa("another cluster");
    await assert.rejects(
      httpsFetch(`${url}/x`, { method: "GET", headers: {}, caPem: stranger.certPem, timeoutMs: 5_000 }),
      /certificate/,
    );
  });
});
