// Goal: the IO steps of etcd's membership procedure work against the real etcd (Debian's
// etcd-server/etcd-client 3.4.23, installed by scripts/setup-system.sh): a one-member cluster
// started through ProcessRuntime takes a learner (`addLearner`, idempotent), the learner is
// started with `--initial-cluster-state=existing` and the cluster list etcd returned, promoted
// once in sync, listed as a voter, then removed (idempotently) and stopped while the survivor
// keeps serving. Method: real etcd processes on 127.0.0.1 with free ports and temp dirs; every
// wait is a bounded retry on etcd's own answers, never a timing threshold. A missing etcd fails.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { etcdComponentSpec } from "../src/actuate/etcd-component.js";
import {
  EtcdctlError,
  EtcdRefusedError,
  EtcdUnavailableError,
  etcdctlEndpointHealth,
  etcdctlEndpointStatus,
  etcdctlMembership,
  hexId,
  initialClusterOf,
  quoteIntegers,
} from "../src/actuate/etcd-membership.js";
import { locateProgram, ProcessRuntime } from "../src/actuate/process-runtime.js";
import { freePorts } from "../src/mesh/mesh-setup.js";

const run = promisify(execFile);
let directory = "";

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-etcd-"));
  // The tests need the real binaries: a machine without them fails here, never skips.
  for (const program of ["etcd", "etcdctl"]) {
    const found = await locateProgram(program, process.env.PATH ?? "");
    assert.notEqual(found, null, `${program} is not installed: run scripts/setup-system.sh`);
  }
  const { stdout } = await run("etcd", ["--version"]);
  assert.match(stdout, /etcd Version: 3\.4\./);
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** Retries `attempt` until it returns a value (not undefined), at most `attempts` times. */
async function eventually<T>(
  what: string,
  attempts: number,
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  let lastError: unknown = null;
  for (let index = 0; index < attempts; index += 1) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what}: gave up after ${attempts} attempts (last error: ${String(lastError)})`);
}

test("a learner joins a live etcd, is promoted, then removed while the survivor serves", async () => {
  const [peerA, clientA, peerB, clientB] = await freePorts(4);
  const a = { name: "etcd-a", peer: `127.0.0.1:${peerA}`, client: `127.0.0.1:${clientA}` };
  const b = { name: "etcd-b", peer: `127.0.0.1:${peerB}`, client: `127.0.0.1:${clientB}` };
  const logDirectory = join(directory, "logs");
  const runtime = new ProcessRuntime({ logDirectory, backoffInitialMs: 200, stopGraceMs: 5_000 });
  const specA = etcdComponentSpec({
    name: a.name,
    componentName: a.name,
    dataDirectory: join(directory, a.name),
    peerAddress: a.peer,
    clientAddress: a.client,
    initialCluster: [{ name: a.name, peerUrl: `http://${a.peer}` }],
    clusterState: "new",
  });
  try {
    await runtime.apply([specA]);
    const endpointA = `http://${a.client}`;
    const membership = etcdctlMembership({ endpoints: [endpointA], timeoutMs: 2_000 });
    const founders = await eventually("etcd-a answers", 100, async () => {
      const members = await membership.list();
      return members.length === 1 ? members : undefined;
    });
    assert.equal(founders[0]!.name, a.name);
    assert.deepEqual(founders[0]!.peerUrls, [`http://${a.peer}`]);
    assert.equal(founders[0]!.isLearner, false);
    assert.match(founders[0]!.id, /^[0-9a-f]{1,16}$/);

    const learner = await membership.addLearner(b.name, `http://${b.peer}`);
    assert.equal(learner.isLearner, true);
    assert.equal(learner.name, b.name);
    assert.deepEqual(learner.peerUrls, [`http://${b.peer}`]);
    // Idempotent: a resumed procedure asking again gets the same member, not a second one.
    const again = await membership.addLearner(b.name, `http://${b.peer}`);
    assert.equal(again.id, learner.id);
    const listed = await membership.list();
    assert.equal(listed.length, 2);
    assert.deepEqual(listed.find((member) => member.id === learner.id)?.isLearner, true);
    // Not started yet, so not in sync: etcd refuses and the client says "not-ready".
    assert.equal(await membership.promote(learner.id), "not-ready");

    const specB = etcdComponentSpec({
      name: b.name,
      componentName: b.name,
      dataDirectory: join(directory, b.name),
      peerAddress: b.peer,
      clientAddress: b.client,
      initialCluster: initialClusterOf(listed, learner),
      clusterState: "existing",
    });
    const clusterFlag = specB.args.find((arg) => arg.startsWith("--initial-cluster="));
    assert.deepEqual(clusterFlag?.slice("--initial-cluster=".length).split(",").sort(), [
      `${a.name}=http://${a.peer}`,
      `${b.name}=http://${b.peer}`,
    ]);
    assert.ok(specB.args.includes("--initial-cluster-state=existing"));
    await runtime.apply([specA, specB]);
    const promoted = await eventually("learner promoted", 150, async () =>
      (await membership.promote(learner.id)) === "promoted" ? true : undefined,
    );
    assert.equal(promoted, true);
    assert.equal(await membership.promote(learner.id), "promoted", "promoting a voter again is fine");
    const voters = await membership.list();
    assert.deepEqual(voters.map((member) => [member.name, member.isLearner]).sort(), [
      [a.name, false],
      [b.name, false],
    ]);
    assert.deepEqual(voters.find((member) => member.id === learner.id)?.clientUrls, [`http://${b.client}`]);
    const statuses = await etcdctlEndpointStatus({ endpoints: [endpointA, `http://${b.client}`] });
    assert.equal(statuses.length, 2);
    assert.equal(new Set(statuses.map((status) => status.leaderId)).size, 1, "one leader seen by both");

    // etcd refuses to remove a voter connected for less than 5 s ("unhealthy cluster",
    // retryable): the procedure retries, as here.
    await eventually("member removed", 100, async () => {
      try {
        await membership.remove(learner.id);
        return true;
      } catch (error) {
        assert.ok(error instanceof EtcdRefusedError && error.retryable, String(error));
        return undefined;
      }
    });
    await membership.remove(learner.id); // unknown now: fine
    await runtime.apply([specA]);
    const survivors = await membership.list();
    assert.deepEqual(
      survivors.map((member) => member.name),
      [a.name],
    );
    assert.deepEqual(
      runtime.status().map((component) => [component.name, component.state]),
      [
        [a.name, "running"],
        [b.name, "stopped"],
      ],
    );
    const health = await etcdctlEndpointHealth({ endpoints: [endpointA] });
    assert.deepEqual(
      health.map((entry) => [entry.endpoint, entry.healthy]),
      [[endpointA, true]],
    );
    const env = { ...process.env, ETCDCTL_API: "3" };
    await run("etcdctl", [`--endpoints=${endpointA}`, "put", "after-remove", "still-here"], { env });
    const { stdout } = await run(
      "etcdctl",
      [`--endpoints=${endpointA}`, "get", "--print-value-only", "after-remove"],
      {
        env,
      },
    );
    assert.equal(stdout.trim(), "still-here");
    // Both members wrote their logs where the runtime put them.
    assert.match(await readFile(join(logDirectory, `${b.name}.log`), "utf8"), /etcd-b/);
  } finally {
    await runtime.stop();
  }
  assert.ok(runtime.status().every((component) => component.state === "stopped"));
});

