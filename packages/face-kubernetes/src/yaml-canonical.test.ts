/**
 * Goal: the face's own YAML encoding is safe and its fast parser agrees with a real YAML
 * parser. Method: fast-check objects with arbitrary Unicode keys and strings (including
 * `on`, `yes`, `0777`, `0o17`, line separators and control characters); the `yaml` package
 * must read the emitted text back to the same value under YAML 1.1 and 1.2, and so must
 * `parseCanonical`. Text outside the subset makes `parseCanonical` decline.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { emitCanonical, parseCanonical } from "./yaml-canonical.js";

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const tricky = fc.constantFrom(
  "on",
  "yes",
  "No",
  "y",
  "~",
  "null",
  "0777",
  "0o17",
  "1.20",
  "1e3",
  "-",
  "- x",
  "a: b",
  "#x",
  "x #y",
  "",
  " ",
  "---",
  "...",
  "<<",
  "=",
  "\u2028",
  "\u0085",
  "\ufeff",
  "\t",
  "a:",
  "a:b",
  "a::b:c",
  "-x",
  "--y=1",
  "@a",
  "`a",
);
const text = fc.oneof(
  tricky,
  fc.string({ unit: "binary", maxLength: 12 }).filter((value) => !loneSurrogate.test(value)),
);
const leaf = fc.oneof(text, fc.integer(), fc.boolean());
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    leaf,
    fc.array(fc.oneof(leaf, tie("object")), { maxLength: 3 }),
    tie("object"),
  ),
  object: fc.dictionary(text, tie("node"), { maxKeys: 4 }),
}));
const documentValue = fc.dictionary(text, value.node, { minKeys: 1, maxKeys: 5 });

describe("canonical YAML", () => {
  it("reads back the same under YAML 1.1, YAML 1.2 and the fast parser", () => {
    fc.assert(
      fc.property(documentValue, (object) => {
        const emitted = emitCanonical(object);
        const expected = JSON.parse(JSON.stringify(object));
        assert.deepEqual(parse(emitted, { version: "1.1" }), expected, emitted);
        assert.deepEqual(parse(emitted, { version: "1.2" }), expected, emitted);
        assert.deepEqual(parseCanonical(emitted), [expected], emitted);
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  it("declines text outside the subset", () => {
    for (const outside of [
      "a: yes\n",
      "a: 0777\n",
      "a: 'x'\n",
      "a: [1]\n",
      "# c\na: b\n",
      "a: &x b\n",
      "a: b # c\n",
      "a:\n- b\n",
    ]) {
      assert.equal(parseCanonical(outside), undefined, JSON.stringify(outside));
    }
  });
});
