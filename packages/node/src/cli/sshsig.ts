import { readFile, stat } from "node:fs/promises";
import {
  operatorSshsigNamespace,
  type SshsigHashAlgorithm,
  sshsigHashAlgorithms,
  sshsigSignedData,
  verifySignature,
} from "@revoada/fabric-core/vocabulary";
import { CliError, exitCodes } from "./exit-codes.js";
import { SshReader } from "./operator-key.js";

/**
 * A detached SSHSIG signature (`ssh-keygen -Y sign -n revoada-shift -f KEY FILE` writes
 * `FILE.sig`; OpenSSH PROTOCOL.sshsig) over an operator command's message, read for
 * `revoada shift ... --sshsig FILE.sig` and `revoada strategy apply ... --sshsig FILE.sig`
 * (one namespace for both: the message names the command). Only what revoada can use is accepted: version 1, an
 * ed25519 key, the namespace `revoada-shift`, sha512 or sha256. Every length is checked; the
 * file is at most 16 KiB. Messages name the file.
 */
export interface Sshsig {
  /** The signer's raw ed25519 public key (64 hex). */
  readonly publicKey: string;
  readonly namespace: string;
  readonly hashAlgorithm: SshsigHashAlgorithm;
  /** The raw 64-byte ed25519 signature (128 hex): what the chain records. */
  readonly signature: string;
}

const sigFileBytesMax = 16 * 1024;
const begin = "-----BEGIN SSH SIGNATURE-----";
const end = "-----END SSH SIGNATURE-----";

export async function readSshsig(path: string): Promise<Sshsig> {
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile())
    throw new CliError(`${path}: no such signature file`, exitCodes.notFound);
  if (info.size > sigFileBytesMax)
    throw new CliError(
      `${path}: a signature file is at most ${sigFileBytesMax} bytes`,
      exitCodes.invalidInput,
    );
  return parseSshsig(await readFile(path, "utf8"), path);
}

export function parseSshsig(text: string, path: string): Sshsig {
  const fail = (why: string): never => {
    throw new CliError(`${path}: SSH signature: ${why}`, exitCodes.invalidInput);
  };
  const trimmed = text.trim();
  if (!trimmed.startsWith(begin) || !trimmed.endsWith(end))
    fail(`not an armored SSH signature (${begin} ... ${end}, as ssh-keygen -Y sign writes it)`);
  const body = trimmed.slice(begin.length, trimmed.length - end.length).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) fail("not base64");
  const data = Buffer.from(body, "base64");
  const reader = new SshReader(data, fail);
  if (!reader.bytes(6).equals(Buffer.from("SSHSIG"))) fail("the magic is not SSHSIG");
  const version = reader.uint32();
  if (version !== 1) fail(`version ${version}; only version 1 is defined`);
  const key = new SshReader(reader.string(), fail);
  const keyType = key.string().toString("latin1");
  if (keyType !== "ssh-ed25519") fail(`a ${keyType} key; an operator key is ed25519`);
  const publicKey = key.string();
  if (publicKey.length !== 32) fail("the ed25519 public key is not 32 bytes");
  const namespace = reader.string().toString("utf8");
  if (namespace !== operatorSshsigNamespace)
    fail(
      `signed for the namespace "${namespace}"; an operator command is signed with -n ${operatorSshsigNamespace} (ssh-keygen -Y sign -n ${operatorSshsigNamespace})`,
    );
  reader.string();
  const hashAlgorithm = reader.string().toString("latin1");
  if (!(sshsigHashAlgorithms as readonly string[]).includes(hashAlgorithm))
    fail(`hash algorithm ${hashAlgorithm}; SSHSIG defines sha512 and sha256`);
  const signatureBlob = new SshReader(reader.string(), fail);
  const signatureType = signatureBlob.string().toString("latin1");
  if (signatureType !== "ssh-ed25519") fail(`a ${signatureType} signature; an operator signs with ed25519`);
  const signature = signatureBlob.string();
  if (signature.length !== 64) fail("the ed25519 signature is not 64 bytes");
  return {
    publicKey: publicKey.toString("hex"),
    namespace,
    hashAlgorithm: hashAlgorithm as SshsigHashAlgorithm,
    signature: signature.toString("hex"),
  };
}

/** True when `sig` is its key's signature over `message` (as every node will check it). */
export function sshsigVerifies(sig: Sshsig, message: Uint8Array): boolean {
  return verifySignature(
    sig.publicKey,
    sshsigSignedData(message, sig.namespace, sig.hashAlgorithm),
    Buffer.from(sig.signature, "hex"),
  );
}
