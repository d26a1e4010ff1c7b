// Goal: an operator key may be listed as 64 hex or as its OpenSSH `ssh-ed25519` line, and the
// chain records the same hex key either way; an SSHSIG over the operator message (namespace
// revoada-shift, sha512 or sha256) verifies as that operator's signature, and one made for
// another namespace or message does not. Method: keys from fixed seeds, SSHSIG signed data
// built by hand from PROTOCOL.sshsig's definition and signed with the same key.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, test } from "node:test";
import { operatorSignerOf, operatorSigningMessage, strategyRecordOf } from "../attest/index.js";
import {
  homelabStrategy,
  loadBlake3,
  OperatorKey,
  operatorKeyHex,
  signerFromSeed,
  sshEd25519Line,
  sshEd25519LineKey,
  sshsigSignedData,
} from "./index.js";

before(async () => {
  await loadBlake3();
});

const operator = signerFromSeed(new Uint8Array(32).fill(7));
const line = sshEd25519Line(operator.nodeId, "operator@example");

test("an ssh-ed25519 line and its hex name the same key; other lines are refused", () => {
  assert.match(line, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} operator@example$/);
  assert.equal(sshEd25519LineKey(line), operator.nodeId);
  assert.equal(operatorKeyHex(line), operator.nodeId);
  assert.equal(operatorKeyHex(operator.nodeId), operator.nodeId);
  assert.ok(OperatorKey.safeParse(line).success);
  assert.ok(OperatorKey.safeParse(sshEd25519Line(operator.nodeId)).success, "no comment");
  const rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 op@x";
  assert.equal(OperatorKey.safeParse(rsa).success, false);
  // A blob of the right length whose inner type is not ssh-ed25519.
  const wrongType = Buffer.alloc(51);
  wrongType.writeUInt32BE(11, 0);
  wrongType.write("ssh-ed25518", 4);
  wrongType.writeUInt32BE(32, 15);
  assert.equal(sshEd25519LineKey(`ssh-ed25519 ${wrongType.toString("base64")}`), null);
  const refused = OperatorKey.safeParse("AB".repeat(32));
  assert.equal(refused.success, false, "upper-case hex");
  assert.match(JSON.stringify(refused.error?.issues), /ssh-ed25519 AAAA\.\.\. comment/);
});

test("the strategy record lists each operator once, as hex, whichever form the strategy used", () => {
  const record = strategyRecordOf({
    ...homelabStrategy,
    attestation: { ...homelabStrategy.attestation, operators: [line, operator.nodeId] },
  });
  assert.deepEqual(record.operators, [operator.nodeId]);
});

test("SSHSIG signed data over the operator message verifies as the operator's signature; another namespace does not", () => {
  const command = { type: "restore" as const, node: signerFromSeed(new Uint8Array(32).fill(9)).nodeId };
  const head = { sequence: 4, hash: "ab".repeat(32) };
  const message = operatorSigningMessage(command, head);
  const data = sshsigSignedData(message, "revoada-shift", "sha512");
  // PROTOCOL.sshsig: "SSHSIG" || string namespace || string reserved || string hash || string H(m)
  const expected = Buffer.concat([
    Buffer.from("SSHSIG"),
    Buffer.from([0, 0, 0, 13]),
    Buffer.from("revoada-shift"),
    Buffer.from([0, 0, 0, 0]),
    Buffer.from([0, 0, 0, 6]),
    Buffer.from("sha512"),
    Buffer.from([0, 0, 0, 64]),
    createHash("sha512").update(message).digest(),
  ]);
  assert.deepEqual(Buffer.from(data), expected);
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
  const operators = [operator.nodeId];
  assert.equal(operatorSignerOf(command, head, hex(operator.sign(data)), operators), operator.nodeId);
  const sha256 = sshsigSignedData(message, "revoada-shift", "sha256");
  assert.equal(operatorSignerOf(command, head, hex(operator.sign(sha256)), operators), operator.nodeId);
  const otherNamespace = sshsigSignedData(message, "file", "sha512");
  assert.equal(operatorSignerOf(command, head, hex(operator.sign(otherNamespace)), operators), null);
  const otherHead = { sequence: 5, hash: head.hash };
  assert.equal(
    operatorSignerOf(command, otherHead, hex(operator.sign(data)), operators),
    null,
    "another position",
  );
});
