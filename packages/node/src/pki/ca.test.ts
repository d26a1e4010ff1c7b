import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BlockCommand, BlockRecord } from "@revoada/fabric-core/attest";
import type { Blake3Hash, NodeId } from "@revoada/fabric-core/vocabulary";
import {
  type ClusterCa,
  caFingerprint,
  createClusterCa,
  issueCertificate,
  issuedBy,
  issueRevocationList,
  loadClusterCa,
  writeClusterCa,
} from "./ca.js";
import { EtcdRevocations, revokedEtcdSerials, serialOf } from "./etcd-credentials.js";

describe("cluster CA", () => {
  let ca: ClusterCa;
  let directory: string;
  before(async () => {
    ca = await createClusterCa("revoada-test-ca");
    directory = await mkdtemp(join(tmpdir(), "revoada-ca-"));
  });
  after(async () => rm(directory, { recursive: true, force: true }));

  it("is a CA certificate whose fingerprint is sha256 over its SubjectPublicKeyInfo", () => {
    const certificate = new X509Certificate(ca.certPem);
    assert.equal(certificate.ca, true);
    const spki = certificate.publicKey.export({ format: "der", type: "spki" });
    assert.equal(ca.fingerprint, `sha256:${createHash("sha256").update(spki).digest("hex")}`);
    assert.equal(caFingerprint(ca.certPem), ca.fingerprint);
  });

  it("issues certificates valid from the CA's start, whatever the issuer's or the verifier's clock says", async (t) => {
    // A CA made an hour ago; a certificate issued now by a node whose clock is 10 minutes
    // ahead (restarted during a clock jump) and checked by one whose clock is 10 minutes behind.
    const realNow = Date.now.bind(Date);
    let offsetMs = -3_600_000;
    t.mock.method(Date, "now", () => realNow() + offsetMs);
    const older = await createClusterCa("revoada-older-ca");
    offsetMs = 600_000;
    const issued = await issueCertificate(older, { commonName: "ahead", usage: "peer" });
    t.mock.restoreAll();
    assert.equal(
      new X509Certificate(issued.certPem).validFrom,
      new X509Certificate(older.certPem).validFrom,
      "valid from the CA's start",
    );
    assert.ok(await issuedBy(older, issued.certPem, new Date()), "valid for a verifier on real time");
    assert.ok(
      await issuedBy(older, issued.certPem, new Date(Date.now() - 600_000)),
      "valid for a verifier 10 minutes behind",
    );
    // A CA made a moment ago: certificates issued now are valid for a verifier hours behind.
    const fresh = await issueCertificate(ca, { commonName: "fresh", usage: "peer" });
    assert.ok(
      await issuedBy(ca, fresh.certPem, new Date(Date.now() - 6 * 3_600_000)),
      "valid 6 hours behind",
    );
  });

  it("issues a peer certificate OpenSSL verifies against it, with the names asked for", async () => {
    const issued = await issueCertificate(ca, {
      commonName: "node-1",
      dnsNames: ["node-1", "localhost"],
      ipAddresses: ["127.0.0.1"],
      usage: "peer",
    });
    const certificate = new X509Certificate(issued.certPem);
    assert.ok(certificate.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(certificate.verify(new X509Certificate(ca.certPem).publicKey));
    assert.match(certificate.subjectAltName ?? "", /DNS:node-1/);
    assert.match(certificate.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    assert.ok(await issuedBy(ca, issued.certPem));
    const caPath = join(directory, "ca.pem");
    const certPath = join(directory, "peer.pem");
    await writeFile(caPath, ca.certPem);
    await writeFile(certPath, issued.certPem);
    // OpenSSL checks the chain and the purposes etcd relies on (peer: both sides of TLS).
    for (const purpose of ["sslserver", "sslclient"]) {
      const output = execFileSync("openssl", ["verify", "-purpose", purpose, "-CAfile", caPath, certPath], {
        encoding: "utf8",
      });
      assert.match(output, /OK/);
    }
  });

  it("limits a server certificate to server authentication", async () => {
    const issued = await issueCertificate(ca, { commonName: "api", usage: "server" });
    const caPath = join(directory, "ca-2.pem");
    const certPath = join(directory, "server.pem");
    await writeFile(caPath, ca.certPem);
    await writeFile(certPath, issued.certPem);
    assert.throws(() =>
      execFileSync("openssl", ["verify", "-purpose", "sslclient", "-CAfile", caPath, certPath], {
        stdio: "pipe",
      }),
    );
  });

  it("refuses a certificate from another CA", async () => {
    const other = await createClusterCa("other-ca");
    const issued = await issueCertificate(other, { commonName: "node-1", usage: "client" });
    assert.equal(await issuedBy(ca, issued.certPem), false);
  });

  it("round-trips through files, the key 0600, and cannot issue without its key", async () => {
    const certPath = join(directory, "ca.crt");
    const keyPath = join(directory, "ca.key");
    await writeClusterCa(ca, certPath, keyPath);
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    const loaded = await loadClusterCa(certPath, keyPath);
    assert.equal(loaded.fingerprint, ca.fingerprint);
    const issued = await issueCertificate(loaded, { commonName: "node-2", usage: "server" });
    assert.ok(await issuedBy(ca, issued.certPem));
    const certOnly = await loadClusterCa(certPath);
    await assert.rejects(
      issueCertificate(certOnly, { commonName: "node-3", usage: "server" }),
      /without its key/,
    );
  });

  it("names the file, never the bytes, when a key or certificate is not what it should be", async () => {
    const badKey = join(directory, "bad.key");
    await writeFile(badKey, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    await writeFile(join(directory, "c.crt"), ca.certPem);
    await assert.rejects(loadClusterCa(join(directory, "c.crt"), badKey), (error: Error) => {
      assert.match(error.message, /bad\.key is not a PKCS#8 PEM P-256 private key/);
      assert.doesNotMatch(error.message, /AAAA/);
      return true;
    });
    assert.throws(() => caFingerprint("not a certificate"), /not a PEM X\.509 certificate/);
    assert.equal((await readFile(join(directory, "c.crt"), "utf8")).length > 0, true);
  });

  it("refuses a common name a DN would need escaped, and an address that is not an IP", async () => {
    await assert.rejects(issueCertificate(ca, { commonName: "a,b=c", usage: "server" }), /common name/);
    await assert.rejects(
      issueCertificate(ca, { commonName: "n", ipAddresses: ["node-1"], usage: "server" }),
      /not an IP address/,
    );
  });

  it("signs a revocation list OpenSSL checks: a revoked certificate refused, another accepted", async () => {
    const revoked = await issueCertificate(ca, { commonName: "gone", usage: "peer" });
    const kept = await issueCertificate(ca, { commonName: "kept", usage: "peer" });
    const crlPem = await issueRevocationList(ca, [serialOf(revoked.certPem)]);
    const caPath = join(directory, "ca-crl.pem");
    const crlPath = join(directory, "revoked.crl");
    await writeFile(caPath, ca.certPem);
    await writeFile(crlPath, crlPem);
    // The list itself verifies against the CA.
    const listed = execFileSync("openssl", ["crl", "-in", crlPath, "-CAfile", caPath, "-noout", "-text"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    assert.match(listed, new RegExp(serialOf(revoked.certPem), "i"));
    const verify = (certPem: string, name: string) => {
      const certPath = join(directory, name);
      return writeFile(certPath, certPem).then(() =>
        execFileSync("openssl", ["verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, certPath], {
          encoding: "utf8",
          stdio: "pipe",
        }),
      );
    };
    assert.match(await verify(kept.certPem, "kept.pem"), /OK/);
    await assert.rejects(verify(revoked.certPem, "revoked.pem"), /certificate revoked/);
    const holdsNoKey: ClusterCa = { ...ca, keyPem: undefined };
    await assert.rejects(issueRevocationList(holdsNoKey, []), /without its key/);
  });
});

describe("revoked etcd serials from the chain", () => {
  const node = (n: number) => n.toString(16).padStart(64, "0") as NodeId;
  const block = (command: BlockCommand): BlockRecord =>
    ({ kind: "block", body: { command }, hash: "", signature: null }) as unknown as BlockRecord;
  const added = (n: number, serial: string): BlockRecord =>
    block({
      type: "etcd-member",
      node: node(n),
      event: "added",
      member_id: "1",
      credential: { blob: "ab".repeat(32) as Blake3Hash, serial },
    });

  it("revokes removed members' certificates and replaced credentials, never a current one", () => {
    const chain = [
      added(1, "a1"),
      added(2, "b1"),
      block({ type: "etcd-member", node: node(2), event: "promoted", member_id: "1" }),
      block({ type: "etcd-member", node: node(1), event: "removed", member_id: "1" }),
      // Node 2's credential was re-issued (no live node held the first one).
      added(2, "b2"),
      block({ type: "promote", node: node(3), roles: ["etcd"], reason: "scaling-up" }),
      // Node 1 comes back as a new member with a new certificate.
      added(1, "a2"),
    ];
    assert.deepEqual(revokedEtcdSerials(chain), ["a1", "b1"]);
    assert.deepEqual(revokedEtcdSerials([]), []);
    // Folded as the chain grows, it says the same as folding the whole chain at once.
    const folding = new EtcdRevocations();
    assert.deepEqual(folding.of(chain.slice(0, 4)), ["a1"]);
    assert.deepEqual(folding.of(chain), ["a1", "b1"]);
    assert.deepEqual(folding.of(chain), ["a1", "b1"]);
  });
});
