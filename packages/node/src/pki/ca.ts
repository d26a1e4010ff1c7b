import { createHash, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import type * as X509 from "@peculiar/x509";
import { writeFileAtomic } from "../fs/durable.js";

/**
 * The cluster CA: one ECDSA P-256 key and a self-signed certificate created at bootstrap.
 * It issues the etcd peer/server/client certificates of promoted nodes and the API's server
 * certificate. P-256 rather than ed25519 because Go's TLS (etcd 3.4) and every browser
 * accept it in certificates. The fingerprint is kubeadm's `--discovery-token-ca-cert-hash`
 * form: sha256 over the CA certificate's SubjectPublicKeyInfo, so a re-issued CA certificate
 * with the same key keeps its pin.
 */
export interface ClusterCa {
  readonly certPem: string;
  /** PKCS#8 PEM; absent on a node that holds only the certificate (it can verify, not issue). */
  readonly keyPem: string | undefined;
  readonly fingerprint: string;
}

export type CertificateUsage = "server" | "client" | "peer";

export interface CertificateRequest {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: CertificateUsage;
  readonly validDays?: number;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const caValidDays = 3650;
const defaultValidDays = 365;
const dayMs = 86_400_000;
// The CA is valid from a day before it was made, so a peer whose clock is behind (by up to a
// day) does not refuse it. The certificates it issues are valid from the CA's own start
// (earlier, if the issuing clock is behind): a peer whose clock is behind by more than the
// certificate's age, or an issuer whose clock is ahead (a node restarted during a clock jump),
// would otherwise make certificates that the others refuse as not yet valid
// (docs/reliability.md, clock jumps). Backdating adds no power: a validity start in the past
// lets nothing be done that could not be done now.
const backdateMs = dayMs;

const subtle = webcrypto.subtle;
type CryptoKey = webcrypto.CryptoKey;

let x509Loading: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509, loaded on first use: a daemon that never issues or checks a certificate (no
 * HTTPS API, no etcd member) does not hold the library and its dependencies (~4 MB of heap).
 */
function x509Library(): Promise<typeof X509> {
  x509Loading ??= (async () => {
    // The library resolves its algorithm providers through tsyringe, which needs the Reflect
    // metadata polyfill loaded first.
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    // x509 types the provider as the DOM `Crypto`, which Node's webcrypto is at run time.
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return x509Loading;
}

export async function createClusterCa(commonName: string): Promise<ClusterCa> {
  const x509 = await x509Library();
  const keys = await subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(commonName),
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + caValidDays * dayMs),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = certificate.toString("pem");
  return { certPem, keyPem: await privateKeyPem(x509, keys.privateKey), fingerprint: caFingerprint(certPem) };
}

/** Writes the certificate (0644) and, when held, the private key (0600), each atomically. */
export async function writeClusterCa(ca: ClusterCa, certPath: string, keyPath: string): Promise<void> {
  await writeFileAtomic(certPath, ca.certPem, { mode: 0o644 });
  if (ca.keyPem !== undefined) await writeFileAtomic(keyPath, ca.keyPem, { mode: 0o600 });
}

export async function loadClusterCa(certPath: string, keyPath?: string): Promise<ClusterCa> {
  const certPem = await readFile(certPath, "utf8");
  const keyPem = keyPath === undefined ? undefined : await readFile(keyPath, "utf8");
  const fingerprint = caFingerprint(certPem);
  if (keyPem !== undefined) await importPrivateKey(keyPem, `${keyPath}`);
  return { certPem, keyPem, fingerprint };
}

/** `sha256:<hex>` over the certificate's SubjectPublicKeyInfo DER. Throws on a non-certificate. */
export function caFingerprint(certPem: string): string {
  // Node's own parser: a node loading its config checks the CA without the x509 library.
  let spki: Buffer;
  try {
    spki = new X509Certificate(certPem).publicKey.export({ format: "der", type: "spki" });
  } catch {
    throw new Error("CA certificate is not a PEM X.509 certificate");
  }
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

export async function issueCertificate(
  ca: ClusterCa,
  request: CertificateRequest,
): Promise<IssuedCertificate> {
  if (ca.keyPem === undefined)
    throw new Error("this node holds the CA certificate without its key: it cannot issue");
  const x509 = await x509Library();
  const caCertificate = parseCertificate(x509, ca.certPem, "CA certificate");
  const caKey = await importPrivateKey(ca.keyPem, "CA key");
  const keys = await subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const names: X509.JsonGeneralName[] = [
    ...(request.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(request.ipAddresses ?? []).map((value) => {
      if (isIP(value) === 0) throw new Error(`${value} is not an IP address`);
      return { type: "ip" as const, value };
    }),
  ];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: distinguishedName(request.commonName),
    issuer: caCertificate.subject,
    notBefore: new Date(Math.min(now - backdateMs, caCertificate.notBefore.getTime())),
    notAfter: new Date(now + (request.validDays ?? defaultValidDays) * dayMs),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(extendedUsages(x509, request.usage), false),
      ...(names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(names, false)]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate, false),
    ],
  });
  return { certPem: certificate.toString("pem"), keyPem: await privateKeyPem(x509, keys.privateKey) };
}

/**
 * A certificate revocation list of the CA naming `serials` (hex, as `serialOf` prints them),
 * valid for `validDays`: what etcd's `--peer-crl-file`/`--client-crl-file` read on every
 * connection, so a member removed from etcd cannot come back with the certificate it kept.
 */
export async function issueRevocationList(
  ca: ClusterCa,
  serials: readonly string[],
  options: { readonly at?: Date; readonly validDays?: number } = {},
): Promise<string> {
  if (ca.keyPem === undefined)
    throw new Error("this node holds the CA certificate without its key: it cannot sign a revocation list");
  const x509 = await x509Library();
  const caCertificate = parseCertificate(x509, ca.certPem, "CA certificate");
  const at = options.at ?? new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCertificate.subject,
    thisUpdate: new Date(at.getTime() - backdateMs),
    nextUpdate: new Date(at.getTime() + (options.validDays ?? defaultValidDays) * dayMs),
    signingKey: await importPrivateKey(ca.keyPem, "CA key"),
    signingAlgorithm: algorithm,
    entries: serials.map((serial) => ({
      // Whole bytes: a serial printed without its leading zero is padded back.
      serialNumber: serial.length % 2 === 0 ? serial : `0${serial}`,
      revocationDate: at,
      reason: x509.X509CrlReason.cessationOfOperation,
    })),
  });
  // "X509 CRL" is the label OpenSSL and Go's x509.ParseCRL (etcd) look for; the library writes "CRL".
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

