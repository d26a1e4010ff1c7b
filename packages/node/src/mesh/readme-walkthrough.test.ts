// Goal: the README's "Running a mesh" walk-through does what the README says, in order, as a
// newcomer types it: `up` forms a mesh, `status` shows it, `kill node-1` is healed, the
// quarantine of node-4 is refused by the policy with its reason (it would leave no node for
// workloads), `strategy apply` shows a swap's plan and changes nothing without --yes,
// `workload apply` places the workload (or fails naming the constraint), the chain verifies,
// and `keys rotate` rotates the keys on the running mesh; the walk-through ends with a
// healthy mesh and a placed workload.
// Method: the commands are read from README.md itself (so the README cannot drift from this
// test), `pnpm revoada` is run as what it is (`node packages/node/bin/revoada.js`, the built
// CLI) from the repository root, `./mesh` becomes a temporary directory and PORT the API port
// of a live node from mesh.json. Conditions are waited on, never fixed timings.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { FabricState } from "@revoada/fabric-core/vocabulary";
import { NodeStatusReply } from "../api/schemas.js";
import { ApiClient } from "./api-client.js";
import { readMeshFile } from "./mesh-file.js";
import { etcdHolders, waitFor } from "./observe.js";

const repositoryRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const cli = join(repositoryRoot, "packages/node/bin/revoada.js");
const patienceMs = 90_000;

let directory = "";
let up: ChildProcess | undefined;

after(async () => {
  if (up !== undefined && up.exitCode === null) {
    up.kill("SIGTERM");
    await new Promise((resolve) => up?.once("exit", resolve));
  }
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repositoryRoot, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

/** The `pnpm revoada ...` lines of the README's "Running a mesh" block, comments dropped. */
async function walkThrough(): Promise<string[][]> {
  const readme = await readFile(join(repositoryRoot, "README.md"), "utf8");
  const section = readme.split("## Running a mesh")[1];
  assert.ok(section, "the README has a 'Running a mesh' section");
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, "the section opens with a sh block");
  return block
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => line.startsWith("pnpm revoada "))
    .map((line) => line.slice("pnpm revoada ".length).split(/\s+/));
}

async function meshClients(): Promise<{ name: string; client: ApiClient }[]> {
  const mesh = await readMeshFile(directory);
  assert.ok(mesh.ok, "mesh.json parses");
  const token = (await readFile(mesh.value.token_file, "utf8")).trim();
  return mesh.value.nodes.map((node) => ({ name: node.name, client: new ApiClient(node.api, token, 2000) }));
}

/** A leader whose committed state has three etcd holders, all of them running. */
async function healthyState(): Promise<{ state: FabricState; api: string } | undefined> {
  for (const { client } of await meshClients()) {
    const status = await client.get("/v1/status", NodeStatusReply).catch(() => undefined);
    if (status?.raft.state !== "leader") continue;
    const state = await client.get("/v1/state", FabricState).catch(() => undefined);
    if (state !== undefined && etcdHolders(state).length === 3) return { state, api: client.address };
  }
  return undefined;
}

