/**
 * IO failures of the node's drivers: small named Error subclasses that carry the data a
 * log line or an operator needs (file, byte offset, peer), vitest style. Bad input from the
 * network is never thrown (it is dropped and logged); these are for disk and setup faults.
 */

/** A write-ahead log or snapshot file is damaged somewhere other than its unsynced tail. */
export class StorageCorruptionError extends Error {
  override readonly name = "StorageCorruptionError";
  readonly file: string;
  readonly offset: number;
  readonly reason: string;

  constructor(file: string, offset: number, reason: string) {
    super(`${file}: corrupt at byte offset ${offset}: ${reason}`);
    this.file = file;
    this.offset = offset;
    this.reason = reason;
  }
}

/** A data directory cannot be used (locked by another process, wrong version, missing snapshot). */
export class StorageStateError extends Error {
  override readonly name = "StorageStateError";
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
    this.path = path;
  }
}

/** A transport could not start (bad address, port in use, bad cluster key). */
export class TransportSetupError extends Error {
  override readonly name = "TransportSetupError";
  readonly address: string;

  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super(`${address}: ${message}`, options);
    this.address = address;
  }
}

/** A proposal or read could not be served by this node (not the leader, stopped, dropped). */
export class RaftUnavailableError extends Error {
  override readonly name = "RaftUnavailableError";
  readonly reason: "notLeader" | "stopped" | "dropped" | "timeout";
  readonly leaderHint: string | null;

  constructor(reason: RaftUnavailableError["reason"], leaderHint: string | null, message?: string) {
    super(message ?? `raft unavailable: ${reason}${leaderHint === null ? "" : ` (leader ${leaderHint})`}`);
    this.reason = reason;
    this.leaderHint = leaderHint;
  }
}
