import { type JoinRefusal, joinRefusal, joinRefusalMessages } from "@revoada/fabric-core/fabric";
import { shortNodeId } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { apiUsesTls } from "../api/api-config.js";
import { type Route, route } from "../api/http-server.js";
import { notLeader, propose } from "../api/routes.js";
import { CommittedReply, ProposalRefused } from "../api/schemas.js";
import type { LoadedConfig } from "../daemon/config.js";
import type { FabricNode } from "../daemon/fabric-node.js";
import { RaftUnavailableError } from "../errors.js";
import { JoinAttempts } from "./join-attempts.js";
import {
  JoinReply,
  JoinRequest,
  JoinTokenCreateRequest,
  JoinTokenView,
  joinSignatureValid,
  joinTokenView,
} from "./join-protocol.js";
import { parseJoinToken, secretMatches } from "./join-token.js";

/**
 * The join exchange (`POST /v1/join`, open: the body carries its own proof) and the token API
 * (admin). The order of checks is the threat model's (docs/join.md): the token's secret first,
 * so nothing about a token is told to someone who does not hold it; then the host's signature
 * over its claim; then the committed rules (expiry, revocation, single use, id and name
 * claims); the use is committed through Raft before any secret leaves, so a single-use token
 * is used once across the whole cluster. Secrets are never logged.
 */
export function joinRoutes(node: FabricNode, loaded: LoadedConfig): Route[] {
  const attempts = new JoinAttempts();
  return [
    route({
      method: "POST",
      path: "/v1/join",
      summary:
        "join the cluster with a bootstrap token (over TLS, after pinning the CA): returns the cluster's keys",
      mutates: true,
      access: "open",
      body: JoinRequest,
      reply: z.union([JoinReply, ProposalRefused]),
      handle: async ({ body, remoteAddress }) => {
        const address = remoteAddress ?? "";
        // Monotonic: a clock set back must not stretch the lockout by the jump's length.
        const waitMs = attempts.waitMs(address, performance.now());
        if (waitMs > 0) {
          return {
            status: 429,
            body: {
              error: `too many failed join attempts from ${address}; try again in ${Math.ceil(waitMs / 1000)} s`,
            },
          };
        }
        const reply = await join(node, loaded, body);
        // A wrong token or signature counts against the address; a refusal by the rules does not.
        const rule = "body" in reply ? (reply.body as { rule?: unknown }).rule : undefined;
        if (rule === "unknown-token" || rule === "signature")
          attempts.recordFailure(address, performance.now());
        return reply;
      },
    }),
    route({
      method: "POST",
      path: "/v1/join-tokens",
      summary: "create a join token (the client makes the secret; only its SHA-256 is committed)",
      mutates: true,
      body: JoinTokenCreateRequest,
      reply: z.union([CommittedReply, ProposalRefused]),
      handle: async ({ body }) => {
        if (node.applier.machine.joinToken(body.id) !== undefined) {
          return { status: 409, body: { error: `a join token with id ${body.id} exists` } };
        }
        return propose(node, { type: "join-token", action: "create", ...body });
      },
    }),
    route({
      method: "GET",
      path: "/v1/join-tokens",
      summary: "the committed join tokens (ids, expiry, uses; never a secret)",
      mutates: false,
      access: "admin",
      reply: z.array(JoinTokenView),
      handle: async () => ({
        status: 200,
        body: node.applier.machine.joinTokens().map((token) => joinTokenView(token, Date.now())),
      }),
    }),
    route({
      method: "DELETE",
      path: "/v1/join-tokens/{id}",
      summary: "revoke a join token",
      mutates: true,
      reply: z.union([CommittedReply, ProposalRefused]),
      handle: async ({ params }) => {
        const id = params.id ?? "";
        if (node.applier.machine.joinToken(id) === undefined) {
          return { status: 404, body: { error: `no join token ${id}` } };
        }
        return propose(node, { type: "join-token", action: "revoke", id });
      },
    }),
  ];
}

const refusalStatus: Readonly<Record<JoinRefusal, number>> = {
  "unknown-token": 403,
  revoked: 403,
  expired: 403,
  used: 403,
  "uses-full": 403,
  "node-exists": 409,
  "name-taken": 409,
};

