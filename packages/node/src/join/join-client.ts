import { X509Certificate } from "node:crypto";
import { connect, type DetailedPeerCertificate } from "node:tls";
import type { Signer } from "@revoada/fabric-core/vocabulary";
import { httpsFetch } from "../api/https-fetch.js";
import { CliError, exitCodes } from "../cli/exit-codes.js";
import { parseHostPort } from "../gossip/gossip-driver.js";
import { exitCodeOfStatus } from "../mesh/api-client.js";
import { caFingerprint } from "../pki/ca.js";
import { JoinReply, joinSigningPayload } from "./join-protocol.js";
import { formatJoinToken, type JoinToken } from "./join-token.js";

/**
 * The joining host's side of the exchange (docs/join.md):
 * 1. `pinCa`: a TLS handshake that sends nothing but the ClientHello, reads the certificate
 *    chain the server presents, and keeps the certificate whose SubjectPublicKeyInfo hashes
 *    to `--ca-hash`. No match: refused, and the connection is closed with nothing sent.
 * 2. `requestJoin`: a second connection that trusts only that CA (the server's chain must
 *    verify up to it, or the handshake fails before any byte of the request is written), then
 *    the token, this host's NodeId and name, and its signature over them and the CA hash.
 * A 421 (not the leader) is followed once, to the leader's advertised API, under the same pin.
 */
export interface PinnedCa {
  readonly certPem: string;
  /** The local address the OS chose to reach the cluster (a default for this host's listen address). */
  readonly localAddress: string;
}

const handshakeTimeoutMs = 5_000;
const chainLengthMax = 8;

export async function pinCa(address: string, caHash: string): Promise<PinnedCa> {
  const target = parseHostPort(address);
  if (target === null)
    throw new CliError(`ADDR must be host:port, got ${JSON.stringify(address)}`, exitCodes.usage);
  const { chain, localAddress } = await presentedChain(target.host, target.port, address);
  const pinned = chain.find((pem) => fingerprintOrNull(pem) === caHash);
  if (pinned === undefined) {
    throw new CliError(
      `refused: no certificate ${address} presents has the CA hash ${caHash} ` +
        `(it presents ${chain.map((pem) => fingerprintOrNull(pem) ?? "an unreadable certificate").join(", ") || "none"}); ` +
        "nothing was sent. Check --ca-hash against the one `revoada init` printed.",
      exitCodes.failed,
    );
  }
  if (!new X509Certificate(pinned).ca) {
    throw new CliError(
      `refused: the certificate matching ${caHash} is not a CA certificate; nothing was sent`,
      exitCodes.failed,
    );
  }
  return { certPem: pinned, localAddress };
}

function fingerprintOrNull(pem: string): string | null {
  try {
    return caFingerprint(pem);
  } catch {
    return null;
  }
}

function presentedChain(
  host: string,
  port: number,
  address: string,
): Promise<{ chain: string[]; localAddress: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // Verification happens against the pin, below and on the second connection.
      rejectUnauthorized: false,
      ...(/^[A-Za-z]/.test(host) ? { servername: host } : {}),
      timeout: handshakeTimeoutMs,
    });
    const fail = (error: Error) => {
      socket.destroy();
      reject(new CliError(`cannot reach ${address} over TLS: ${error.message}`, exitCodes.unavailable));
    };
    socket.once("error", fail);
    socket.once("timeout", () => fail(new Error(`no TLS handshake within ${handshakeTimeoutMs} ms`)));
    socket.once("secureConnect", () => {
      const chain: string[] = [];
      let certificate: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (certificate?.raw !== undefined && chain.length < chainLengthMax) {
        const fingerprint = certificate.fingerprint256;
        if (seen.has(fingerprint)) break;
        seen.add(fingerprint);
        chain.push(new X509Certificate(certificate.raw).toString());
        certificate = certificate.issuerCertificate;
      }
      const localAddress = socket.localAddress ?? "127.0.0.1";
      socket.destroy();
      resolve({ chain, localAddress });
    });
  });
}

export interface JoinClaim {
  readonly token: JoinToken;
  readonly signer: Signer;
  readonly name: string;
  readonly caHash: string;
}

export async function requestJoin(address: string, pinned: PinnedCa, claim: JoinClaim): Promise<JoinReply> {
  const payload = joinSigningPayload({
    tokenId: claim.token.id,
    node: claim.signer.nodeId,
    name: claim.name,
    caHash: claim.caHash,
  });
  const body = JSON.stringify({
    token: formatJoinToken(claim.token),
    node: claim.signer.nodeId,
    name: claim.name,
    signature: Buffer.from(claim.signer.sign(payload)).toString("hex"),
  });
  let target = address;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const response = await postJoin(target, pinned.certPem, body);
    const payloadJson: unknown = await response.json().catch(() => undefined);
    if (response.status === 200) {
      const reply = JoinReply.safeParse(payloadJson);
      if (!reply.success) throw new CliError(`${target}: the join reply does not validate`, exitCodes.failed);
      return reply.data;
    }
    const error = errorOf(payloadJson) ?? `HTTP ${response.status}`;
    const leaderApi = leaderApiOf(payloadJson);
    if (response.status === 421 && leaderApi !== undefined && attempt === 0) {
      target = leaderApi;
      continue;
    }
    // A 421 left over (the leader moved again) is an unreachable leader, not a refusal.
    const code = response.status === 421 ? exitCodes.unavailable : exitCodeOfStatus(response.status);
    throw new CliError(`${target}: ${error}`, code);
  }
  throw new CliError(`${address}: the leader moved while joining; try again`, exitCodes.unavailable);
}

async function postJoin(address: string, caPem: string, body: string): Promise<Response> {
  try {
    return await httpsFetch(`https://${address}/v1/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      caPem,
      timeoutMs: 15_000,
      anyNameTheCaIssued: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // A server whose chain does not lead to the pinned CA fails the handshake: nothing was sent.
    const tls = /certificate|self.signed|verify/i.test(reason);
    throw new CliError(
      tls
        ? `refused: ${address}'s certificate is not issued by the pinned CA (${reason}); nothing was sent`
        : `cannot reach ${address}: ${reason}`,
      tls ? exitCodes.failed : exitCodes.unavailable,
    );
  }
}

function errorOf(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== "object") return undefined;
  const error = (payload as Record<string, unknown>).error;
  return typeof error === "string" ? error : undefined;
}

function leaderApiOf(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== "object") return undefined;
  const leader = (payload as Record<string, unknown>).leader_api;
  return typeof leader === "string" && parseHostPort(leader) !== null ? leader : undefined;
}
