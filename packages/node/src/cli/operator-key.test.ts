// Goal: `--sign-with KEYFILE` reads an operator's ed25519 key from a raw seed (binary or hex)
// or an OpenSSH private key, and refuses what is not one (encrypted, another key type,
// damaged, not a key) with a message naming the file, never the secret.
// Method: keys made by ssh-keygen and by hand in a temporary directory; the public key the
// reader derives is compared with the one ssh-keygen wrote.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { signerFromSeed } from "@revoada/fabric-core/vocabulary";
import { CliError } from "./exit-codes.js";
import { readOperatorKey } from "./operator-key.js";

let directory = "";

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-opkey-"));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

function sshKeygen(name: string, ...args: string[]): string {
  const path = join(directory, name);
  execFileSync("ssh-keygen", ["-q", "-C", "op@test", "-f", path, ...args]);
  return path;
}

async function refusal(path: string): Promise<string> {
  const error = await readOperatorKey(path).then(
    () => null,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof CliError, "refused with a CLI error");
  assert.ok(error.message.startsWith(path), "the message names the file");
  return error.message;
}

describe("operator key files", () => {
  it("reads a raw seed, binary or hex, as the same key", async () => {
    const seed = randomBytes(32);
    const binary = join(directory, "seed.bin");
    const text = join(directory, "seed.hex");
    await writeFile(binary, seed);
    await writeFile(text, `${seed.toString("hex")}\n`);
    const expected = signerFromSeed(seed).nodeId;
    assert.equal((await readOperatorKey(binary)).nodeId, expected);
    assert.equal((await readOperatorKey(text)).nodeId, expected);
  });

  it("reads an unencrypted OpenSSH ed25519 key: the public key is ssh-keygen's", async () => {
    const path = sshKeygen("op_ed25519", "-t", "ed25519", "-N", "");
    const publicKey = (await readFile(`${path}.pub`, "utf8")).split(" ")[1]!;
    const expected = Buffer.from(publicKey, "base64").subarray(-32).toString("hex");
    const signer = await readOperatorKey(path);
    assert.equal(signer.nodeId, expected);
  });

  it("refuses an encrypted key, an RSA key, a damaged key and a file that is not a key", async () => {
    const encrypted = sshKeygen("enc_ed25519", "-t", "ed25519", "-N", "secret-passphrase");
    assert.match(await refusal(encrypted), /encrypted; decrypt a copy with `ssh-keygen -p`/);
    const rsa = sshKeygen("rsa_key", "-t", "rsa", "-b", "1024", "-N", "");
    assert.match(await refusal(rsa), /a ssh-rsa key; an operator key is ed25519/);
    const good = await readFile(sshKeygen("cut_ed25519", "-t", "ed25519", "-N", ""), "utf8");
    const lines = good.trim().split("\n");
    const cut = join(directory, "cut");
    await writeFile(cut, [lines[0], lines[1], lines.at(-1)].join("\n"));
    assert.match(await refusal(cut), /OpenSSH key: (truncated|a length runs past the end)/);
    const junk = join(directory, "junk");
    await writeFile(junk, "hello\n");
    assert.match(await refusal(junk), /not an operator key/);
    assert.doesNotMatch(await refusal(encrypted), /secret-passphrase/);
  });
});