test("uint64 member ids survive etcdctl's JSON as hex strings", () => {
  // etcdctl printed this member as `9e737febb6b99eee` in its table output and as the bare
  // JSON integer below, which JSON.parse would round to 11417610130673999000.
  const text = '{"header":{"member_id":11417610130673999598},"name":"a 12 \\" 3","ratio":1.5,"list":[-2,7]}';
  assert.equal(
    quoteIntegers(text),
    '{"header":{"member_id":"11417610130673999598"},"name":"a 12 \\" 3","ratio":1.5,"list":["-2","7"]}',
  );
  assert.equal(hexId("11417610130673999598"), "9e737febb6b99eee");
  assert.equal(hexId("18446744073709551615"), "ffffffffffffffff");
  assert.throws(() => hexId("18446744073709551616"), /uint64/);
});

test("etcd's refusals and an unreachable endpoint are told apart", async () => {
  const [deadPort] = await freePorts(1);
  const unreachable = etcdctlMembership({ endpoints: [`http://127.0.0.1:${deadPort}`], timeoutMs: 500 });
  await assert.rejects(unreachable.list(), EtcdUnavailableError);
  await assert.rejects(unreachable.promote("1234"), EtcdUnavailableError);

  const [peer, client, learnerOne, learnerTwo] = await freePorts(4);
  const runtime = new ProcessRuntime({ logDirectory: join(directory, "logs-refusals") });
  try {
    await runtime.apply([
      etcdComponentSpec({
        name: "solo",
        dataDirectory: join(directory, "solo"),
        peerAddress: `127.0.0.1:${peer}`,
        clientAddress: `127.0.0.1:${client}`,
        initialCluster: [{ name: "solo", peerUrl: `http://127.0.0.1:${peer}` }],
        clusterState: "new",
      }),
    ]);
    const membership = etcdctlMembership({ endpoints: [`http://127.0.0.1:${client}`], timeoutMs: 2_000 });
    await eventually("solo answers", 100, async () =>
      (await membership.list()).length === 1 ? true : undefined,
    );
    await membership.remove("abcdef"); // an unknown id: fine
    await assert.rejects(membership.promote("abcdef"), EtcdRefusedError);
    await membership.addLearner("one", `http://127.0.0.1:${learnerOne}`);
    // etcd 3.4 allows one learner at a time: the refusal is an error naming etcd's reason.
    await assert.rejects(membership.addLearner("two", `http://127.0.0.1:${learnerTwo}`), (error: unknown) => {
      assert.ok(error instanceof EtcdRefusedError);
      assert.match(error.reason, /too many learner members/);
      return true;
    });
    assert.equal((await membership.list()).length, 2, "the refused add left the member list alone");
  } finally {
    await runtime.stop();
  }
});