/** True when `certPem` was signed by the CA and is valid at `at`. */
export async function issuedBy(ca: ClusterCa, certPem: string, at = new Date()): Promise<boolean> {
  const x509 = await x509Library();
  const certificate = parseCertificate(x509, certPem, "certificate");
  const caCertificate = parseCertificate(x509, ca.certPem, "CA certificate");
  return certificate.verify({ publicKey: caCertificate.publicKey, date: at });
}

function extendedUsages(x509: typeof X509, usage: CertificateUsage): string[] {
  const server = x509.ExtendedKeyUsage.serverAuth;
  const client = x509.ExtendedKeyUsage.clientAuth;
  if (usage === "server") return [server];
  if (usage === "client") return [client];
  return [server, client];
}

function parseCertificate(x509: typeof X509, pem: string, what: string): X509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    throw new Error(`${what} is not a PEM X.509 certificate`);
  }
}

async function importPrivateKey(pem: string, what: string): Promise<CryptoKey> {
  try {
    return await subtle.importKey("pkcs8", firstPemBlock(pem), algorithm, false, ["sign"]);
  } catch {
    // The message names the file, never the key's bytes.
    throw new Error(`${what} is not a PKCS#8 PEM P-256 private key`);
  }
}

/** The bytes of the first PEM block (as x509's `PemConverter.decodeFirst`), without the library. */
function firstPemBlock(pem: string): Buffer {
  const block = /-----BEGIN [^-\r\n]+-----([A-Za-z0-9+/=\s]*)-----END [^-\r\n]+-----/.exec(pem);
  if (block === null) throw new Error("no PEM block");
  return Buffer.from(block[1]!.replace(/\s+/g, ""), "base64");
}

async function privateKeyPem(x509: typeof X509, key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive, as RFC 5280 asks
  return bytes.toString("hex");
}

function distinguishedName(commonName: string): string {
  if (!/^[A-Za-z0-9 ._:@-]{1,64}$/.test(commonName)) {
    throw new Error(
      `certificate common name ${JSON.stringify(commonName)} has characters a DN would need escaped`,
    );
  }
  return `CN=${commonName}, O=revoada`;
}
