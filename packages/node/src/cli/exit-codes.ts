/**
 * Exit codes mean something, so scripts can branch on them (documented in docs/cli.md).
 */
export const exitCodes = {
  ok: 0,
  /** The operation ran and failed (e.g. a chain that does not verify, a mesh that did not heal). */
  failed: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** Input that does not validate: the message names the field and line:column. */
  invalidInput: 3,
  /** A named thing (node, blob, face, file) does not exist. */
  notFound: 4,
  /** A node or mesh could not be reached. */
  unavailable: 5,
} as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** Thrown by commands to end with a specific exit code and message. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
