/**
 * Kubernetes expands `$(VAR_NAME)` in a container's `command`, `args` and `env` values at run
 * time, and reduces `$$` to `$` (kubelet's `third_party/forked/golang/expansion`; a `$` before
 * anything else stays). So a literal string is written with every `$` doubled, and the
 * container sees exactly the state's string, as it does in every other face.
 */

const operator = "$";

/** The text that Kubernetes expands back to `text`: every `$` doubled. */
export function escapeKubernetesExpansion(text: string): string {
  return text.replaceAll(operator, "$$$$");
}

/**
 * Kubernetes' expansion, as the kubelet runs it: `$$` -> `$`; `$(NAME)` -> `mapping(NAME)`,
 * or kept as written when `mapping` returns undefined; an unclosed `$(` and a `$` before any
 * other character stay as they are.
 */
export function expandKubernetes(text: string, mapping: (name: string) => string | undefined): string {
  let out = "";
  let index = 0;
  while (index < text.length) {
    const next = text.indexOf(operator, index);
    if (next === -1 || next === text.length - 1) {
      out += text.slice(index);
      break;
    }
    out += text.slice(index, next);
    const following = text[next + 1];
    if (following === operator) {
      out += operator;
      index = next + 2;
    } else if (following === "(") {
      const close = text.indexOf(")", next + 2);
      if (close === -1) {
        out += "$(";
        index = next + 2;
      } else {
        const name = text.slice(next + 2, close);
        out += mapping(name) ?? `$(${name})`;
        index = close + 1;
      }
    } else {
      out += operator + following;
      index = next + 2;
    }
  }
  return out;
}

/** Reading a written string back: escapes undone, a hand-written `$(VAR)` kept as written. */
export function unescapeKubernetesExpansion(text: string): string {
  return expandKubernetes(text, () => undefined);
}

/**
 * The environment a container gets from its `env` list: each value expanded against the
 * variables defined before it (kubelet resolves references to earlier entries only).
 */
export function containerEnvironment(
  env: readonly { name: string; value: string }[],
): Record<string, string> {
  const resolved = new Map<string, string>();
  for (const variable of env) {
    resolved.set(
      variable.name,
      expandKubernetes(variable.value, (name) => resolved.get(name)),
    );
  }
  return Object.fromEntries(resolved);
}
