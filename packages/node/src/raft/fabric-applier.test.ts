// Goal: the fabric applier round-trips through snapshot bytes and refuses bytes that are
// not a fabric state. Method: apply the founding conf-change entry, snapshot, restore.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeConfChange } from "@revoada/fabric-core/raft";
import { StorageCorruptionError } from "../errors.js";
import { FabricApplier } from "./fabric-applier.js";

test("fabric applier: snapshot bytes restore the same state; garbage is refused", () => {
  const applier = new FabricApplier();
  const outcome = applier.apply({
    index: 1,
    term: 1,
    kind: "conf-change",
    data: encodeConfChange({ changes: [{ type: "add-voter", node: "a".repeat(64) }] }),
  });
  assert.equal(outcome.type, "skipped");
  const bytes = applier.snapshot();
  const restored = new FabricApplier();
  restored.restore(bytes);
  assert.deepEqual(restored.snapshot(), bytes, "byte-identical after restore");
  assert.deepEqual(restored.state().applied, { term: 1, index: 1 });
  assert.throws(() => restored.restore(Buffer.from("{}")), StorageCorruptionError);
});
