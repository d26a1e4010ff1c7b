import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { DecisionRecord } from "@revoada/fabric-core/policy";
import { isNodeId, shortNodeId } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { type Route, route } from "../api/http-server.js";
import { meshOf, statusOf } from "../api/routes.js";
import { NodeStatusReply } from "../api/schemas.js";
import type { FabricNode } from "../daemon/fabric-node.js";
import { apiClientFor } from "../mesh/api-client.js";
import {
  blobRows,
  type ConsoleTopics,
  chainTopic,
  type DecisionsTopic,
  decisionsTopic,
  type RaftRow,
} from "./console-topics.js";
import { EventHub } from "./event-stream.js";

/**
 * The web console every node serves at `/ui`, on the API's port: a static page (HTML, CSS
 * and the compiled `src/ui/client/console.ts`) and the `/v1/events` stream it reads. Reading
 * needs no token; the page sends the operator's token (typed into the page, kept in memory)
 * only with mutations, to the same endpoints the CLI uses. See docs/console.md.
 */

/** The package root, from `src/ui` (tests) and `dist/ui` (the built node) alike. */
const packageRoot = new URL("../../", import.meta.url);

interface Asset {
  readonly file: URL;
  readonly contentType: string;
}

const assets: Readonly<Record<string, Asset>> = {
  "console.css": { file: new URL("src/ui/assets/console.css", packageRoot), contentType: "text/css" },
  "console.js": { file: new URL("dist/ui/client/console.js", packageRoot), contentType: "text/javascript" },
};
const pageAsset: Asset = {
  file: new URL("src/ui/assets/index.html", packageRoot),
  contentType: "text/html",
};

/** How often the node samples the topics while a page listens, and the keep-alive cadence. */
const sampleMs = 500;
const keepAliveMs = 15_000;
/** Open consoles per node; each is one connection. */
const subscribersMax = 32;
/** A peer's `/v1/status` that takes longer than this counts as unreachable in this sample. */
const peerTimeoutMs = 800;

const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

export function consoleRoutes(node: FabricNode): Route[] {
  const hub = new EventHub({ sample: consoleSampler(node), sampleMs, keepAliveMs, subscribersMax });
  return [
    route({
      method: "GET",
      path: "/ui",
      summary: "the web console (read-only without the token; see docs/console.md)",
      mutates: false,
      access: "open",
      reply: z.string(),
      contentType: "text/html",
      handle: async () => ({ status: 200, stream: (response) => void serveAsset(response, pageAsset) }),
    }),
    route({
      method: "GET",
      path: "/ui/{asset}",
      summary: "the web console's script and style sheet",
      mutates: false,
      access: "open",
      reply: z.string(),
      contentType: "text/plain",
      handle: async ({ params }) => {
        const asset = Object.hasOwn(assets, params.asset ?? "") ? assets[params.asset!] : undefined;
        if (asset === undefined) return { status: 404, body: { error: "not found" } };
        return { status: 200, stream: (response) => void serveAsset(response, asset) };
      },
    }),
    route({
      method: "GET",
      path: "/v1/events",
      summary:
        "server-sent events for the console: topics serving, raft, mesh, state, decisions, chain, blobs (JSON data), pushed when they change",
      mutates: false,
      reply: z.string(),
      contentType: "text/event-stream",
      handle: async () => ({ status: 200, stream: (response, request) => hub.subscribe(request, response) }),
    }),
  ];
}

const assetCache = new Map<string, Buffer>();

async function serveAsset(response: ServerResponse, asset: Asset): Promise<void> {
  const key = asset.file.href;
  let bytes = assetCache.get(key);
  if (bytes === undefined) {
    bytes = await readFile(fileURLToPath(asset.file)).catch(() => undefined);
    if (bytes !== undefined) assetCache.set(key, bytes);
  }
  if (bytes === undefined) {
    response.writeHead(500, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ error: `console asset missing: ${fileURLToPath(asset.file)} (build the node)` }),
    );
    return;
  }
  response.writeHead(200, { ...securityHeaders, "content-type": `${asset.contentType}; charset=utf-8` });
  response.end(bytes);
}

/** Builds every topic from this node's own state and, for Raft and decisions, its peers' APIs. */
function consoleSampler(node: FabricNode): () => Promise<Partial<ConsoleTopics>> {
  let chainText = "";
  let chain = chainTopic("");
  return async () => {
    const state = node.applier.state();
    // phi moves on every heartbeat; two decimals keep the topic from changing on every sample.
    const mesh = meshOf(node).map((member) => ({ ...member, phi: Math.round(member.phi * 100) / 100 }));
    const text = node.applier.chain?.exportText() ?? "";
    if (text.length !== chainText.length) {
      chainText = text;
      chain = chainTopic(text);
    }
    const [raft, decisions, blobs] = await Promise.all([
      raftRows(node),
      decisionsFromLeader(node),
      node.content.store.list(),
    ]);
    return {
      serving: { id: node.nodeId, name: node.config.name, api: node.config.listen.api },
      raft,
      mesh,
      state,
      decisions,
      chain,
      blobs: blobRows(blobs, state),
    };
  };
}

/** Every node the committed state or gossip knows, with its own Raft status when it answers. */
async function raftRows(node: FabricNode): Promise<RaftRow[]> {
  const state = node.applier.state();
  const members = new Map(node.gossip.membershipView().members.map((member) => [member.id, member]));
  const ids = [...new Set([...Object.keys(state.nodes), ...members.keys()])].sort();
  return Promise.all(
    ids.map(async (id): Promise<RaftRow> => {
      const member = members.get(id);
      const committed = isNodeId(id) ? state.nodes[id] : undefined;
      const name = committed?.name ?? member?.state?.name ?? shortNodeId(id);
      const api = member?.state?.addresses.api ?? committed?.addresses.api ?? "";
      if (id === node.nodeId) {
        const own = NodeStatusReply.safeParse(statusOf(node));
        if (!own.success) return { id, name, api, reachable: true, status: null };
        const { uptime_ms: _uptime, ...status } = own.data;
        return { id, name, api, reachable: true, status };
      }
      if (api === "" || member?.status === "dead" || member?.status === "left") {
        return { id, name, api, reachable: false, status: null };
      }
      const reply = await apiClientFor(api, node.peerApi, peerTimeoutMs)
        .get("/v1/status", NodeStatusReply)
        .catch(() => undefined);
      if (reply === undefined) return { id, name, api, reachable: false, status: null };
      const { uptime_ms: _uptime, ...status } = reply;
      return { id, name, api, reachable: true, status };
    }),
  );
}

/** The leader keeps the decision records; a follower reads them from the leader's API. */
async function decisionsFromLeader(node: FabricNode): Promise<DecisionsTopic | undefined> {
  const raft = node.raft.status();
  if (raft.role === "leader") return decisionsTopic(node.config.name, node.reconciler.decisions);
  if (raft.leader === null) return undefined;
  const leader = node.gossip.membershipView().members.find((member) => member.id === raft.leader);
  const api = leader?.state?.addresses.api;
  if (api === undefined) return undefined;
  const records = await apiClientFor(api, node.peerApi, peerTimeoutMs)
    .get("/v1/decisions", z.array(z.object({ at_ms: z.number(), record: DecisionRecord })))
    .catch(() => undefined);
  if (records === undefined) return undefined;
  return decisionsTopic(leader?.state?.name ?? shortNodeId(raft.leader), records);
}
