// Goal: byte-exact C2SP signed-note, checkpoint and cosignature/v1 encodings (A6).
// Method: published vectors from the signed-note spec, Go's sumdb/note example (whose
// private key is public) and a real cosigned checkpoint, then round trips of our own notes.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { loadBlake3, signerFromSeed } from "../vocabulary/index.js";
import { checkpointText, parseCheckpointText } from "./checkpoint.js";
import {
  cosignNote,
  formatSignedNote,
  noteKeyId,
  noteSignatureType,
  parseSignedNote,
  signatureTypeOf,
  signNote,
  verifyCosignature,
  verifyNoteSignature,
} from "./note.js";

/** A signed-note verifier key `name+hexid+base64(type || key)`: name, key id, type, public key hex. */
function parseVerifierKey(vkey: string): { name: string; id: number; type: number; publicKey: string } {
  const [name, id, material] = vkey.split("+", 3) as [string, string, string];
  const bytes = Buffer.from(vkey.slice(name.length + id.length + 2), "base64");
  assert.ok(material.length > 0);
  return { name, id: Number.parseInt(id, 16), type: bytes[0]!, publicKey: bytes.subarray(1).toString("hex") };
}

describe("signed notes against published vectors", () => {
  before(loadBlake3);

  test("the signed-note spec example verifies and its key ID derives", () => {
    const key = parseVerifierKey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
    assert.equal(
      noteKeyId(key.name, noteSignatureType.ed25519, Buffer.from(key.publicKey, "hex")),
      0x530d903a,
    );
    const note =
      "This is an example message.\n\n" +
      "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    const parsed = parseSignedNote(note);
    assert.ok(parsed.ok);
    assert.equal(parsed.note.text, "This is an example message.\n");
    assert.ok(verifyNoteSignature(parsed.note.text, parsed.note.signatures[0]!, key.name, key.publicKey));
    assert.equal(formatSignedNote(parsed.note), note, "parse then format is the identity");
  });

  test("signing Go's sumdb/note example reproduces its signature byte for byte", () => {
    const skey = Buffer.from("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "base64");
    assert.equal(skey[0], 0x01, "an Ed25519 signer key");
    const signer = signerFromSeed(skey.subarray(1));
    const key = parseVerifierKey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    assert.equal(signer.nodeId, key.publicKey);
    const text =
      "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const note = formatSignedNote({ text, signatures: [signNote(text, signer, "PeterNeumann")] });
    assert.equal(
      note,
      `${text}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    );
    assert.equal(
      noteKeyId("PeterNeumann", noteSignatureType.ed25519, Buffer.from(key.publicKey, "hex")),
      key.id,
    );
  });

  test("a real witness cosignature/v1 on a CT checkpoint verifies, and not on a changed size", () => {
    const key = parseVerifierKey("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2");
    assert.equal(key.type, noteSignatureType.cosignatureV1);
    assert.equal(
      noteKeyId(key.name, noteSignatureType.cosignatureV1, Buffer.from(key.publicKey, "hex")),
      key.id,
    );
    const text =
      "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n";
    const line =
      "\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n";
    const parsed = parseSignedNote(`${text}\n${line}`);
    assert.ok(parsed.ok);
    const checkpoint = parseCheckpointText(parsed.note.text);
    assert.ok(checkpoint !== undefined);
    assert.equal(checkpoint.size, 1432088532);
    assert.equal(checkpointText(checkpoint), text, "checkpoint text round trips byte for byte");
    const timestamp = verifyCosignature(text, parsed.note.signatures[0]!, key.name, key.publicKey);
    assert.ok(timestamp !== undefined && timestamp > 1_700_000_000, "a plausible POSIX timestamp");
    const changed = text.replace("1432088532", "42");
    assert.equal(verifyCosignature(changed, parsed.note.signatures[0]!, key.name, key.publicKey), undefined);
  });
});

describe("our notes", () => {
  test("sign, cosign, format, parse and verify round trip; types are told apart by key ID", () => {
    const leader = signerFromSeed(Buffer.alloc(32, 1));
    const witness = signerFromSeed(Buffer.alloc(32, 2));
    const text = checkpointText({ origin: "revoada.example/test", size: 7, root: Buffer.alloc(32, 9) });
    const note = formatSignedNote({
      text,
      signatures: [signNote(text, leader), cosignNote(text, witness, 1_780_000_000)],
    });
    const parsed = parseSignedNote(note);
    assert.ok(parsed.ok);
    const [signature, cosignature] = parsed.note.signatures as [never, never];
    assert.equal(signatureTypeOf(signature), noteSignatureType.ed25519);
    assert.equal(signatureTypeOf(cosignature), noteSignatureType.cosignatureV1);
    assert.ok(verifyNoteSignature(text, signature, leader.nodeId, leader.nodeId));
    assert.equal(verifyCosignature(text, cosignature, witness.nodeId, witness.nodeId), 1_780_000_000);
    assert.equal(verifyNoteSignature(text, cosignature, witness.nodeId, witness.nodeId), false, "wrong type");
  });

  test("malformed notes are refused with a reason, never thrown", () => {
    for (const bad of ["", "no newline", "text\n", "text\n\n- name AAAA\n", "a\tb\n\n\u2014 n AAAAAAA=\n"]) {
      assert.equal(parseSignedNote(bad).ok, false, JSON.stringify(bad));
    }
    assert.equal(parseCheckpointText("origin\n01\nAAAA\n"), undefined, "leading zero in size");
    assert.equal(parseCheckpointText("origin\n1\n"), undefined, "missing root");
  });
});
