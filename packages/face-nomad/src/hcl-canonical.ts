/**
 * A fast reader for exactly what `printHcl` writes: one item per line, blocks with quoted
 * labels, attributes holding a string, an integer, a boolean, a list spread over lines, or a
 * map of quoted keys. It returns the same JSON shape `@cdktn/hcl2json` gives (blocks as
 * arrays, labelled blocks keyed by label, template text kept as written: `${...}` runtime
 * interpolations, `$${` and `%%{` untouched, backslash escapes decoded), about a hundred
 * times faster than hcl2json's WASM build. On anything outside that subset it returns
 * undefined and the caller parses with hcl2json, which also gives the error positions.
 *
 * It scans the text in place by character codes (no line array, no trimmed copies): at 10 000
 * jobspecs the splitting and copying was most of the reader's parse time and garbage.
 */

class OutsideSubset extends Error {}

/** Sticky: matched at `lastIndex` without copying the rest of the line. */
const runtimeInterpolation = /\$\{(?:(?:node|attr|meta|device)(?:\.[A-Za-z0-9_-]+)+|NOMAD_[A-Za-z0-9_]+)\}/y;
const integer = /^-?(?:0|[1-9][0-9]*)$/;
const simpleEscapes: Readonly<Record<string, string>> = { "\\": "\\", '"': '"', n: "\n", r: "\r", t: "\t" };

const space = 0x20;
const quoteCode = 0x22;
const dollar = 0x24;
const percent = 0x25;
const comma = 0x2c;
const backslash = 0x5c;
const openBracket = 0x5b;
const closeBracket = 0x5d;
const openBrace = 0x7b;
const closeBrace = 0x7d;

/** `[A-Za-z_]`, and with `rest` also `[0-9-]`: HCL identifiers as the printer writes them. */
function isIdentifierCode(code: number, rest: boolean): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    code === 0x5f ||
    (rest && ((code >= 0x30 && code <= 0x39) || code === 0x2d))
  );
}

type Body = Record<string, unknown>;

/** `__proto__` would set a prototype rather than a key: left to hcl2json (and JSON.parse). */
function ownKey(key: string): string {
  if (key === "__proto__") throw new OutsideSubset();
  return key;
}

