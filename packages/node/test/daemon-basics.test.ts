// Goal: the daemon's own plumbing behaves as operators rely on: secrets never reach logs,
// metrics render in Prometheus text format, the HTTP layer validates bodies, refuses
// mutations without the token (and to the read token), reads without a token unless open
// reads were asked for, and publishes an OpenAPI document, and node configs fail
// with field paths, line:column and liveness reasons.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { homelabStrategy } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { createApiServer, openApiDocument, route } from "../src/api/http-server.js";
import { loadNodeConfig } from "../src/daemon/config.js";
import { createLogger, silentLogger } from "../src/daemon/log.js";
import { MetricsRegistry } from "../src/daemon/metrics.js";
import { identityFileName, loadOrCreateIdentity } from "../src/identity.js";
import { createMeshLayout } from "../src/mesh/mesh-setup.js";
import { revoadaBin } from "../src/mesh/supervisor.js";

describe("structured logs", () => {
  it("writes one JSON object per line and redacts secret-looking fields", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", write: (line) => lines.push(line), now: () => 0 });
    log.debug("hidden");
    log.info("joined", { peer: "abc", clusterKey: "deadbeef", apiToken: "t0ken" });
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!);
    assert.equal(record.level, "info");
    assert.equal(record.msg, "joined");
    assert.equal(record.peer, "abc");
    assert.equal(record.clusterKey, "[redacted]");
    assert.equal(record.apiToken, "[redacted]");
    assert.ok(!lines[0]!.includes("deadbeef"));
  });
});

describe("metrics registry", () => {
  it("renders counters and labelled gauges in the text format", () => {
    const registry = new MetricsRegistry();
    const shifts = registry.counter("revoada_shifts_total", "role shifts committed");
    const term = registry.gauge("revoada_raft_term", "current term");
    shifts(1, { action: "promote" });
    shifts(2, { action: "promote" });
    term(7);
    const text = registry.render();
    assert.match(text, /# TYPE revoada_shifts_total counter/);
    assert.match(text, /revoada_shifts_total\{action="promote"\} 3/);
    assert.match(text, /revoada_raft_term 7/);
  });
});

describe("typed HTTP API", () => {
  const Echo = z.strictObject({ value: z.int().min(0) });
  const routes = [
    route({
      method: "GET",
      path: "/v1/items/{id}",
      summary: "read",
      mutates: false,
      reply: z.object({ id: z.string() }),
      handle: async ({ params }) => ({ status: 200, body: { id: params.id ?? "" } }),
    }),
    route({
      method: "POST",
      path: "/v1/items",
      summary: "write",
      mutates: true,
      body: Echo,
      reply: Echo,
      handle: async ({ body }) => ({ status: 200, body }),
    }),
  ];

  it("validates bodies, requires the token for mutations, and routes parameters", async () => {
    const server = createApiServer({
      routes,
      token: "a-very-secret-token",
      readToken: "a-read-only-token-000",
      logger: silentLogger,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/v1/items/x%2Fy`)).status, 401, "reads need a token");
      const reader = { authorization: "Bearer a-read-only-token-000" };
      const read = await fetch(`${base}/v1/items/x%2Fy`, { headers: reader });
      assert.deepEqual(await read.json(), { id: "x/y" });
      const adminRead = await fetch(`${base}/v1/items/x%2Fy`, {
        headers: { authorization: "Bearer a-very-secret-token" },
      });
      assert.equal(adminRead.status, 200, "the API token reads too");
      const readerWrite = await fetch(`${base}/v1/items`, {
        method: "POST",
        body: '{"value":1}',
        headers: { ...reader, "content-type": "application/json" },
      });
      assert.equal(readerWrite.status, 403, "the read token cannot change state");
      const anonymous = await fetch(`${base}/v1/items`, { method: "POST", body: '{"value":1}' });
      assert.equal(anonymous.status, 401);
      const wrong = await fetch(`${base}/v1/items`, {
        method: "POST",
        body: '{"value":1}',
        headers: { authorization: "Bearer wrong-token-of-same-size" },
      });
      assert.equal(wrong.status, 401);
      const auth = { authorization: "Bearer a-very-secret-token", "content-type": "application/json" };
      const bad = await fetch(`${base}/v1/items`, { method: "POST", body: '{"value":-1}', headers: auth });
      assert.equal(bad.status, 400);
      const badBody = (await bad.json()) as { issues: { path: string[] }[] };
      assert.deepEqual(badBody.issues[0]!.path, ["value"]);
      const good = await fetch(`${base}/v1/items`, { method: "POST", body: '{"value":3}', headers: auth });
      assert.deepEqual(await good.json(), { value: 3 });
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal((await fetch(`${base}/v1/items`, { method: "DELETE" })).status, 405);
    } finally {
      server.close();
    }
  });

  it("publishes an OpenAPI document generated from the schemas", () => {
    const document = openApiDocument(routes, "test") as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown }>>;
    };
    assert.equal(document.openapi, "3.1.0");
    assert.ok(document.paths["/v1/items"]?.post?.requestBody);
    assert.ok(document.paths["/v1/items"]?.post?.security);
    assert.ok(document.paths["/v1/items/{id}"]?.get?.security, "reads need a token too");
  });

  it("reads without a token only when open reads were asked for", async () => {
    const server = createApiServer({
      routes,
      token: "a-very-secret-token",
      openReads: true,
      logger: silentLogger,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/v1/items/a`)).status, 200);
      const anonymous = await fetch(`${base}/v1/items`, { method: "POST", body: '{"value":1}' });
      assert.equal(anonymous.status, 401, "open reads open no mutation");
    } finally {
      server.close();
    }
  });
});

