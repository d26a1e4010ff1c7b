// Goal: runtimes are picked by name and each does, or refuses, what docs/actuators.md says:
// `process` runs the components and reports an absent program as unavailable; `kubelet`
// sends the kubernetes face's Node role patch by server-side apply when a kubeconfig names an
// API server and says "no API server configured" otherwise; `systemd` refuses, naming PID 1,
// unless PID 1 is systemd, and then stops, links, reloads, enables and starts units in order.
// Method: real child processes; the Node patch goes through @kubernetes/client-node to an
// HTTP server on loopback that records the request; systemctl is a recording script (this
// machine has no systemd to drive) and PID 1's name comes from a file the test writes, plus
// one run against the real /proc/1/comm.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { controlPlaneComponent } from "@revoada/fabric-core/face";
import {
  emptyFabricState,
  type FabricState,
  type NodeId,
  type NodeState,
} from "@revoada/fabric-core/vocabulary";
import { parse as parseYaml } from "yaml";
import { etcdComponentSpec } from "../src/actuate/etcd-component.js";
import {
  controlPlaneProcessSpecs,
  createRuntime,
  initProgram,
  noApiServerConfigured,
  nodeRolePatch,
  type Runtime,
  type RuntimeOptions,
} from "../src/actuate/runtime.js";

let directory = "";

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-runtime-"));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

function node(octet: number, name: string, roles: NodeState["roles"]): NodeState {
  return {
    id: octet.toString(16).padStart(64, "a") as NodeId,
    name,
    addresses: { api: `10.0.0.${octet}:7070`, raft: `10.0.0.${octet}:7071` },
    roles,
    capacity: { cpu_millis: 4000, memory_bytes: 8 << 30, storage_bytes: 100 << 30, pods: 110 },
    zone: "zone-a",
    rack: "",
    labels: {},
    version: "0.1.0",
    generation: 1,
  };
}

const controlNode = node(1, "cp-1", ["etcd", "api-server", "scheduler", "controller-manager"]);
const workerNode = node(2, "worker-2", ["worker"]);
const state: FabricState = {
  ...emptyFabricState(),
  nodes: { [controlNode.id]: controlNode, [workerNode.id]: workerNode },
};

function runtime(name: string, options: Partial<RuntimeOptions> = {}): Runtime {
  const created = createRuntime(name, { logDirectory: join(directory, `logs-${name}`), ...options });
  assert.ok(created.ok, `runtime ${name}`);
  return created.value;
}

test("runtimes are picked by name; an unknown name is refused with the known ones", () => {
  for (const name of ["process", "kubelet", "systemd"]) assert.equal(runtime(name).name, name);
  const unknown = createRuntime("docker", { logDirectory: directory });
  assert.ok(!unknown.ok);
  assert.equal(unknown.issues[0]?.code, "unknown_runtime");
  assert.match(unknown.issues[0]?.message ?? "", /"docker".*process, kubelet, systemd/);
});

test("the process runtime runs what exists and reports an absent program as unavailable", async () => {
  const etcd = etcdComponentSpec({
    name: "cp-1",
    dataDirectory: join(directory, "etcd-unused"),
    peerAddress: "127.0.0.1:2380",
    clientAddress: "127.0.0.1:2379",
    initialCluster: [{ name: "cp-1", peerUrl: "http://127.0.0.1:2380" }],
    clusterState: "new",
  });
  const specs = controlPlaneProcessSpecs(state, controlNode, etcd);
  assert.deepEqual(
    specs.map((spec) => spec.name),
    ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"],
  );
  const apiServer = specs.find((spec) => spec.name === "kube-apiserver");
  assert.deepEqual(
    [apiServer?.command, ...(apiServer?.args ?? [])],
    controlPlaneComponent(state, controlNode, "api-server").command,
    "the same command line the faces render",
  );
  assert.deepEqual(
    controlPlaneProcessSpecs(state, controlNode, null).map((spec) => spec.name),
    ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
    "etcd waits for the membership procedure",
  );
  assert.deepEqual(controlPlaneProcessSpecs(state, workerNode, etcd), []);

  const processes = runtime("process", { process: { searchPath: process.env.PATH ?? "" } });
  try {
    const components = [
      { name: "kube-apiserver", command: "revoada-test-no-such-kube-apiserver", args: [] },
      { name: "sleeper", command: "sleep", args: ["1000"] },
    ];
    const outcome = await processes.apply({
      state,
      nodeId: controlNode.id,
      outputDirectory: directory,
      components,
    });
    assert.ok(outcome.applied);
    assert.equal(outcome.actions.length, 1);
    assert.match(outcome.actions[0] ?? "", /^sleeper: running \(pid \d+, 0 restarts\)$/);
    assert.deepEqual(outcome.skipped, [
      "kube-apiserver: unavailable (revoada-test-no-such-kube-apiserver not found on PATH)",
    ]);
    assert.equal(processes.status().summary, "1 running, 1 unavailable, 2 known");
  } finally {
    await processes.stop();
  }
  assert.deepEqual(
    processes.status().components.map((status) => status.state),
    ["stopped", "stopped"],
  );
});

