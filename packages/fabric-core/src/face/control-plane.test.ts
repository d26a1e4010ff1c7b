/**
 * Goal: the shared control-plane command lines start one etcd cluster and a complete API
 * server: every etcd member lists every member in --initial-cluster, exactly one member
 * founds it (`new`) and the others join (`existing`), the API server talks to every member,
 * images carry the pinned versions, and etcd reads the node's revocation list when it keeps one.
 * Method: build the components for the example mesh (three etcd members) and a single-node
 * state, and read the flags back out of the command lines.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ControlPlaneRole, FabricState, NodeState } from "../vocabulary/index.js";
import { exampleFabricStates } from "./conformance/index.js";
import {
  controlPlaneComponent,
  controlPlaneOptionsOf,
  controlPlaneVersions,
  etcdCertificateDirectory,
  etcdMembers,
  etcdRevocationListFile,
  etcdRevocationListPath,
} from "./control-plane.js";

function flag(command: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  const found = command.filter((word) => word.startsWith(prefix));
  assert.ok(found.length <= 1, `--${name} given once`);
  return found[0]?.slice(prefix.length);
}

function nodesWith(state: FabricState, role: ControlPlaneRole): NodeState[] {
  return Object.values(state.nodes).filter((node) => node.roles.includes(role));
}

describe("control-plane components", () => {
  const mesh = exampleFabricStates.mesh!;

  it("etcd members form one cluster: one founder, the others join, all list all", () => {
    const members = nodesWith(mesh, "etcd");
    assert.equal(members.length, 3);
    const expected = etcdMembers(mesh)
      .map((node) => `${node.name}=https://${node.addresses.api!.split(":")[0]}:2380`)
      .join(",");
    const states = members.map((node) => {
      const command = controlPlaneComponent(mesh, node, "etcd").command;
      assert.equal(command[0], "etcd");
      assert.equal(flag(command, "initial-cluster"), expected, `${node.name} lists every member`);
      assert.equal(flag(command, "name"), node.name);
      return flag(command, "initial-cluster-state");
    });
    assert.deepEqual(states.sort(), ["existing", "existing", "new"]);
  });

  it("a single etcd member founds its cluster", () => {
    const single = exampleFabricStates["single-node"]!;
    const [node] = nodesWith(single, "etcd");
    assert.ok(node !== undefined);
    const command = controlPlaneComponent(single, node, "etcd").command;
    assert.equal(flag(command, "initial-cluster-state"), "new");
    assert.equal(flag(command, "initial-cluster")?.split(",").length, 1);
  });

  it("the API server has its required flags and every etcd member as a server", () => {
    const [node] = nodesWith(mesh, "api-server");
    assert.ok(node !== undefined);
    const command = controlPlaneComponent(mesh, node, "api-server").command;
    for (const required of [
      "etcd-servers",
      "service-account-issuer",
      "service-account-key-file",
      "service-account-signing-key-file",
      "service-cluster-ip-range",
      "tls-cert-file",
      "tls-private-key-file",
      "client-ca-file",
      "etcd-cafile",
      "etcd-certfile",
      "etcd-keyfile",
    ]) {
      assert.ok(flag(command, required) !== undefined, `--${required}`);
    }
    assert.equal(flag(command, "etcd-servers")?.split(",").length, 3);
  });

  it("etcd uses a node's etcd_peer and etcd_client addresses when it has them", () => {
    const [first, ...others] = nodesWith(mesh, "etcd");
    assert.ok(first !== undefined);
    const moved = {
      ...first,
      addresses: { ...first.addresses, etcd_peer: "10.9.0.1:12380", etcd_client: "10.9.0.1:12379" },
    };
    const state: FabricState = { ...mesh, nodes: { ...mesh.nodes, [first.id]: moved } };
    const etcd = controlPlaneComponent(state, moved, "etcd").command;
    assert.equal(flag(etcd, "listen-peer-urls"), "https://10.9.0.1:12380");
    assert.equal(flag(etcd, "advertise-client-urls"), "https://10.9.0.1:12379");
    assert.equal(flag(etcd, "listen-client-urls"), "https://127.0.0.1:12379,https://10.9.0.1:12379");
    const other = others[0];
    assert.ok(other !== undefined);
    assert.match(
      flag(controlPlaneComponent(state, other, "etcd").command, "initial-cluster") ?? "",
      /=https:\/\/10\.9\.0\.1:12380(,|$)/,
    );
    const [apiNode] = nodesWith(state, "api-server");
    assert.ok(apiNode !== undefined);
    assert.match(
      flag(controlPlaneComponent(state, apiNode, "api-server").command, "etcd-servers") ?? "",
      /https:\/\/10\.9\.0\.1:12379/,
    );
  });

  describe("with the etcd members the fabric machine committed", () => {
    const byName = (name: string): NodeState => Object.values(mesh.nodes).find((node) => node.name === name)!;
    const members = nodesWith(mesh, "etcd").sort((a, b) => (a.name < b.name ? -1 : 1));
    const [first, second, third] = members as [NodeState, NodeState, NodeState];
    const cluster = (nodes: readonly NodeState[]): string =>
      nodes.map((node) => `${node.name}=https://${node.addresses.api!.split(":")[0]}:2380`).join(",");
    const etcdOf = (
      state: FabricState,
      node: NodeState,
      committed: readonly NodeState[],
    ): readonly string[] =>
      controlPlaneComponent(state, node, "etcd", {
        etcdMembers: committed.map((member) => ({ node: member.id, learner: false })),
      }).command;

    it("a node not yet recorded joins the recorded members: existing, their list and itself", () => {
      const command = etcdOf(mesh, third, [first, second]);
      assert.equal(flag(command, "initial-cluster-state"), "existing");
      assert.equal(flag(command, "initial-cluster"), cluster([first, second, third]));
      const recorded = etcdOf(mesh, second, [first, second]);
      assert.equal(
        flag(recorded, "initial-cluster"),
        cluster([first, second]),
        "a recorded member lists the recorded ones",
      );
      assert.equal(flag(recorded, "initial-cluster-state"), "existing");
    });

    it("the founder alone on record founds the cluster; no record falls back to the founding rule", () => {
      const alone = etcdOf(mesh, first, [first]);
      assert.equal(flag(alone, "initial-cluster-state"), "new");
      assert.equal(flag(alone, "initial-cluster"), cluster([first]));
      assert.deepEqual(etcdOf(mesh, first, []), controlPlaneComponent(mesh, first, "etcd").command);
    });

    it("a replacement whose name sorts first joins as existing (the founding rule alone would found a second cluster)", () => {
      const replacement: NodeState = {
        ...byName(first.name),
        id: "f".repeat(64) as NodeState["id"],
        name: "a-new",
      };
      const nodes = { ...mesh.nodes, [replacement.id]: replacement };
      delete (nodes as Record<string, NodeState>)[first.id];
      const state: FabricState = { ...mesh, nodes };
      assert.equal(
        flag(controlPlaneComponent(state, replacement, "etcd").command, "initial-cluster-state"),
        "new",
        "from the state alone the first name founds",
      );
      const command = etcdOf(state, replacement, [second, third]);
      assert.equal(flag(command, "initial-cluster-state"), "existing");
      assert.equal(flag(command, "initial-cluster"), cluster([replacement, second, third]));
    });
  });

  it("etcd reads the revocation list beside its certificates only when the node keeps one", () => {
    const [node] = nodesWith(mesh, "etcd");
    assert.ok(node !== undefined);
    const plain = controlPlaneComponent(mesh, node, "etcd");
    assert.equal(
      flag(plain.command, "client-crl-file"),
      undefined,
      "no list: no flag (etcd would refuse all)",
    );
    assert.equal(flag(plain.command, "peer-crl-file"), undefined);
    const context = { etcdRevocationList: true, etcdMembers: [{ node: node.id, learner: false }] };
    const listed = controlPlaneComponent(mesh, node, "etcd", controlPlaneOptionsOf(context));
    assert.equal(etcdRevocationListFile, "/etc/kubernetes/pki/etcd/etcd-revoked.crl");
    assert.equal(flag(listed.command, "client-crl-file"), etcdRevocationListFile);
    assert.equal(flag(listed.command, "peer-crl-file"), etcdRevocationListFile);
    assert.equal(flag(listed.command, "initial-cluster-state"), "new", "the members ride along");
    // The list sits in the certificates' directory, which the component mounts whole.
    assert.equal(flag(listed.command, "peer-trusted-ca-file"), `${etcdCertificateDirectory}/ca.crt`);
    assert.ok(
      listed.mounts.some((mount) => etcdRevocationListFile.startsWith(`${mount.path}/`)),
      "a mounted directory holds the list",
    );
    assert.deepEqual(
      listed.command.filter((word) => !word.includes("-crl-file=")),
      controlPlaneComponent(mesh, node, "etcd", { etcdMembers: context.etcdMembers }).command,
      "nothing else changes",
    );
    const api = nodesWith(mesh, "api-server")[0]!;
    assert.deepEqual(
      controlPlaneComponent(mesh, api, "api-server", { etcdRevocationList: true }).command,
      controlPlaneComponent(mesh, api, "api-server").command,
      "only etcd reads the list",
    );
    assert.equal(etcdRevocationListPath("/var/lib/revoada/pki/"), "/var/lib/revoada/pki/etcd-revoked.crl");
  });

  it("images carry the pinned versions", () => {
    const [node] = nodesWith(mesh, "api-server");
    assert.ok(node !== undefined);
    assert.equal(
      controlPlaneComponent(mesh, node, "api-server").image,
      `registry.k8s.io/kube-apiserver:${controlPlaneVersions.kubernetes}`,
    );
    assert.equal(
      controlPlaneComponent(mesh, node, "etcd").image,
      `registry.k8s.io/etcd:${controlPlaneVersions.etcd}`,
    );
  });
});
