/**
 * A fast reader for exactly what `printHcl` writes: one item per line, blocks with quoted
 * labels, attributes holding a string, an integer, a boolean, a list spread over lines, or a
 * map of quoted keys. It returns the same JSON shape `@cdktn/hcl2json` gives (blocks as
 * arrays, labelled blocks keyed by label, template text kept as written: `${...}` runtime
 * interpolations, `$${` and `%%{` untouched, backslash escapes decoded), about a hundred
 * times faster than hcl2json's WASM build. On anything outside that subset it returns
 * undefined and the caller parses with hcl2json, which also gives the error positions.
 */

class OutsideSubset extends Error {}

const runtimeInterpolation = /^\$\{(?:(?:node|attr|meta|device)(?:\.[A-Za-z0-9_-]+)+|NOMAD_[A-Za-z0-9_]+)\}/;
const identifier = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const integer = /^-?(?:0|[1-9][0-9]*)$/;
const simpleEscapes: Readonly<Record<string, string>> = { "\\": "\\", '"': '"', n: "\n", r: "\r", t: "\t" };

const special = /["\\$%]/g;

/** Reads a quoted string starting at `text[start] === '"'`; returns its value and the index after it. */
function readString(text: string, start: number): [string, number] {
  let out = "";
  let index = start + 1;
  while (index < text.length) {
    // Copy the run of ordinary characters up to the next one that needs a decision.
    special.lastIndex = index;
    const found = special.exec(text);
    const stop = found === null ? text.length : found.index;
    if (stop > index) {
      out += text.slice(index, stop);
      index = stop;
      continue;
    }
    const character = text[index]!;
    if (character === '"') return [out, index + 1];
    if (character === "\\") {
      const next = text[index + 1] ?? "";
      const simple = simpleEscapes[next];
      if (simple !== undefined) {
        out += simple;
        index += 2;
      } else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(index + 2, index + 6))) {
        out += String.fromCharCode(Number.parseInt(text.slice(index + 2, index + 6), 16));
        index += 6;
      } else throw new OutsideSubset();
    } else if (text.startsWith("$${", index) || text.startsWith("%%{", index)) {
      out += text.slice(index, index + 3);
      index += 3;
    } else if (text.startsWith("${", index)) {
      const passthrough = runtimeInterpolation.exec(text.slice(index, index + 256));
      if (passthrough === null) throw new OutsideSubset();
      out += passthrough[0];
      index += passthrough[0].length;
    } else if (text.startsWith("%{", index)) {
      throw new OutsideSubset();
    } else {
      out += character;
      index += 1;
    }
  }
  throw new OutsideSubset();
}

/** A whole line that is one quoted string, optionally followed by `suffix`. */
function lineString(text: string, suffix: string): string {
  if (!text.startsWith('"')) throw new OutsideSubset();
  const [value, end] = readString(text, 0);
  if (text.slice(end) !== suffix) throw new OutsideSubset();
  return value;
}

function scalar(text: string): string | number | boolean {
  if (text.startsWith('"')) return lineString(text, "");
  if (text === "true" || text === "false") return text === "true";
  if (!integer.test(text) || !Number.isSafeInteger(Number(text))) throw new OutsideSubset();
  return Number(text);
}

type Body = Record<string, unknown>;

/** The object under `key` (created when missing); anything else there is outside the subset. */
function child(body: Body, key: string): Body {
  const existing = body[key] ?? {};
  if (existing === null || typeof existing !== "object" || Array.isArray(existing)) throw new OutsideSubset();
  body[key] = existing;
  return existing as Body;
}

class Parser {
  index = 0;
  constructor(readonly lines: readonly string[]) {}

  next(): string {
    const line = this.lines[this.index];
    if (line === undefined) throw new OutsideSubset();
    this.index += 1;
    return line.trim();
  }

  list(): unknown[] {
    const values: unknown[] = [];
    for (let line = this.next(); line !== "]"; line = this.next()) {
      if (!line.endsWith(",")) throw new OutsideSubset();
      values.push(scalar(line.slice(0, -1)));
    }
    return values;
  }

  map(): Record<string, string> {
    const map: Record<string, string> = {};
    for (let line = this.next(); line !== "}"; line = this.next()) {
      const [key, end] = line.startsWith('"') ? readString(line, 0) : ["", 0];
      if (end === 0 || !line.startsWith(" = ", end) || Object.hasOwn(map, key)) throw new OutsideSubset();
      map[key] = lineString(line.slice(end + 3), "");
    }
    return map;
  }

  attribute(body: Body, name: string, rest: string): void {
    if (Object.hasOwn(body, name)) throw new OutsideSubset();
    if (rest === "[") body[name] = this.list();
    else if (rest === "{") body[name] = this.map();
    else if (rest === "[]") body[name] = [];
    else if (rest === "{}") body[name] = {};
    else body[name] = scalar(rest);
  }

  block(body: Body, header: string): void {
    const parts = header.slice(0, -2).split(" ");
    const type = parts[0]!;
    const labels = parts.slice(1).map((label) => lineString(label, ""));
    const inner = this.body(true);
    if (labels.length === 0) {
      const existing = body[type] ?? [];
      if (!Array.isArray(existing)) throw new OutsideSubset();
      body[type] = [...existing, inner];
      return;
    }
    const holder = child(body, type);
    let labelled = holder;
    for (const label of labels.slice(0, -1)) labelled = child(labelled, label);
    const last = labels[labels.length - 1]!;
    const existing = labelled[last] ?? [];
    if (!Array.isArray(existing)) throw new OutsideSubset();
    const list: unknown[] = existing;
    labelled[last] = list;
    list.push(inner);
  }

  body(nested: boolean): Body {
    const body: Body = {};
    while (this.index < this.lines.length) {
      const line = this.next();
      if (line === "}") {
        if (!nested) throw new OutsideSubset();
        return body;
      }
      const equals = line.indexOf(" = ");
      const name = equals < 0 ? "" : line.slice(0, equals);
      if (equals > 0 && identifier.test(name)) this.attribute(body, name, line.slice(equals + 3));
      else if (line.endsWith(" {") && /^[A-Za-z_][A-Za-z0-9_-]*( "[^"\\$%]*")* \{$/.test(line))
        this.block(body, line);
      else throw new OutsideSubset();
    }
    if (nested) throw new OutsideSubset();
    return body;
  }
}

/** hcl2json's shape for `text`, or undefined when `text` is not in the printer's subset. */
export function parseCanonicalHcl(text: string): Body | undefined {
  if (!text.endsWith("\n") || text.includes("\r")) return undefined;
  // Comments, blank lines, heredocs and expressions all fail the line grammar: no pre-scan needed.
  const lines = text.slice(0, -1).split("\n");
  try {
    return new Parser(lines).body(false);
  } catch (error) {
    if (error instanceof OutsideSubset) return undefined;
    throw error;
  }
}
