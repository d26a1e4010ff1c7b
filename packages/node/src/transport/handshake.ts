import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { assert, isNodeId, type NodeId, type Signer, verifySignature } from "@revoada/fabric-core/vocabulary";
import type { KeySet } from "../keys/key-set.js";

/**
 * The mutual authentication that opens every connection (docs/transport.md):
 *
 *   dialer   -> acceptor  hello(dialer id, nonce, ephemeral X25519 key, cluster key id)
 *   acceptor -> dialer    hello(acceptor id, ...), auth("acceptor")
 *   dialer   -> acceptor  auth("dialer")
 *
 * transcript = "revoada-transport-v2/<protection>" || dialer hello || acceptor hello
 * auth(role) = HMAC-SHA256(the cluster key its hello names, role || transcript)
 *              || ed25519 signature of (role || transcript)
 *
 * The HMAC proves the peer holds a cluster key this node accepts (the primary or another
 * accepted key of the set, so a rotation needs no downtime; a retired key is refused by
 * name), the signature proves it holds the private key of the NodeId it claims, and both
 * cover the ephemeral keys. The session keys, one per direction, come from HKDF over the
 * X25519 secret of the two ephemeral keys, salted with the transcript's hash: forward
 * secret (a stolen cluster key or identity does not open recorded sessions) and bound to
 * this handshake. Every data frame is then sealed with AES-256-GCM under a counter nonce.
 */
export const nonceBytes = 32;
export const ephemeralKeyBytes = 32;
export const keyIdBytes = 4;
export const helloBytes = 1 + 32 + nonceBytes + ephemeralKeyBytes + keyIdBytes;
export const authBytes = 1 + 32 + 64;
/** The AEAD tag (or, with `mac` frames, the truncated HMAC) that ends every data frame. */
export const frameTagBytes = 16;
const helloKind = 1;
const authKind = 2;
const x25519SpkiPrefix = Buffer.from("302a300506032b656e032100", "hex");

export type HandshakeRole = "dialer" | "acceptor";

/**
 * How data frames are protected. `aead` (the default, and what the daemon uses) encrypts and
 * authenticates; `mac` only authenticates (HMAC-SHA256 tag, the pre-encryption format) and
 * exists for benchmarks that measure what encryption costs. Both ends must agree: the mode
 * is part of the transcript, so a mismatch fails the handshake.
 */
export type FrameProtection = "aead" | "mac";

export interface Hello {
  readonly nodeId: NodeId;
  readonly nonce: Buffer;
  readonly ephemeralPublic: Buffer;
  /** The id of the cluster key this side's auth is keyed with (its primary). */
  readonly keyId: Buffer;
  /** The encoded hello, as it went on the wire (the transcript is made of these). */
  readonly bytes: Buffer;
}

export interface LocalHello extends Hello {
  readonly ephemeralPrivate: KeyObject;
}

export function freshHello(nodeId: NodeId, keyId: Buffer): LocalHello {
  assert(keyId.length === keyIdBytes, "a key id is 4 bytes");
  const ephemeral = generateKeyPairSync("x25519");
  const ephemeralPublic = ephemeral.publicKey
    .export({ format: "der", type: "spki" })
    .subarray(x25519SpkiPrefix.length);
  const nonce = randomBytes(nonceBytes);
  const bytes = Buffer.allocUnsafe(helloBytes);
  bytes.writeUInt8(helloKind, 0);
  Buffer.from(nodeId, "hex").copy(bytes, 1);
  nonce.copy(bytes, 33);
  ephemeralPublic.copy(bytes, 33 + nonceBytes);
  keyId.copy(bytes, 33 + nonceBytes + ephemeralKeyBytes);
  return { nodeId, nonce, ephemeralPublic, keyId, bytes, ephemeralPrivate: ephemeral.privateKey };
}

export function decodeHello(bytes: Buffer): Hello | null {
  if (bytes.length !== helloBytes || bytes.readUInt8(0) !== helloKind) return null;
  const nodeId = bytes.subarray(1, 33).toString("hex");
  if (!isNodeId(nodeId)) return null;
  const copy = Buffer.from(bytes);
  return {
    nodeId,
    nonce: copy.subarray(33, 33 + nonceBytes),
    ephemeralPublic: copy.subarray(33 + nonceBytes, 33 + nonceBytes + ephemeralKeyBytes),
    keyId: copy.subarray(33 + nonceBytes + ephemeralKeyBytes),
    bytes: copy,
  };
}

export function transcriptOf(protection: FrameProtection, dialer: Hello, acceptor: Hello): Buffer {
  return Buffer.concat([
    Buffer.from(`revoada-transport-v2/${protection}`, "ascii"),
    dialer.bytes,
    acceptor.bytes,
  ]);
}

function labelled(role: HandshakeRole, transcript: Buffer): Buffer {
  return Buffer.concat([Buffer.from(role, "ascii"), transcript]);
}

/** The proof of `role`, keyed with `clusterKey` (the key its own hello names). */
export function encodeAuth(
  role: HandshakeRole,
  transcript: Buffer,
  clusterKey: Uint8Array,
  signer: Signer,
): Buffer {
  const message = labelled(role, transcript);
  const mac = createHmac("sha256", clusterKey).update(message).digest();
  const signature = signer.sign(message);
  assert(signature.length === 64, "an ed25519 signature is 64 bytes");
  const bytes = Buffer.allocUnsafe(authBytes);
  bytes.writeUInt8(authKind, 0);
  mac.copy(bytes, 1);
  bytes.set(signature, 33);
  return bytes;
}

