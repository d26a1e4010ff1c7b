import type { FabricState } from "../vocabulary/index.js";
import type { DroppedField, LostField } from "./contract.js";
import { compareText } from "./layout.js";

/**
 * What a face cannot represent, made concrete for one state. A face declares its losses once
 * (`Face.lost`: path patterns into the state, `*` for any key); `lostFields` expands them
 * over a state (what `revoada read` prints), and `withoutLost` removes the absent ones, so a
 * field the files never carried reads back as absent instead of as a zero or `""`.
 */

/** The pattern segment matching any key of a map. */
export const anyKey = "*";

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Every concrete path of `state` a pattern matches (keys in code-unit order), with the value there. */
function expand(state: Json, pattern: readonly string[]): (string | number)[][] {
  let paths: { path: (string | number)[]; value: Json }[] = [{ path: [], value: state }];
  for (const segment of pattern) {
    const next: typeof paths = [];
    for (const { path, value } of paths) {
      if (!isRecord(value)) continue;
      const keys = segment === anyKey ? Object.keys(value).sort(compareText) : [segment];
      for (const key of keys)
        if (Object.hasOwn(value, key)) next.push({ path: [...path, key], value: value[key] });
    }
    paths = next;
  }
  return paths.map((entry) => entry.path);
}

/** The face's declared losses as concrete paths of `state`, in declaration then key order. */
export function lostFields(state: FabricState, lost: readonly LostField[] = []): DroppedField[] {
  const fields: DroppedField[] = [];
  for (const entry of lost) {
    for (const path of expand(state, entry.path)) fields.push({ path, reason: entry.reason });
  }
  return fields;
}

/** Whether a pattern matches a concrete path exactly (`*` matching any one segment). */
export function matchesLostPattern(pattern: readonly string[], path: readonly (string | number)[]): boolean {
  if (pattern.length !== path.length) return false;
  return pattern.every((segment, index) => segment === anyKey || segment === String(path[index]));
}

/**
 * A copy of `state` without the fields the face never carries (the non-approximate losses):
 * what a read of the face's files really knows. Plain data, no longer a complete FabricState.
 */
export function withoutLost(state: FabricState, lost: readonly LostField[] = []): Record<string, Json> {
  const copy = structuredClone(state) as unknown as Record<string, Json>;
  for (const entry of lost) {
    if (entry.approximate === true) continue;
    for (const path of expand(copy, entry.path)) {
      let parent: Json = copy;
      for (const key of path.slice(0, -1)) parent = isRecord(parent) ? parent[String(key)] : undefined;
      if (isRecord(parent)) delete parent[String(path.at(-1))];
    }
  }
  return copy;
}
