import { createPublicKey, X509Certificate } from "node:crypto";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import type { BlockRecord } from "@revoada/fabric-core/attest";
import { etcdRevocationListPath } from "@revoada/fabric-core/face";
import { type NodeId, parseWith, type Result } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { hostOf } from "../actuate/etcd-component.js";
import type { EtcdClientTls } from "../actuate/etcd-membership.js";
import { writeFileAtomic } from "../fs/durable.js";
import { type ClusterCa, issueCertificate, issuedBy, issueRevocationList } from "./ca.js";
import { sealToNode, type Unsealer } from "./seal.js";

/**
 * etcd's TLS credentials (docs/control-plane.md). The leader issues a new member's
 * certificate from the cluster CA and publishes it as a content blob whose private key is
 * sealed to the member's node; the `etcd-member added` record names the blob, the member's
 * node fetches it, opens the key (no one else can), checks the certificate against its own
 * CA and its key, and writes both 0600 under `<data>/pki/` before etcd starts.
 */
export const credentialBundleBytesMax = 64 * 1024;
const PemText = z.string().min(1).max(16_384);

export const EtcdCredentialBundle = z.strictObject({
  v: z.literal(1),
  node: z.string().regex(/^[0-9a-f]{64}$/),
  serial: z.string().regex(/^[0-9a-f]{1,40}$/),
  certificate: PemText,
  ca: PemText,
  /** The PKCS#8 key, sealed to `node` under `sealContext(node, serial)`, base64. */
  sealed_key: z.string().min(1).max(16_384),
});
export type EtcdCredentialBundle = z.infer<typeof EtcdCredentialBundle>;

function sealContext(node: string, serial: string): string {
  return `revoada etcd-member key ${node} ${serial}`;
}

/** The names etcd's peers and clients reach a member by: the hosts of its two addresses. */
export function subjectNames(addresses: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const hosts = [...new Set(addresses.map(hostOf))].sort();
  return {
    dnsNames: hosts.filter((host) => isIP(host) === 0),
    ipAddresses: hosts.filter((host) => isIP(host) !== 0),
  };
}

/** Issues `node`'s member certificate and returns the bundle to publish and its serial. */
export async function issueEtcdMemberCredential(
  ca: ClusterCa,
  member: { readonly id: NodeId; readonly name: string; readonly addresses: readonly string[] },
): Promise<{ bundle: Uint8Array; serial: string }> {
  const issued = await issueCertificate(ca, {
    commonName: member.name,
    ...subjectNames(member.addresses),
    usage: "peer",
  });
  const serial = serialOf(issued.certPem);
  const sealed = sealToNode(member.id, Buffer.from(issued.keyPem, "utf8"), sealContext(member.id, serial));
  const bundle: EtcdCredentialBundle = {
    v: 1,
    node: member.id,
    serial,
    certificate: issued.certPem,
    ca: ca.certPem,
    sealed_key: sealed.toString("base64"),
  };
  return { bundle: Buffer.from(JSON.stringify(bundle), "utf8"), serial };
}

/**
 * Opens a bundle sealed to this node: the certificate and key, or why it is refused (another
 * node's, another serial than the record names, a certificate not from this node's CA, a key
 * that does not match the certificate). The reason never carries key material.
 */
