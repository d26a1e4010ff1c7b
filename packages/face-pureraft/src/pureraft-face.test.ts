/**
 * Goal: the pureraft reader reports bad input with file:line:column, flags foreign files as
 * unknown, and the RPC schema describes real encoded messages.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { decodeRaftMessage } from "@revoada/fabric-core/raft";
import { canonicalJson } from "@revoada/fabric-core/vocabulary";
import { pureraftFace, statePath } from "./pureraft-face.js";
import { raftRpcJsonSchema } from "./raft-rpc-schema.js";

const mesh = exampleFabricStates.mesh!;

describe("face-pureraft", () => {
  it("names file, line and column for a schema error", async () => {
    const text = canonicalJson(mesh).replace('"term": 7', '"term": -1');
    const result = await pureraftFace.reader.read([{ path: statePath, content: text }]);
    assert.equal(result.ok, false);
    if (result.ok) return;
    const issue = result.issues[0]!;
    assert.equal(issue.file, statePath);
    assert.deepEqual(issue.path, ["applied", "term"]);
    const expectedLine = text.split("\n").findIndex((line) => line.includes('"term": -1')) + 1;
    assert.equal(issue.line, expectedLine);
    assert.ok((issue.column ?? 0) > 1);
  });

  it("names file, line and column for a syntax error", async () => {
    const result = await pureraftFace.reader.read([{ path: statePath, content: '{\n  "nodes": {,\n}' }]);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.issues[0]?.file, statePath);
    assert.equal(result.issues[0]?.line, 2);
  });

  it("reports files it does not own as unknown and fails without state.json", async () => {
    const written = pureraftFace.writer.write(mesh, { kind: "cluster" });
    const result = await pureraftFace.reader.read([...written.files, { path: "notes.txt", content: "hi" }]);
    assert.ok(result.ok);
    assert.deepEqual(
      result.value.unknown.map((entry) => entry.file),
      ["notes.txt"],
    );
    const missing = await pureraftFace.reader.read([]);
    assert.equal(missing.ok, false);
  });

  it("the validator catches a placement on an unknown node", async () => {
    const broken = { ...mesh, placements: { ...mesh.placements, "dns/resolver": ["f".repeat(64)] } };
    const issues = await pureraftFace.validate!([{ path: statePath, content: canonicalJson(broken) }]);
    assert.deepEqual(
      issues.map((issue) => issue.message),
      ["placed on an unknown node"],
    );
  });

  it("the RPC schema lists every message type and encodes bytes as base64", () => {
    const schema = raftRpcJsonSchema();
    const text = JSON.stringify(schema);
    for (const type of [
      "requestVote",
      "voteResponse",
      "append",
      "appendResponse",
      "heartbeat",
      "timeoutNow",
    ]) {
      assert.ok(text.includes(`"${type}"`), type);
    }
    assert.ok(text.includes('"contentEncoding":"base64"'));
    assert.ok(text.includes('"$blob"'));
    // The all-JSON form the schema documents is one the real decoder accepts.
    const json = JSON.stringify({
      type: "append",
      from: "a",
      to: "b",
      term: 2,
      prevLogIndex: 1,
      prevLogTerm: 1,
      entries: [{ term: 2, index: 2, kind: "normal", data: { $bytes: "AQID" } }],
      commit: 1,
    });
    const decoded = decodeRaftMessage(new TextEncoder().encode(json));
    assert.ok(decoded.ok, JSON.stringify(decoded));
    assert.equal(decoded.value.type, "append");
    if (decoded.value.type === "append") assert.deepEqual([...decoded.value.entries[0]!.data], [1, 2, 3]);
  });
});
