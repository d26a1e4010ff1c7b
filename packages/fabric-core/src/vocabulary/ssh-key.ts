import { createHash } from "node:crypto";

/**
 * OpenSSH wire pieces for operator keys (docs/attestation.md §5): an `ssh-ed25519` public key
 * line as `ssh-keygen` writes it (`ssh-ed25519 AAAA... comment`), and the data an SSHSIG
 * signature covers (OpenSSH PROTOCOL.sshsig), so that `ssh-keygen -Y sign -n revoada-shift`
 * can sign an operator command. Pure: no IO, every length checked.
 */

/** The SSHSIG namespace of an operator command (`ssh-keygen -Y sign -n revoada-shift`). */
export const operatorSshsigNamespace = "revoada-shift";

/** The hash algorithms SSHSIG defines (ssh-keygen signs with sha512 unless told otherwise). */
export const sshsigHashAlgorithms = ["sha512", "sha256"] as const;
export type SshsigHashAlgorithm = (typeof sshsigHashAlgorithms)[number];

const sshEd25519 = "ssh-ed25519";
/** `ssh-ed25519 <base64 of the 51-byte key blob>` with an optional comment (at most 200 characters). */
export const sshEd25519LinePattern = /^ssh-ed25519 ([A-Za-z0-9+/]{68})( [\x20-\x7e]{0,200})?$/;

/** An SSH `string`: uint32 big-endian length, then the bytes. */
export function sshString(bytes: Uint8Array | string): Uint8Array {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const out = new Uint8Array(4 + data.length);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(data, 4);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The 51-byte public key blob of an ed25519 key: string "ssh-ed25519" || string key. */
export function sshEd25519Blob(publicKey: Uint8Array): Uint8Array {
  return concat([sshString(sshEd25519), sshString(publicKey)]);
}

/**
 * The raw ed25519 public key (64 hex) of an `ssh-ed25519 AAAA... [comment]` line, or null when
 * the line is not one (another key type, a blob whose inner type or length is wrong).
 */
export function sshEd25519LineKey(line: string): string | null {
  const match = sshEd25519LinePattern.exec(line.trim());
  if (match === null) return null;
  const blob = Buffer.from(match[1]!, "base64");
  if (blob.length !== 51) return null;
  if (!blob.subarray(0, 15).equals(Buffer.from(sshString(sshEd25519)))) return null;
  if (blob.readUInt32BE(15) !== 32) return null;
  return blob.subarray(19).toString("hex");
}

/** The `ssh-ed25519 AAAA...` line of a raw public key (64 hex), with an optional comment. */
export function sshEd25519Line(publicKeyHex: string, comment?: string): string {
  const blob = Buffer.from(sshEd25519Blob(Buffer.from(publicKeyHex, "hex"))).toString("base64");
  return comment === undefined ? `${sshEd25519} ${blob}` : `${sshEd25519} ${blob} ${comment}`;
}

/**
 * An operator key as the strategy lists it (64 hex, or an OpenSSH `ssh-ed25519` line) as the
 * 64-hex public key the chain records. Throws on neither: the strategy schema refused it first.
 */
export function operatorKeyHex(key: string): string {
  if (/^[0-9a-f]{64}$/.test(key)) return key;
  const fromLine = sshEd25519LineKey(key);
  if (fromLine === null) throw new Error("not an operator key (64 hex or an ssh-ed25519 line)");
  return fromLine;
}

/**
 * What an SSHSIG signature signs (PROTOCOL.sshsig, "Signed Data"): "SSHSIG" || string
 * namespace || string reserved ("") || string hash algorithm || string H(message).
 */
export function sshsigSignedData(
  message: Uint8Array,
  namespace: string,
  hashAlgorithm: SshsigHashAlgorithm,
): Uint8Array {
  const digest = createHash(hashAlgorithm).update(message).digest();
  return concat([
    new TextEncoder().encode("SSHSIG"),
    sshString(namespace),
    sshString(""),
    sshString(hashAlgorithm),
    sshString(digest),
  ]);
}