test("the kubelet runtime's Node patch carries the role labels and taints", async () => {
  const control = await nodeRolePatch(controlNode);
  assert.equal(control.apiVersion, "v1");
  assert.equal(control.kind, "Node");
  assert.equal(control.metadata.name, "cp-1");
  assert.equal(control.metadata.labels?.["node-role.kubernetes.io/control-plane"], "");
  assert.equal(control.metadata.labels?.["node-role.kubernetes.io/worker"], undefined);
  assert.deepEqual(control.spec?.taints, [
    { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
  ]);
  assert.equal(control.metadata.annotations?.["revoada.io/node-id"], controlNode.id);

  const worker = await nodeRolePatch(workerNode);
  assert.equal(worker.metadata.labels?.["node-role.kubernetes.io/worker"], "");
  assert.equal(worker.metadata.labels?.["node-role.kubernetes.io/control-plane"], undefined);
  assert.equal(worker.spec, undefined, "a worker is not tainted");

  const quarantined = await nodeRolePatch({ ...workerNode, roles: ["quarantined"] });
  assert.equal(quarantined.spec?.unschedulable, true);
});

test("without a kubeconfig the kubelet runtime says no API server is configured", async () => {
  const kubelet = runtime("kubelet");
  assert.equal(kubelet.status().summary, noApiServerConfigured);
  const outcome = await kubelet.apply({
    state,
    nodeId: controlNode.id,
    outputDirectory: directory,
    components: [],
  });
  assert.ok(outcome.applied);
  assert.deepEqual(outcome.skipped, [`Node patch: ${noApiServerConfigured}`]);
  const missing = await kubelet.apply({
    state,
    nodeId: "f".repeat(64) as NodeId,
    outputDirectory: directory,
    components: [],
  });
  assert.deepEqual(missing, {
    applied: false,
    reason: `node ${"f".repeat(64)} is not in the committed state`,
  });
});

test("with a kubeconfig the kubelet runtime applies the Node patch server-side", async () => {
  const requests: {
    method: string;
    url: string;
    contentType: string;
    authorization: string;
    body: unknown;
  }[] = [];
  let answer = 200;
  const server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    requests.push({
      method: request.method ?? "",
      url: request.url ?? "",
      contentType: request.headers["content-type"] ?? "",
      authorization: request.headers.authorization ?? "",
      body: parseYaml(text),
    });
    response.writeHead(answer, { "content-type": "application/json" });
    response.end(
      answer === 200
        ? text
        : JSON.stringify({
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            message: "nodes is forbidden",
            code: answer,
          }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const address = server.address();
    assert.ok(typeof address === "object" && address !== null);
    const kubeconfigPath = join(directory, "kubeconfig.yaml");
    await writeFile(
      kubeconfigPath,
      [
        "apiVersion: v1",
        "kind: Config",
        // client-node speaks plain http only with insecure-skip-tls-verify set.
        "clusters: [{name: test, cluster: {server: 'http://127.0.0.1:" +
          address.port +
          "', insecure-skip-tls-verify: true}}]",
        "users: [{name: revoada, user: {token: test-token}}]",
        "contexts: [{name: test, context: {cluster: test, user: revoada}}]",
        "current-context: test",
        "",
      ].join("\n"),
    );
    const kubelet = runtime("kubelet", { kubeconfigPath });
    assert.equal(kubelet.status().summary, `API server from ${kubeconfigPath}`);
    const outcome = await kubelet.apply({
      state,
      nodeId: controlNode.id,
      outputDirectory: directory,
      components: [],
    });
    assert.ok(outcome.applied, JSON.stringify(outcome));
    assert.deepEqual(outcome.skipped, []);
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request?.method, "PATCH");
    const url = new URL(request?.url ?? "", "http://x");
    assert.equal(url.pathname, "/api/v1/nodes/cp-1");
    assert.equal(url.searchParams.get("fieldManager"), "revoada");
    assert.equal(url.searchParams.get("force"), "true");
    assert.match(request?.contentType ?? "", /^application\/apply-patch\+yaml/);
    assert.equal(request?.authorization, "Bearer test-token");
    assert.deepEqual(request?.body, await nodeRolePatch(controlNode));

    answer = 403;
    const refused = await kubelet.apply({
      state,
      nodeId: controlNode.id,
      outputDirectory: directory,
      components: [],
    });
    assert.ok(!refused.applied);
    assert.match(refused.reason, /^Node cp-1: the API server refused the patch: /);
    assert.deepEqual(kubelet.status().lastOutcome, refused);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("the systemd runtime refuses where PID 1 is not systemd, naming what PID 1 is", async (context) => {
  const commPath = join(directory, "comm");
  await writeFile(commPath, "tini\n");
  const systemd = runtime("systemd", { initCommPath: commPath, systemctl: "/nonexistent/systemctl" });
  const outcome = await systemd.apply({
    state,
    nodeId: controlNode.id,
    outputDirectory: directory,
    components: [],
  });
  assert.deepEqual(outcome, {
    applied: false,
    reason: "PID 1 is tini, not systemd: the systemd runtime cannot load or start units here",
  });
  assert.equal(systemd.status().summary, outcome.applied ? "" : outcome.reason);

  // And on this machine, with the real /proc/1/comm.
  const init = await initProgram();
  if (init === "systemd")
    return context.skip("PID 1 is systemd here: the refusal cannot be shown on this host");
  const real = await runtime("systemd").apply({
    state,
    nodeId: controlNode.id,
    outputDirectory: directory,
    components: [],
  });
  assert.ok(!real.applied);
  assert.equal(
    real.reason,
    `PID 1 is ${init}, not systemd: the systemd runtime cannot load or start units here`,
  );
});

test("under systemd the runtime stops dropped units, links, reloads, then enables and starts", async () => {
  const commPath = join(directory, "comm-systemd");
  await writeFile(commPath, "systemd\n");
  const units = join(directory, "units");
  await mkdir(units, { recursive: true });
  await writeFile(join(units, "revoada-etcd.service"), "[Service]\nExecStart=/usr/bin/etcd\n");
  await writeFile(join(units, "revoada-node.target"), "[Unit]\nDescription=node\n");
  await writeFile(join(units, "MANIFEST.json"), "{}\n");
  const calls = join(directory, "systemctl-calls");
  const systemctl = join(directory, "systemctl");
  await writeFile(
    systemctl,
    [
      "#!/bin/sh",
      `echo "$*" >> '${calls}'`,
      'if [ "$1" = list-units ]; then',
      "  echo 'revoada-old.service loaded active running Old component'",
      "  echo 'revoada-etcd.service loaded active running etcd'",
      "fi",
      "",
    ].join("\n"),
  );
  await chmod(systemctl, 0o755);
  const systemd = runtime("systemd", { initCommPath: commPath, systemctl });
  const outcome = await systemd.apply({
    state,
    nodeId: controlNode.id,
    outputDirectory: units,
    components: [],
  });
  assert.ok(outcome.applied, JSON.stringify(outcome));
  assert.deepEqual((await readFile(calls, "utf8")).trim().split("\n"), [
    "list-units --all --plain --no-legend revoada-* revoada.*",
    "disable --now revoada-old.service",
    `link ${join(units, "revoada-etcd.service")}`,
    `link ${join(units, "revoada-node.target")}`,
    "daemon-reload",
    "enable --now revoada-etcd.service",
    "enable --now revoada-node.target",
  ]);
  assert.deepEqual(outcome.actions, [
    "revoada-old.service: stopped and disabled (no longer rendered)",
    "daemon-reload",
    "revoada-etcd.service: enabled and started",
    "revoada-node.target: enabled and started",
  ]);
});
