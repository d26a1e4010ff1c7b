import { createHash } from "node:crypto";
import { assert, assertUint, limits, type Signer, verifySignature } from "../vocabulary/index.js";

/**
 * C2SP signed notes (c2sp.org/signed-note), transparency-log checkpoints
 * (c2sp.org/tlog-checkpoint) and Ed25519 witness cosignatures (c2sp.org/tlog-cosignature,
 * `cosignature/v1`), byte for byte as the specs define them:
 *
 *   note      = text (ends in "\n") || "\n" || signature lines
 *   line      = "— " || key name || " " || base64(key ID (4 bytes, big-endian) || signature) || "\n"
 *   key ID    = SHA-256(key name || "\n" || type byte || 32-byte public key)[:4]
 *               type 0x01: Ed25519 note signature over the text
 *               type 0x04: cosignature/v1 over "cosignature/v1\ntime T\n" || text, with
 *                          signature = u64 big-endian T (POSIX seconds) || Ed25519 signature
 *   checkpoint text = origin "\n" tree size (decimal) "\n" base64(root hash) "\n" [extensions]
 *
 * In revoada a key name is the signer's NodeId (64 lowercase hex), so a verifier derives the
 * public key from the name and then asks the chain's role table whether it may sign.
 */

export const noteSignatureType = { ed25519: 0x01, cosignatureV1: 0x04 } as const;
export type NoteSignatureType = (typeof noteSignatureType)[keyof typeof noteSignatureType];

export interface NoteSignature {
  readonly name: string;
  /** The uint32 key ID (big-endian in the encoding). */
  readonly keyId: number;
  /** The bytes after the key ID: an Ed25519 signature, or timestamp || signature. */
  readonly signature: Uint8Array;
}

export interface SignedNote {
  /** The note text, final newline included. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export type NoteParse =
  | { readonly ok: true; readonly note: SignedNote }
  | { readonly ok: false; readonly reason: string };

const emDash = "\u2014";
const signaturesMax = limits.witnessesMax + 4;
const noteBytesMax = 64 * 1024;
const keyNamePattern = /^[^\s+]+$/u;
const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

export function noteKeyId(name: string, type: NoteSignatureType, publicKey: Uint8Array): number {
  assert(publicKey.length === 32, "an Ed25519 public key is 32 bytes");
  const digest = createHash("sha256")
    .update(name, "utf8")
    .update("\n")
    .update(Buffer.from([type]))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

export function formatSignedNote(note: SignedNote): string {
  assert(note.text.endsWith("\n"), "note text ends in a newline");
  assert(note.signatures.length > 0, "a signed note has at least one signature");
  const lines = note.signatures.map((signature) => {
    const bytes = Buffer.alloc(4 + signature.signature.length);
    bytes.writeUInt32BE(signature.keyId, 0);
    bytes.set(signature.signature, 4);
    return `${emDash} ${signature.name} ${bytes.toString("base64")}\n`;
  });
  return `${note.text}\n${lines.join("")}`;
}

/** Parses a signed note; never throws. Signatures are not verified here. */
export function parseSignedNote(input: string): NoteParse {
  if (input.length > noteBytesMax) return { ok: false, reason: "note over the size limit" };
  if (hasControlCharacter(input)) return { ok: false, reason: "control character in note" };
  if (!input.endsWith("\n")) return { ok: false, reason: "note does not end in a newline" };
  const split = input.lastIndexOf("\n\n");
  if (split < 0) return { ok: false, reason: "no blank line before the signatures" };
  const text = input.slice(0, split + 1);
  const lines = input.slice(split + 2, -1).split("\n");
  if (lines.length > signaturesMax) return { ok: false, reason: "too many signatures" };
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const parsed = parseSignatureLine(line);
    if (parsed === undefined) return { ok: false, reason: `malformed signature line: ${line.slice(0, 80)}` };
    signatures.push(parsed);
  }
  return { ok: true, note: { text, signatures } };
}

