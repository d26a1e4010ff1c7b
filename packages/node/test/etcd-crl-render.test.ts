// Goal: under the `kubelet` and `systemd` runtimes (the host runs the etcd the face rendered),
// the node writes the cluster CA's etcd revocation list exactly where the rendered static pod,
// unit and Quadlet tell etcd to read it, listing what the chain revoked; the render carries
// the CRL flags only when the list is there (etcd refuses every connection while a list it
// was given is missing); the `process` runtime keeps its own list, and a node without the CA
// key writes none and says so. A local mesh keeps each node's list under its own directory.
// Method: NodeActuation with each runtime and a temporary host root, a chain of etcd-member
// blocks (one member removed); the daemon's render step (refresh, then write with the
// context it returns) through the kubernetes, systemd and baremetal faces; OpenSSL checks the
// list against the CA.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BlockCommand, BlockRecord } from "@revoada/fabric-core/attest";
import type { FabricMachine } from "@revoada/fabric-core/fabric";
import { etcdRevocationListFile, type Face, type RenderContext } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { Blake3Hash, NodeId } from "@revoada/fabric-core/vocabulary";
import { baremetalFace } from "@revoada/face-baremetal";
import { kubernetesFace } from "@revoada/face-kubernetes";
import { systemdFace } from "@revoada/face-systemd";
import { NodeActuation } from "../src/daemon/actuation.js";
import type { ActuatorConfig } from "../src/daemon/config.js";
import { loadNodeConfig } from "../src/daemon/config.js";
import { createLogger } from "../src/daemon/log.js";
import { createMeshLayout } from "../src/mesh/mesh-setup.js";
import { type ClusterCa, createClusterCa, issueCertificate } from "../src/pki/ca.js";
import { serialOf } from "../src/pki/etcd-credentials.js";
import { unsealerFromSeed } from "../src/pki/seal.js";

let directory = "";
let ca: ClusterCa;
let removedSerial = "";
let keptSerial = "";

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-crl-render-"));
  ca = await createClusterCa("revoada test CA");
  removedSerial = serialOf((await issueCertificate(ca, { commonName: "gone", usage: "peer" })).certPem);
  keptSerial = serialOf((await issueCertificate(ca, { commonName: "kept", usage: "peer" })).certPem);
});

