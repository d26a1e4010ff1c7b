import { createHash } from "node:crypto";

/**
 * A rotating set of 32-byte symmetric keys (the cluster key of the node transport, the gossip
 * keyring): one primary (used to send), any number of accepted keys (received too), and the
 * ids of retired keys (refused with a message that names them). Keys are known by an id, the
 * first 4 bytes of SHA-256(key) as 8 hex characters: ids travel on the wire and in logs, keys
 * never do.
 *
 * Rotation without downtime (docs/cli.md, `revoada keys rotate`): install the new key as
 * accepted everywhere, promote it to primary everywhere, then retire the old one everywhere.
 * The set is mutated in place, so the transport and the gossip driver holding it see each
 * step at once; `onRetire` listeners close sessions that were authenticated by a retired key.
 *
 * File form (`data_dir/keys/*.keys`, mode 0600), one entry per line, the primary first:
 *   primary <64 hex>
 *   accepted <64 hex>
 *   retired <8 hex key id>
 * A file holding one bare 64-hex key (the `cluster_key_file` form) is a set of that key.
 */
export const keyBytes = 32;
/** Retired ids remembered (oldest forgotten first): enough for years of rotations. */
export const retiredIdsMax = 16;
/** Accepted keys besides the primary: a rotation needs one; more is a mistake. */
export const acceptedKeysMax = 4;

export type KeyId = string;

export interface KeyEntry {
  readonly id: KeyId;
  readonly key: Buffer;
  /** The id as the 4 bytes that travel on the wire. */
  readonly idBytes: Buffer;
}

export type KeyLookup =
  | { readonly type: "key"; readonly entry: KeyEntry }
  | { readonly type: "retired" }
  | { readonly type: "unknown" };

/** What a key set holds, by id only (for the API, status and logs). */
export interface KeySetSummary {
  readonly primary: KeyId;
  readonly accepted: KeyId[];
  readonly retired: KeyId[];
}

export type KeyChange =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly error: string };

export function keyIdOf(key: Uint8Array): KeyId {
  return createHash("sha256").update(key).digest().subarray(0, 4).toString("hex");
}

function entryOf(key: Uint8Array): KeyEntry {
  if (key.length !== keyBytes) throw new RangeError(`a key is ${keyBytes} bytes, not ${key.length}`);
  const id = keyIdOf(key);
  return { id, key: Buffer.from(key), idBytes: Buffer.from(id, "hex") };
}

export class KeySet {
  /** The primary first, then the accepted keys. */
  private entries: KeyEntry[];
  private retired: KeyId[];
  private readonly retireListeners: ((id: KeyId) => void)[] = [];

  private constructor(entries: KeyEntry[], retired: KeyId[]) {
    this.entries = entries;
    this.retired = retired;
  }

  /** The first key is the primary; the others are accepted. */
  static create(keys: readonly Uint8Array[], retired: readonly KeyId[] = []): KeySet {
    if (keys.length === 0) throw new RangeError("a key set needs at least one key");
    const entries = keys.map(entryOf);
    for (const id of retired) {
      if (!/^[0-9a-f]{8}$/.test(id)) throw new RangeError(`a key id is 8 hex characters, not "${id}"`);
      if (entries.some((entry) => entry.id === id))
        throw new RangeError(`key ${id} is both held and retired`);
    }
    return new KeySet(entries, retired.slice(-retiredIdsMax));
  }

