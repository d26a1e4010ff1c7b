// Goal: every strategy the repository ships as an example (examples/*-strategy.yaml, which the
// docs and benchmarks point operators at) parses against the schema and proves live, through
// the same reader `revoada strategy apply` uses. Method: read each file with it.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readStrategyFile } from "../src/cli/commands/strategy.js";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));

describe("example strategies", () => {
  it("each parses and proves live", async () => {
    const files = (await readdir(examples)).filter((name) => name.endsWith("-strategy.yaml"));
    assert.ok(files.includes("large-mesh-strategy.yaml") && files.includes("steady-strategy.yaml"));
    for (const file of files) {
      const strategy = await readStrategyFile(join(examples, file));
      assert.ok(strategy.name.length > 0, file);
    }
  });
});
