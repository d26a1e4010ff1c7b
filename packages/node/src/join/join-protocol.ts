import { JoinTokenRecord } from "@revoada/fabric-core/fabric";
import {
  canonicalJson,
  DnsLabel,
  FabricFace,
  FabricStrategy,
  Formation,
  HostPort,
  JoinTokenCommand,
  NodeId,
  verifySignature,
} from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * The join exchange and the token API, as the HTTP API carries them (docs/join.md). Every
 * shape is bounded; the reply is the only message that carries the cluster's secrets, and it
 * is sent only over TLS to a host that proved a valid token and its own identity.
 */

/** `POST /v1/join`: the token, the joining host's NodeId and name, and its signature over both. */
export const JoinRequest = z.strictObject({
  token: z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/, "a join token is <6>.<16> of [a-z0-9]"),
  node: NodeId,
  name: DnsLabel,
  /** ed25519 (hex) by `node` over `joinSigningPayload`: the host holds the key of the id it claims. */
  signature: z.string().regex(/^[0-9a-f]{128}$/),
});
export type JoinRequest = z.infer<typeof JoinRequest>;

/** What the joining host signs: bound to the token, its claim, and the CA it pinned. */
export function joinSigningPayload(claim: {
  readonly tokenId: string;
  readonly node: string;
  readonly name: string;
  readonly caHash: string;
}): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson(
      {
        purpose: "revoada-join/1",
        token_id: claim.tokenId,
        node: claim.node,
        name: claim.name,
        ca: claim.caHash,
      },
      0,
    ),
  );
}

export function joinSignatureValid(request: JoinRequest, caHash: string): boolean {
  const payload = joinSigningPayload({
    tokenId: request.token.slice(0, 6),
    node: request.node,
    name: request.name,
    caHash,
  });
  return verifySignature(request.node, payload, Buffer.from(request.signature, "hex"));
}

const Pem = z.string().min(1).max(16_384);

/** The reply to an accepted join: the cluster's secrets and what the host's node.yaml needs. */
export const JoinReply = z.strictObject({
  cluster_key: z.string().regex(/^[0-9a-f]{64}$/),
  api_token: z.string().min(16).max(256),
  read_token: z.string().min(16).max(256).nullable(),
  ca_cert_pem: Pem,
  /**
   * The cluster and gossip key sets as the serving node holds them (keys/key-set.ts format:
   * primary, accepted, retired ids), so a host that joins after `revoada keys rotate` holds the
   * current keys; `cluster_key` is the cluster set's primary.
   */
  key_sets: z.strictObject({ cluster: z.string().max(4096), gossip: z.string().max(4096) }),
  /** Every node holds the CA key (docs/join.md, "Why every node holds the CA key"). */
  ca_key_pem: Pem,
  /** Gossip addresses of the members the serving node sees alive (itself included). */
  seeds: z.array(HostPort).min(1).max(64),
  strategy: FabricStrategy,
  formation: Formation,
  face: FabricFace,
});
export type JoinReply = z.infer<typeof JoinReply>;

/** `POST /v1/join-tokens`: the CLI makes the secret; the cluster gets only its hash. */
export const JoinTokenCreateRequest = JoinTokenCommand.options[0]
  .omit({ type: true, action: true })
  .extend({ description: z.string().max(128).default("") });
export type JoinTokenCreateRequest = z.infer<typeof JoinTokenCreateRequest>;

export const JoinTokenState = z.enum(["valid", "expired", "revoked", "used"]);

/** A token as `token list` shows it: never the secret, nor its hash. */
export const JoinTokenView = JoinTokenRecord.omit({ secret_sha256: true }).extend({ state: JoinTokenState });
export type JoinTokenView = z.infer<typeof JoinTokenView>;

export function joinTokenView(record: JoinTokenRecord, nowMs: number): JoinTokenView {
  const { secret_sha256: _secret, ...rest } = record;
  const state =
    record.revoked_at_ms !== null
      ? "revoked"
      : nowMs >= record.expires_at_ms
        ? "expired"
        : record.single_use && record.uses.length > 0
          ? "used"
          : "valid";
  return { ...rest, state };
}
