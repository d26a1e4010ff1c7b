// Goal: the verifier's regular-expression fast path never accepts what the schema path
// rejects, and decodes exactly what it decodes. Method: random schema-valid block records
// (every command shape, with and without operator and leader signatures), their canonical
// lines, and random one-character edits of those lines.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { canonicalJson, loadBlake3, NodeRole, ShiftReason } from "../vocabulary/index.js";
import { BlockRecord, blockBodyLine, canonicalLine, isCanonicalBlockLine } from "./block.js";
import { parseRecordLine } from "./export.js";
import { fastDecodeBlockLine } from "./fast-decode.js";

await loadBlake3();

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
const uint = fc.oneof(
  fc.integer({ min: 0, max: 1000 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const reason = fc.constantFrom(...ShiftReason.options);
const roles = fc.array(fc.constantFrom(...NodeRole.options), { minLength: 1, maxLength: 8 });
const command = fc.oneof(
  fc.record({ type: fc.constantFrom("promote" as const, "demote" as const), node: hex(64), roles, reason }),
  fc.record({ type: fc.constant("quarantine" as const), node: hex(64), reason }),
  fc.record({ type: fc.constant("restore" as const), node: hex(64) }),
);
const record = fc.record({
  kind: fc.constant("block" as const),
  body: fc.record(
    {
      v: fc.constant(1 as const),
      sequence: uint,
      prev_hash: hex(64),
      term: uint,
      index: uint.map((value) => Math.max(1, value)),
      committed_at_ms: uint,
      proposer: hex(64),
      origin: fc.constantFrom("policy" as const, "operator" as const),
      force: fc.boolean(),
      command,
      operator_signature: hex(128),
    },
    {
      requiredKeys: [
        "v",
        "sequence",
        "prev_hash",
        "term",
        "index",
        "committed_at_ms",
        "proposer",
        "origin",
        "force",
        "command",
      ],
    },
  ),
  signature: fc.option(hex(128), { nil: null }),
  hash: hex(64),
});

/** What the general path makes of a line: the record when it is valid canonical JSON, else undefined. */
function generalDecode(line: string): BlockRecord | undefined {
  const parsed = parseRecordLine(line);
  if (!parsed.ok || parsed.value.kind !== "block") return undefined;
  return canonicalLine(parsed.value) === `${line}\n` ? parsed.value : undefined;
}

describe("fast block decoding", () => {
  test("decodes every valid canonical block line exactly as the schema does; encoders agree (property)", () => {
    fc.assert(
      fc.property(record, (value) => {
        const valid = BlockRecord.parse(value);
        const line = canonicalLine(valid).slice(0, -1);
        const fast = fastDecodeBlockLine(line);
        assert.ok(fast !== undefined, line);
        assert.deepEqual(fast.block, valid);
        // The hand-written encoders agree with generic canonical JSON.
        assert.equal(fast.bodyLine, blockBodyLine(valid.body));
        assert.equal(blockBodyLine(valid.body), canonicalLine(valid.body));
        assert.equal(blockBodyLine(valid.body), canonicalJson(valid.body, 0));
        assert.ok(isCanonicalBlockLine(line, fast.bodyLine, valid.hash, valid.signature));
        assert.equal(
          isCanonicalBlockLine(line.replace('"v":1', '"v": 1'), fast.bodyLine, valid.hash, valid.signature),
          false,
        );
        assert.equal(isCanonicalBlockLine(`${line} `, fast.bodyLine, valid.hash, valid.signature), false);
      }),
      { numRuns: 400 },
    );
  });

  test("accepts an edited line only when the schema path accepts it with the same record (property)", () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefg",:{}[] -.eE+AZ\\nul'.split(""));
    let accepted = 0;
    fc.assert(
      fc.property(
        record,
        fc.nat(),
        alphabet,
        fc.constantFrom("replace", "insert", "delete"),
        (value, at, char, edit) => {
          const line = canonicalLine(BlockRecord.parse(value)).slice(0, -1);
          const position = at % line.length;
          const edited =
            edit === "replace"
              ? line.slice(0, position) + char + line.slice(position + 1)
              : edit === "insert"
                ? line.slice(0, position) + char + line.slice(position)
                : line.slice(0, position) + line.slice(position + 1);
          const fast = fastDecodeBlockLine(edited);
          if (fast === undefined) return;
          const general = generalDecode(edited);
          assert.ok(general !== undefined, `fast path accepted what the schema rejects: ${edited}`);
          assert.deepEqual(fast.block, general);
          accepted += 1;
        },
      ),
      { numRuns: 3000 },
    );
    // Edits that keep the line valid (a hex digit for a hex digit) must have been exercised.
    assert.ok(accepted > 0, "the fast path accepted no edited line: the property checked nothing");
  });

  test("numbers beyond 2^53, a zero raft index and mixed-up command shapes fall back", () => {
    const valid = BlockRecord.parse({
      kind: "block",
      body: {
        v: 1,
        sequence: 0,
        prev_hash: "0".repeat(64),
        term: 1,
        index: 1,
        committed_at_ms: 0,
        proposer: "1".repeat(64),
        origin: "policy",
        force: false,
        command: { type: "restore", node: "2".repeat(64) },
      },
      signature: null,
      hash: "3".repeat(64),
    });
    const line = canonicalLine(valid).slice(0, -1);
    assert.ok(fastDecodeBlockLine(line) !== undefined);
    for (const edited of [
      line.replace('"term":1', '"term":9007199254740993'),
      line.replace('"index":1', '"index":0'),
      line.replace('"type":"restore"', '"type":"quarantine"'),
      line.replace(`"node":"${"2".repeat(64)}",`, `"node":"${"2".repeat(64)}","reason":"operator",`),
    ]) {
      assert.equal(fastDecodeBlockLine(edited), undefined, edited);
    }
  });
});
