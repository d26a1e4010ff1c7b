import { assert } from "@revoada/fabric-core/vocabulary";

/**
 * The same text as fabric-core's `canonicalJson` (keys sorted at every level, two-space
 * indent, trailing newline), written in one pass without first copying the value into a
 * key-sorted clone: the writer emits one of these per job, ten thousand at a time.
 */
export function sortedJson(value: unknown): string {
  const parts: string[] = [];
  write(value, "", parts);
  parts.push("\n");
  return parts.join("");
}

function write(value: unknown, indent: string, parts: string[]): void {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    assert(text !== undefined, "a JSON value");
    parts.push(text);
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      parts.push("[]");
      return;
    }
    parts.push("[");
    value.forEach((item, index) => {
      parts.push(index === 0 ? `\n${inner}` : `,\n${inner}`);
      write(item, inner, parts);
    });
    parts.push(`\n${indent}]`);
    return;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  if (keys.length === 0) {
    parts.push("{}");
    return;
  }
  parts.push("{");
  keys.forEach((key, index) => {
    parts.push(`${index === 0 ? "\n" : ",\n"}${inner}${JSON.stringify(key)}: `);
    write(record[key], inner, parts);
  });
  parts.push(`\n${indent}}`);
}
