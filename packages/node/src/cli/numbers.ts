import { CliError, exitCodes } from "./exit-codes.js";

/**
 * The one check of a numeric flag: "not a number" when it is not one at all, else the range
 * it must be in. Returns what is wrong, or null.
 */
export function wholeNumberProblem(flag: string, value: string, min: number, max?: number): string | null {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed))
    return `${flag}: ${JSON.stringify(value)} is not a number`;
  if (!Number.isSafeInteger(parsed) || parsed < min || (max !== undefined && parsed > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    return `${flag}: ${value} is not a whole number ${range}`;
  }
  return null;
}

/** A whole-number flag's value, or a usage error (exit 2) that says what is wrong. */
export function wholeNumber(flag: string, value: string, min: number, max?: number): number {
  const problem = wholeNumberProblem(flag, value, min, max);
  if (problem !== null) throw new CliError(problem, exitCodes.usage);
  return Number(value);
}
