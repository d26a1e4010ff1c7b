// Goal: a detached signature by the real `ssh-keygen -Y sign -n revoada-shift` over an operator
// command's message is read by `--sshsig`, verifies here and verifies as that operator's
// signature in the chain's own check (what every node runs); one made for another namespace,
// over another message, or a damaged file is refused with a message naming the file.
// Method: Debian's ssh-keygen in a temporary directory; the message is the one
// `revoada shift ... --print-message` prints (operatorSigningMessage).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { operatorSignerOf, operatorSigningMessage } from "@revoada/fabric-core/attest";
import { operatorKeyHex, signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { CliError } from "./exit-codes.js";
import { readSshsig, sshsigVerifies } from "./sshsig.js";

let directory = "";
let key = "";
let publicLine = "";

const command = {
  type: "quarantine" as const,
  node: signerFromSeed(new Uint8Array(32).fill(3)).nodeId,
  reason: "operator" as const,
};
const head = { sequence: 12, hash: "cd".repeat(32) };
const message = operatorSigningMessage(command, head);

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-sshsig-"));
  key = join(directory, "op_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "op@test", "-f", key]);
  publicLine = (await readFile(`${key}.pub`, "utf8")).trim();
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** ssh-keygen -Y sign over `bytes` in a file of its own; the path of the .sig it writes. */
async function sshSign(
  name: string,
  bytes: Uint8Array,
  namespace: string,
  ...options: string[]
): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, bytes);
  execFileSync("ssh-keygen", ["-q", "-Y", "sign", "-n", namespace, "-f", key, ...options, path], {
    stdio: "pipe",
  });
  return `${path}.sig`;
}

async function refusal(path: string): Promise<string> {
  const error = await readSshsig(path).then(
    () => null,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof CliError, "refused with a CLI error");
  assert.ok(error.message.startsWith(path), "the message names the file");
  return error.message;
}

describe("SSHSIG operator signatures (ssh-keygen -Y sign)", () => {
  it("reads ssh-keygen's signature: its key is the .pub line's, it verifies here and as the operator's in the chain check", async () => {
    const sigPath = await sshSign("shift.msg", message, "revoada-shift");
    const sig = await readSshsig(sigPath);
    assert.equal(sig.publicKey, operatorKeyHex(publicLine));
    assert.equal(sig.namespace, "revoada-shift");
    assert.equal(sig.hashAlgorithm, "sha512");
    assert.ok(sshsigVerifies(sig, message));
    assert.equal(operatorSignerOf(command, head, sig.signature, [operatorKeyHex(publicLine)]), sig.publicKey);
    // Bound to the command and the chain position like a --sign-with signature.
    assert.equal(
      operatorSignerOf({ ...command, type: "restore" as const }, head, sig.signature, [sig.publicKey]),
      null,
    );
    assert.equal(operatorSignerOf(command, { ...head, sequence: 13 }, sig.signature, [sig.publicKey]), null);
  });

  it("accepts -O hashalg=sha256", async () => {
    const sig = await readSshsig(
      await sshSign("sha256.msg", message, "revoada-shift", "-O", "hashalg=sha256"),
    );
    assert.equal(sig.hashAlgorithm, "sha256");
    assert.equal(operatorSignerOf(command, head, sig.signature, [sig.publicKey]), sig.publicKey);
  });

  it("refuses another namespace by name; the chain check refuses its signature too", async () => {
    const sigPath = await sshSign("file-ns.msg", message, "file");
    assert.match(await refusal(sigPath), /signed for the namespace "file"; .*-n revoada-shift/);
    const armor = (await readFile(sigPath, "utf8")).split("\n").slice(1, -2).join("");
    const raw = Buffer.from(armor, "base64").subarray(-64).toString("hex");
    assert.equal(operatorSignerOf(command, head, raw, [operatorKeyHex(publicLine)]), null);
  });

  it("a signature over another message does not verify; damaged and foreign files are refused", async () => {
    const sig = await readSshsig(
      await sshSign("other.msg", new TextEncoder().encode("hello\n"), "revoada-shift"),
    );
    assert.equal(sshsigVerifies(sig, message), false);
    assert.equal(operatorSignerOf(command, head, sig.signature, [sig.publicKey]), null);
    const good = await readFile(await sshSign("cut.msg", message, "revoada-shift"), "utf8");
    const lines = good.trim().split("\n");
    const cut = join(directory, "cut.sig");
    await writeFile(cut, [lines[0], lines[1], lines.at(-1)].join("\n"));
    assert.match(await refusal(cut), /SSH signature: (truncated|a length runs past the end)/);
    const foreign = join(directory, "foreign.sig");
    await writeFile(foreign, publicLine);
    assert.match(await refusal(foreign), /not an armored SSH signature/);
    assert.match(await refusal(join(directory, "missing.sig")), /no such signature file/);
  });
});
