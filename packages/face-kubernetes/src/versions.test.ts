/**
 * Goal: face-kubernetes' `version` picks what that Kubernetes release runs: the component and
 * etcd images, etcd's flags in the spelling of the etcd kubeadm pairs with it, and kubeadm's
 * etcd probes of that release; a patch version changes only the component images; an
 * unsupported version is refused naming the supported minors. Method: the mesh example
 * rendered through the face configured with each row of the table.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { type Face, kubernetesReleases, type RenderContext } from "@revoada/fabric-core/face";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import { parse } from "yaml";
import { kubernetesFace } from "./index.js";

const mesh = exampleFabricStates.mesh!;

function configured(version: string): Face {
  const face = kubernetesFace.configure?.({ version });
  assert.ok(face?.ok, `version ${version} is supported`);
  return face.value;
}

interface PodContainer {
  image: string;
  command: string[];
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
  startupProbe?: { httpGet: { path: string } };
}

function container(face: Face, component: string, context: RenderContext = {}): PodContainer {
  const file = face.writer
    .write(mesh, { kind: "cluster" }, context)
    .files.find((candidate) => candidate.path === `nodes/cp-1/manifests/${component}.yaml`);
  assert.ok(file, `${component} static pod of cp-1`);
  return parse(file.content).spec.containers[0] as PodContainer;
}

/** What each supported minor must render (kubeadm of that release, see kubernetes-releases.ts). */
const expected: Record<string, { kube: string; etcd: string; etcd36: boolean; livez: boolean }> = {
  "1.28": { kube: "v1.28.0", etcd: "3.5.9-0", etcd36: false, livez: false },
  "1.29": { kube: "v1.29.0", etcd: "3.5.10-0", etcd36: false, livez: false },
  "1.30": { kube: "v1.30.0", etcd: "3.5.12-0", etcd36: false, livez: false },
  "1.31": { kube: "v1.31.0", etcd: "3.5.15-0", etcd36: false, livez: true },
  "1.32": { kube: "v1.32.0", etcd: "3.5.16-0", etcd36: false, livez: true },
  "1.33": { kube: "v1.33.0", etcd: "3.5.21-0", etcd36: false, livez: true },
  "1.34": { kube: "v1.34.1", etcd: "3.6.4-0", etcd36: true, livez: true },
};

