import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * The face's own YAML encoding: block style, keys sorted, two-space indents, sequences
 * indented under their key, and a scalar written plain only when every YAML 1.1 and 1.2
 * parser must read it back as the same string; anything else is double-quoted (JSON string
 * syntax, which is valid YAML, plus escapes for what YAML treats as line breaks or
 * non-printable). Values are what JSON holds, minus null: objects, arrays, strings, safe
 * integers, booleans (undefined members are skipped).
 *
 * `parseCanonical` reads exactly this subset back, line by line, an order of magnitude
 * faster than a general YAML parser; on anything outside the subset it returns undefined and
 * the caller falls back to the `yaml` package (which also gives positions for errors).
 */

/** Plain scalars: a letter, `/` or `_` first (or `-` then a letter or `-`), no spaces or indicators. */
/** Words some YAML 1.1 parser reads as a boolean or null, compared lower-cased. */
const reservedWords = new Set(["y", "n", "yes", "no", "on", "off", "true", "false", "null"]);
/** Code points YAML 1.1 reads as line breaks or YAML calls non-printable. */
const needsEscape = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** Letters, digits and `_ . / : = @ + -`. */
function isPlainCharacter(code: number): boolean {
  if (isLetter(code) || (code >= 0x30 && code <= 0x39)) return true;
  // _ . / : = @ + -
  return (
    code === 0x5f ||
    code === 0x2e ||
    code === 0x2f ||
    code === 0x3a ||
    code === 0x3d ||
    code === 0x40 ||
    code === 0x2b ||
    code === 0x2d
  );
}

/**
 * Plain-safe: a letter, `/` or `_` first (or `-` followed by a letter or `-`), then only
 * plain characters, not ending in `:`, and not a YAML 1.1 boolean or null word.
 */
function isPlainSafe(text: string): boolean {
  const first = text.charCodeAt(0);
  if (first === 0x2d) {
    const second = text.charCodeAt(1);
    if (!(isLetter(second) || second === 0x2d)) return false;
  } else if (!(isLetter(first) || first === 0x2f || first === 0x5f)) return false;
  for (let index = 1; index < text.length; index += 1) {
    if (!isPlainCharacter(text.charCodeAt(index))) return false;
  }
  if (text.charCodeAt(text.length - 1) === 0x3a) return false;
  return text.length > 5 || !reservedWords.has(text.toLowerCase());
}

