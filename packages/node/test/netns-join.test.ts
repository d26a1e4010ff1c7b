// Goal: hosts join a cluster the way operators do, over a network of their own: `revoada init`
// on host A prints a join command naming A's own address; `revoada join ADDR --token ...
// --ca-hash sha256:...` run on hosts B and C (other network namespaces, other addresses)
// brings them into the mesh, where the policy gives them their roles. Bad input over that
// network is refused with a clear message and nothing of the cluster's keys: a wrong CA hash,
// a wrong token, a reused single-use token.
// Method: three network namespaces of a netns run (src/netns/hosts.ts: 10.77.0.2-4 on a
// bridge); the built CLI run inside each (`ip netns exec`), as an operator on that host would;
// the nodes it starts run there too. Everything is removed at the end, processes included.
// Needs root and iproute2 (scripts/setup-system.sh); without them it fails, never skips.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { z } from "zod";
import { MeshMember } from "../src/api/schemas.js";
import { waitFor } from "../src/mesh/observe.js";
import { createHosts, type NetnsRun, namespacesOf, removeHosts } from "../src/netns/hosts.js";
import { createClusterCa } from "../src/pki/ca.js";
import { type CliRun, runBuiltCli } from "./cli-harness.js";

const patienceMs = 120_000;
let root = "";
let run: NetnsRun;
let joinAddress = "";
let caHash = "";
let firstToken = "";

const dirOf = (name: string) => join(root, name);
const hostOf = (index: number) => run.hosts[index]!;

/** `revoada ARGS...` on host `index` (inside its network namespace). */
function on(index: number, args: readonly string[]): Promise<CliRun> {
  return runBuiltCli(args, ["ip", "netns", "exec", hostOf(index).namespace]);
}

function tokenIn(output: CliRun): string {
  const match = /--token ([a-z0-9]{6}\.[a-z0-9]{16})/.exec(output.stdout);
  assert.ok(match, `a join command in:\n${output.stdout}\n${output.stderr}`);
  return match[1]!;
}

function joinFrom(index: number, name: string, token: string, extra: readonly string[] = []) {
  return on(index, [
    "join",
    joinAddress,
    "--token",
    token,
    "--ca-hash",
    caHash,
    "--dir",
    dirOf(name),
    "--name",
    name,
    ...extra,
  ]);
}

/** A refused join: its exit code and message, and nothing of the cluster's keys on that host. */
async function assertRefused(output: CliRun, name: string, message: RegExp): Promise<void> {
  assert.equal(output.code, 1, `${output.stdout}${output.stderr}`);
  assert.match(output.stderr, message);
  const clusterKey = (await readFile(join(dirOf("host-a"), "cluster.key"), "utf8")).trim();
  assert.ok(!`${output.stdout}${output.stderr}`.includes(clusterKey), "no key in the output");
  for (const file of ["cluster.key", "api.token", "ca.key", "node.yaml"]) {
    assert.ok(!existsSync(join(dirOf(name), file)), `${name} holds no ${file}`);
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "revoada-netns-join-"));
  run = await createHosts(3);
  const init = await on(0, [
    "init",
    "--dir",
    dirOf("host-a"),
    "--name",
    "host-a",
    "--address",
    hostOf(0).address,
    "--token-ttl",
    "10m",
  ]);
  assert.equal(init.code, 0, `${init.stdout}${init.stderr}`);
  const command = /revoada join (\S+) --token (\S+) --ca-hash (sha256:[0-9a-f]{64})/.exec(init.stdout);
  assert.ok(command, init.stdout);
  joinAddress = command[1]!;
  firstToken = tokenIn(init);
  caHash = command[3]!;
});

after(async () => {
  // Removing the run kills every process inside its namespaces: the nodes init and join started.
  if (run !== undefined) await removeHosts(run);
  await rm(root, { recursive: true, force: true });
});

describe("init and join across network namespaces", { concurrency: false }, () => {
  test("init prints a join command for its own namespace address", () => {
    assert.equal(joinAddress, `${hostOf(0).address}:7943`);
  });

  test("a wrong CA hash and a wrong token are refused over the namespace network", async () => {
    const other = await createClusterCa("another-ca");
    await assertRefused(
      await joinFrom(1, "wrong-ca", firstToken, ["--ca-hash", other.fingerprint, "--no-start"]),
      "wrong-ca",
      /no certificate .* has the CA hash .*nothing was sent/,
    );
    const wrongSecret = `${firstToken.slice(0, 7)}${"a".repeat(16)}`;
    await assertRefused(
      await joinFrom(1, "bad-secret", wrongSecret, ["--no-start"]),
      "bad-secret",
      /join refused: the join token is not known to the cluster/,
    );
  });

  test("hosts B and C join A at its address; a reused single-use token is refused; the policy gives them roles", async () => {
    const created = await on(0, ["token", "create", "--single-use", "--dir", dirOf("host-a")]);
    assert.equal(created.code, 0, created.stderr);
    const single = tokenIn(created);
    const second = await joinFrom(1, "host-b", single);
    assert.equal(second.code, 0, `${second.stdout}${second.stderr}`);
    await assertRefused(
      await joinFrom(2, "reuse", single, ["--no-start"]),
      "reuse",
      /single-use and was already used/,
    );
    const third = await joinFrom(2, "host-c", firstToken);
    assert.equal(third.code, 0, `${third.stdout}${third.stderr}`);
    // Each joined host listens on its own namespace's address (the one it reached A from).
    for (const [index, name] of [
      [1, "host-b"],
      [2, "host-c"],
    ] as const) {
      const config = await readFile(join(dirOf(name), "node.yaml"), "utf8");
      assert.match(config, new RegExp(`api: ${hostOf(index).address.replace(/\./g, "\\.")}:7943`));
    }
    // The view from host C (over the namespace network, HTTPS under the CA, with the token its
    // join received): every host alive at its own address, and the policy's roles: quorum-3m
    // makes all three control-plane members once B and C have joined.
    const shaped = await waitFor(
      async () => {
        const view = await on(2, ["mesh", "--dir", dirOf("host-c"), "-o", "json"]);
        if (view.code !== 0) return undefined;
        const members = z.array(MeshMember).parse(JSON.parse(view.stdout));
        const named = ["host-a", "host-b", "host-c"].map((name) => members.find((m) => m.name === name));
        return named.every((member) => member?.status === "alive" && member.roles.includes("etcd"))
          ? named
          : undefined;
      },
      patienceMs,
      1000,
    );
    assert.ok(shaped, "B and C joined and the policy made them control-plane members");
    assert.deepEqual(
      shaped.map((member) => member?.addresses.gossip),
      [0, 1, 2].map((index) => `${hostOf(index).address}:7940`),
    );
    const log = (name: string) => readFile(join(dirOf(name), "node.log"), "utf8");
    for (const name of ["host-a", "host-b", "host-c"]) {
      const text = await log(name);
      for (const token of [firstToken, single])
        assert.ok(!text.includes(token.slice(7)), `no secret in ${name}'s log`);
    }
  });

  test("removing the run leaves no namespace", async () => {
    const runId = run.runId;
    await removeHosts(run);
    assert.deepEqual(await namespacesOf(runId), []);
  });
});
