/**
 * Goal: the Deployment, Service and ConfigMap the face writes have the shape kubectl gives
 * the same objects. Method: `src/testdata/kubectl/*.yaml` are `kubectl create ...
 * --dry-run=client -o yaml` output (see `generate.sh`); where kubectl is installed the test
 * first regenerates them and checks the committed copies are current. Every field of the
 * reference (minus `creationTimestamp`, `status` and empty `{}`) must appear in ours with the
 * same value, except the few differences listed (and justified) below.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { exampleFabricStates } from "@revoada/fabric-core/face/conformance";
import type { Workload } from "@revoada/fabric-core/vocabulary";
import { parse } from "yaml";
import { kubernetesFace } from "./index.js";
import { renderConfigMap, renderDeployment, renderService } from "./workload-objects.js";

const referenceDir = fileURLToPath(new URL("./testdata/kubectl", import.meta.url));
const names = ["deployment", "service", "configmap"] as const;

const workload: Workload = {
  name: "web",
  namespace: "default",
  image: "nginx:1.27",
  command: [],
  args: [],
  env: {},
  ports: [{ name: "http", container_port: 80, protocol: "tcp" }],
  replicas: 2,
  resources: { cpu_millis: 0, memory_bytes: 0 },
  config_blobs: [
    {
      name: "site",
      hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" as Workload["config_blobs"][number]["hash"],
      mount_path: "/etc/site/index.html",
    },
  ],
  placement: { zones: [], labels: {}, tolerate_control_plane: false },
};

/** Paths where we differ from kubectl on purpose. */
const allowedDifferences: Record<(typeof names)[number], string[]> = {
  // kubectl names the container after the image; we name it after the workload.
  deployment: ["spec.template.spec.containers.0.name"],
  // kubectl names a port `<port>-<target>`; we keep the workload's port name.
  service: ["spec.ports.0.name"],
  configmap: [],
};

function kubectlAvailable(): boolean {
  return (
    spawnSync("kubectl", ["version", "--client"], { env: { ...process.env, KUBECONFIG: "/dev/null" } })
      .status === 0
  );
}

function leaves(value: unknown, prefix: string[], out: Map<string, unknown>): void {
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return; // kubectl's empty `strategy: {}` / `resources: {}`
    for (const [key, child] of entries) leaves(child, [...prefix, key], out);
  } else out.set(prefix.join("."), value);
}

function withoutNoise(object: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, ...rest } = object;
  return JSON.parse(JSON.stringify(rest, (key, child) => (key === "creationTimestamp" ? undefined : child)));
}

function rendered(name: (typeof names)[number]): unknown {
  const object =
    name === "deployment"
      ? renderDeployment(workload, undefined)
      : name === "service"
        ? renderService(workload)
        : renderConfigMap(workload);
  return JSON.parse(JSON.stringify(object));
}

describe("kubectl reference objects", () => {
  it("the committed references are what kubectl prints (where kubectl is installed)", (context) => {
    if (!kubectlAvailable()) {
      context.skip("kubectl not installed: comparing against the committed references only");
      return;
    }
    const out = mkdtempSync(join(tmpdir(), "kubectl-ref-"));
    try {
      const run = spawnSync("sh", [join(referenceDir, "generate.sh"), out], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      for (const name of names) {
        const fresh = readFileSync(join(out, `${name}.yaml`), "utf8");
        assert.equal(
          fresh,
          readFileSync(join(referenceDir, `${name}.yaml`), "utf8"),
          `${name}.yaml is current`,
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  for (const name of names) {
    it(`${name}: every reference field is in ours with the same value`, () => {
      const reference = withoutNoise(parse(readFileSync(join(referenceDir, `${name}.yaml`), "utf8")));
      const expected = new Map<string, unknown>();
      leaves(reference, [], expected);
      const ours = new Map<string, unknown>();
      leaves(rendered(name), [], ours);
      assert.ok(expected.size > 5, "the reference has fields");
      for (const [path, value] of expected) {
        if (allowedDifferences[name].includes(path)) {
          assert.ok(ours.has(path), `${path} exists in ours too`);
          continue;
        }
        assert.deepEqual(ours.get(path), value, `${name}: ${path}`);
      }
    });
  }
});

describe("kubectl kustomize", () => {
  it("builds the mesh render: the API-side objects, and each node's static pods", (context) => {
    if (!kubectlAvailable()) {
      context.skip("kubectl not installed");
      return;
    }
    const directory = mkdtempSync(join(tmpdir(), "kustomize-"));
    try {
      const files = kubernetesFace.writer.write(exampleFabricStates.mesh!, { kind: "cluster" }).files;
      for (const file of files) {
        mkdirSync(join(directory, file.path, ".."), { recursive: true });
        writeFileSync(join(directory, file.path), file.content);
      }
      // Static pods of different nodes share names, so each node's manifests build on their own.
      const groups = new Map<string, string[]>();
      for (const file of files) {
        const group = file.path.startsWith("nodes/") ? file.path.split("/").slice(0, 2).join("/") : "api";
        groups.set(group, [...(groups.get(group) ?? []), file.path]);
      }
      for (const [group, paths] of groups) {
        writeFileSync(
          join(directory, "kustomization.yaml"),
          `resources:\n${paths.map((path) => `  - ${path}\n`).join("")}`,
        );
        const run = spawnSync("kubectl", ["kustomize", directory], {
          encoding: "utf8",
          env: { ...process.env, KUBECONFIG: "/dev/null" },
        });
        assert.equal(run.status, 0, `${group}: ${run.stderr}`);
        assert.equal(
          run.stdout.match(/^kind: /gm)?.length,
          paths.reduce(
            (count, path) => count + files.find((file) => file.path === path)!.content.split("---\n").length,
            0,
          ),
        );
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
