/**
 * Goal: the pure registry resolves names (configured, built-in, discovered, as-is), reads what
 * a package.json declares, lists known faces on a miss and checks shapes, with an open
 * `protocol` that is still validated.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkFaceShape,
  faceDeclaration,
  faceFromModule,
  knownFaceNames,
  resolveFaceSource,
} from "./registry.js";

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
    const result = checkFaceShape({ id: "x", protocol: "Smoke Signals" }, "x-pkg");
    assert.equal(result.ok, false);
    if (result.ok) return;
    const paths = result.issues.map((issue) => issue.path[0]);
    assert.deepEqual(paths, ["description", "protocol", "writer", "reader", "model"]);
    assert.equal(faceFromModule({ notAFace: 1 }, "y").ok, false);
  });

  it("takes any protocol name, not only the built-in ones", () => {
    const face = {
      id: "compose",
      protocol: "docker-compose",
      description: "d",
      writer: { write: () => ({ files: [], dropped: [] }) },
      reader: { read: async () => ({ ok: false, issues: [] }) },
      model: (state: unknown) => state,
    };
    assert.equal(checkFaceShape(face, "compose").ok, true);
    assert.equal(checkFaceShape({ ...face, protocol: "" }, "compose").ok, false);
    assert.equal(checkFaceShape({ ...face, id: "Compose!" }, "compose").ok, false);
  });

  it("resolves a discovered face name after built-ins and configured names", () => {
    const discovered = { compose: "/srv/node_modules/@acme/face-compose", systemd: "/elsewhere" };
    assert.deepEqual(resolveFaceSource("compose", {}, discovered), {
      ok: true,
      value: { kind: "discovered", name: "compose", specifier: "/srv/node_modules/@acme/face-compose" },
    });
    const builtin = resolveFaceSource("systemd", {}, discovered);
    assert.ok(builtin.ok && builtin.value.kind === "builtin", "a built-in name is not shadowed");
    assert.deepEqual(knownFaceNames({ zeta: "./z" }, discovered), [
      "baremetal",
      "kubernetes",
      "nomad",
      "pureraft",
      "systemd",
      "compose",
      "zeta",
    ]);
  });

  it("reads the face a package.json declares: the revoada.face field or the keyword", () => {
    assert.deepEqual(faceDeclaration({ name: "@acme/x", revoada: { face: "compose" } }, "p.json"), {
      ok: true,
      value: { name: "compose", packageName: "@acme/x", via: "field" },
    });
    assert.deepEqual(faceDeclaration({ name: "@acme/x", revoada: { face: { name: "swarm" } } }, "p.json"), {
      ok: true,
      value: { name: "swarm", packageName: "@acme/x", via: "field" },
    });
    assert.deepEqual(faceDeclaration({ name: "@acme/face-compose", keywords: ["revoada-face"] }, "p.json"), {
      ok: true,
      value: { name: "compose", packageName: "@acme/face-compose", via: "keyword" },
    });
    assert.equal(faceDeclaration({ name: "left-pad", keywords: ["pad"] }, "p.json"), undefined);
    const bad = faceDeclaration({ name: "@acme/x", revoada: { face: "Bad Name" } }, "p.json");
    assert.ok(bad !== undefined && !bad.ok);
    assert.deepEqual(bad.issues[0]?.path, ["revoada", "face"]);
    assert.equal(bad.issues[0]?.file, "p.json");
  });
});
