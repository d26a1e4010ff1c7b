/**
 * Every benchmark's command line, in one place: each bench declares its flags here (name,
 * value, default, one line of help) and gets back the parsed values, a usage text that lists
 * every flag with its default, and the same exits everywhere:
 *   - `--help` (or `-h`): the usage on stdout, exit 0, before the benchmark does any work;
 *   - an unknown flag, a missing or bad value, a positional argument: the error and the usage
 *     on stderr, exit 2.
 * Call `benchArgs` before anything that costs (the bench's module-level work follows it).
 */
import { parseArgs } from "node:util";

interface FlagHelp {
  /** One line: what the flag does. */
  readonly help: string;
}

export interface StringFlag extends FlagHelp {
  readonly type: "string";
  /** The value's placeholder in the usage: `--runs N`. */
  readonly value: string;
  /** The value when the flag is absent; shown in the usage. */
  readonly default?: string;
  /** How the usage describes the default when it is not a literal value ("all cores"). */
  readonly defaultText?: string;
  /** The only values accepted, when it is a choice. */
  readonly choices?: readonly string[];
}

export interface BooleanFlag extends FlagHelp {
  readonly type: "boolean";
}

export type FlagSpec = StringFlag | BooleanFlag;

export interface BenchCommand<F extends Record<string, FlagSpec>> {
  /** The benchmark's name: `pnpm bench <name>`. */
  readonly name: string;
  /** One or two lines: what it measures. */
  readonly summary: string;
  readonly flags: F;
}

export type FlagValues<F extends Record<string, FlagSpec>> = {
  readonly [K in keyof F]: F[K] extends BooleanFlag
    ? boolean
    : F[K] extends { readonly default: string }
      ? string
      : string | undefined;
};

export interface BenchArgs<F extends Record<string, FlagSpec>> {
  readonly values: FlagValues<F>;
  /** A string flag's value as an integer >= `min` (default 1); a bad one is a usage error. */
  integer(name: keyof F & string, min?: number): number;
  /** A comma-separated string flag as integers >= `min` (default 1). */
  integers(name: keyof F & string, min?: number): number[];
  /** Prints `error: <message>` and the usage on stderr and exits 2. */
  fail(message: string): never;
}

export type ParsedBenchArgs<F extends Record<string, FlagSpec>> =
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly text: string }
  | { readonly kind: "ok"; readonly values: FlagValues<F> };

/** The usage text: the command, its summary, then every flag with its value and default. */
export function benchUsage<F extends Record<string, FlagSpec>>(command: BenchCommand<F>): string {
  const rows: [string, string][] = Object.entries(command.flags).map(([name, flag]) => {
    if (flag.type === "boolean") return [`--${name}`, `${flag.help} (default off)`];
    const value = flag.choices === undefined ? flag.value : flag.choices.join("|");
    const fallback = flag.defaultText ?? flag.default ?? "none";
    return [`--${name} ${value}`, `${flag.help} (default ${fallback})`];
  });
  rows.push(["--help", "this text, then exit"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = rows.flatMap(([left, right]) =>
    wrap(right, Math.max(40, usageColumns - 2 - width)).map(
      (line, index) => `  ${(index === 0 ? left : "").padEnd(width)}${line}`,
    ),
  );
  return [`usage: pnpm bench ${command.name} [flags]`, command.summary, "", "flags:", ...lines, ""].join(
    "\n",
  );
}

const usageColumns = 100;

/** Splits `text` at spaces into lines of at most `columns` characters (a longer word stays whole). */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** Pure: what the command line asks for (help, a usage error, or the values). */
export function parseBenchArgs<F extends Record<string, FlagSpec>>(
  command: BenchCommand<F>,
  argv: readonly string[],
): ParsedBenchArgs<F> {
  const usage = benchUsage(command);
  const options: Record<string, { type: "string" | "boolean"; short?: string; default?: string | boolean }> =
    { help: { type: "boolean", short: "h" } };
  for (const [name, flag] of Object.entries(command.flags)) {
    // A boolean flag is false when absent (parseArgs leaves it undefined otherwise).
    if (flag.type === "boolean") options[name] = { type: "boolean", default: false };
    else
      options[name] =
        flag.default === undefined ? { type: "string" } : { type: "string", default: flag.default };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = error instanceof Error ? (error.message.split(". ")[0] ?? error.message) : String(error);
    return { kind: "error", text: `error: ${message}\n${usage}` };
  }
  if (values.help === true) return { kind: "help", text: usage };
  for (const [name, flag] of Object.entries(command.flags)) {
    const value = values[name];
    if (flag.type === "string" && flag.choices !== undefined && typeof value === "string") {
      if (!flag.choices.includes(value))
        return {
          kind: "error",
          text: `error: --${name} takes ${flag.choices.join(" or ")}, not ${JSON.stringify(value)}\n${usage}`,
        };
    }
  }
  const { help: _help, ...flags } = values;
  return { kind: "ok", values: flags as FlagValues<F> };
}

/**
 * Parses `process.argv`: prints the usage and exits 0 on `--help`, exits 2 on a usage error,
 * else returns the values and the helpers that read numbers from them.
 */
export function benchArgs<F extends Record<string, FlagSpec>>(
  command: BenchCommand<F>,
  argv: readonly string[] = process.argv.slice(2),
): BenchArgs<F> {
  const parsed = parseBenchArgs(command, argv);
  if (parsed.kind === "help") {
    process.stdout.write(parsed.text);
    process.exit(0);
  }
  if (parsed.kind === "error") {
    process.stderr.write(parsed.text);
    process.exit(2);
  }
  const values = parsed.values;
  const fail = (message: string): never => {
    process.stderr.write(`error: ${message}\n${benchUsage(command)}`);
    process.exit(2);
  };
  const text = (name: string): string => {
    const value = (values as Record<string, unknown>)[name];
    if (typeof value !== "string") return fail(`--${name} needs a value`);
    return value;
  };
  const integerOf = (name: string, raw: string, min: number): number => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isSafeInteger(value) || value < min)
      return fail(`--${name} takes an integer >= ${min}, not ${JSON.stringify(raw)}`);
    return value;
  };
  return {
    values,
    integer: (name, min = 1) => integerOf(name, text(name), min),
    integers: (name, min = 1) =>
      text(name)
        .split(",")
        .map((part) => integerOf(name, part, min)),
    fail,
  };
}
