// Goal: a cluster of separate hosts the way an operator builds one (docs/join.md): `revoada
// init` founds it and prints a join command; `revoada join` on two more hosts pins the CA by
// its hash, proves a token and gets the keys (the current ones, after a key rotation); the
// joined nodes show up and the policy gives
// them roles. Every bad input is refused with a clear message and exit code, and nothing of
// the cluster's keys reaches the refused host: a wrong CA hash (also an impostor presenting
// the real CA certificate over its own leaf: it never sees a request), a wrong secret, an
// expired, a revoked, a reused single-use token, a host claiming a member's name or id. The
// API is HTTPS under the cluster CA; reads need a token; the read token cannot mutate; no
// token secret reaches a log.
// Method: real processes on loopback, the CLI and the daemons it starts run from dist (build
// first); each host its own directory and port range; conditions are
// polled, never timed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FabricState } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { httpsFetch } from "../src/api/https-fetch.js";
import { NodeStatusReply } from "../src/api/schemas.js";
import { runningPidOf } from "../src/daemon/pid-file.js";
import { JoinTokenView } from "../src/join/join-protocol.js";
import { ApiClient } from "../src/mesh/api-client.js";
import { waitFor } from "../src/mesh/observe.js";
import { revoadaBin } from "../src/mesh/supervisor.js";
import { createClusterCa, issueCertificate } from "../src/pki/ca.js";
import type { CliRun } from "./cli-harness.js";

/** `revoada ARGS...` from the built package, as an operator runs it (and as the daemons it starts run). */
function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const options = { encoding: "utf8" as const, env: { ...process.env, ...env } };
    execFile(process.execPath, [revoadaBin, ...args], options, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      if (error !== null && typeof error.code !== "number") reject(error);
      else resolve({ code, stdout, stderr });
    });
  });
}

const patienceMs = 90_000;
let root = "";
const hostDir = (name: string) => join(root, name);
let apiAddress = "";
let caHash = "";
let caPem = "";
let firstToken = "";
const secretsSeen: string[] = [];

/**
 * Four consecutive free loopback ports (gossip, raft, content, api), below Linux's ephemeral
 * range (32768 and up), where outgoing connections would take them between the check and the
 * node's bind.
 */
async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = randomInt(20_000, 32_000);
    const servers: Server[] = [];
    const free = await Promise.all(
      [0, 1, 2, 3].map(
        (offset) =>
          new Promise<boolean>((resolve) => {
            const server = createServer();
            servers.push(server);
            server.once("error", () => resolve(false));
            server.listen(base + offset, "127.0.0.1", () => resolve(true));
          }),
      ),
    );
    await Promise.all(servers.map((server) => new Promise((done) => server.close(() => done(undefined)))));
    if (free.every(Boolean)) return base;
  }
  throw new Error("no four consecutive free ports");
}

function tokenOf(run: CliRun): string {
  const match = /--token ([a-z0-9]{6}\.[a-z0-9]{16})/.exec(run.stdout);
  assert.ok(match, `a join command in:\n${run.stdout}\n${run.stderr}`);
  secretsSeen.push(match[1]!.slice(7));
  return match[1]!;
}

async function createToken(...flags: string[]): Promise<string> {
  const run = await runCli(["token", "create", "--dir", hostDir("host-1"), ...flags]);
  assert.equal(run.code, 0, run.stderr);
  return tokenOf(run);
}

async function join_(name: string, token: string, extra: readonly string[] = []): Promise<CliRun> {
  const flags = ["--dir", hostDir(name), "--name", name, "--port-base", String(await freePortBase())];
  return runCli(["join", apiAddress, "--token", token, "--ca-hash", caHash, ...flags, ...extra]);
}

/** A refused join: its exit code and message, and nothing of the cluster's keys on the host. */
async function assertRefused(run: CliRun, name: string, message: RegExp, code = 1): Promise<void> {
  assert.equal(run.code, code, `${run.stdout}${run.stderr}`);
  assert.match(run.stderr, message);
  const clusterKey = (await readFile(join(hostDir("host-1"), "cluster.key"), "utf8")).trim();
  assert.ok(!`${run.stdout}${run.stderr}`.includes(clusterKey), "no key in the output");
  for (const file of ["cluster.key", "api.token", "ca.key", "node.yaml"]) {
    assert.ok(!existsSync(join(hostDir(name), file)), `${name} holds no ${file}`);
  }
}

function client(token: string | undefined, ca = caPem, address = apiAddress): ApiClient {
  return new ApiClient(address, token, 3000, ca);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "revoada-join-"));
  const init = await runCli([
    "init",
    "--dir",
    hostDir("host-1"),
    "--name",
    "host-1",
    "--port-base",
    String(await freePortBase()),
    "--token-ttl",
    "10m",
  ]);
  assert.equal(init.code, 0, `${init.stdout}${init.stderr}`);
  const command = /revoada join (\S+) --token (\S+) --ca-hash (sha256:[0-9a-f]{64})/.exec(init.stdout);
  assert.ok(command, init.stdout);
  apiAddress = command[1]!;
  firstToken = tokenOf(init);
  caHash = command[3]!;
  caPem = await readFile(join(hostDir("host-1"), "ca.crt"), "utf8");
});

