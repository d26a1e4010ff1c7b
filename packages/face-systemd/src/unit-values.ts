import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * Value encodings inside systemd unit files:
 * - words (`Exec*=`, `Environment=`, our `X-Revoada-*=` keys): separated by whitespace,
 *   quoted with `"` or `'`, C-style escapes (`\n`, `\t`, `\\`, `\"`, `\xNN`, ...);
 * - specifiers: `%` starts one (`%n`, `%i`), so a literal `%` is written `%%` in keys that
 *   expand specifiers (Description, Exec*, Environment, and Quadlet keys that end up there);
 * - in `Exec*=`, `$NAME`/`${NAME}` expand environment variables, so a literal `$` is `$$`.
 */

export interface WordError {
  readonly offset: number;
  readonly message: string;
}

/** Text with no quotes, escapes or odd whitespace: split on spaces and tabs directly. */
const plainWords = /^(?:[^\s"'\\]+(?:[ \t]+[^\s"'\\]+)*)?$/;

/** One word: unquoted runs, "..." and '...' with escapes inside, and escapes, glued together. */
const wordTokens = /(?:[^\s"'\\]+|"(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\]|\\[\s\S])*'|\\[\s\S])+/g;

/** A word that needs no quoting: conservative, so the writer quotes anything unusual. */
const bareWord = /^[A-Za-z0-9_@./:,+=-]+$/;

const escapesOut: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\t": "\\t",
  "\r": "\\r",
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\v": "\\v",
};

const escapesIn: Readonly<Record<string, string>> = {
  a: "\u0007",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  s: " ",
  "\\": "\\",
  '"': '"',
  "'": "'",
  ";": ";",
};

/** Quotes one word so that `splitWords` (and systemd) read it back unchanged. */
export function quoteWord(word: string): string {
  if (word === ";") return "\\;";
  if (bareWord.test(word)) return word;
  let quoted = '"';
  for (const character of word) {
    const escaped = escapesOut[character];
    if (escaped !== undefined) quoted += escaped;
    else if (character < " " || character === "\u007f") {
      quoted += `\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}`;
    } else quoted += character;
  }
  return `${quoted}"`;
}

export function joinWords(words: readonly string[]): string {
  return words.map(quoteWord).join(" ");
}

function isSpace(character: string): boolean {
  return character === " " || character === "\t" || character === "\n" || character === "\r";
}

/** Reads one C escape starting after the backslash at `text[index]`; returns text and length. */
function readEscape(text: string, index: number): { text: string; length: number } | WordError {
  const next = text[index];
  if (next === undefined) return { offset: index - 1, message: "a backslash at the end of the value" };
  const simple = escapesIn[next];
  if (simple !== undefined) return { text: simple, length: 1 };
  const hexLengths: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };
  const hexLength = hexLengths[next];
  if (hexLength !== undefined) {
    const digits = text.slice(index + 1, index + 1 + hexLength);
    if (!new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(digits)) {
      return { offset: index - 1, message: `invalid \\${next} escape` };
    }
    const code = Number.parseInt(digits, 16);
    if (code === 0 || code > 0x10ffff) return { offset: index - 1, message: "escape out of range" };
    return { text: String.fromCodePoint(code), length: 1 + hexLength };
  }
  const octal = /^[0-7]{3}/.exec(text.slice(index));
  if (octal !== null) {
    const code = Number.parseInt(octal[0], 8);
    if (code === 0) return { offset: index - 1, message: "escape out of range" };
    return { text: String.fromCharCode(code), length: 3 };
  }
  return { offset: index - 1, message: `unknown escape \\${next}` };
}

/** Splits a value into words: quotes removed, C escapes resolved. */
export function splitWords(text: string): string[] | WordError {
  if (plainWords.test(text)) return text === "" ? [] : text.split(/[ \t]+/);
  const tokens = text.match(wordTokens);
  if (tokens !== null && tokens.join("").length === text.replace(/[ \t\n\r]+/g, "").length) {
    // Whole text is well-formed tokens: only tokens with quotes or escapes need the slow path.
    const words: string[] = [];
    for (const token of tokens) {
      if (!/["'\\]/.test(token)) {
        words.push(token);
        continue;
      }
      const unquoted = splitWordsSlowly(token);
      if (!Array.isArray(unquoted)) return splitWordsSlowly(text);
      words.push(...unquoted);
    }
    return words;
  }
  return splitWordsSlowly(text);
}

/** Character by character: the reference implementation, and the one that reports offsets. */
function splitWordsSlowly(text: string): string[] | WordError {
  const words: string[] = [];
  let current: string | undefined;
  let quote: string | undefined;
  let index = 0;
  while (index < text.length) {
    const character = text[index]!;
    if (quote === undefined && isSpace(character)) {
      if (current !== undefined) words.push(current);
      current = undefined;
      index += 1;
      continue;
    }
    current ??= "";
    if (character === "\\") {
      const escaped = readEscape(text, index + 1);
      if ("message" in escaped) return escaped;
      current += escaped.text;
      index += 1 + escaped.length;
      continue;
    }
    if (quote === undefined && (character === '"' || character === "'")) quote = character;
    else if (character === quote) quote = undefined;
    else current += character;
    index += 1;
  }
  if (quote !== undefined) return { offset: text.length, message: `unterminated ${quote} quote` };
  if (current !== undefined) words.push(current);
  return words;
}

/** `%` -> `%%`: a literal percent sign in a key that expands specifiers. */
export function escapeSpecifiers(text: string): string {
  if (!text.includes("%")) return text;
  return text.replaceAll("%", "%%");
}

/**
 * `%%` -> `%`. Other specifiers (`%n`, `%i`, ...) name things only systemd knows at run
 * time; they are kept as written and reported through `unresolved`.
 */
export function unescapeSpecifiers(text: string): { text: string; unresolved: string[] } {
  const unresolved: string[] = [];
  if (!text.includes("%")) return { text, unresolved };
  const resolved = text.replace(/%(.?)/gs, (match, next: string) => {
    if (next === "%") return "%";
    unresolved.push(match);
    return match;
  });
  return { text: resolved, unresolved };
}

/** `$` -> `$$`: a literal dollar sign in an `Exec*=` argument. */
export function escapeDollars(text: string): string {
  if (!text.includes("$")) return text;
  return text.replaceAll("$", () => "$$");
}

export function unescapeDollars(text: string): string {
  if (!text.includes("$$")) return text;
  return text.replaceAll("$$", "$");
}

/** An `Exec*=` command line: `%` and `$` escaped per argument, then quoted. */
export function formatExecLine(argv: readonly string[]): string {
  assert(argv.length > 0, "a command line has a program");
  assert(argv[0]!.startsWith("/"), "an Exec program is an absolute path");
  return formatArguments(argv);
}

/** Arguments in systemd command-line format without the absolute-program rule (Quadlet `Exec=`). */
export function formatArguments(words: readonly string[]): string {
  return joinWords(words.map((word) => escapeDollars(escapeSpecifiers(word))));
}

export function parseExecLine(text: string): string[] | WordError {
  const words = splitWords(text);
  if (!Array.isArray(words)) return words;
  return words.map((word) => unescapeDollars(unescapeSpecifiers(word).text));
}

/** One `Environment=` assignment for one variable: `"NAME=value"` quoted and escaped. */
export function formatEnvironment(name: string, value: string): string {
  return quoteWord(escapeSpecifiers(`${name}=${value}`));
}

/** All `NAME=value` pairs of one `Environment=` value (it may hold several). */
export function parseEnvironment(text: string): [string, string][] | WordError {
  const words = splitWords(text);
  if (!Array.isArray(words)) return words;
  const pairs: [string, string][] = [];
  for (const word of words) {
    const equals = word.indexOf("=");
    if (equals <= 0) return { offset: 0, message: `not a NAME=value assignment: ${word}` };
    const resolved = unescapeSpecifiers(word).text;
    pairs.push([resolved.slice(0, resolved.indexOf("=")), resolved.slice(resolved.indexOf("=") + 1)]);
  }
  return pairs;
}

export function isWordError(value: unknown): value is WordError {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "message" in value;
}
