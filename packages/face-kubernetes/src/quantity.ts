/**
 * Kubernetes resource quantities, for the two forms this face writes: CPU in millicores
 * (`250m`, or whole cores `2`) and memory in bytes with a binary suffix when exact (`128Mi`).
 * Parsing accepts those forms plus the decimal suffixes an operator may type (`1G`, `500k`);
 * anything else (fractions, exponents) is refused rather than rounded.
 */

const binarySuffixes: readonly (readonly [string, number])[] = [
  ["Ti", 2 ** 40],
  ["Gi", 2 ** 30],
  ["Mi", 2 ** 20],
  ["Ki", 2 ** 10],
];

const decimalSuffixes: Readonly<Record<string, number>> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

export function formatMemory(bytes: number): string {
  for (const [suffix, size] of binarySuffixes) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

/** Millicores, or undefined when `text` is not a whole number of millicores. */
export function parseCpu(text: string): number | undefined {
  const match = /^(\d{1,12})(m?)$/.exec(text);
  if (match === null) return undefined;
  const value = Number(match[1]);
  return match[2] === "m" ? value : value * 1000;
}

/** Bytes, or undefined when `text` is not a whole number of bytes in a form we read. */
export function parseMemory(text: string): number | undefined {
  const match = /^(\d{1,16})(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  if (match === null) return undefined;
  const suffix = match[2];
  const size =
    suffix === undefined
      ? 1
      : (binarySuffixes.find(([name]) => name === suffix)?.[1] ?? decimalSuffixes[suffix] ?? Number.NaN);
  const bytes = Number(match[1]) * size;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
