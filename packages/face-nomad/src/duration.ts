/**
 * Nomad durations: Go `time.Duration` strings in HCL (`"30m"`, `"1h30m"`, `"250ms"`) and
 * integer nanoseconds in the job API JSON. Conversion is exact both ways for whole
 * nanoseconds; fractions (`"1.5s"`) are refused rather than rounded.
 */

const unitNs: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const formatUnits: readonly (readonly [string, number])[] = [
  ["h", 3600e9],
  ["m", 60e9],
  ["s", 1e9],
  ["ms", 1e6],
  ["us", 1e3],
  ["ns", 1],
];

/** Nanoseconds, or undefined when `text` is not a duration of whole units. */
export function parseDuration(text: string): number | undefined {
  if (text === "0") return 0;
  if (!/^(\d{1,12}(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/(\d{1,12})(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(match[1]) * unitNs[match[2]!]!;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** The shortest Go-style string for whole nanoseconds: `1800000000000` -> `"30m"`. */
export function formatDuration(ns: number): string {
  if (ns === 0) return "0s";
  let rest = ns;
  let text = "";
  for (const [unit, size] of formatUnits) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return text;
}