function refused(node: FabricNode, tokenId: string, refusal: JoinRefusal) {
  node.logger.warn("join refused", { token_id: tokenId, reason: refusal });
  return {
    status: refusalStatus[refusal],
    body: { error: `join refused: ${joinRefusalMessages[refusal]}`, rule: refusal },
  };
}

async function join(node: FabricNode, loaded: LoadedConfig, request: JoinRequest) {
  const token = parseJoinToken(request.token);
  const machine = node.applier.machine;
  const record = token === null ? undefined : machine.joinToken(token.id);
  const tokenId = token?.id ?? "";
  // The secret first: who does not hold it learns nothing about the token.
  if (token === null || record === undefined || !secretMatches(token.secret, record.secret_sha256)) {
    return refused(node, tokenId, "unknown-token");
  }
  const ca = loaded.clusterCa;
  if (ca === undefined || ca.keyPem === undefined || !apiUsesTls(node.config)) {
    return {
      status: 503,
      body: {
        error:
          "this node does not serve joins: it holds no CA key or its API is not TLS; join through another node",
      },
    };
  }
  if (!joinSignatureValid(request, ca.fingerprint)) {
    node.logger.warn("join refused", { token_id: tokenId, reason: "signature" });
    return {
      status: 403,
      body: {
        error:
          "join refused: the request's signature does not verify for the node id it claims (or another CA was pinned)",
        rule: "signature",
      },
    };
  }
  const claim = { node: request.node, name: request.name, atMs: Date.now() };
  const refusal =
    joinRefusal(record, claim, machine.state(), machine.joinTokens()) ?? gossipClaim(node, request);
  if (refusal !== null) return refused(node, tokenId, refusal);
  if (node.raft.status().role !== "leader") return notLeader(node);
  try {
    await node.reconciler.proposeCommand(
      { type: "join-token", action: "use", id: tokenId, node: request.node, name: request.name },
      "operator",
      false,
    );
  } catch (error) {
    if (error instanceof RaftUnavailableError) return notLeader(node);
    throw error;
  }
  // The machine decided on the committed state (a concurrent join may have won the name or the token).
  const used = machine
    .joinToken(tokenId)
    ?.uses.some((use) => use.node === request.node && use.name === request.name);
  if (used !== true) {
    const now = machine.joinToken(tokenId);
    return refused(node, tokenId, joinRefusal(now, claim, machine.state(), machine.joinTokens()) ?? "used");
  }
  node.logger.info("join accepted", {
    token_id: tokenId,
    node: shortNodeId(request.node),
    name: request.name,
  });
  return { status: 200, body: joinReply(node, loaded, ca.certPem, ca.keyPem) };
}

/** A member gossip knows (not yet committed) with the claimed id or name. */
function gossipClaim(node: FabricNode, request: JoinRequest): JoinRefusal | null {
  for (const member of node.gossip.membershipView().members) {
    if (member.status === "left") continue;
    if (member.id === request.node) return "node-exists";
    if (member.state?.name === request.name) return "name-taken";
  }
  if (node.nodeId === request.node) return "node-exists";
  if (node.config.name === request.name) return "name-taken";
  return null;
}

function joinReply(node: FabricNode, loaded: LoadedConfig, caCertPem: string, caKeyPem: string): JoinReply {
  const seeds = new Set<string>([node.config.listen.gossip]);
  for (const member of node.gossip.membershipView().members) {
    const gossip = member.state?.addresses.gossip;
    if (member.status === "alive" && gossip !== undefined && seeds.size < 64) seeds.add(gossip);
  }
  return {
    cluster_key: node.keys.cluster.primary.key.toString("hex"),
    key_sets: { cluster: node.keys.cluster.format(), gossip: node.keys.gossip.format() },
    api_token: loaded.apiToken,
    read_token: loaded.readToken ?? null,
    ca_cert_pem: caCertPem,
    ca_key_pem: caKeyPem,
    seeds: [...seeds].sort(),
    strategy: node.config.strategy,
    formation: node.config.formation,
    face: node.config.face,
  };
}
