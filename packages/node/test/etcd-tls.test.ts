// Goal: etcd's TLS as the fabric sets it up (docs/control-plane.md). A member credential the
// leader issues opens only on the node it was sealed to, only under the serial its record
// names, only when the certificate is the node's own CA's and matches the key; and a real
// etcd 3.4 started with those files serves only clients holding a certificate of the CA:
// one from another CA, or none, is refused with a message that says TLS.
// Method: the real pki module and the real etcd/etcdctl on 127.0.0.1 (free ports, temp dirs).
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { etcdComponentSpec } from "../src/actuate/etcd-component.js";
import { EtcdUnavailableError, etcdctlMembership } from "../src/actuate/etcd-membership.js";
import { ProcessRuntime } from "../src/actuate/process-runtime.js";
import { freePorts } from "../src/mesh/mesh-setup.js";
import { type ClusterCa, createClusterCa, issueCertificate } from "../src/pki/ca.js";
import {
  EtcdCredentialBundle,
  EtcdTlsFiles,
  issueEtcdMemberCredential,
  openEtcdMemberCredential,
} from "../src/pki/etcd-credentials.js";
import { unsealerFromSeed } from "../src/pki/seal.js";

function nodeKeys(byte: number) {
  const seed = Buffer.alloc(32, byte);
  const signer = signerFromSeed(seed);
  return { id: signer.nodeId, unsealer: unsealerFromSeed(seed, signer.nodeId) };
}

let directory = "";
let ca: ClusterCa;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-etcd-tls-"));
  ca = await createClusterCa("revoada-test-ca");
});
after(async () => rm(directory, { recursive: true, force: true }));

describe("an etcd member's sealed credential", () => {
  const member = nodeKeys(1);
  const other = nodeKeys(2);
  const addresses = ["127.0.0.1:2380", "127.0.0.1:2379"];

  it("opens on its node under its serial, and names the member's addresses", async () => {
    const issued = await issueEtcdMemberCredential(ca, { id: member.id, name: "node-1", addresses });
    const opened = await openEtcdMemberCredential(issued.bundle, {
      serial: issued.serial,
      ca,
      unsealer: member.unsealer,
    });
    assert.ok(opened.ok);
    assert.match(opened.value.keyPem, /BEGIN PRIVATE KEY/);
    const files = new EtcdTlsFiles(join(directory, "member-files"), ca);
    await files.writeMember(opened.value.certPem, opened.value.keyPem);
    assert.equal((await stat(files.memberKeyFile)).mode & 0o777, 0o600);
    assert.equal(await files.memberSerial(), issued.serial);
    // The blob itself holds no key in the clear.
    assert.doesNotMatch(Buffer.from(issued.bundle).toString("utf8"), /PRIVATE KEY/);
    await files.removeMember();
    assert.equal(await files.memberSerial(), null);
  });

  it("is refused on another node, under another serial, from another CA, or tampered", async () => {
    const issued = await issueEtcdMemberCredential(ca, { id: member.id, name: "node-1", addresses });
    const reason = async (bytes: Uint8Array, serial: string, unsealer = member.unsealer, cluster = ca) => {
      const opened = await openEtcdMemberCredential(bytes, { serial, ca: cluster, unsealer });
      assert.equal(opened.ok, false);
      return opened.ok ? "" : opened.issues.map((issue) => issue.message).join("; ");
    };
    assert.match(await reason(issued.bundle, issued.serial, other.unsealer), /sealed to another node/);
    assert.match(await reason(issued.bundle, "abc"), /not the committed abc/);
    assert.match(
      await reason(issued.bundle, issued.serial, member.unsealer, await createClusterCa("other")),
      /not issued by this node's cluster CA/,
    );
    const bundle = EtcdCredentialBundle.parse(JSON.parse(Buffer.from(issued.bundle).toString("utf8")));
    const flipped = Buffer.from(bundle.sealed_key, "base64");
    flipped[40] = (flipped[40] ?? 0) ^ 1;
    const tampered = Buffer.from(JSON.stringify({ ...bundle, sealed_key: flipped.toString("base64") }));
    assert.match(await reason(tampered, issued.serial), /does not open/);
    // A certificate swapped for another of the same CA (so its key does not match).
    const swapped = await issueEtcdMemberCredential(ca, { id: member.id, name: "node-1", addresses });
    const swappedBundle = EtcdCredentialBundle.parse(
      JSON.parse(Buffer.from(swapped.bundle).toString("utf8")),
    );
    const mixed = Buffer.from(
      JSON.stringify({ ...swappedBundle, sealed_key: bundle.sealed_key, serial: swapped.serial }),
    );
    assert.match(await reason(mixed, swapped.serial), /does not open|does not match/);
    assert.match(await reason(Buffer.from("{}"), issued.serial), /v|node/);
    assert.match(await reason(Buffer.alloc(70_000, 0x20), issued.serial), /over/);
  });
});