export async function openEtcdMemberCredential(
  bytes: Uint8Array,
  expected: { readonly serial: string; readonly ca: ClusterCa; readonly unsealer: Unsealer },
): Promise<Result<{ certPem: string; keyPem: string }>> {
  const refuse = (message: string): Result<never> => ({
    ok: false,
    issues: [{ code: "etcd-credential", message, path: [] }],
  });
  if (bytes.length > credentialBundleBytesMax)
    return refuse(`credential blob over ${credentialBundleBytesMax} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return refuse("credential blob is not JSON");
  }
  const parsed = parseWith(EtcdCredentialBundle, json);
  if (!parsed.ok) return parsed;
  const bundle = parsed.value;
  if (bundle.node !== expected.unsealer.nodeId) return refuse("credential sealed to another node");
  if (bundle.serial !== expected.serial)
    return refuse(`credential serial ${bundle.serial} is not the committed ${expected.serial}`);
  const key = expected.unsealer.open(
    Buffer.from(bundle.sealed_key, "base64"),
    sealContext(bundle.node, bundle.serial),
  );
  if (key === undefined) return refuse("credential key does not open with this node's identity");
  const keyPem = key.toString("utf8");
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(bundle.certificate);
  } catch {
    return refuse("credential certificate is not X.509");
  }
  if (serialOf(bundle.certificate) !== bundle.serial)
    return refuse("credential certificate's serial differs from its record");
  if (!(await issuedBy(expected.ca, bundle.certificate))) {
    return refuse("credential certificate was not issued by this node's cluster CA (or has expired)");
  }
  let matches = false;
  try {
    const fromKey = createPublicKey(keyPem).export({ format: "der", type: "spki" });
    matches = fromKey.equals(certificate.publicKey.export({ format: "der", type: "spki" }));
  } catch {
    matches = false;
  }
  if (!matches) return refuse("credential key does not match its certificate");
  return { ok: true, value: { certPem: bundle.certificate, keyPem } };
}

/** A certificate's serial as lowercase hex without leading zeros. */
export function serialOf(certPem: string): string {
  return serialHex(new X509Certificate(certPem).serialNumber);
}

/** A certificate serial as the records name it: lowercase hex without leading zeros. */
export function serialHex(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, "");
}

/**
 * The etcd certificates the chain shows were given up: the certificate of every member an
 * `etcd-member removed` block took out, and every certificate a later `added` block for the
 * same node replaced (a re-issued credential). The chain only grows, so each call folds in
 * only the blocks appended since the last one (a node asks after every applied entry).
 */
export class EtcdRevocations {
  private seen = 0;
  private current = new Map<string, string>();
  private revoked = new Set<string>();

  /** Sorted, without duplicates; the chain is the same on every node, so every member revokes the same serials. */
  of(blocks: readonly BlockRecord[]): string[] {
    if (blocks.length < this.seen) {
      // Not the chain folded so far (a restored snapshot's is never shorter): start over.
      this.seen = 0;
      this.current = new Map();
      this.revoked = new Set();
    }
    for (const block of blocks.slice(this.seen)) {
      const command = block.body.command;
      if (command.type !== "etcd-member") continue;
      const held = this.current.get(command.node);
      if (command.event === "removed") {
        if (held !== undefined) this.revoked.add(held);
        this.current.delete(command.node);
      } else if (command.credential !== undefined) {
        if (held !== undefined && held !== command.credential.serial) this.revoked.add(held);
        this.current.set(command.node, command.credential.serial);
      }
    }
    this.seen = blocks.length;
    const held = new Set(this.current.values());
    return [...this.revoked].filter((serial) => !held.has(serial)).sort();
  }
}

/** The revoked etcd serials of a whole chain (`EtcdRevocations`, folded once). */
export function revokedEtcdSerials(blocks: readonly BlockRecord[]): string[] {
  return new EtcdRevocations().of(blocks);
}

/**
 * The cluster CA's list of revoked etcd certificates at one path, rewritten (atomically,
 * 0644) only when the serials change. etcd reads it on every new connection, so a running
 * member needs no restart, but refuses every connection while a list it was given is missing:
 * `exists` says whether this list was written (by this process, or before it).
 */
export class EtcdRevocationList {
  private writtenKey: string | null = null;

  constructor(
    readonly file: string,
    private readonly ca: ClusterCa,
  ) {}

  /** The list on disk lists `serials` (written now when it did not); false without the CA key. */
  async write(serials: readonly string[]): Promise<boolean> {
    if (this.ca.keyPem === undefined) return false;
    const key = serials.join(",");
    if (this.writtenKey === key) return true;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, await issueRevocationList(this.ca, serials), { mode: 0o644 });
    this.writtenKey = key;
    return true;
  }

  /** A list is at `file` (this one, or one an earlier run wrote). */
  async exists(): Promise<boolean> {
    return (
      this.writtenKey !== null ||
      (await stat(this.file).then(
        (info) => info.isFile(),
        () => false,
      ))
    );
  }
}

/**
 * The TLS files of this node's etcd use, under one 0700 directory: the CA certificate, the
 * member's certificate and key (while it is a member), the client certificate this node
 * uses for etcdctl when it leads, and the CA's revocation list.
 */
export class EtcdTlsFiles {
  readonly caFile: string;
  readonly memberCertFile: string;
  readonly memberKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** The CA's list of the etcd certificates it revoked (etcd reads it on every connection). */
  readonly revocationFile: string;
  private readonly revocations: EtcdRevocationList;

  constructor(
    readonly directory: string,
    private readonly ca: ClusterCa,
  ) {
    this.caFile = join(directory, "ca.crt");
    this.memberCertFile = join(directory, "etcd-member.crt");
    this.memberKeyFile = join(directory, "etcd-member.key");
    this.clientCertFile = join(directory, "etcd-client.crt");
    this.clientKeyFile = join(directory, "etcd-client.key");
    this.revocationFile = etcdRevocationListPath(directory);
    this.revocations = new EtcdRevocationList(this.revocationFile, ca);
  }

  /**
   * Writes the revocation list of `serials` when they changed since the last write; false
   * when this node cannot sign one (it holds no CA key), and etcd then runs without a list.
   */
  async writeRevocations(serials: readonly string[]): Promise<boolean> {
    if (this.ca.keyPem === undefined) return false;
    await this.prepare();
    return this.revocations.write(serials);
  }

  async writeMember(certPem: string, keyPem: string): Promise<void> {
    await this.prepare();
    await writeFileAtomic(this.memberKeyFile, keyPem, { mode: 0o600 });
    await writeFileAtomic(this.memberCertFile, certPem, { mode: 0o644 });
  }

  /** The serial of the member certificate on disk when it is the CA's and valid, else null. */
  async memberSerial(): Promise<string | null> {
    const certPem = await readFile(this.memberCertFile, "utf8").catch(() => null);
    const keyPem = await readFile(this.memberKeyFile, "utf8").catch(() => null);
    if (certPem === null || keyPem === null) return null;
    return (await issuedBy(this.ca, certPem).catch(() => false)) ? serialOf(certPem) : null;
  }

  /** A removed member's certificate and key are deleted: the node keeps no credential it lost. */
  async removeMember(): Promise<void> {
    await rm(this.memberKeyFile, { force: true });
    await rm(this.memberCertFile, { force: true });
  }

  /**
   * etcdctl's TLS as this node: its own client certificate (issued from the CA key when the
   * node holds it), else its member certificate (issued for both TLS sides); null when it has
   * neither.
   */
  async client(commonName: string): Promise<EtcdClientTls | null> {
    await this.prepare();
    const existing = await readFile(this.clientCertFile, "utf8").catch(() => null);
    const valid = existing !== null && (await issuedBy(this.ca, existing).catch(() => false));
    if (!valid && this.ca.keyPem !== undefined) {
      const issued = await issueCertificate(this.ca, { commonName, usage: "client" });
      await writeFileAtomic(this.clientKeyFile, issued.keyPem, { mode: 0o600 });
      await writeFileAtomic(this.clientCertFile, issued.certPem, { mode: 0o644 });
    } else if (!valid) {
      if ((await this.memberSerial()) === null) return null;
      return { caFile: this.caFile, certFile: this.memberCertFile, keyFile: this.memberKeyFile };
    }
    return { caFile: this.caFile, certFile: this.clientCertFile, keyFile: this.clientKeyFile };
  }

  private async prepare(): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.caFile, this.ca.certPem, { mode: 0o644 });
  }
}
