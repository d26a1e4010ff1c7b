// Goal: the README's main job works: `revoada demo` forms a mesh, survives kill -9 of the
// leader, verifies the chain and exits 0, printing each step. Method: run the built CLI as
// a newcomer would and read its output (no timing is asserted, only that each step happened).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { revoadaBin } from "../src/mesh/supervisor.js";

test("revoada demo heals the mesh and verifies the chain", () => {
  const run = spawnSync(process.execPath, [revoadaBin, "demo", "--face", "systemd"], {
    encoding: "utf8",
    timeout: 240_000,
  });
  assert.equal(run.status, 0, `demo exited ${run.status}\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /control plane formed: /);
  assert.match(run.stdout, /kill -9 the Raft leader/);
  assert.match(run.stdout, /new leader elected\s+\d+ ms/);
  assert.match(run.stdout, /promoted and committed\s+\d+ ms/);
  assert.match(run.stdout, /chain verifies: \d+ blocks/);
  assert.match(run.stdout, /the mesh healed by itself/);
});
