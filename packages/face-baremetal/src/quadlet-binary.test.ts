/**
 * Goal: the real Quadlet generator accepts every `.container` this face writes, and systemd
 * accepts the `.service` units it generates from them.
 * Method: find a quadlet binary (QUADLET_PATH, /usr/libexec/podman/quadlet, /usr/lib/podman/
 * quadlet, or `quadlet` on PATH); stage each node's rendered units in a directory, run
 * `quadlet -no-kmsg-log OUTDIR` with QUADLET_UNIT_DIRS pointing at it, require a generated
 * `.service` per `.container` and no warning, then `systemd-analyze verify` the generated
 * services with the node target.
 * Skipped when no quadlet binary exists, with the reason: Debian 12 (bookworm), what CI runs,
 * ships podman 4.3.1, and Quadlet arrived in podman 4.4, so bookworm's apt cannot install it;
 * there the units go through `quadletEquivalentService` instead (baremetal-face.test.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "node:test";
import type { FaceFile } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { systemdAnalyzeAvailability, unitsByDirectory, verifyUnits } from "@revoada/face-systemd/testing";
import { baremetalFace } from "./baremetal-face.js";

const noQuadletReason =
  "no quadlet binary: Debian 12 (bookworm) ships podman 4.3.1 and Quadlet arrived in podman 4.4, so " +
  "bookworm's apt cannot install it; set QUADLET_PATH to a quadlet binary to run this check " +
  "(the units are checked through quadletEquivalentService meanwhile)";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findQuadlet(): string | undefined {
  const fromPath = (process.env.PATH ?? "").split(delimiter).map((directory) => join(directory, "quadlet"));
  const candidates = [
    process.env.QUADLET_PATH ?? "",
    "/usr/libexec/podman/quadlet",
    "/usr/lib/podman/quadlet",
    ...fromPath,
  ];
  return candidates.find((candidate) => candidate !== "" && isExecutable(candidate));
}

/** The services quadlet generates from one node's `.container` units. */
function generate(
  quadlet: string,
  containers: readonly FaceFile[],
): { services: FaceFile[]; stderr: string } {
  const root = mkdtempSync(join(tmpdir(), "revoada-quadlet-"));
  try {
    const input = join(root, "containers");
    const output = join(root, "generated");
    mkdirSync(input);
    mkdirSync(output);
    for (const file of containers)
      writeFileSync(join(input, file.path.slice(file.path.lastIndexOf("/") + 1)), file.content);
    const run = spawnSync(quadlet, ["-no-kmsg-log", output], {
      encoding: "utf8",
      env: { ...process.env, QUADLET_UNIT_DIRS: input },
    });
    assert.equal(run.status, 0, `quadlet failed:\n${run.stderr}`);
    const services = readdirSync(output)
      .filter((name) => name.endsWith(".service"))
      .map((name) => ({ path: name, content: readFileSync(join(output, name), "utf8") }));
    return { services, stderr: run.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const quadlet = findQuadlet();

describe("the real Quadlet generator", { skip: quadlet === undefined ? noQuadletReason : false }, () => {
  it("generates a service per container, which systemd-analyze verify accepts (example mesh, with and without etcd's revocation list)", () => {
    const availability = systemdAnalyzeAvailability();
    const renders = [{}, { etcdRevocationList: true }].map(
      (context) => baremetalFace.writer.write(exampleFabricStates.mesh!, { kind: "cluster" }, context).files,
    );
    for (const [directory, group] of renders.flatMap((files) => [
      ...unitsByDirectory(files, [".container", ".target"]),
    ])) {
      const containers = group.filter((file) => file.path.endsWith(".container"));
      const { services, stderr } = generate(quadlet!, containers);
      assert.doesNotMatch(stderr, /unsupported|unknown|error/i, `${directory}: quadlet warnings`);
      assert.deepEqual(
        services.map((service) => service.path).sort(),
        containers
          .map((file) => file.path.slice(file.path.lastIndexOf("/") + 1).replace(/\.container$/, ".service"))
          .sort(),
      );
      if (!availability.run) continue;
      const targets = group.filter((file) => file.path.endsWith(".target"));
      const outcome = verifyUnits([...services, ...targets]);
      assert.equal(outcome.status, 0, `${directory}:\n${outcome.stderr}`);
      assert.deepEqual(outcome.problems, [], directory);
    }
  });
});
