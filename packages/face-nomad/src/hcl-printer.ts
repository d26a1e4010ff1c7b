import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * A deterministic HCL2 printer over a tiny syntax tree: one item per line (a one-line block
 * with two items is invalid HCL2), two-space indents, lists and maps spread one element per
 * line. Strings are escaped for HCL templates, except Nomad runtime interpolations such as
 * `${node.unique.name}` or `${NOMAD_ALLOC_ID}`, which pass through untouched for Nomad to
 * resolve at run time; any other `${` becomes `$${` and `%{` becomes `%%{`.
 */

export type HclValue = string | number | boolean | readonly HclValue[] | HclMap;

/** A map attribute (`env = { "KEY" = "value" }`), keys quoted and sorted. */
export interface HclMap {
  readonly map: Readonly<Record<string, string>>;
}

export type HclItem =
  | { readonly kind: "attribute"; readonly name: string; readonly value: HclValue }
  | {
      readonly kind: "block";
      readonly type: string;
      readonly labels: readonly string[];
      readonly body: HclBody;
    };

export type HclBody = readonly HclItem[];

export function attribute(name: string, value: HclValue): HclItem {
  return { kind: "attribute", name, value };
}

export function block(type: string, labels: readonly string[], body: HclBody): HclItem {
  return { kind: "block", type, labels, body };
}

/** `${` followed by a runtime variable Nomad resolves itself, up to its closing brace. */
const runtimeInterpolation = /^\$\{(?:(?:node|attr|meta|device)(?:\.[A-Za-z0-9_-]+)+|NOMAD_[A-Za-z0-9_]+)\}/;

const simpleEscapes: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function escapeCharacter(character: string): string {
  const simple = simpleEscapes[character];
  if (simple !== undefined) return simple;
  const code = character.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return `\\u${code.toString(16).padStart(4, "0")}`;
  return character;
}

/** True when no character of `text` needs escaping: the common case, checked without a copy. */
function isPlainTemplate(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    // Control characters, `"`, `$`, `%` and `\`.
    if (code < 0x20 || code === 0x7f || code === 0x22 || code === 0x24 || code === 0x25 || code === 0x5c)
      return false;
  }
  return true;
}

/** The body of an HCL quoted template that evaluates to `text` (runtime interpolations kept). */
export function escapeTemplate(text: string): string {
  if (isPlainTemplate(text)) return text;
  let out = "";
  let index = 0;
  while (index < text.length) {
    const character = text[index]!;
    const next = text[index + 1];
    if (character === "$" && next === "{") {
      const passthrough = runtimeInterpolation.exec(text.slice(index));
      // A `$` right before an interpolation would form the `$${` escape, so then escape instead.
      if (passthrough !== null && text[index - 1] !== "$") {
        out += passthrough[0];
        index += passthrough[0].length;
        continue;
      }
      out += "$${";
      index += 2;
    } else if (character === "%" && next === "{") {
      out += "%%{";
      index += 2;
    } else {
      out += escapeCharacter(character);
      index += 1;
    }
  }
  return out;
}

/** Inverse of `escapeTemplate` on hcl2json output, which keeps `$${` and `%%{` as written. */
export function unescapeTemplate(text: string): string {
  if (!text.includes("${") && !text.includes("%{")) return text;
  let out = "";
  let index = 0;
  while (index < text.length) {
    if (text.startsWith("$${", index)) {
      out += "${";
      index += 3;
    } else if (text.startsWith("%%{", index)) {
      out += "%{";
      index += 3;
    } else {
      out += text[index]!;
      index += 1;
    }
  }
  return out;
}

export function quote(text: string): string {
  return `"${escapeTemplate(text)}"`;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Names already checked: a jobspec repeats the same few dozen, 70 lines a job. */
const identifiers = new Set<string>();
const identifiersKept = 1024;

function assertIdentifier(name: string, what: string): void {
  if (identifiers.has(name)) return;
  assert(identifier.test(name), `${what} ${name} is an identifier`);
  if (identifiers.size < identifiersKept) identifiers.add(name);
}

function printValue(value: HclValue, indent: string, lines: string[], prefix: string): void {
  if (typeof value === "string") lines.push(`${prefix}${quote(value)}`);
  else if (typeof value === "number") {
    assert(Number.isSafeInteger(value), "HCL numbers here are safe integers");
    lines.push(`${prefix}${value}`);
  } else if (typeof value === "boolean") lines.push(`${prefix}${value}`);
  else if (Array.isArray(value)) printList(value as readonly HclValue[], indent, lines, prefix);
  else printMap((value as HclMap).map, indent, lines, prefix);
}

function printList(values: readonly HclValue[], indent: string, lines: string[], prefix: string): void {
  if (values.length === 0) {
    lines.push(`${prefix}[]`);
    return;
  }
  lines.push(`${prefix}[`);
  const inner = `${indent}  `;
  for (const value of values) {
    printValue(value, inner, lines, inner);
    lines[lines.length - 1] += ",";
  }
  lines.push(`${indent}]`);
}

function printMap(
  map: Readonly<Record<string, string>>,
  indent: string,
  lines: string[],
  prefix: string,
): void {
  const keys = Object.keys(map).sort();
  if (keys.length === 0) {
    lines.push(`${prefix}{}`);
    return;
  }
  lines.push(`${prefix}{`);
  for (const key of keys) lines.push(`${indent}  ${quote(key)} = ${quote(map[key]!)}`);
  lines.push(`${indent}}`);
}

function printBody(body: HclBody, indent: string, lines: string[]): void {
  for (const item of body) {
    if (item.kind === "attribute") {
      assertIdentifier(item.name, "attribute name");
      printValue(item.value, indent, lines, `${indent}${item.name} = `);
      continue;
    }
    assertIdentifier(item.type, "block type");
    let header = `${indent}${item.type}`;
    for (const label of item.labels) header += ` ${quote(label)}`;
    lines.push(`${header} {`);
    printBody(item.body, `${indent}  `, lines);
    lines.push(`${indent}}`);
  }
}

/** Prints a body; the result ends with a newline. Blocks are separated by nothing extra. */
export function printHcl(body: HclBody): string {
  const lines: string[] = [];
  printBody(body, "", lines);
  if (lines.length === 0) return "\n";
  // The empty last line gives the final newline inside the one joined string.
  lines.push("");
  return lines.join("\n");
}
