/**
 * Assertions detect programmer errors (broken invariants), never bad input.
 * Bad input is returned as `FabricIssue`s; an `InvariantError` means a bug, and the
 * cores never catch it (the simulator catches it only to print the replay seed).
 */
export class InvariantError extends Error {
  override readonly name = "InvariantError";
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

export function assertNever(value: never, message = "unhandled variant"): never {
  throw new InvariantError(`${message}: ${JSON.stringify(value)}`);
}

/** Asserts a safe unsigned integer (log indexes, terms, counts). */
export function assertUint(value: number, what: string): void {
  assert(Number.isSafeInteger(value), `${what} is not a safe integer: ${value}`);
  assert(value >= 0, `${what} is negative: ${value}`);
}