class Parser {
  /** Where the next line starts. */
  private next = 0;
  /** The current line: its first character after the indent, and its newline. */
  private start = 0;
  private end = 0;
  /** Where the last quoted string read ended (after its closing quote). */
  private after = 0;
  /** Lists and objects made for blocks: an attribute of the same name is outside the subset. */
  private readonly blockHolders = new Set<unknown>();

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.next >= this.text.length;
  }

  /** Moves to the next line; a missing line is outside the subset. */
  line(): void {
    const end = this.text.indexOf("\n", this.next);
    if (end < 0) throw new OutsideSubset();
    let start = this.next;
    while (this.text.charCodeAt(start) === space) start += 1;
    this.start = start;
    this.end = end;
    this.next = end + 1;
  }

  /** True when the current line is exactly `code` after its indent. */
  lineIs(code: number): boolean {
    return this.end - this.start === 1 && this.text.charCodeAt(this.start) === code;
  }

  /** The quoted string at `index` (`text[index] === '"'`), ending before `limit`; sets `after`. */
  string(index: number, limit: number): string {
    const text = this.text;
    if (text.charCodeAt(index) !== quoteCode) throw new OutsideSubset();
    let out = "";
    let run = index + 1;
    let at = run;
    while (at < limit) {
      const code = text.charCodeAt(at);
      if (code !== quoteCode && code !== backslash && code !== dollar && code !== percent) {
        at += 1;
        continue;
      }
      if (at > run) out += text.slice(run, at);
      if (code === quoteCode) {
        this.after = at + 1;
        return out;
      }
      if (code === backslash) {
        const simple = simpleEscapes[text[at + 1] ?? ""];
        if (simple !== undefined) {
          out += simple;
          at += 2;
        } else if (text[at + 1] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(at + 2, at + 6))) {
          out += String.fromCharCode(Number.parseInt(text.slice(at + 2, at + 6), 16));
          at += 6;
        } else throw new OutsideSubset();
      } else {
        // `$` or `%`: `$${` and `%%{` are kept as written, `${` must be a runtime interpolation.
        const second = text.charCodeAt(at + 1);
        if (second === code && text.charCodeAt(at + 2) === openBrace) {
          out += text.slice(at, at + 3);
          at += 3;
        } else if (second !== openBrace) {
          out += text[at];
          at += 1;
        } else if (code === percent) {
          throw new OutsideSubset();
        } else {
          runtimeInterpolation.lastIndex = at;
          if (!runtimeInterpolation.test(text) || runtimeInterpolation.lastIndex > limit)
            throw new OutsideSubset();
          out += text.slice(at, runtimeInterpolation.lastIndex);
          at = runtimeInterpolation.lastIndex;
        }
      }
      run = at;
    }
    throw new OutsideSubset();
  }

  /** A string, boolean or integer filling `[from, to)`. */
  scalar(from: number, to: number): string | number | boolean {
    const text = this.text;
    if (text.charCodeAt(from) === quoteCode) {
      const value = this.string(from, to);
      if (this.after !== to) throw new OutsideSubset();
      return value;
    }
    const word = text.slice(from, to);
    if (word === "true" || word === "false") return word === "true";
    if (!integer.test(word) || !Number.isSafeInteger(Number(word))) throw new OutsideSubset();
    return Number(word);
  }

  list(): unknown[] {
    const values: unknown[] = [];
    for (this.line(); !this.lineIs(closeBracket); this.line()) {
      if (this.text.charCodeAt(this.end - 1) !== comma || this.end - 1 <= this.start)
        throw new OutsideSubset();
      values.push(this.scalar(this.start, this.end - 1));
    }
    return values;
  }

  map(): Record<string, string> {
    const map: Record<string, string> = {};
    for (this.line(); !this.lineIs(closeBrace); this.line()) {
      const key = ownKey(this.string(this.start, this.end));
      if (!this.text.startsWith(" = ", this.after) || Object.hasOwn(map, key)) throw new OutsideSubset();
      const value = this.string(this.after + 3, this.end);
      if (this.after !== this.end) throw new OutsideSubset();
      map[key] = value;
    }
    return map;
  }

  /** The value of an attribute, starting at `from` on the current line. */
  value(from: number): unknown {
    const length = this.end - from;
    const first = this.text.charCodeAt(from);
    if (length === 1 && first === openBracket) return this.list();
    if (length === 1 && first === openBrace) return this.map();
    if (length === 2 && first === openBracket && this.text.charCodeAt(from + 1) === closeBracket) return [];
    if (length === 2 && first === openBrace && this.text.charCodeAt(from + 1) === closeBrace) return {};
    return this.scalar(from, this.end);
  }

  /** The object under `key` (created when missing) for a block's labels. */
  holder(body: Body, key: string): Body {
    const existing = body[key];
    if (existing === undefined) {
      const created: Body = {};
      body[key] = created;
      this.blockHolders.add(created);
      return created;
    }
    if (!this.blockHolders.has(existing) || Array.isArray(existing)) throw new OutsideSubset();
    return existing as Body;
  }

  /** A block whose header line has its type at `[start, typeEnd)`; reads its body. */
  block(body: Body, type: string, typeEnd: number): void {
    const text = this.text;
    const labels: string[] = [];
    let at = typeEnd;
    while (text.charCodeAt(at) === space && text.charCodeAt(at + 1) === quoteCode) {
      // Labels are plain (no escapes or interpolations): the printer's block names never need them.
      const close = text.indexOf('"', at + 2);
      if (close < 0 || close >= this.end) throw new OutsideSubset();
      const label = ownKey(text.slice(at + 2, close));
      if (/[\\$%]/.test(label)) throw new OutsideSubset();
      labels.push(label);
      at = close + 1;
    }
    if (at !== this.end - 2 || text.charCodeAt(at) !== space || text.charCodeAt(at + 1) !== openBrace)
      throw new OutsideSubset();
    const inner = this.body(true);
    let holder = body;
    let key = type;
    for (const label of labels) {
      holder = this.holder(holder, key);
      key = label;
    }
    const existing = holder[key];
    if (existing === undefined) {
      const bodies = [inner];
      holder[key] = bodies;
      this.blockHolders.add(bodies);
    } else if (this.blockHolders.has(existing) && Array.isArray(existing)) existing.push(inner);
    else throw new OutsideSubset();
  }

  body(nested: boolean): Body {
    const text = this.text;
    const body: Body = {};
    while (!this.atEnd()) {
      this.line();
      if (this.lineIs(closeBrace)) {
        if (!nested) throw new OutsideSubset();
        return body;
      }
      let at = this.start;
      if (!isIdentifierCode(text.charCodeAt(at), false)) throw new OutsideSubset();
      do at += 1;
      while (at < this.end && isIdentifierCode(text.charCodeAt(at), true));
      const name = ownKey(text.slice(this.start, at));
      if (text.startsWith(" = ", at)) {
        if (Object.hasOwn(body, name)) throw new OutsideSubset();
        body[name] = this.value(at + 3);
      } else this.block(body, name, at);
    }
    if (nested) throw new OutsideSubset();
    return body;
  }
}

/** hcl2json's shape for `text`, or undefined when `text` is not in the printer's subset. */
export function parseCanonicalHcl(text: string): Body | undefined {
  if (!text.endsWith("\n") || text.includes("\r")) return undefined;
  // Comments, blank lines, heredocs and expressions all fail the line grammar: no pre-scan needed.
  try {
    return new Parser(text).body(false);
  } catch (error) {
    if (error instanceof OutsideSubset) return undefined;
    throw error;
  }
}