after(async () => {
  for (const name of ["host-1", "host-2", "host-3"]) {
    const pid = await runningPidOf(join(hostDir(name), "data"));
    if (pid !== undefined) process.kill(pid, "SIGTERM");
  }
  await waitFor(async () => {
    const left = await Promise.all(
      ["host-1", "host-2", "host-3"].map((name) => runningPidOf(join(hostDir(name), "data"))),
    );
    return left.every((pid) => pid === undefined) ? true : undefined;
  }, 15_000);
  await rm(root, { recursive: true, force: true });
});

describe("init and join", { concurrency: false }, () => {
  test("a wrong CA hash is refused before anything is sent", async () => {
    const other = await createClusterCa("another-ca");
    await assertRefused(
      await join_("wrong-ca", firstToken, ["--ca-hash", other.fingerprint]),
      "wrong-ca",
      /nothing was sent/,
    );
  });

  test("an impostor holding the real CA certificate (not its key) never sees the token", async () => {
    // The impostor's chain ends in the real CA certificate, which is public, so the hash
    // matches; its leaf is issued by a CA of its own, so the pinned connection fails.
    const fake = await createClusterCa("impostor-ca");
    const leaf = await issueCertificate(fake, {
      commonName: "impostor",
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    let requests = 0;
    const impostor = createHttpsServer(
      { cert: `${leaf.certPem.trimEnd()}\n${caPem}`, key: leaf.keyPem },
      (_request, response) => {
        requests += 1;
        response.end("{}");
      },
    );
    await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
    const port = (impostor.address() as { port: number }).port;
    try {
      const run = await runCli([
        "join",
        `127.0.0.1:${port}`,
        "--token",
        firstToken,
        "--ca-hash",
        caHash,
        "--dir",
        hostDir("impostor"),
        "--name",
        "impostor",
        "--no-start",
      ]);
      await assertRefused(run, "impostor", /nothing was sent/);
      assert.equal(requests, 0, "the impostor got no request, so no token");
    } finally {
      impostor.close();
    }
  });

  test("a wrong secret, an expired and a revoked token are refused", async () => {
    const wrongSecret = `${firstToken.slice(0, 7)}${"a".repeat(16)}`;
    await assertRefused(
      await join_("bad-secret", wrongSecret, ["--no-start"]),
      "bad-secret",
      /not known to the cluster/,
    );
    const short = await createToken("--ttl", "1s");
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the token's lifetime
    await assertRefused(await join_("late", short, ["--no-start"]), "late", /has expired/);
    const revoked = await createToken();
    const revoke = await runCli(["token", "revoke", revoked.slice(0, 6), "--dir", hostDir("host-1")]);
    assert.equal(revoke.code, 0, revoke.stderr);
    await assertRefused(await join_("revoked", revoked, ["--no-start"]), "revoked", /was revoked/);
    const malformed = await join_("malformed", "not-a-token", ["--no-start"]);
    assert.equal(malformed.code, 2);
    assert.ok(!malformed.stderr.includes("not-a-token"), "the token is not echoed");
  });

  test("two hosts join after a key rotation; a single-use token admits one; the policy gives them roles", async () => {
    // The founder's keys are rotated first (the old ones retired): a joined host that got the
    // cluster key file's key instead of the current sets would be refused by every peer.
    const rotated = await runCli(["keys", "rotate", "--dir", hostDir("host-1"), "--settle-ms", "200"]);
    assert.equal(rotated.code, 0, `${rotated.stdout}${rotated.stderr}`);
    const single = await createToken("--single-use");
    const second = await join_("host-2", single);
    assert.equal(second.code, 0, `${second.stdout}${second.stderr}`);
    await assertRefused(
      await join_("reuse", single, ["--no-start"]),
      "reuse",
      /single-use and was already used/,
    );
    const third = await join_("host-3", firstToken);
    assert.equal(third.code, 0, `${third.stdout}${third.stderr}`);
    const admin = client((await readFile(join(hostDir("host-1"), "api.token"), "utf8")).trim());
    const shaped = await waitFor(
      async () => {
        const state = await admin.get("/v1/state", FabricState).catch(() => undefined);
        const nodes = Object.values(state?.nodes ?? {});
        const named = ["host-1", "host-2", "host-3"].map((name) => nodes.find((node) => node.name === name));
        // quorum-3m: the policy promotes the two joined nodes to the control plane.
        return named.every((node) => node?.roles.includes("etcd")) ? named : undefined;
      },
      patienceMs,
      200,
    );
    assert.ok(shaped, "host-2 and host-3 joined and the policy made them control-plane members");
    await assert.rejects(
      client(undefined, caPem, await apiOf("host-2")).get("/v1/status", NodeStatusReply),
      /bearer token/,
      "a joined node's reads need a token too",
    );
    const joinedReader = client(
      (await readFile(join(hostDir("host-2"), "read.token"), "utf8")).trim(),
      caPem,
      await apiOf("host-2"),
    );
    assert.equal((await joinedReader.get("/v1/status", NodeStatusReply)).name, "host-2");
    const tokens = await admin.get("/v1/join-tokens", z.array(JoinTokenView));
    assert.deepEqual(
      tokens.find((token) => token.id === single.slice(0, 6))?.uses.map((use) => use.name),
      ["host-2"],
    );
    assert.equal(tokens.find((token) => token.id === single.slice(0, 6))?.state, "used");
  });

  test("a host claiming a member's name or id is refused", async () => {
    await assertRefused(
      await join_("host-1", firstToken, ["--dir", hostDir("same-name"), "--no-start"]),
      "same-name",
      /already has this name/,
    );
    await mkdir(join(hostDir("same-id"), "data"), { recursive: true });
    await cp(
      join(hostDir("host-2"), "data", "identity.key"),
      join(hostDir("same-id"), "data", "identity.key"),
    );
    await assertRefused(
      await join_("same-id", firstToken, ["--no-start"]),
      "same-id",
      /node with this id is already a member/,
    );
  });

  test("the API is HTTPS under the cluster CA; the read token reads and cannot mutate", async () => {
    const reader = client((await readFile(join(hostDir("host-1"), "read.token"), "utf8")).trim());
    assert.equal((await reader.get("/v1/status", NodeStatusReply)).name, "host-1");
    const write = await reader.fetch("POST", "/v1/join-tokens", {
      id: "abcdef",
      secret_sha256: "0".repeat(64),
      ttl_ms: 60_000,
      single_use: false,
    });
    assert.equal(write.status, 403);
    assert.equal((await client(undefined).fetch("GET", "/v1/status")).status, 401);
    // Plain HTTP is not served, and a client trusting another CA refuses the certificate.
    await assert.rejects(new ApiClient(apiAddress, undefined, 3000).get("/v1/status", NodeStatusReply));
    // `chain verify --node` takes the token and the CA from the environment; without the token it
    // is refused (a 401 is not read as an empty chain).
    const reading = { REVOADA_CA: join(hostDir("host-1"), "ca.crt") };
    const verified = await runCli(["chain", "verify", "--node", apiAddress], {
      ...reading,
      REVOADA_TOKEN: (await readFile(join(hostDir("host-1"), "read.token"), "utf8")).trim(),
    });
    assert.equal(verified.code, 0, `${verified.stdout}${verified.stderr}`);
    const anonymous = await runCli(["chain", "verify", "--node", apiAddress], reading);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /bearer token/);
    const other = await createClusterCa("another-ca");
    await assert.rejects(
      httpsFetch(`https://${apiAddress}/v1/status`, {
        method: "GET",
        headers: {},
        caPem: other.certPem,
        timeoutMs: 3000,
      }),
      /certificate/,
    );
  });

  test("an address that keeps failing join proofs is told to wait (429)", async () => {
    // Last: it blocks this address's joins for a minute. Requests go straight to the API.
    const wrong = JSON.stringify({
      token: `${firstToken.slice(0, 7)}${"b".repeat(16)}`,
      node: "a".repeat(64),
      name: "guesser",
      signature: "0".repeat(128),
    });
    const post = () =>
      httpsFetch(`https://${apiAddress}/v1/join`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: wrong,
        caPem,
        timeoutMs: 5_000,
      });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 11; attempt += 1) statuses.push((await post()).status);
    // One wrong secret came from the CLI earlier in this run, inside the same minute or not.
    assert.ok(
      statuses.slice(0, 9).every((status) => status === 403),
      statuses.join(","),
    );
    assert.equal(statuses.at(-1), 429);
    assert.match(await (await post()).text(), /too many failed join attempts/);
  });

  test("no token secret reaches a log", async () => {
    for (const name of ["host-1", "host-2", "host-3"]) {
      const log = await readFile(join(hostDir(name), "node.log"), "utf8");
      for (const secret of secretsSeen)
        assert.ok(!log.includes(secret), `${name}'s log holds no token secret`);
      assert.ok(!log.includes((await readFile(join(hostDir(name), "cluster.key"), "utf8")).trim()));
    }
  });
});

async function apiOf(name: string): Promise<string> {
  const mesh = JSON.parse(await readFile(join(hostDir(name), "mesh.json"), "utf8")) as {
    nodes: { api: string }[];
  };
  return mesh.nodes[0]!.api;
}
