/**
 * Goal: the core's behaviour as readable transcripts. Method: every `testdata/*.txt` is a
 * script of blocks (a command, `----`, the expected output) run through the simulator's
 * `RaftInteraction` harness; the test compares each output. `REWRITE=1` rewrites the files
 * with the actual output: review that diff like code and commit it only if you understand
 * what caused it (etcd-io/raft's rule for its interaction tests).
 */
import { strict as assertStrict } from "node:assert";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { RaftInteraction } from "../sim/index.js";

const directory = join(fileURLToPath(new URL(".", import.meta.url)), "testdata");
const rewrite = process.env.REWRITE === "1";

interface Block {
  readonly command: string;
  readonly expected: string;
}

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  for (const chunk of text.split(/\n{2,}(?=\S)/)) {
    const separator = chunk.indexOf("\n----");
    if (separator < 0) continue;
    const command = chunk.slice(0, separator).trim();
    const expected = chunk
      .slice(separator + "\n----".length)
      .replace(/^\n/, "")
      .trimEnd();
    blocks.push({ command, expected });
  }
  return blocks;
}

for (const file of readdirSync(directory)
  .filter((name) => name.endsWith(".txt"))
  .sort()) {
  test(`interaction script ${file}`, () => {
    const path = join(directory, file);
    const blocks = parse(readFileSync(path, "utf8"));
    assertStrict.ok(blocks.length > 0, "a script has blocks");
    const harness = new RaftInteraction();
    const actual: string[] = [];
    for (const block of blocks) {
      const lines = block.command.split("\n").filter((line) => line.length > 0 && !line.startsWith("#"));
      const output = lines
        .map((line) => harness.handle(line))
        .filter((text) => text.length > 0)
        .join("\n");
      actual.push(`${block.command}\n----\n${output}`.trimEnd());
      if (!rewrite) assertStrict.equal(output, block.expected, `${file}: ${block.command}`);
    }
    if (rewrite) writeFileSync(path, `${actual.join("\n\n")}\n`);
  });
}