describe("a real etcd 3.4 with the fabric's TLS", () => {
  it("serves a client of the CA, and refuses a client of another CA and a client with none", async () => {
    const [peer, client] = await freePorts(2);
    const member = nodeKeys(3);
    const memberAddresses = [`127.0.0.1:${peer}`, `127.0.0.1:${client}`];
    const issued = await issueEtcdMemberCredential(ca, {
      id: member.id,
      name: "etcd-tls",
      addresses: memberAddresses,
    });
    const opened = await openEtcdMemberCredential(issued.bundle, {
      serial: issued.serial,
      ca,
      unsealer: member.unsealer,
    });
    assert.ok(opened.ok);
    const files = new EtcdTlsFiles(join(directory, "etcd-tls-pki"), ca);
    await files.writeMember(opened.value.certPem, opened.value.keyPem);
    const spec = etcdComponentSpec({
      name: "etcd-tls",
      componentName: "etcd-tls",
      dataDirectory: join(directory, "etcd-tls"),
      peerAddress: memberAddresses[0]!,
      clientAddress: memberAddresses[1]!,
      initialCluster: [{ name: "etcd-tls", peerUrl: `https://${memberAddresses[0]}` }],
      clusterState: "new",
      tls: { caFile: files.caFile, certFile: files.memberCertFile, keyFile: files.memberKeyFile },
    });
    assert.ok(spec.args.includes("--client-cert-auth=true"));
    assert.ok(spec.args.includes("--peer-client-cert-auth=true"));
    const runtime = new ProcessRuntime({
      logDirectory: join(directory, "logs"),
      backoffInitialMs: 200,
      stopGraceMs: 5_000,
    });
    try {
      await runtime.apply([spec]);
      const endpoint = `https://127.0.0.1:${client}`;
      const clientTls = await files.client("revoada-test");
      assert.ok(clientTls !== null);
      const good = etcdctlMembership({ endpoints: [endpoint], timeoutMs: 2_000, tls: clientTls });
      let members: Awaited<ReturnType<typeof good.list>> = [];
      for (let attempt = 0; attempt < 100 && members.length === 0; attempt += 1) {
        members = await good.list().catch(() => []);
        if (members.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(members.length, 1, "etcd answers a client of the CA");
      assert.deepEqual(members[0]?.peerUrls, [`https://127.0.0.1:${peer}`]);

      const foreign = await createClusterCa("foreign-ca");
      const foreignClient = await issueCertificate(foreign, { commonName: "intruder", usage: "client" });
      const foreignDirectory = join(directory, "foreign");
      const foreignFiles = new EtcdTlsFiles(foreignDirectory, foreign);
      await foreignFiles.client("unused");
      await writeFile(join(foreignDirectory, "intruder.crt"), foreignClient.certPem);
      await writeFile(join(foreignDirectory, "intruder.key"), foreignClient.keyPem, { mode: 0o600 });
      // The intruder trusts the real CA (so only its own certificate is wrong).
      const intruder = etcdctlMembership({
        endpoints: [endpoint],
        timeoutMs: 1_500,
        tls: {
          caFile: files.caFile,
          certFile: join(foreignDirectory, "intruder.crt"),
          keyFile: join(foreignDirectory, "intruder.key"),
        },
      });
      await assert.rejects(intruder.list(), (error: Error) => {
        assert.ok(error instanceof EtcdUnavailableError, String(error));
        assert.match(error.message, /TLS handshake refused: .*(certificate|alert)/);
        return true;
      });
      // A client that trusts another CA refuses the server: the message says TLS.
      const distrustful = etcdctlMembership({
        endpoints: [endpoint],
        timeoutMs: 1_500,
        tls: { caFile: foreignFiles.caFile, certFile: clientTls.certFile, keyFile: clientTls.keyFile },
      });
      await assert.rejects(distrustful.list(), /TLS handshake refused: unable to verify/);
      // Plain http to the https port gets nothing.
      const plain = etcdctlMembership({ endpoints: [`http://127.0.0.1:${client}`], timeoutMs: 1_500 });
      await assert.rejects(plain.list(), EtcdUnavailableError);
      const log = await readFile(join(directory, "logs", "etcd-tls.log"), "utf8");
      assert.doesNotMatch(log, /BEGIN PRIVATE KEY/);
    } finally {
      await runtime.stop();
    }
  });
});
