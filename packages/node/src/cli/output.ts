import { canonicalJson, stringifyYaml } from "@revoada/fabric-core/vocabulary";
import { Option } from "commander";

export type OutputFormat = "table" | "json" | "yaml";

export function outputOption(defaultFormat: OutputFormat = "table"): Option {
  return new Option("-o, --output <format>", "output format")
    .choices(["table", "json", "yaml"])
    .default(defaultFormat);
}

export type Row = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Renders rows as an aligned table, kubectl style: upper-case headers, two-space gaps. */
export function formatTable(rows: readonly Row[], columns?: readonly string[]): string {
  const headers = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  if (rows.length === 0) return "No resources found.\n";
  const cells = rows.map((row) => headers.map((header) => cellText(row[header])));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return `${[line(headers.map((header) => header.toUpperCase())), ...cells.map(line)].join("\n")}\n`;
}

function cellText(value: Row[string]): string {
  if (value === null || value === undefined) return "-";
  return String(value);
}

/** Writes `data` in the chosen format; `table` uses the rows the caller derives from it. */
export function render(
  format: OutputFormat,
  data: unknown,
  rows: () => readonly Row[],
  columns?: readonly string[],
): string {
  switch (format) {
    case "json":
      return canonicalJson(data);
    case "yaml":
      return stringifyYaml(data);
    case "table":
      return formatTable(rows(), columns);
  }
}