after(async () => {
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

const member = (n: number) => n.toString(16).padStart(64, "0") as NodeId;
const block = (command: BlockCommand): BlockRecord =>
  ({ kind: "block", body: { command }, hash: "", signature: null }) as unknown as BlockRecord;
const added = (n: number, serial: string): BlockRecord =>
  block({
    type: "etcd-member",
    node: member(n),
    event: "added",
    member_id: String(n),
    credential: { blob: "ab".repeat(32) as Blake3Hash, serial },
  });

/** Member 1 was removed (its certificate revoked); member 2 still holds its own. */
function chainBlocks(): BlockRecord[] {
  return [
    added(1, removedSerial),
    added(2, keptSerial),
    block({ type: "etcd-member", node: member(1), event: "removed", member_id: "1" }),
  ];
}

function actuation(
  runtime: ActuatorConfig["runtime"],
  hostRoot: string,
  clusterCa: ClusterCa,
  lines: string[] = [],
): NodeActuation {
  // Only the chain is read on this path: the rest of the machine is not needed.
  const machine = { chain: { blocks: chainBlocks() } } as unknown as FabricMachine;
  return NodeActuation.create({
    config: { runtime, host_root: hostRoot },
    self: member(9),
    founder: false,
    logDirectory: join(hostRoot, "logs"),
    outputDirectory: join(hostRoot, "out"),
    machine: () => machine,
    alive: () => true,
    logger: createLogger({ level: "info", write: (line) => lines.push(line) }),
    pki: {
      ca: clusterCa,
      unsealer: unsealerFromSeed(randomBytes(32), member(9)),
      directory: join(hostRoot, "data", "pki"),
      publish: () => Promise.reject(new Error("not in this test")),
      fetch: () => Promise.resolve(null),
      available: () => Promise.resolve(false),
    },
  });
}

/** What the daemon renders for a node: refresh the list, then the face with the context it gives. */
async function renderEtcd(face: Face, node: NodeActuation, file: string): Promise<string[]> {
  const mesh = exampleFabricStates.mesh!;
  const cp1 = Object.values(mesh.nodes).find((candidate) => candidate.name === "cp-1")!;
  const context: RenderContext = (await node.refreshHostRevocations()) ? { etcdRevocationList: true } : {};
  const written = face.writer.write(mesh, { kind: "node", node: cp1.id }, context);
  const rendered = written.files.find(
    (candidate) => candidate.path === file || candidate.path.endsWith(`/${file}`),
  );
  assert.ok(rendered, `${face.id} renders ${file}`);
  return [...rendered.content.matchAll(/--(?:client|peer)-crl-file=([^\s"',\]]+)/g)].map(
    (match) => match[1]!,
  );
}

const renderings: readonly (readonly [Face, string])[] = [
  [kubernetesFace, "etcd.yaml"],
  [systemdFace, "revoada-etcd.service"],
  [baremetalFace, "revoada-etcd.container"],
];

describe("etcd's revocation list where the rendered etcd reads it", () => {
  for (const runtime of ["kubelet", "systemd"] as const) {
    it(`${runtime}: the static pod, unit and Quadlet name the file the node writes, listing what the chain revoked`, async () => {
      const root = await mkdtemp(join(directory, `${runtime}-`));
      const node = actuation(runtime, root, ca);
      for (const [face, file] of renderings) {
        const paths = await renderEtcd(face, node, file);
        assert.deepEqual(paths, [etcdRevocationListFile, etcdRevocationListFile], `${face.id}: both flags`);
      }
      const written = join(root, etcdRevocationListFile);
      assert.equal(((await stat(written)).mode & 0o777).toString(8), "644");
      const caFile = join(root, "ca.crt");
      await writeFile(caFile, ca.certPem);
      // The CA signed it (OpenSSL checks the signature), and it lists the removed member's certificate only.
      const text = execFileSync("openssl", ["crl", "-in", written, "-CAfile", caFile, "-noout", "-text"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      assert.match(text, new RegExp(`Serial Number: 0*${removedSerial}`, "i"));
      assert.doesNotMatch(text, new RegExp(`Serial Number: 0*${keptSerial}`, "i"));
    });
  }

  it("a local mesh gives each node a host root of its own (its nodes share one machine), which its config resolves", async () => {
    const meshDirectory = join(directory, "mesh");
    const { configs } = await createMeshLayout({
      directory: meshDirectory,
      nodes: 2,
      faceId: "kubernetes",
      actuator: { runtime: "kubelet" },
    });
    const roots = await Promise.all(
      configs.map(async (path) => {
        const loaded = await loadNodeConfig(path);
        assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.issues));
        return loaded.value.config.actuator?.host_root;
      }),
    );
    assert.deepEqual(roots, [join(meshDirectory, "node-1", "host"), join(meshDirectory, "node-2", "host")]);
  });

  it("process: the host list is not written and the rendered files carry no CRL flag (its etcd reads <data>/pki/)", async () => {
    const root = await mkdtemp(join(directory, "process-"));
    const node = actuation("process", root, ca);
    for (const [face, file] of renderings) assert.deepEqual(await renderEtcd(face, node, file), [], face.id);
    await assert.rejects(stat(join(root, etcdRevocationListFile)), /ENOENT/);
  });

  it("without the CA key: no list, no flag, and the log says the rendered etcd runs without one", async () => {
    const root = await mkdtemp(join(directory, "no-key-"));
    const lines: string[] = [];
    const node = actuation("kubelet", root, { ...ca, keyPem: undefined }, lines);
    for (const [face, file] of renderings) assert.deepEqual(await renderEtcd(face, node, file), [], face.id);
    await assert.rejects(stat(join(root, etcdRevocationListFile)), /ENOENT/);
    const warnings = lines.filter((line) => line.includes("no etcd revocation list"));
    assert.equal(warnings.length, 1, "said once");
    assert.match(warnings[0]!, /no CA key on this node/);
  });
});