describe("node identity", () => {
  it("is created once with 0600 permissions and reused on restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revoada-identity-"));
    const first = await loadOrCreateIdentity(dir);
    const mode = (await stat(join(dir, identityFileName))).mode & 0o777;
    assert.equal(mode, 0o600);
    const again = await loadOrCreateIdentity(dir);
    assert.equal(again.nodeId, first.nodeId);
    assert.match(first.nodeId, /^[0-9a-f]{64}$/);
  });
});

describe("node config", () => {
  it("loads a generated mesh config and its secrets", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revoada-config-"));
    const { configs } = await createMeshLayout({ directory: dir, nodes: 2, faceId: "systemd" });
    const loaded = await loadNodeConfig(configs[1]!);
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.issues));
    assert.equal(loaded.value.config.name, "node-2");
    assert.equal(loaded.value.clusterKey.length, 32);
    assert.equal(loaded.value.config.data_dir, join(dir, "node-2", "data"));
  });

  it("names the field and line:column of a bad value", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revoada-config-"));
    const { configs } = await createMeshLayout({ directory: dir, nodes: 1, faceId: "systemd" });
    const path = configs[0]!;
    const text = (await import("node:fs")).readFileSync(path, "utf8").replace("pods: 110", "pods: -4");
    await writeFile(path, text);
    const loaded = await loadNodeConfig(path);
    assert.equal(loaded.ok, false);
    const issue = !loaded.ok ? loaded.issues[0] : undefined;
    assert.deepEqual(issue?.path, ["capacity", "pods"]);
    const expectedLine = text.split("\n").findIndex((line) => line.includes("pods: -4")) + 1;
    assert.equal(issue?.line, expectedLine);
    assert.equal(issue?.file, path);
  });

  it("refuses a strategy that fails proveLiveness, saying why", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revoada-config-"));
    const { configs } = await createMeshLayout({
      directory: dir,
      nodes: 1,
      faceId: "systemd",
      strategy: {
        ...homelabStrategy,
        consensus: { kind: { ...homelabStrategy.consensus.kind, quorum_size: 4 } },
      },
    });
    const loaded = await loadNodeConfig(configs[0]!);
    assert.equal(loaded.ok, false);
    const codes = !loaded.ok ? loaded.issues.map((i) => i.code) : [];
    assert.deepEqual(codes, ["even-quorum"]);
    assert.match(!loaded.ok ? loaded.issues[0]!.message : "", /quorum size 4 is even/);
    // Located like a schema error: the field path and the line:column of the config file.
    const issue = !loaded.ok ? loaded.issues[0] : undefined;
    assert.deepEqual(issue?.path, ["strategy", "consensus", "kind", "quorum_size"]);
    assert.equal(issue?.file, configs[0]);
    assert.ok((issue?.line ?? 0) > 1, `a line number: ${JSON.stringify(issue)}`);
  });

  it("refuses a missing or malformed cluster key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revoada-config-"));
    const { configs } = await createMeshLayout({ directory: dir, nodes: 1, faceId: "systemd" });
    await writeFile(join(dir, "cluster.key"), "not-hex\n");
    const loaded = await loadNodeConfig(configs[0]!);
    assert.equal(loaded.ok, false);
    assert.deepEqual(!loaded.ok ? loaded.issues.map((i) => i.path) : [], [["cluster_key_file"]]);
  });
});

describe("revoada node start-up", () => {
  it("refuses a data directory another running node holds, and exits instead of hanging", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revoada-lock-"));
    const { configs } = await createMeshLayout({ directory: dir, nodes: 1, faceId: "systemd" });
    await mkdir(join(dir, "node-1", "data"), { recursive: true });
    // This test process is alive: its pid in the lock file means "in use".
    await writeFile(join(dir, "node-1", "data", "node.pid"), `${process.pid}\n`);
    const run = spawnSync(process.execPath, [revoadaBin, "node", "--config", configs[0]!], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /in use by a running node \(pid \d+\)/);
    assert.equal(
      (await readFile(join(dir, "node-1", "data", "node.pid"), "utf8")).trim(),
      String(process.pid),
    );
  });
});
