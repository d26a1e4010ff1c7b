/**
 * Goal: the Raft timings come from the strategy (homelab: T = 150 ms, heartbeat T/6 = 25 ms)
 * and a config that breaks a relation between knobs is refused with a named field.
 * Method: derive from the prescribed homelab strategy; validate broken configs.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import { homelabStrategy } from "../vocabulary/index.js";
import {
  defaultRaftConfig,
  heartbeatIntervalFor,
  raftConfigFromStrategy,
  validateRaftConfig,
} from "./config.js";

test("homelab timings: T = 150 ms, heartbeat 25 ms, snapshot interval from the strategy", () => {
  const derived = raftConfigFromStrategy("n1", homelabStrategy);
  assertStrict.ok(derived.ok);
  assertStrict.equal(derived.value.electionTimeoutMs, homelabStrategy.consensus.kind.election_timeout_ms);
  assertStrict.equal(derived.value.electionTimeoutMs, 150);
  assertStrict.equal(derived.value.heartbeatIntervalMs, 25);
  assertStrict.equal(
    derived.value.snapshotIntervalEntries,
    homelabStrategy.consensus.kind.snapshot_interval_entries,
  );
  assertStrict.ok(derived.value.preVote && derived.value.checkQuorum);
});

test("the heartbeat is T/6, at least 10 ms, always below T", () => {
  assertStrict.equal(heartbeatIntervalFor(600), 100);
  assertStrict.equal(heartbeatIntervalFor(30), 10);
  assertStrict.equal(heartbeatIntervalFor(10), 9);
});

test("broken relations are refused with the field named", () => {
  const slowHeartbeat = validateRaftConfig({ ...defaultRaftConfig("n1"), heartbeatIntervalMs: 150 });
  assertStrict.equal(slowHeartbeat.ok, false);
  if (!slowHeartbeat.ok) assertStrict.deepEqual(slowHeartbeat.issues[0]?.path, ["heartbeatIntervalMs"]);
  const leaseWithoutQuorum = validateRaftConfig({
    ...defaultRaftConfig("n1"),
    leaseReads: true,
    checkQuorum: false,
  });
  assertStrict.equal(leaseWithoutQuorum.ok, false);
  if (!leaseWithoutQuorum.ok) assertStrict.deepEqual(leaseWithoutQuorum.issues[0]?.path, ["leaseReads"]);
});
