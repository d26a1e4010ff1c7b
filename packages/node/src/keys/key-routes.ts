import { NodeId } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { type Route, route } from "../api/http-server.js";
import type { FabricNode } from "../daemon/fabric-node.js";
import { loadOrCreateNodeKeys } from "../identity.js";
import type { Unsealer } from "../pki/seal.js";
import { keyIdOf } from "./key-set.js";
import { applyRotationStep, type KeyRingName, keyRings } from "./node-keys.js";

/**
 * The key-rotation API (`revoada keys rotate`, docs/cli.md): a node's key sets by id, and
 * the three steps of a rotation on one node. A new key arrives sealed to the node's identity
 * (pki/seal.ts: X25519 sealed box to its ed25519 key, bound to the ring and the node), so it
 * is never in the clear on the wire, in a log or in a reply; a step is on disk (0600) before
 * it is acknowledged. Only key ids ever leave the node.
 */
export const KeyIdText = z.string().regex(/^[0-9a-f]{8}$/, "a key id is 8 lowercase hex characters");

export const KeySetReply = z.strictObject({
  primary: KeyIdText,
  accepted: z.array(KeyIdText),
  retired: z.array(KeyIdText),
});

export const KeysReply = z.strictObject({
  node: NodeId,
  cluster: KeySetReply,
  gossip: KeySetReply,
});
export type KeysReply = z.infer<typeof KeysReply>;

/** A sealed box is version + 32-byte ephemeral key + 32-byte key + 16-byte tag: 81 bytes. */
export const KeyInstallRequest = z.strictObject({
  sealed: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "base64"),
});
export const KeyStepRequest = z.strictObject({ key_id: KeyIdText });

/** What a box carrying a new key for `ring` on `node` is bound to: it opens for nothing else. */
export function keySealContext(ring: KeyRingName, node: NodeId): string {
  return `revoada-keys-rotate/v1 ${ring} ${node}`;
}

export function keysOf(node: FabricNode): KeysReply {
  return { node: node.nodeId, cluster: node.keys.cluster.summary(), gossip: node.keys.gossip.summary() };
}

export function keyRoutes(node: FabricNode): Route[] {
  let unsealer: Unsealer | null = null;
  const unseal = async (): Promise<Unsealer> => {
    unsealer ??= (await loadOrCreateNodeKeys(node.config.data_dir)).unsealer;
    return unsealer;
  };
  const ringOf = (text: string | undefined): KeyRingName | null =>
    (keyRings as readonly string[]).includes(text ?? "") ? (text as KeyRingName) : null;
  const badRing = (text: string | undefined) => ({
    status: 404,
    body: { error: `no key ring "${text ?? ""}" (cluster or gossip)` },
  });
  const refused = (ring: KeyRingName, step: string, error: string) => ({
    status: 409,
    body: { error: `${ring} keys: ${step} refused: ${error}` },
  });
  return [
    route({
      method: "GET",
      path: "/v1/keys",
      summary:
        "this node's cluster and gossip key sets, by key id (primary, accepted, retired); never the keys",
      mutates: false,
      reply: KeysReply,
      handle: async () => ({ status: 200, body: keysOf(node) }),
    }),
    route({
      method: "POST",
      path: "/v1/keys/{ring}/install",
      summary: "rotation step 1: install a new key (sealed to this node's identity) as accepted",
      mutates: true,
      body: KeyInstallRequest,
      reply: KeysReply,
      handle: async ({ params, body }) => {
        const ring = ringOf(params.ring);
        if (ring === null) return badRing(params.ring);
        const key = (await unseal()).open(
          Buffer.from(body.sealed, "base64"),
          keySealContext(ring, node.nodeId),
        );
        if (key === undefined)
          return { status: 400, body: { error: `sealed: does not open as a ${ring} key for this node` } };
        const keyId = keyIdOf(key);
        const change = await applyRotationStep(node.keys, ring, { type: "install", key });
        key.fill(0);
        if (!change.ok) return refused(ring, "install", change.error);
        if (change.changed) node.logger.info("key installed", { ring, key_id: keyId });
        return { status: 200, body: keysOf(node) };
      },
    }),
    ...(["promote", "retire"] as const).map((step) =>
      route({
        method: "POST",
        path: `/v1/keys/{ring}/${step}`,
        summary:
          step === "promote"
            ? "rotation step 2: make an installed key the primary (the old primary stays accepted)"
            : "rotation step 3: retire a key; packets and handshakes under it are refused from now on",
        mutates: true,
        body: KeyStepRequest,
        reply: KeysReply,
        handle: async ({ params, body }) => {
          const ring = ringOf(params.ring);
          if (ring === null) return badRing(params.ring);
          const change = await applyRotationStep(node.keys, ring, { type: step, id: body.key_id });
          if (!change.ok) return refused(ring, step, change.error);
          if (change.changed)
            node.logger.info(step === "promote" ? "key promoted" : "key retired", {
              ring,
              key_id: body.key_id,
            });
          return { status: 200, body: keysOf(node) };
        },
      }),
    ),
  ];
}
