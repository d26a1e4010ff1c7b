/**
 * Goal: the pure registry resolves names, lists known faces on a miss and checks shapes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkFaceShape, faceFromModule, knownFaceNames, resolveFaceSource } from "./registry.js";

describe("face registry (pure part)", () => {
  it("resolves built-in names and aliases to packages", () => {
    assert.deepEqual(resolveFaceSource("systemd"), {
      ok: true,
      value: { kind: "builtin", name: "systemd", specifier: "@revoada/face-systemd" },
    });
    const alias = resolveFaceSource("pure-raft");
    assert.ok(alias.ok && alias.value.specifier === "@revoada/face-pureraft");
  });

  it("prefers a configured mapping and accepts specifiers as-is", () => {
    const configured = resolveFaceSource("acme", { acme: "/opt/faces/acme/index.js" });
    assert.ok(configured.ok && configured.value.specifier === "/opt/faces/acme/index.js");
    const path = resolveFaceSource("./faces/x.js");
    assert.ok(path.ok && path.value.kind === "module");
  });

  it("lists the known faces when a name is unknown", () => {
    const result = resolveFaceSource("kubernetis", { acme: "@acme/face" });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.issues[0]?.code, "unknown_face");
    assert.match(result.issues[0]?.message ?? "", /baremetal, kubernetes, nomad, pureraft, systemd, acme/);
    assert.deepEqual(knownFaceNames(), ["baremetal", "kubernetes", "nomad", "pureraft", "systemd"]);
  });

  it("rejects exports that are not faces and names what is missing", () => {
    const result = checkFaceShape({ id: "x", protocol: "smoke-signals" }, "x-pkg");
    assert.equal(result.ok, false);
    if (result.ok) return;
    const paths = result.issues.map((issue) => issue.path[0]);
    assert.deepEqual(paths, ["description", "protocol", "writer", "reader", "model"]);
    assert.equal(faceFromModule({ notAFace: 1 }, "y").ok, false);
  });
});
