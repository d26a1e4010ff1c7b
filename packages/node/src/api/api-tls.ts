import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import type { LoadedConfig } from "../daemon/config.js";
import { parseHostPort } from "../gossip/gossip-driver.js";
import { issueCertificate, issuedBy } from "../pki/ca.js";
import { apiUsesTls } from "./api-config.js";

/**
 * The API's TLS material: a server certificate issued by the cluster CA, sent with the CA
 * certificate as its chain (so a joining host can pin the CA by its hash before it trusts
 * anything), and the CA certificate that clients of this node's peers verify against.
 *
 * Without `api.cert_file`, the certificate is issued at every start from the CA key, for the
 * address the API listens on plus loopback, `localhost` and this host's name (every address
 * of every interface when it listens on all of them). Re-issuing at start costs a key pair
 * and a signature, and means an address change or an expiring certificate needs no step.
 */
export interface ApiTls {
  /** Leaf certificate followed by the CA certificate (PEM). */
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly caCertPem: string;
}

export async function apiTlsMaterial(loaded: LoadedConfig): Promise<ApiTls | null> {
  const { config, clusterCa } = loaded;
  if (!apiUsesTls(config)) return null;
  if (clusterCa === undefined) throw new Error("the API serves TLS but the config names no cluster CA (pki)");
  const certFile = config.api?.cert_file;
  const keyFile = config.api?.key_file;
  if (certFile !== undefined && keyFile !== undefined) {
    const certPem = await readFile(certFile, "utf8");
    const keyPem = await readFile(keyFile, "utf8");
    if (!(await issuedBy(clusterCa, certPem))) {
      throw new Error(`${certFile}: not issued by the cluster CA, or not valid now`);
    }
    return { certChainPem: chain(certPem, clusterCa.certPem), keyPem, caCertPem: clusterCa.certPem };
  }
  const names = apiCertificateNames(config.listen.api);
  const issued = await issueCertificate(clusterCa, {
    commonName: config.name,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    usage: "server",
    validDays: 365,
  });
  return {
    certChainPem: chain(issued.certPem, clusterCa.certPem),
    keyPem: issued.keyPem,
    caCertPem: clusterCa.certPem,
  };
}

function chain(leafPem: string, caPem: string): string {
  return `${leafPem.trimEnd()}\n${caPem.trimEnd()}\n`;
}

/** The names the API's certificate covers, for `listen.api`. */
export function apiCertificateNames(listenApi: string): { dnsNames: string[]; ipAddresses: string[] } {
  const host = parseHostPort(listenApi)?.host ?? "";
  const ips = new Set<string>(["127.0.0.1", "::1"]);
  const dns = new Set<string>(["localhost"]);
  const system = hostname();
  if (/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(system)) dns.add(system.toLowerCase());
  if (host === "0.0.0.0" || host === "::") {
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) {
        if (address.family === "IPv4" || !address.address.startsWith("fe80")) ips.add(address.address);
      }
    }
  } else if (isIP(host) !== 0) {
    ips.add(host);
  } else if (host !== "") {
    dns.add(host.toLowerCase());
  }
  return { dnsNames: [...dns].sort(), ipAddresses: [...ips].sort() };
}
