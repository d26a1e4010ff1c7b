// Goal: join tokens are committed state with deterministic rules: a token expires at the
// leader's clock plus its ttl, can be revoked, is single-use when asked, and a use that claims
// a member's (or another join's) id or name is refused; the table survives a snapshot.
// Method: feed a FabricMachine hand-built committed entries (test-log.ts) and read the table.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, it } from "node:test";
import { emptyConfState } from "../raft/index.js";
import { loadBlake3, signerFromSeed } from "../vocabulary/index.js";
import { joinRefusalMessages, joinTokenRetentionMs } from "./join-tokens.js";
import { FabricMachine } from "./machine.js";
import { foundedLog, testSigners } from "./test-log.js";

before(async () => {
  await loadBlake3();
});

const secret = createHash("sha256").update("secret").digest("hex");
const joiner = (index: number) =>
  signerFromSeed(createHash("sha256").update(`join-token-test/${index}`).digest()).nodeId;
const create = (id: string, singleUse: boolean, ttlMs = 60_000) => ({
  type: "join-token" as const,
  action: "create" as const,
  id,
  secret_sha256: secret,
  ttl_ms: ttlMs,
  single_use: singleUse,
  description: "",
});
const use = (id: string, node: ReturnType<typeof joiner>, name: string) => ({
  type: "join-token" as const,
  action: "use" as const,
  id,
  node,
  name,
});

describe("join tokens in the fabric machine", () => {
  it("records a token with its expiry at the leader's clock, and one use per joining host", () => {
    const log = foundedLog();
    const created = log.propose(create("abc123", false));
    assert.equal(created.procedureRejected, null);
    const token = log.machine.joinToken("abc123");
    assert.equal(token?.expires_at_ms, log.clockMs + 60_000);
    assert.equal(token?.secret_sha256, secret);
    assert.equal(log.propose(use("abc123", joiner(1), "host-1")).procedureRejected, null);
    assert.equal(log.propose(use("abc123", joiner(2), "host-2")).procedureRejected, null);
    assert.deepEqual(
      log.machine.joinToken("abc123")?.uses.map((entry) => entry.name),
      ["host-1", "host-2"],
    );
  });

  it("refuses a second use of a single-use token, but lets the same host retry", () => {
    const log = foundedLog();
    log.propose(create("single", true));
    assert.equal(log.propose(use("single", joiner(1), "host-1")).procedureRejected, null);
    assert.equal(log.propose(use("single", joiner(1), "host-1")).procedureRejected, null, "a retry");
    assert.equal(log.propose(use("single", joiner(2), "host-2")).procedureRejected, joinRefusalMessages.used);
    assert.equal(log.machine.joinToken("single")?.uses.length, 1);
  });

  it("refuses an expired, a revoked and an unknown token", () => {
    const log = foundedLog();
    log.propose(create("short1", false, 1_000));
    log.clockMs += 1_000;
    assert.equal(
      log.propose(use("short1", joiner(1), "host-1")).procedureRejected,
      joinRefusalMessages.expired,
    );
    log.propose(create("revok1", false));
    assert.equal(log.propose({ type: "join-token", action: "revoke", id: "revok1" }).procedureRejected, null);
    assert.equal(
      log.propose(use("revok1", joiner(1), "host-1")).procedureRejected,
      joinRefusalMessages.revoked,
    );
    assert.equal(
      log.propose(use("nosuch", joiner(1), "host-1")).procedureRejected,
      joinRefusalMessages["unknown-token"],
    );
    assert.deepEqual(
      log.machine.joinTokens().map((token) => token.uses.length),
      [0, 0],
    );
  });

  it("refuses a claim of a member's id or name, and of an id or name another join reserved", () => {
    const log = foundedLog();
    log.propose(create("claims", false));
    const member = log.machine.node(testSigners[1]!.nodeId)!;
    assert.equal(
      log.propose(use("claims", testSigners[1]!.nodeId, "fresh-name")).procedureRejected,
      joinRefusalMessages["node-exists"],
    );
    assert.equal(
      log.propose(use("claims", joiner(1), member.name)).procedureRejected,
      joinRefusalMessages["name-taken"],
    );
    log.propose(use("claims", joiner(1), "host-1"));
    assert.equal(
      log.propose(use("claims", joiner(2), "host-1")).procedureRejected,
      joinRefusalMessages["name-taken"],
    );
    assert.equal(log.machine.joinToken("claims")?.uses.length, 1);
  });

  it("keeps the table in the snapshot, and drops ended tokens after the retention", () => {
    const log = foundedLog();
    log.propose(create("keepme", true));
    log.propose(use("keepme", joiner(1), "host-1"));
    const restored = FabricMachine.restore(
      { origin: "revoada.test/machine", requireOperatorSignature: false },
      log.machine.snapshot(),
      emptyConfState(),
    );
    assert.ok(restored.ok);
    assert.deepEqual(restored.value.joinTokens(), log.machine.joinTokens());
    log.clockMs += 60_000 + joinTokenRetentionMs;
    log.propose(create("later1", false));
    assert.deepEqual(
      log.machine.joinTokens().map((token) => token.id),
      ["later1"],
    );
  });
});