export type AuthVerdict = "ok" | "malformed" | "cluster-key" | "retired-cluster-key" | "signature";

/** Whether this node accepts the cluster key a peer's hello names (before any proof is read). */
export function peerKeyVerdict(keys: KeySet, peer: Hello): "ok" | "cluster-key" | "retired-cluster-key" {
  const found = keys.lookup(peer.keyId);
  return found.type === "key" ? "ok" : found.type === "retired" ? "retired-cluster-key" : "cluster-key";
}

/** Checks the peer's proof for `role`; `peer` is its hello (claimed NodeId and key id). */
export function verifyAuth(
  bytes: Buffer,
  role: HandshakeRole,
  transcript: Buffer,
  keys: KeySet,
  peer: Hello,
): AuthVerdict {
  if (bytes.length !== authBytes || bytes.readUInt8(0) !== authKind) return "malformed";
  const found = keys.lookup(peer.keyId);
  if (found.type === "retired") return "retired-cluster-key";
  if (found.type === "unknown") return "cluster-key";
  const message = labelled(role, transcript);
  const expected = createHmac("sha256", found.entry.key).update(message).digest();
  if (!timingSafeEqual(expected, bytes.subarray(1, 33))) return "cluster-key";
  if (!verifySignature(peer.nodeId, message, bytes.subarray(33, 97))) return "signature";
  return "ok";
}

/**
 * The two session keys, one per direction: HKDF-SHA256 over the X25519 secret of the two
 * ephemeral keys, salted with SHA-256(transcript). Null when the peer's ephemeral key is not
 * a usable X25519 point (a low-order point gives an all-zero secret, which OpenSSL refuses).
 */
export function sessionKeys(
  transcript: Buffer,
  local: LocalHello,
  remote: Hello,
): { dialerToAcceptor: Buffer; acceptorToDialer: Buffer } | null {
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({
      key: Buffer.concat([x25519SpkiPrefix, remote.ephemeralPublic]),
      format: "der",
      type: "spki",
    });
    shared = diffieHellman({ privateKey: local.ephemeralPrivate, publicKey });
  } catch {
    return null;
  }
  if (shared.every((byte) => byte === 0)) return null;
  const salt = createHash("sha256").update(transcript).digest();
  const derive = (label: string) =>
    Buffer.from(hkdfSync("sha256", shared, salt, `revoada-transport-v2 ${label}`, 32));
  return { dialerToAcceptor: derive("dialer-to-acceptor"), acceptorToDialer: derive("acceptor-to-dialer") };
}

/**
 * One direction of a session: seals (or opens) frames in order. The nonce is the frame's
 * sequence number (u64, big-endian, after 4 zero bytes), never reused under one key because
 * every session has fresh keys and each direction its own. A frame that does not open
 * (altered, injected, replayed, reordered) ends the session: nothing after it is trusted.
 */
export class FrameCipher {
  private sequence = 0;

  constructor(
    private readonly key: Buffer,
    private readonly protection: FrameProtection,
  ) {
    assert(key.length === 32, "a session key is 32 bytes");
  }

  /** The frame body for `payload`: [ciphertext, tag] (with `mac`: [payload, tag]). */
  seal(payload: Uint8Array): [Uint8Array, Buffer] {
    const nonce = this.nextNonce();
    if (this.protection === "mac") return [payload, macTag(this.key, nonce, payload)];
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: frameTagBytes });
    const first = cipher.update(payload);
    const last = cipher.final();
    const ciphertext = last.length === 0 ? first : Buffer.concat([first, last]);
    return [ciphertext, cipher.getAuthTag()];
  }

  /** The payload of a frame body, or null when it does not open. */
  open(frame: Buffer): Buffer | null {
    if (frame.length < frameTagBytes) return null;
    const body = frame.subarray(0, frame.length - frameTagBytes);
    const tag = frame.subarray(frame.length - frameTagBytes);
    const nonce = this.nextNonce();
    if (this.protection === "mac") {
      const expected = macTag(this.key, nonce, body);
      return timingSafeEqual(expected, tag) ? body : null;
    }
    const decipher = createDecipheriv("aes-256-gcm", this.key, nonce, { authTagLength: frameTagBytes });
    decipher.setAuthTag(tag);
    const first = decipher.update(body);
    try {
      const last = decipher.final();
      return last.length === 0 ? first : Buffer.concat([first, last]);
    } catch {
      return null;
    }
  }

  private nextNonce(): Buffer {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(Math.floor(this.sequence / 2 ** 32), 4);
    nonce.writeUInt32BE(this.sequence % 2 ** 32, 8);
    this.sequence += 1;
    assert(Number.isSafeInteger(this.sequence), "a session sends fewer than 2^53 frames");
    return nonce;
  }
}

function macTag(key: Buffer, nonce: Buffer, payload: Uint8Array): Buffer {
  return createHmac("sha256", key).update(nonce).update(payload).digest().subarray(0, frameTagBytes);
}
