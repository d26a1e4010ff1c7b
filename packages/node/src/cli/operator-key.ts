import { readFile, stat } from "node:fs/promises";
import { type Signer, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { CliError, exitCodes } from "./exit-codes.js";

/**
 * An operator's ed25519 key for `--sign-with` (docs/cli.md, "Operator keys"), from one of:
 * - a raw seed: the 32 bytes of the private key, as a binary file or as 64 hex characters;
 * - an OpenSSH private key (`ssh-keygen -t ed25519 -N ""`): the unencrypted
 *   `-----BEGIN OPENSSH PRIVATE KEY-----` format. An encrypted key is refused (decrypt a
 *   copy with `ssh-keygen -p`).
 * Every length is checked before it is used; the key file is at most 16 KiB. The seed is
 * never printed or logged: only the public key is (`revoada strategy operator-key`).
 */
const keyFileBytesMax = 16 * 1024;

export async function readOperatorKey(path: string): Promise<Signer> {
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) throw new CliError(`${path}: no such key file`, exitCodes.notFound);
  if (info.size > keyFileBytesMax)
    throw new CliError(`${path}: a key file is at most ${keyFileBytesMax} bytes`, exitCodes.invalidInput);
  const bytes = await readFile(path);
  const seed = seedOf(bytes, path);
  return signerFromSeed(seed);
}

function seedOf(bytes: Buffer, path: string): Uint8Array {
  if (bytes.length === 32) return new Uint8Array(bytes);
  const text = bytes.toString("utf8").trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, "hex"));
  if (text.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----")) return openSshSeed(text, path);
  throw new CliError(
    `${path}: not an operator key (a 32-byte ed25519 seed, 64 hex characters, or an OpenSSH ed25519 private key)`,
    exitCodes.invalidInput,
  );
}

/** The ed25519 seed of an unencrypted OpenSSH private key (PROTOCOL.key). */
export function openSshSeed(text: string, path: string): Uint8Array {
  const fail = (why: string): never => {
    throw new CliError(`${path}: OpenSSH key: ${why}`, exitCodes.invalidInput);
  };
  const body = text
    .replace("-----BEGIN OPENSSH PRIVATE KEY-----", "")
    .replace("-----END OPENSSH PRIVATE KEY-----", "")
    .replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) fail("not base64");
  const data = Buffer.from(body, "base64");
  const reader = new SshReader(data, fail);
  const magic = Buffer.from("openssh-key-v1\0", "latin1");
  if (data.length < magic.length || !data.subarray(0, magic.length).equals(magic)) fail("not openssh-key-v1");
  reader.skip(magic.length);
  const cipher = reader.string().toString("latin1");
  const kdf = reader.string().toString("latin1");
  reader.string();
  if (cipher !== "none" || kdf !== "none") fail("the key is encrypted; decrypt a copy with `ssh-keygen -p`");
  if (reader.uint32() !== 1) fail("exactly one key expected");
  reader.string();
  const secret = new SshReader(reader.string(), fail);
  const check1 = secret.uint32();
  const check2 = secret.uint32();
  if (check1 !== check2) fail("check integers differ (a wrong passphrase or a damaged file)");
  const type = secret.string().toString("latin1");
  if (type !== "ssh-ed25519") fail(`a ${type} key; an operator key is ed25519`);
  const publicKey = secret.string();
  const privateKey = secret.string();
  if (publicKey.length !== 32 || privateKey.length !== 64) fail("ed25519 key lengths are wrong");
  if (!privateKey.subarray(32).equals(publicKey)) fail("the private key does not match its public key");
  return new Uint8Array(privateKey.subarray(0, 32));
}

/** Reads SSH wire data (uint32, string) with every length checked; `fail` names the file. */
export class SshReader {
  private offset = 0;
  constructor(
    private readonly data: Buffer,
    private readonly fail: (why: string) => never,
  ) {}

  skip(count: number): void {
    if (this.offset + count > this.data.length) this.fail("truncated");
    this.offset += count;
  }

  bytes(count: number): Buffer {
    this.skip(count);
    return this.data.subarray(this.offset - count, this.offset);
  }

  uint32(): number {
    if (this.offset + 4 > this.data.length) this.fail("truncated");
    const value = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  string(): Buffer {
    const length = this.uint32();
    if (length > this.data.length - this.offset) this.fail("a length runs past the end");
    const value = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}