function quoted(text: string): string {
  return JSON.stringify(text).replace(
    needsEscape,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function scalar(value: string | number | boolean): string {
  if (typeof value === "string") return isPlainSafe(value) ? value : quoted(value);
  if (typeof value === "number") {
    assert(Number.isSafeInteger(value), "canonical YAML holds safe integers only");
    return String(value);
  }
  return value ? "true" : "false";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function hasMembers(value: Record<string, unknown>): boolean {
  for (const key in value) if (value[key] !== undefined) return true;
  return false;
}

/** The text accumulates in one string: V8 concatenates in place, with no arrays to collect. */
interface Output {
  text: string;
}

/** `key:` plus the block below it, or `key: scalar` / `key: {}` / `key: []` on one line. */
function emitEntry(out: Output, indent: string, head: string, value: unknown): void {
  if (Array.isArray(value)) {
    if (value.length === 0) out.text += `${head} []\n`;
    else {
      out.text += `${head}\n`;
      emitSequence(out, `${indent}  `, value);
    }
  } else if (isRecord(value)) {
    if (!hasMembers(value)) out.text += `${head} {}\n`;
    else {
      out.text += `${head}\n`;
      emitMapping(out, `${indent}  `, value, `${indent}  `);
    }
  } else out.text += `${head} ${scalar(value as string | number | boolean)}\n`;
}

function emitMapping(out: Output, indent: string, value: Record<string, unknown>, firstPrefix: string): void {
  let prefix = firstPrefix;
  for (const key of Object.keys(value).sort()) {
    const child = value[key];
    if (child === undefined) continue;
    emitEntry(out, indent, `${prefix}${scalar(key)}:`, child);
    prefix = indent;
  }
}

function emitSequence(out: Output, indent: string, values: readonly unknown[]): void {
  for (const item of values) {
    assert(!Array.isArray(item), "canonical YAML has no sequence directly inside a sequence");
    if (isRecord(item) && hasMembers(item)) emitMapping(out, `${indent}  `, item, `${indent}- `);
    else if (isRecord(item)) out.text += `${indent}- {}\n`;
    else out.text += `${indent}- ${scalar(item as string | number | boolean)}\n`;
  }
}

/** One document (no `---`), ending with a newline. The top level must be a non-empty object. */
export function emitCanonical(value: Record<string, unknown>): string {
  const out: Output = { text: "" };
  emitMapping(out, "", value, "");
  assert(out.text.length > 0, "a document has at least one entry");
  return out.text;
}

class OutsideSubset extends Error {}

/** Integers as JavaScript prints them: no leading zeros, no `-0`. */
const integer = /^(?:0|-?[1-9][0-9]*)$/;

function parseScalar(text: string): string | number | boolean {
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new OutsideSubset();
    return JSON.parse(text) as string;
  }
  if (text === "true" || text === "false") return text === "true";
  if (integer.test(text)) {
    const number = Number(text);
    if (!Number.isSafeInteger(number)) throw new OutsideSubset();
    return number;
  }
  if (!isPlainSafe(text)) throw new OutsideSubset();
  return text;
}

/**
 * Lines are kept as offsets into the source (content start, end, indent) rather than as
 * strings, so reading ten thousand files allocates only the keys and values it returns.
 */
class CanonicalParser {
  index = 0;
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly indents: number[] = [];

  constructor(readonly source: string) {}

  /** Splits the source into lines; false when a line is outside the subset's layout. */
  scan(from: number, to: number): boolean {
    for (let lineStart = from; lineStart < to; ) {
      let lineEnd = this.source.indexOf("\n", lineStart);
      if (lineEnd < 0 || lineEnd > to) lineEnd = to;
      let content = lineStart;
      while (content < lineEnd && this.source.charCodeAt(content) === 0x20) content += 1;
      const first = this.source.charCodeAt(content);
      if (content === lineEnd || first === 0x23 || this.source.charCodeAt(lineEnd - 1) === 0x20) return false;
      this.starts.push(content);
      this.ends.push(lineEnd);
      this.indents.push(content - lineStart);
      lineStart = lineEnd + 1;
    }
    return true;
  }

  isItem(line: number): boolean {
    const start = this.starts[line]!;
    return this.source.charCodeAt(start) === 0x2d && this.source.charCodeAt(start + 1) === 0x20;
  }

  /** Where the key of the `key: rest` / `key:` line `[start, end)` ends (at its colon), or -1. */
  keyEnd(start: number, end: number): number {
    const source = this.source;
    let colon = -1;
    if (source.charCodeAt(start) === 0x22) {
      for (let index = start + 1; index < end; index += 1) {
        const code = source.charCodeAt(index);
        if (code === 0x5c) index += 1;
        else if (code === 0x22) {
          colon = index + 1;
          break;
        }
      }
    } else {
      // A plain key has no spaces and does not end with `:`, so its own colons never end it.
      const spaced = source.indexOf(": ", start);
      colon = spaced >= 0 && spaced < end ? spaced : source.charCodeAt(end - 1) === 0x3a ? end - 1 : -1;
    }
    if (colon <= start || colon >= end || source.charCodeAt(colon) !== 0x3a) return -1;
    return colon === end - 1 || source.charCodeAt(colon + 1) === 0x20 ? colon : -1;
  }

  /** The value after a key, `[from, to)` on its line (empty: the block below). */
  value(from: number, to: number, indent: number): unknown {
    if (from < to) {
      const source = this.source;
      if (to - from === 2 && source.charCodeAt(from) === 0x7b && source.charCodeAt(from + 1) === 0x7d)
        return {};
      if (to - from === 2 && source.charCodeAt(from) === 0x5b && source.charCodeAt(from + 1) === 0x5d)
        return [];
      return parseScalar(source.slice(from, to));
    }
    const next = this.index;
    if (next >= this.starts.length || this.indents[next]! <= indent) throw new OutsideSubset();
    return this.isItem(next) ? this.sequence(this.indents[next]!) : this.mapping(this.indents[next]!);
  }

  mapping(indent: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    while (
      this.index < this.starts.length &&
      this.indents[this.index] === indent &&
      !this.isItem(this.index)
    ) {
      const start = this.starts[this.index]!;
      const end = this.ends[this.index]!;
      const colon = this.keyEnd(start, end);
      if (colon < 0) throw new OutsideSubset();
      const key = parseScalar(this.source.slice(start, colon));
      if (typeof key !== "string" || Object.hasOwn(result, key)) throw new OutsideSubset();
      this.index += 1;
      result[key] = this.value(colon + 2, end, indent);
    }
    return result;
  }

  sequence(indent: number): unknown[] {
    const result: unknown[] = [];
    while (
      this.index < this.starts.length &&
      this.indents[this.index] === indent &&
      this.isItem(this.index)
    ) {
      const itemStart = this.starts[this.index]! + 2;
      const end = this.ends[this.index]!;
      if (this.keyEnd(itemStart, end) < 0) {
        const item = this.source.slice(itemStart, end);
        result.push(item === "{}" ? {} : parseScalar(item));
        this.index += 1;
        continue;
      }
      // `- key: value`: a mapping whose first entry shares the dash's line.
      this.starts[this.index] = itemStart;
      this.indents[this.index] = indent + 2;
      result.push(this.mapping(indent + 2));
    }
    return result;
  }
}

/** The documents of a file in the canonical subset, or undefined when it is not (then parse it in full). */
export function parseCanonical(text: string): Record<string, unknown>[] | undefined {
  if (!text.endsWith("\n") || text.includes("\r") || text.includes("\t")) return undefined;
  const documents: Record<string, unknown>[] = [];
  let from = 0;
  while (from < text.length) {
    const separator = text.indexOf("\n---\n", from - 1);
    const to = separator < 0 ? text.length - 1 : separator;
    const parser = new CanonicalParser(text);
    if (!parser.scan(from, to) || parser.starts.length === 0 || parser.indents[0] !== 0) return undefined;
    try {
      const document = parser.mapping(0);
      if (parser.index !== parser.starts.length) return undefined;
      documents.push(document);
    } catch (error) {
      if (error instanceof OutsideSubset || error instanceof SyntaxError) return undefined;
      throw error;
    }
    from = separator < 0 ? text.length : separator + 5;
  }
  return documents;
}
