// Goal: mesh.json names the real pid of every running node of a local mesh, and null once a
// node is gone, so `revoada kill` and an operator reading the file find the right process.
// Method: a one-node LocalMesh of a real process; the pid in mesh.json must be the one the
// node's own pid file holds and a live process; after kill -9 the file says null.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runningPidOf } from "../daemon/pid-file.js";
import { LocalMesh } from "./local-mesh.js";
import { readMeshFile } from "./mesh-file.js";
import { waitFor } from "./observe.js";

let directory = "";
let local: LocalMesh | undefined;

after(async () => {
  await local?.stopAll(3000);
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

test("mesh.json records the pid of each running node, and null once it is killed", async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-pids-"));
  local = await LocalMesh.start({ directory, nodes: 1, faceId: "pureraft" });
  const read = async () => {
    const mesh = await readMeshFile(directory);
    assert.ok(mesh.ok, "mesh.json parses");
    return mesh.value.nodes[0]!;
  };
  const entry = await read();
  assert.equal(typeof entry.pid, "number", "a running node has a pid in mesh.json");
  assert.doesNotThrow(() => process.kill(entry.pid!, 0), "the pid is a live process");
  const locked = await waitFor(() => runningPidOf(join(directory, entry.name, "data")), 30_000, 50);
  assert.equal(locked, entry.pid, "it is the process that holds the node's data directory");

  await local.kill(entry.name);
  await local.pidsRecorded();
  assert.equal((await read()).pid, null, "a killed node has no pid");
});
