import { z } from "zod";
import { assert, type FabricState, type JoinTokenCommand, Millis, NodeId } from "../vocabulary/index.js";

/**
 * Join tokens as the fabric machine holds them (docs/join.md). A token is `<id>.<secret>`;
 * the log and the machine carry only the id and the SHA-256 of the secret, so a snapshot, a
 * log file or an API reply never holds a usable token. Every rule reads committed data only
 * (the leader's `issued_at_ms` is the clock), so every node decides the same.
 */
export const joinTokensMax = 256;
/** A token's uses (reservations of a NodeId and a name), also for a token that is not single-use. */
export const joinTokenUsesMax = 64;
/** An expired or revoked token is kept this long (so `token list` shows why a join failed), then dropped. */
export const joinTokenRetentionMs = 24 * 60 * 60_000;

export const JoinTokenUse = z.strictObject({ node: NodeId, name: z.string().max(63), at_ms: Millis });
export type JoinTokenUse = z.infer<typeof JoinTokenUse>;

export const JoinTokenRecord = z.strictObject({
  id: z.string().regex(/^[a-z0-9]{6}$/),
  secret_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created_at_ms: Millis,
  expires_at_ms: Millis,
  single_use: z.boolean(),
  description: z.string().max(128),
  revoked_at_ms: Millis.nullable(),
  uses: z.array(JoinTokenUse).max(joinTokenUsesMax),
});
export type JoinTokenRecord = z.infer<typeof JoinTokenRecord>;

/** Why a join with a token is refused; `null` from `joinRefusal` means it may go ahead. */
export type JoinRefusal =
  | "unknown-token"
  | "revoked"
  | "expired"
  | "used"
  | "uses-full"
  | "node-exists"
  | "name-taken";

export const joinRefusalMessages: Readonly<Record<JoinRefusal, string>> = {
  "unknown-token": "the join token is not known to the cluster (wrong id or secret)",
  revoked: "the join token was revoked",
  expired: "the join token has expired",
  used: "the join token is single-use and was already used",
  "uses-full": `the join token has been used ${joinTokenUsesMax} times`,
  "node-exists": "a node with this id is already a member of the cluster",
  "name-taken": "another node of the cluster already has this name",
};

/**
 * Whether `node` named `name` may join with `token` at `atMs`. The same host retrying with
 * the same token (its use recorded, its reply lost) is let through again; any other claim of
 * a member's id or name, or of an id or name another join reserved, is refused.
 */
export function joinRefusal(
  token: JoinTokenRecord | undefined,
  claim: { readonly node: NodeId; readonly name: string; readonly atMs: number },
  state: FabricState,
  tokens: Iterable<JoinTokenRecord>,
): JoinRefusal | null {
  if (token === undefined) return "unknown-token";
  if (token.revoked_at_ms !== null) return "revoked";
  if (claim.atMs >= token.expires_at_ms) return "expired";
  const retry = token.uses.some((use) => use.node === claim.node && use.name === claim.name);
  if (retry) return state.nodes[claim.node] === undefined ? null : "node-exists";
  if (token.single_use && token.uses.length > 0) return "used";
  if (token.uses.length >= joinTokenUsesMax) return "uses-full";
  if (state.nodes[claim.node] !== undefined) return "node-exists";
  for (const member of Object.values(state.nodes)) {
    if (member.name === claim.name) return "name-taken";
  }
  for (const other of tokens) {
    for (const use of other.uses) {
      if (use.node === claim.node) return "node-exists";
      if (use.name === claim.name) return "name-taken";
    }
  }
  return null;
}

/**
 * Applies one committed `join-token` command to the token table; returns why it was refused
 * (a deterministic no-op on every node), or null when it changed the table.
 */
export function applyJoinToken(
  tokens: Map<string, JoinTokenRecord>,
  command: JoinTokenCommand,
  atMs: number,
  state: FabricState,
): string | null {
  const existing = tokens.get(command.id);
  switch (command.action) {
    case "create": {
      if (existing !== undefined) return "a join token with this id exists";
      if (tokens.size >= joinTokensMax) return `the cluster holds ${joinTokensMax} join tokens already`;
      tokens.set(command.id, {
        id: command.id,
        secret_sha256: command.secret_sha256,
        created_at_ms: atMs,
        expires_at_ms: Math.min(Number.MAX_SAFE_INTEGER, atMs + command.ttl_ms),
        single_use: command.single_use,
        description: command.description,
        revoked_at_ms: null,
        uses: [],
      });
      return null;
    }
    case "revoke": {
      if (existing === undefined) return joinRefusalMessages["unknown-token"];
      if (existing.revoked_at_ms === null) tokens.set(command.id, { ...existing, revoked_at_ms: atMs });
      return null;
    }
    case "use": {
      const refusal = joinRefusal(
        existing,
        { node: command.node, name: command.name, atMs },
        state,
        tokens.values(),
      );
      if (refusal !== null) return joinRefusalMessages[refusal];
      assert(existing !== undefined, "a token that may be used exists");
      if (existing.uses.some((use) => use.node === command.node)) return null;
      tokens.set(command.id, {
        ...existing,
        uses: [...existing.uses, { node: command.node, name: command.name, at_ms: atMs }],
      });
      assert(tokens.get(command.id)!.uses.length <= joinTokenUsesMax, "uses over their bound");
      return null;
    }
  }
}

/** Drops tokens expired or revoked longer than the retention ago (against the committed clock). */
export function pruneJoinTokens(tokens: Map<string, JoinTokenRecord>, clockMs: number): void {
  const horizon = clockMs - joinTokenRetentionMs;
  for (const [id, token] of tokens) {
    const endedAtMs = token.revoked_at_ms ?? token.expires_at_ms;
    if (endedAtMs <= horizon) tokens.delete(id);
  }
}