  /** The file form (see the class comment); errors name the line. */
  static parse(text: string, source = "key file"): KeySet {
    const lines = text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0 && !line.startsWith("#"));
    if (lines.length === 1 && /^[0-9a-fA-F]{64}$/.test(lines[0]!)) {
      return KeySet.create([Buffer.from(lines[0]!, "hex")]);
    }
    const keys: Buffer[] = [];
    const retired: KeyId[] = [];
    let primaries = 0;
    lines.forEach((line, index) => {
      const [kind, value, ...rest] = line.split(/\s+/);
      const where = `${source}: entry ${index + 1}`;
      if (rest.length > 0 || value === undefined) throw new RangeError(`${where}: expected "<kind> <value>"`);
      if (kind === "primary" || kind === "accepted") {
        if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new RangeError(`${where}: a key is 64 hex characters`);
        if (kind === "primary") {
          if (index !== 0) throw new RangeError(`${where}: the primary key comes first`);
          primaries += 1;
        }
        keys.push(Buffer.from(value, "hex"));
      } else if (kind === "retired") {
        if (!/^[0-9a-f]{8}$/.test(value))
          throw new RangeError(`${where}: a retired key id is 8 hex characters`);
        retired.push(value);
      } else {
        throw new RangeError(`${where}: unknown kind "${kind}" (primary, accepted or retired)`);
      }
    });
    if (primaries !== 1) throw new RangeError(`${source}: exactly one primary key is required`);
    return KeySet.create(keys, retired);
  }

  format(): string {
    const lines = this.entries.map(
      (entry, index) => `${index === 0 ? "primary" : "accepted"} ${entry.key.toString("hex")}`,
    );
    for (const id of this.retired) lines.push(`retired ${id}`);
    return `${lines.join("\n")}\n`;
  }

  get primary(): KeyEntry {
    return this.entries[0]!;
  }

  lookup(id: KeyId | Uint8Array): KeyLookup {
    if (typeof id !== "string") {
      // Every gossip packet names its key by these 4 bytes: compared as bytes, no string per packet.
      const entry = this.entries.find((candidate) => candidate.idBytes.equals(id));
      if (entry !== undefined) return { type: "key", entry };
    }
    const hex = typeof id === "string" ? id : Buffer.from(id).toString("hex");
    const entry = this.entries.find((candidate) => candidate.id === hex);
    if (entry !== undefined) return { type: "key", entry };
    return this.retired.includes(hex) ? { type: "retired" } : { type: "unknown" };
  }

  summary(): KeySetSummary {
    return {
      primary: this.primary.id,
      accepted: this.entries.slice(1).map((entry) => entry.id),
      retired: [...this.retired],
    };
  }

  /** Adds a key as accepted (received, not yet sent with). Installing a held key changes nothing. */
  install(key: Uint8Array): KeyChange {
    if (key.length !== keyBytes) return { ok: false, error: `a key is ${keyBytes} bytes, not ${key.length}` };
    const entry = entryOf(key);
    const found = this.lookup(entry.id);
    if (found.type === "key") {
      return found.entry.key.equals(entry.key)
        ? { ok: true, changed: false }
        : { ok: false, error: `another key with id ${entry.id} is held` };
    }
    if (found.type === "retired")
      return { ok: false, error: `key ${entry.id} was retired and cannot return` };
    if (this.entries.length > acceptedKeysMax)
      return { ok: false, error: `at most ${acceptedKeysMax} accepted keys; retire one first` };
    this.entries = [...this.entries, entry];
    return { ok: true, changed: true };
  }

  /** Makes a held key the primary; the old primary stays accepted. */
  promote(id: KeyId): KeyChange {
    const index = this.entries.findIndex((entry) => entry.id === id);
    if (index < 0) return { ok: false, error: `key ${id} is not held here (install it first)` };
    if (index === 0) return { ok: true, changed: false };
    const entry = this.entries[index]!;
    this.entries = [entry, ...this.entries.filter((_, i) => i !== index)];
    return { ok: true, changed: true };
  }

  /** Forgets an accepted key and remembers its id as retired. The primary cannot be retired. */
  retire(id: KeyId): KeyChange {
    if (this.retired.includes(id)) return { ok: true, changed: false };
    if (this.primary.id === id)
      return { ok: false, error: `key ${id} is the primary; promote another key first` };
    const index = this.entries.findIndex((entry) => entry.id === id);
    if (index < 0) return { ok: false, error: `key ${id} is not held here` };
    this.entries = this.entries.filter((_, i) => i !== index);
    this.retired = [...this.retired, id].slice(-retiredIdsMax);
    for (const listener of this.retireListeners) listener(id);
    return { ok: true, changed: true };
  }

  /** Called after a key is retired (the transport closes the sessions it authenticated). */
  onRetire(listener: (id: KeyId) => void): void {
    this.retireListeners.push(listener);
  }
}

/** A bare key (tests, tools, the `blob` CLI) or a live set (the daemon). */
export type ClusterKeys = Uint8Array | KeySet;

export function keySetOf(keys: ClusterKeys): KeySet {
  return keys instanceof KeySet ? keys : KeySet.create([keys]);
}
