/**
 * Goal: the Kubernetes face's parts behave as documented: role patches (labels, taint,
 * cordon), static pods on exactly the control-plane nodes, YAML 1.1-safe scalars, node
 * views, located reader errors, unknown fields, and a validator that catches what
 * kubernetes-models and the client-node round trip catch, etcd's revocation list read through
 * its certificate mount. Method: the mesh example state.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { etcdRevocationListFile, type RenderContext } from "@revoada/fabric-core/face";
import { arbitraryFabricState, exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { FabricState, formatIssue, type NodeId } from "@revoada/fabric-core/vocabulary";
import fc from "fast-check";
import { parse } from "yaml";
import { kubernetesFace } from "./index.js";
import { formatMemory, parseCpu, parseMemory } from "./quantity.js";
import { readKubernetesChecked } from "./reader.js";

const mesh = exampleFabricStates.mesh!;
const cluster = { kind: "cluster" } as const;
const files = kubernetesFace.writer.write(mesh, cluster).files;

function content(path: string, from = files): string {
  const file = from.find((candidate) => candidate.path === path);
  assert.ok(file, `${path} is written`);
  return file.content;
}

describe("node role patches", () => {
  it("a control-plane node gets kubeadm's labels and NoSchedule taint, API-side", () => {
    const patch = parse(content("cluster/nodes/cp-1.patch.yaml"));
    assert.equal(patch.kind, "Node");
    assert.equal(patch.metadata.labels["node-role.kubernetes.io/control-plane"], "");
    assert.equal(patch.metadata.labels["node.kubernetes.io/exclude-from-external-load-balancers"], "");
    assert.deepEqual(patch.spec.taints, [
      { effect: "NoSchedule", key: "node-role.kubernetes.io/control-plane" },
    ]);
    assert.equal(patch.spec.unschedulable, undefined);
  });

  it("a quarantined node is cordoned and tainted; a worker has neither", () => {
    const quarantined = parse(content("cluster/nodes/worker-2.patch.yaml"));
    assert.equal(quarantined.spec.unschedulable, true);
    assert.deepEqual(quarantined.spec.taints, [{ effect: "NoSchedule", key: "revoada.io/quarantined" }]);
    const worker = parse(content("cluster/nodes/worker-1.patch.yaml"));
    assert.equal(worker.spec, undefined);
    assert.equal(worker.metadata.labels["node-role.kubernetes.io/control-plane"], undefined);
  });
});

describe("static pods", () => {
  it("exist on exactly the nodes holding each role", () => {
    const manifests = files.map((file) => file.path).filter((path) => path.includes("/manifests/"));
    assert.deepEqual(
      manifests.filter((path) => path.endsWith("/etcd.yaml")),
      ["nodes/cp-1/manifests/etcd.yaml", "nodes/cp-2/manifests/etcd.yaml", "nodes/cp-3/manifests/etcd.yaml"],
    );
    assert.deepEqual(
      manifests.filter((path) => path.endsWith("/kube-apiserver.yaml")),
      ["nodes/cp-1/manifests/kube-apiserver.yaml", "nodes/cp-2/manifests/kube-apiserver.yaml"],
    );
    assert.ok(!manifests.some((path) => path.startsWith("nodes/worker-")));
  });

  it("are kubeadm-shaped, with the advertise address from the node", () => {
    const pod = parse(content("nodes/cp-1/manifests/kube-apiserver.yaml"));
    assert.equal(pod.metadata.namespace, "kube-system");
    assert.deepEqual(pod.metadata.labels, { component: "kube-apiserver", tier: "control-plane" });
    assert.equal(
      pod.metadata.annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"],
      "10.0.0.11:6443",
    );
    assert.equal(pod.spec.hostNetwork, true);
    assert.equal(pod.spec.priorityClassName, "system-node-critical");
    assert.equal(pod.spec.securityContext.seccompProfile.type, "RuntimeDefault");
    const container = pod.spec.containers[0];
    assert.deepEqual(container.livenessProbe.httpGet, {
      host: "10.0.0.11",
      path: "/livez",
      port: 6443,
      scheme: "HTTPS",
    });
    assert.equal(container.startupProbe.failureThreshold, 24);
    assert.ok(
      container.command.includes(
        "--etcd-servers=https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379",
      ),
    );
    const etcd = parse(content("nodes/cp-3/manifests/etcd.yaml"));
    assert.ok(
      etcd.spec.containers[0].command.includes(
        "--initial-cluster=cp-1=https://10.0.0.11:2380,cp-2=https://10.0.0.12:2380,cp-3=https://10.0.0.13:2380",
      ),
    );
    assert.equal(etcd.spec.containers[0].livenessProbe.httpGet.port, 2381);
  });

  it("etcd reads the node's revocation list through its certificate mount, and the validator accepts it", async () => {
    const scope = {
      kind: "node",
      node: Object.values(mesh.nodes).find((n) => n.name === "cp-1")!.id,
    } as const;
    const etcdPod = (context: RenderContext) =>
      kubernetesFace.writer
        .write(mesh, scope, context)
        .files.find((file) => file.path.endsWith("/etcd.yaml"))!;
    const listed = etcdPod({ etcdRevocationList: true });
    const pod = parse(listed.content);
    const command: string[] = pod.spec.containers[0].command;
    assert.ok(command.includes(`--client-crl-file=${etcdRevocationListFile}`), command.join(" "));
    assert.ok(command.includes(`--peer-crl-file=${etcdRevocationListFile}`));
    // The container sees the host's file: a hostPath volume mounted at the same path holds it.
    const mount = pod.spec.containers[0].volumeMounts.find((m: { mountPath: string }) =>
      etcdRevocationListFile.startsWith(`${m.mountPath}/`),
    );
    assert.ok(mount, "a volume mount holds the list");
    const volume = pod.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    assert.equal(volume.hostPath.path, mount.mountPath);
    assert.deepEqual(await kubernetesFace.validate!([listed]), []);
    assert.doesNotMatch(etcdPod({}).content, /crl-file/, "no list, no flag");
    // The reader re-renders from the state alone (no context), so it reads the same state and
    // lists the flags it would not have rendered as unknown, as with the committed etcd members.
    const readBack = async (context: RenderContext) => {
      const read = await kubernetesFace.reader.read(kubernetesFace.writer.write(mesh, scope, context).files);
      assert.ok(read.ok);
      return read.value;
    };
    const withList = await readBack({ etcdRevocationList: true });
    const without = await readBack({});
    assert.deepEqual(withList.state, without.state, "reads back the same state");
    const elsewhere = (read: typeof without) =>
      read.unknown.filter((field) => !field.file.endsWith("/etcd.yaml"));
    assert.deepEqual(elsewhere(withList), elsewhere(without), "only etcd's command reads differently");
  });
});

describe("workloads", () => {
  it("place with nodeSelector, zone affinity, spread and control-plane tolerations", () => {
    const [web] = content("workloads/default/web.yaml")
      .split("---\n")
      .map((text) => parse(text));
    const spec = web.spec.template.spec;
    assert.deepEqual(spec.nodeSelector, { disk: "ssd" });
    assert.deepEqual(
      spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
        .matchExpressions,
      [{ key: "topology.kubernetes.io/zone", operator: "In", values: ["zone-a", "zone-b"] }],
    );
    assert.equal(spec.tolerations, undefined);
    assert.equal(spec.topologySpreadConstraints.length, 2);
    const [exporter] = content("workloads/monitoring/node-exporter.yaml")
      .split("---\n")
      .map((text) => parse(text));
    assert.deepEqual(exporter.spec.template.spec.tolerations, [
      { effect: "NoSchedule", key: "node-role.kubernetes.io/control-plane", operator: "Exists" },
    ]);
  });

  it("quotes scalars YAML 1.1 would misread", () => {
    const workload = { ...mesh.workloads["default/web"]!, args: ["on", "yes", "0777", "1.20", "0o17", "~"] };
    const state: FabricState = { ...mesh, workloads: { "default/web": workload } };
    const text = content("workloads/default/web.yaml", kubernetesFace.writer.write(state, cluster).files);
    for (const value of workload.args) assert.ok(text.includes(`- "${value}"`), `${value} is quoted`);
  });

  it("a node's view holds its patch, its static pods and the workloads placed on it", () => {
    const cp1 = Object.values(mesh.nodes).find((node) => node.name === "cp-1")!;
    const view = kubernetesFace.writer
      .write(mesh, { kind: "node", node: cp1.id as NodeId })
      .files.map((file) => file.path);
    assert.deepEqual(view, [
      "cluster/nodes/cp-1.patch.yaml",
      "nodes/cp-1/manifests/etcd.yaml",
      "nodes/cp-1/manifests/kube-apiserver.yaml",
      "nodes/cp-1/manifests/kube-controller-manager.yaml",
      "nodes/cp-1/manifests/kube-scheduler.yaml",
      "workloads/monitoring/node-exporter.yaml",
    ]);
  });

  it("reports what it drops", () => {
    const dropped = kubernetesFace.writer.write(mesh, cluster).dropped.map((entry) => entry.path.join("."));
    assert.ok(dropped.includes("applied"));
    assert.ok(dropped.some((path) => path.endsWith(".capacity")));
  });
});

describe("reader and validator", () => {
  it("a YAML syntax error names file, line and column", async () => {
    const read = await kubernetesFace.reader.read([
      { path: "workloads/a/b.yaml", content: "kind: Deployment\nmetadata: [\n" },
    ]);
    assert.ok(!read.ok);
    assert.match(formatIssue(read.issues[0]!), /^workloads\/a\/b\.yaml:\d+:\d+: /);
  });

  it("a schema error points at the field", async () => {
    const broken = files.map((file) =>
      file.path === "workloads/batch/idle.yaml"
        ? { ...file, content: file.content.replace("replicas: 0", "replicas: many") }
        : file,
    );
    const read = await kubernetesFace.reader.read(broken);
    assert.ok(!read.ok);
    assert.equal(read.issues[0]!.file, "workloads/batch/idle.yaml");
    assert.deepEqual(read.issues[0]!.path, ["spec", "replicas"]);
    assert.ok((read.issues[0]!.line ?? 0) > 1);
  });

  it("fields it does not understand come back as unknown, with a position", async () => {
    const edited = files.map((file) =>
      file.path === "workloads/batch/idle.yaml"
        ? { ...file, content: file.content.replace("  replicas: 0\n", "  replicas: 0\n  paused: true\n") }
        : file,
    );
    const read = await kubernetesFace.reader.read(edited);
    assert.ok(read.ok);
    assert.deepEqual(
      read.value.unknown.map((field) => [field.file, field.path.join("."), field.line]),
      [["workloads/batch/idle.yaml", "spec.paused", 13]],
    );
  });

  it("the validator catches unknown fields and missing required fields", async () => {
    const text = content("workloads/batch/idle.yaml")
      .replace("  replicas: 0\n", "  replica: 0\n")
      .replace("  selector:\n", "  selectr:\n");
    const issues = await kubernetesFace.validate!([{ path: "workloads/batch/idle.yaml", content: text }]);
    const messages = issues.map(formatIssue);
    assert.ok(
      messages.some((message) =>
        /spec: must have required property 'selector'|required property selector/.test(message),
      ),
      messages.join("\n"),
    );
    const typoOnly = content("workloads/batch/idle.yaml").replace(
      "      containers:\n",
      "      contianers: []\n      containers:\n",
    );
    const unknown = await kubernetesFace.validate!([{ path: "x.yaml", content: typoOnly }]);
    assert.deepEqual(
      unknown.map((issue) => [issue.code, issue.path.join(".")]),
      [["unknown_field", "spec.template.spec.contianers"]],
    );
  });
});

describe("quantities", () => {
  it("memory and cpu round-trip in the forms written", () => {
    for (const bytes of [1, 1023, 1024, 268_435_456, 3 * 2 ** 30 + 1])
      assert.equal(parseMemory(formatMemory(bytes)), bytes);
    assert.equal(parseCpu("250m"), 250);
    assert.equal(parseCpu("2"), 2000);
    assert.equal(parseCpu("0.5"), undefined);
    assert.equal(parseMemory("1G"), 1e9);
  });
});

describe("the reader's fast path", () => {
  it("gives what the fully checked reader gives (generated states)", async () => {
    const states = fc.sample(arbitraryFabricState(), { numRuns: 12, seed: 11 });
    for (const state of [mesh, ...states]) {
      const written = kubernetesFace.writer.write(state, cluster).files;
      const fast = await kubernetesFace.reader.read(written);
      const checked = await readKubernetesChecked(written);
      assert.ok(fast.ok && checked.ok);
      assert.deepEqual(fast.value, checked.value);
    }
  });
});

describe("states outside the generator's comfort zone", () => {
  it("odd node names, duplicate names and non-Kubernetes labels still round-trip", async () => {
    const [first, second] = Object.values(mesh.nodes);
    const odd: FabricState = FabricState.parse({
      ...mesh,
      nodes: {
        [first!.id]: {
          ...first!,
          name: "Node_A",
          labels: { "a/b/c": "x", "Upper.Example/k": "y", "ok.example/k": "not a label value!" },
        },
        [second!.id]: { ...second!, name: "node-a", zone: "zone with spaces" },
      },
      workloads: {},
      placements: {},
    });
    const written = kubernetesFace.writer.write(odd, cluster);
    const paths = written.files.map((file) => file.path).filter((path) => path.startsWith("cluster/"));
    assert.deepEqual(paths, [
      `cluster/nodes/node-a-${first!.id}.patch.yaml`,
      `cluster/nodes/node-a-${second!.id}.patch.yaml`,
    ]);
    const patch = parse(written.files[0]!.content);
    assert.equal(patch.metadata.name, "node-a");
    assert.equal(patch.metadata.annotations["revoada.io/node-name"], "Node_A");
    assert.deepEqual(JSON.parse(patch.metadata.annotations["revoada.io/labels"]), {
      "Upper.Example/k": "y",
      "a/b/c": "x",
      "ok.example/k": "not a label value!",
    });
    assert.deepEqual(await kubernetesFace.validate!(written.files), []);
    const read = await kubernetesFace.reader.read(written.files);
    assert.ok(read.ok, read.ok ? "" : read.issues.map(formatIssue).join("\n"));
    assert.deepEqual(read.value.unknown, []);
    assert.deepEqual(read.value.state, kubernetesFace.model(odd));
  });
});
