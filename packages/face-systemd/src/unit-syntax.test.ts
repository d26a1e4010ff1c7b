/**
 * Goal: the unit reader and writer follow systemd.syntax(7) where INI parsers do not:
 * repeated keys accumulate, an empty assignment resets, comments only at line start,
 * backslash continuation, `%`/`$` escaping and C-style quoting; errors name file:line:column.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lastValue, listValues, parseUnitFile, sectionEntries, stringifyUnitFile } from "./unit-syntax.js";
import {
  formatEnvironment,
  formatExecLine,
  isWordError,
  parseEnvironment,
  parseExecLine,
  splitWords,
} from "./unit-values.js";

function parse(text: string) {
  const result = parseUnitFile(text, "x.service");
  if (!result.ok) assert.fail(JSON.stringify(result.issues));
  return result.value;
}

describe("unit syntax", () => {
  it("accumulates repeated keys and resets on an empty assignment", () => {
    const unit = parse("[Unit]\nAfter=a.service\nAfter=b.service\nAfter=\nAfter=c.service d.service\n");
    const after = listValues(sectionEntries(unit, "Unit"), "After").map((entry) => entry.value);
    assert.deepEqual(after, ["c.service d.service"]);
    const all = parse("[Service]\nEnvironment=A=1\nEnvironment=B=2\n");
    assert.equal(listValues(sectionEntries(all, "Service"), "Environment").length, 2);
    assert.equal(lastValue(sectionEntries(all, "Service"), "Environment")?.value, "B=2");
  });

  it("treats # and ; as comments only at line start", () => {
    const unit = parse(
      "# comment\n  ; indented comment\n[Unit]\nDescription=web ; not a comment # nor this\n",
    );
    assert.equal(
      lastValue(sectionEntries(unit, "Unit"), "Description")?.value,
      "web ; not a comment # nor this",
    );
  });

  it("joins backslash continuations with a space and skips comment lines inside them", () => {
    const unit = parse("[Service]\nExecStart=/usr/bin/prog \\\n  --a \\\n# skipped\n  --b\nType=simple\n");
    const entries = sectionEntries(unit, "Service");
    assert.equal(
      lastValue(entries, "ExecStart")?.value,
      "/usr/bin/prog  --a  --b",
      "the backslash becomes a space, as in systemd",
    );
    assert.equal(lastValue(entries, "Type")?.line, 6);
  });

  it("records the line and value column of each entry", () => {
    const unit = parse("[Unit]\n\n  Description =  hello\n");
    const entry = lastValue(sectionEntries(unit, "Unit"), "Description")!;
    assert.equal(entry.line, 3);
    assert.equal(entry.column, 18);
  });

  it("reports errors with file, line and column", () => {
    const outside = parseUnitFile("Description=x\n", "a.service");
    assert.ok(!outside.ok);
    assert.deepEqual(
      [outside.issues[0]?.file, outside.issues[0]?.line, outside.issues[0]?.column],
      ["a.service", 1, 1],
    );
    const noEquals = parseUnitFile("[Unit]\n\n   garbage\n", "b.service");
    assert.ok(!noEquals.ok);
    assert.deepEqual([noEquals.issues[0]?.line, noEquals.issues[0]?.column], [3, 4]);
    const header = parseUnitFile("[Unit\n", "c.service");
    assert.ok(!header.ok);
  });

  it("writes sections separated by blank lines and refuses multi-line values", () => {
    const text = stringifyUnitFile({
      comment: ["hello"],
      sections: [
        { name: "Unit", entries: [["Description", "x"]] },
        { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
      ],
    });
    assert.equal(text, "# hello\n\n[Unit]\nDescription=x\n\n[Install]\nWantedBy=multi-user.target\n");
    assert.throws(() =>
      stringifyUnitFile({ sections: [{ name: "Unit", entries: [["Description", "a\nb"]] }] }),
    );
  });
});

describe("unit values", () => {
  it("escapes % as %% and $ as $$ in Exec lines, and reads them back", () => {
    const line = formatExecLine([
      "/usr/bin/echo",
      "100%",
      "$HOME",
      "a b",
      'say "hi"',
      "back\\slash",
      "",
      ";",
      "tab\there",
    ]);
    assert.equal(
      line,
      '/usr/bin/echo "100%%" "$$HOME" "a b" "say \\"hi\\"" "back\\\\slash" "" \\; "tab\\there"',
    );
    assert.deepEqual(parseExecLine(line), [
      "/usr/bin/echo",
      "100%",
      "$HOME",
      "a b",
      'say "hi"',
      "back\\slash",
      "",
      ";",
      "tab\there",
    ]);
  });

  it("quotes Environment= with C escapes and reads several assignments per line", () => {
    assert.equal(formatEnvironment("A", 'x "y" 5%\n'), '"A=x \\"y\\" 5%%\\n"');
    assert.deepEqual(parseEnvironment('"A=x \\"y\\" 5%%\\n" B=2 \'C=three words\''), [
      ["A", 'x "y" 5%\n'],
      ["B", "2"],
      ["C", "three words"],
    ]);
  });

  it("splits words with mixed quoting and C escapes, and reports bad input", () => {
    assert.deepEqual(splitWords(`a"b c"d 'e\\x41' \\u00e9`), ["ab cd", "eA", "é"]);
    const unterminated = splitWords('ok "open');
    assert.ok(isWordError(unterminated));
    assert.equal(unterminated.offset, 8);
    assert.ok(isWordError(splitWords("bad \\q")));
  });
});