test("the README's walk-through, run in order, ends with a healthy mesh and a placed workload", async () => {
  directory = await mkdtemp(join(tmpdir(), "revoada-readme-"));
  const commands = (await walkThrough()).map((args) =>
    args.map((arg) => (arg === "./mesh" ? directory : arg)),
  );
  assert.deepEqual(
    commands.map((args) => args.slice(0, 2).join(" ")),
    [
      `up --nodes`,
      `status --dir`,
      `kill node-1`,
      `shift quarantine`,
      `strategy apply`,
      `workload apply`,
      `workload ls`,
      `status --dir`,
      `chain verify`,
      `keys rotate`,
    ],
    "the walk-through this test knows",
  );
  let killed = "";
  for (const args of commands) {
    const [command, subcommand] = args;
    if (command === "up") {
      up = spawn(process.execPath, [cli, ...args, "--no-view"], { cwd: repositoryRoot, stdio: "ignore" });
      const formed = await waitFor(
        async () => {
          const mesh = await readMeshFile(directory).catch(() => undefined);
          return mesh?.ok === true ? healthyState() : undefined;
        },
        patienceMs,
        200,
      );
      assert.ok(formed, "up formed a control plane of three");
      const everyone = await waitFor(
        async () => {
          const found = await healthyState();
          return found !== undefined && Object.keys(found.state.nodes).length === 5 ? found : undefined;
        },
        patienceMs,
        200,
      );
      assert.ok(everyone, "all five nodes joined");
      continue;
    }
    const healthy = args.some((arg) => arg.includes("PORT")) ? await healthyState() : undefined;
    const args_ = args.map((arg) =>
      healthy === undefined ? arg : arg.replace("127.0.0.1:PORT", healthy.api),
    );
    const result = await run(args_);
    const said = `revoada ${args_.join(" ")}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
    if (command === "kill") {
      assert.equal(result.code, 0, said);
      killed = subcommand ?? "";
      assert.match(result.stdout, /killed node-1 \(pid \d+\)/, said);
      const healed = await waitFor(
        async () => {
          const found = await healthyState();
          if (found === undefined) return undefined;
          const holders = etcdHolders(found.state).map((id) => found.state.nodes[id]?.name);
          return holders.includes(killed) ? undefined : found;
        },
        patienceMs,
        200,
      );
      assert.ok(healed, "the mesh healed: three etcd holders, none of them the killed node");
      const mesh = await readMeshFile(directory);
      assert.ok(mesh.ok);
      assert.equal(mesh.value.nodes.find((node) => node.name === killed)?.pid, null, "mesh.json: no pid");
    } else if (command === "shift") {
      assert.equal(result.code, 1, `the quarantine is refused without --force\n${said}`);
      assert.match(result.stderr, /refused/, said);
      assert.match(result.stderr, /no-workload-host|control-plane-target/, said);
      assert.match(result.stderr, /it would leave/, "the refusal says why");
    } else if (command === "strategy") {
      assert.equal(result.code, 0, said);
      assert.match(result.stdout, /plan only: nothing changed; run again with --yes to apply/, said);
    } else if (command === "workload" && subcommand === "apply") {
      assert.equal(result.code, 0, said);
      assert.match(result.stdout, /default\/web/, said);
      assert.match(result.stdout, /node-\d/, `apply names where the replicas run\n${said}`);
    } else if (command === "workload" && subcommand === "ls") {
      assert.equal(result.code, 0, said);
      assert.match(result.stdout, /default\/web .* 2\/2 /, said);
    } else {
      assert.equal(result.code, 0, said);
      assert.doesNotMatch(result.stdout, /UNPLACED/, said);
    }
  }
  const final = await healthyState();
  assert.ok(final, "the walk-through ends with a healthy mesh");
  assert.equal(final.state.placements["default/web"]?.length, 2, "and a placed workload");

  // Past the README: force the quarantine of the last worker. Nothing can be placed now, and
  // both `workload apply` (exit 1) and `status` say so, naming the constraint.
  const worker = Object.values(final.state.nodes).find(
    (node) => node.name !== killed && node.roles.length === 1 && node.roles[0] === "worker",
  );
  assert.ok(worker, "a worker is left");
  const forced = await run(["shift", "quarantine", worker.name, "--force", "--dir", directory]);
  assert.equal(forced.code, 0, forced.stderr);
  const second = join(directory, "api.yaml");
  await writeFile(
    second,
    (await readFile(join(repositoryRoot, "examples/workload.yaml"), "utf8")).replace(
      "name: web",
      "name: api",
    ),
  );
  const apply = await run(["workload", "apply", second, "--dir", directory]);
  assert.equal(apply.code, 1, `apply fails when nothing can be placed\n${apply.stdout}${apply.stderr}`);
  assert.match(apply.stderr, /default\/api is committed \(index \d+\) but cannot be placed/);
  assert.match(apply.stderr, /control plane \(tolerate_control_plane is false\)/, "it names the constraint");
  const status = await waitFor(
    async () => {
      const shown = await run(["status", "--dir", directory]);
      return /default\/web: 0 of 2 replicas placed/.test(shown.stdout) ? shown : undefined;
    },
    patienceMs,
    500,
  );
  assert.ok(status, "status shows the unplaced replicas");
  assert.match(status.stdout, /UNPLACED REPLICAS/);
  assert.match(
    status.stdout,
    /default\/api: 0 of 2 replicas placed \(default\/api: only 0 of 2 replicas fit: of 5 nodes/,
  );
});