/** Signed notes allow no ASCII control character but the newline. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return true;
  }
  return false;
}

function parseSignatureLine(line: string): NoteSignature | undefined {
  if (!line.startsWith(`${emDash} `)) return undefined;
  const parts = line.slice(2).split(" ");
  if (parts.length !== 2) return undefined;
  const [name, encoded] = parts as [string, string];
  if (!keyNamePattern.test(name) || !base64Pattern.test(encoded)) return undefined;
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.toString("base64") !== encoded || bytes.length < 5) return undefined;
  return { name, keyId: bytes.readUInt32BE(0), signature: new Uint8Array(bytes.subarray(4)) };
}

/** An Ed25519 note signature (type 0x01) by `signer`; the key name is its NodeId unless given. */
export function signNote(text: string, signer: Signer, name: string = signer.nodeId): NoteSignature {
  assert(keyNamePattern.test(name), "a key name has no spaces or '+'");
  const publicKey = Buffer.from(signer.nodeId, "hex");
  const signature = signer.sign(Buffer.from(text, "utf8"));
  return { name, keyId: noteKeyId(name, noteSignatureType.ed25519, publicKey), signature };
}

/** True when `signature` is a valid type-0x01 signature of `text` by the key in `publicKeyHex`. */
export function verifyNoteSignature(
  text: string,
  signature: NoteSignature,
  name: string,
  publicKeyHex: string,
): boolean {
  const publicKey = Buffer.from(publicKeyHex, "hex");
  if (publicKey.length !== 32 || signature.name !== name) return false;
  if (signature.keyId !== noteKeyId(name, noteSignatureType.ed25519, publicKey)) return false;
  return verifySignature(publicKeyHex, Buffer.from(text, "utf8"), signature.signature);
}

function cosignedMessage(text: string, timestampSeconds: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestampSeconds}\n${text}`, "utf8");
}

/** A `cosignature/v1` (type 0x04) by `signer` over checkpoint `text` at POSIX time `timestampSeconds`. */
export function cosignNote(
  text: string,
  signer: Signer,
  timestampSeconds: number,
  name: string = signer.nodeId,
): NoteSignature {
  assertUint(timestampSeconds, "cosignature timestamp");
  assert(keyNamePattern.test(name), "a key name has no spaces or '+'");
  const publicKey = Buffer.from(signer.nodeId, "hex");
  const signature = Buffer.alloc(8 + 64);
  signature.writeBigUInt64BE(BigInt(timestampSeconds), 0);
  signature.set(signer.sign(cosignedMessage(text, timestampSeconds)), 8);
  return { name, keyId: noteKeyId(name, noteSignatureType.cosignatureV1, publicKey), signature };
}

/** The cosignature's timestamp when it is valid for `text` and the named key, else undefined. */
export function verifyCosignature(
  text: string,
  signature: NoteSignature,
  name: string,
  publicKeyHex: string,
): number | undefined {
  const publicKey = Buffer.from(publicKeyHex, "hex");
  if (publicKey.length !== 32 || signature.name !== name || signature.signature.length !== 72)
    return undefined;
  if (signature.keyId !== noteKeyId(name, noteSignatureType.cosignatureV1, publicKey)) return undefined;
  const bytes = Buffer.from(signature.signature);
  const timestamp = bytes.readBigUInt64BE(0);
  if (timestamp >= 2n ** 63n || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const seconds = Number(timestamp);
  const valid = verifySignature(publicKeyHex, cosignedMessage(text, seconds), bytes.subarray(8));
  return valid ? seconds : undefined;
}

/** Which kind of signature a line is, judged by its key ID for the key its name claims. */
export function signatureTypeOf(signature: NoteSignature): NoteSignatureType | undefined {
  if (!/^[0-9a-f]{64}$/.test(signature.name)) return undefined;
  const publicKey = Buffer.from(signature.name, "hex");
  if (signature.keyId === noteKeyId(signature.name, noteSignatureType.ed25519, publicKey)) {
    return noteSignatureType.ed25519;
  }
  if (signature.keyId === noteKeyId(signature.name, noteSignatureType.cosignatureV1, publicKey)) {
    return noteSignatureType.cosignatureV1;
  }
  return undefined;
}
