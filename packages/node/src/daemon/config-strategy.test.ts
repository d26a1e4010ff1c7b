// Goal: a node refuses to start on a strategy that requires operator signatures but names no
// operator key (every operator shift would be refused, and every node would refuse the
// strategy itself, so the founder would propose it forever); the error names the field and
// its line:column. With a key, the same config loads.
// Method: a generated mesh config (createMeshLayout), its strategy edited, loadNodeConfig.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { formatIssue, homelabStrategy } from "@revoada/fabric-core/vocabulary";
import { createMeshLayout } from "../mesh/mesh-setup.js";
import { loadNodeConfig } from "./config.js";

const directories: string[] = [];

after(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

test("require_operator_signature without operator keys is refused at load, with a key it loads", async () => {
  const directory = await mkdtemp(join(tmpdir(), "revoada-config-strategy-"));
  directories.push(directory);
  const keyless = {
    ...homelabStrategy,
    attestation: { ...homelabStrategy.attestation, require_operator_signature: true },
  };
  const { configs } = await createMeshLayout({ directory, nodes: 1, faceId: "pureraft", strategy: keyless });
  const path = configs[0]!;
  const refused = await loadNodeConfig(path);
  assert.ok(!refused.ok, "refused");
  const lines = refused.issues.map(formatIssue);
  const line = (await readFile(path, "utf8"))
    .split("\n")
    .findIndex((text) => text.includes("require_operator_signature"));
  assert.ok(
    lines.some(
      (text) =>
        text.startsWith(`${path}:${line + 1}:`) &&
        text.includes(
          "strategy.attestation.require_operator_signature: require_operator_signature is on but attestation.operators names no key",
        ),
    ),
    lines.join("\n"),
  );
  const keyed = (await readFile(path, "utf8")).replace(
    "require_operator_signature: true",
    `require_operator_signature: true\n    operators: ["${"ab".repeat(32)}"]`,
  );
  await writeFile(path, keyed);
  const loaded = await loadNodeConfig(path);
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.issues));
  assert.deepEqual(loaded.value.config.strategy.attestation.operators, ["ab".repeat(32)]);
});