describe("face-kubernetes version table", () => {
  it("supports exactly the minors the table lists, 1.34 by default", () => {
    assert.deepEqual(
      kubernetesReleases.map((release) => release.minor),
      Object.keys(expected),
    );
    const version = kubernetesFace.parameters?.find((parameter) => parameter.name === "version");
    assert.equal(version?.default, "1.34");
    assert.deepEqual(
      kubernetesFace.writer.write(mesh, { kind: "cluster" }),
      configured("1.34").writer.write(mesh, { kind: "cluster" }),
    );
  });

  for (const [minor, row] of Object.entries(expected)) {
    it(`${minor}: ${row.kube} components, etcd ${row.etcd} with its flags and probes`, () => {
      const face = configured(minor);
      for (const component of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
        assert.equal(container(face, component).image, `registry.k8s.io/${component}:${row.kube}`);
      }
      const etcd = container(face, "etcd");
      assert.equal(etcd.image, `registry.k8s.io/etcd:${row.etcd}`);
      const flags = etcd.command.slice(1);
      const spelled36 = ["--feature-gates=InitialCorruptCheck=true", "--watch-progress-notify-interval=5s"];
      const spelled35 = [
        "--experimental-initial-corrupt-check=true",
        "--experimental-watch-progress-notify-interval=5s",
      ];
      for (const flag of row.etcd36 ? spelled36 : spelled35)
        assert.ok(flags.includes(flag), `${minor} has ${flag}`);
      for (const flag of row.etcd36 ? spelled35 : spelled36)
        assert.ok(!flags.includes(flag), `${minor} lacks ${flag}`);
      const names = flags.map((flag) => flag.split("=", 1)[0]!);
      assert.deepEqual(names, [...names].sort(), "flags in kubeadm's order, by name");
      if (row.livez) {
        assert.equal(etcd.livenessProbe?.httpGet.path, "/livez");
        assert.equal(etcd.readinessProbe?.httpGet.path, "/readyz");
        assert.equal(etcd.startupProbe?.httpGet.path, "/readyz");
      } else {
        assert.equal(etcd.livenessProbe?.httpGet.path, "/health?exclude=NOSPACE&serializable=true");
        assert.equal(etcd.readinessProbe, undefined, "kubeadm before 1.31 gives etcd no readiness probe");
        assert.equal(etcd.startupProbe?.httpGet.path, "/health?serializable=false");
      }
    });
  }

  it("a patch version runs that patch's components with the minor's etcd", () => {
    const face = configured("1.30.14");
    assert.equal(container(face, "kube-apiserver").image, "registry.k8s.io/kube-apiserver:v1.30.14");
    assert.equal(container(face, "etcd").image, "registry.k8s.io/etcd:3.5.12-0");
  });

  it("a configured face reads its own render back, and another release's render shows up as unknown", async () => {
    const old = configured("1.28");
    const files = old.writer.write(mesh, { kind: "cluster" }).files;
    const read = await old.reader.read(files);
    assert.ok(read.ok);
    assert.deepEqual(read.value.unknown, []);
    const other = await kubernetesFace.reader.read(files);
    assert.ok(other.ok);
    assert.ok(
      other.value.unknown.some((field) => field.file.endsWith("manifests/etcd.yaml")),
      "a 1.34 reader does not take a 1.28 etcd pod for its own",
    );
  });

  it("refuses an unsupported version, another type, and an unknown parameter, naming the field", () => {
    const old = kubernetesFace.configure?.({ version: "1.27" });
    assert.equal(old?.ok, false);
    assert.deepEqual(!old?.ok && old?.issues[0]?.path, ["version"]);
    assert.match(
      (!old?.ok && old?.issues[0]?.message) || "",
      /1\.27 is not supported \(supported minors: 1\.28, .*1\.34\)/,
    );
    assert.equal(kubernetesFace.configure?.({ version: 1.3 }).ok, false);
    const unknown = kubernetesFace.configure?.({ certified_cncf: true });
    assert.deepEqual(!unknown?.ok && unknown?.issues[0]?.path, ["certified_cncf"]);
  });

  it("every etcd flag of an etcd 3.5 row is one Debian's etcd (3.4.23) knows; the 3.6 spelling is not", async (t) => {
    const help = await promisify(execFile)("etcd", ["--help"]).then(
      (result) => `${result.stdout}${result.stderr}`,
      () => undefined,
    );
    if (help === undefined) {
      if (process.env.CI === "true")
        assert.fail("etcd is not installed (scripts/setup-system.sh installs etcd-server)");
      t.skip("no etcd binary");
      return;
    }
    const knows = (name: string): boolean => new RegExp(`^\\s*${name}(\\s|$)`, "m").test(help);
    for (const minor of ["1.28", "1.33"]) {
      // With the node's revocation list, so its two flags are checked too.
      for (const flag of container(configured(minor), "etcd", { etcdRevocationList: true }).command.slice(
        1,
      )) {
        const name = flag.split("=", 1)[0]!;
        assert.ok(knows(name), `etcd --help lists ${name} (${minor})`);
      }
    }
    const version =
      /etcd Version: (\S+)/.exec((await promisify(execFile)("etcd", ["--version"])).stdout)?.[1] ?? "";
    if (version.startsWith("3.4.") || version.startsWith("3.5."))
      assert.ok(
        !knows("--feature-gates"),
        `etcd ${version} has no --feature-gates, so 1.34's spelling needs etcd 3.6`,
      );
  });
});
