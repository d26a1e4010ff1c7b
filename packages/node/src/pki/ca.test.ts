import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ClusterCa,
  caFingerprint,
  createClusterCa,
  issueCertificate,
  issuedBy,
  loadClusterCa,
  writeClusterCa,
} from "./ca.js";

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
});