test("etcdctl crashing after etcd applied a promote (3.4's JSON printer) is read back from the member list", async () => {
  // A stand-in etcdctl: `member promote` panics like etcdctl 3.4.23 does after a promote
  // etcd applied; `member list` shows the member as a voter (or, for id 2, still a learner).
  const fake = join(directory, "fake-etcdctl");
  await writeFile(
    fake,
    `#!/bin/sh
for arg in "$@"; do last="$arg"; done
case "$*" in
  *"member promote"*) echo "panic: runtime error: invalid memory address or nil pointer dereference" >&2
    echo "go.etcd.io/etcd/etcdctl/main.go:35 +0x65" >&2; exit 2 ;;
  *"member list"*) echo '{"members":[{"ID":1,"name":"a","peerURLs":["http://a:1"]},{"ID":2,"name":"b","peerURLs":["http://b:1"],"isLearner":true}]}' ;;
esac
`,
    { mode: 0o755 },
  );
  const membership = etcdctlMembership({ endpoints: ["http://127.0.0.1:1"], timeoutMs: 1000, etcdctl: fake });
  assert.equal(await membership.promote("1"), "promoted");
  assert.equal(await membership.promote("2"), "not-ready");
  await assert.rejects(membership.promote("3"), (error: Error) => {
    assert.ok(error instanceof EtcdctlError && error.crashed, String(error));
    assert.match(error.message, /crashed: panic: runtime error/);
    return true;
  });
});
