import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { assert, isNodeId, type NodeId, type Signer, verifySignature } from "@revoada/fabric-core/vocabulary";

/**
 * The mutual authentication that opens every connection (docs/transport.md):
 *
 *   dialer   -> acceptor  hello(dialer id, dialer nonce)
 *   acceptor -> dialer    hello(acceptor id, acceptor nonce), auth("acceptor")
 *   dialer   -> acceptor  auth("dialer")
 *
 * transcript = "revoada-transport-v1" || dialer id || dialer nonce || acceptor id || acceptor nonce
 * auth(role) = HMAC-SHA256(cluster key, role || transcript) || ed25519 signature of (role || transcript)
 *
 * The HMAC proves the peer holds the cluster key, the signature proves it holds the private
 * key of the NodeId it claims; the fresh nonces of both sides make a recorded handshake
 * useless, and the role label stops one side's proof being reflected back as the other's.
 * Both sides then derive one frame-MAC key per direction from the transcript.
 */
export const nonceBytes = 32;
export const helloBytes = 1 + 32 + nonceBytes;
export const authBytes = 1 + 32 + 64;
export const frameTagBytes = 16;
const helloKind = 1;
const authKind = 2;
const protocolLabel = Buffer.from("revoada-transport-v1", "ascii");

export type HandshakeRole = "dialer" | "acceptor";

export interface Hello {
  readonly nodeId: NodeId;
  readonly nonce: Buffer;
}

export function freshNonce(): Buffer {
  return randomBytes(nonceBytes);
}

export function encodeHello(hello: Hello): Buffer {
  const bytes = Buffer.allocUnsafe(helloBytes);
  bytes.writeUInt8(helloKind, 0);
  Buffer.from(hello.nodeId, "hex").copy(bytes, 1);
  hello.nonce.copy(bytes, 33);
  return bytes;
}

export function decodeHello(bytes: Buffer): Hello | null {
  if (bytes.length !== helloBytes || bytes.readUInt8(0) !== helloKind) return null;
  const nodeId = bytes.subarray(1, 33).toString("hex");
  if (!isNodeId(nodeId)) return null;
  return { nodeId, nonce: Buffer.from(bytes.subarray(33, 33 + nonceBytes)) };
}

export function transcriptOf(dialer: Hello, acceptor: Hello): Buffer {
  return Buffer.concat([
    protocolLabel,
    Buffer.from(dialer.nodeId, "hex"),
    dialer.nonce,
    Buffer.from(acceptor.nodeId, "hex"),
    acceptor.nonce,
  ]);
}

function labelled(role: HandshakeRole, transcript: Buffer): Buffer {
  return Buffer.concat([Buffer.from(role, "ascii"), transcript]);
}

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

export type AuthVerdict = "ok" | "malformed" | "cluster-key" | "signature";

/** Checks the peer's proof for `role`; `claimed` is the NodeId from its hello. */
export function verifyAuth(
  bytes: Buffer,
  role: HandshakeRole,
  transcript: Buffer,
  clusterKey: Uint8Array,
  claimed: NodeId,
): AuthVerdict {
  if (bytes.length !== authBytes || bytes.readUInt8(0) !== authKind) return "malformed";
  const message = labelled(role, transcript);
  const expected = createHmac("sha256", clusterKey).update(message).digest();
  if (!timingSafeEqual(expected, bytes.subarray(1, 33))) return "cluster-key";
  if (!verifySignature(claimed, message, bytes.subarray(33, 97))) return "signature";
  return "ok";
}

/** Frame-MAC keys, one per direction, bound to this handshake's transcript. */
export function sessionKeys(
  transcript: Buffer,
  clusterKey: Uint8Array,
): { dialerToAcceptor: Buffer; acceptorToDialer: Buffer } {
  const derive = (label: string) =>
    createHmac("sha256", clusterKey).update(label).update(transcript).digest();
  return { dialerToAcceptor: derive("dialer-to-acceptor"), acceptorToDialer: derive("acceptor-to-dialer") };
}

/** The tag appended to a data frame: HMAC-SHA256(key, sequence || payload), first 16 bytes. */
export function frameTag(key: Buffer, sequence: number, payload: Uint8Array): Buffer {
  const counter = Buffer.allocUnsafe(8);
  counter.writeUInt32BE(Math.floor(sequence / 2 ** 32), 0);
  counter.writeUInt32BE(sequence % 2 ** 32, 4);
  return createHmac("sha256", key).update(counter).update(payload).digest().subarray(0, frameTagBytes);
}

export function tagsEqual(left: Buffer, right: Buffer): boolean {
  return left.length === right.length && timingSafeEqual(left, right);
}
