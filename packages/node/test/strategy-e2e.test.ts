// Goal: the strategy is committed state on a running mesh and operator shifts are signed
// (issue 16 parts 1, 3 and 5). `strategy apply` prints the leader's plan and changes nothing
// without --yes; with it every node runs the new strategy, and a node whose file differs says
// so in its status, metrics and log. A strategy that is not live, one whose voter target
// would leave the control plane below quorum, an unsigned shift while signatures are
// required, a forged signature and a replayed one are each refused with the rule named and
// nothing applied; a shift and a strategy swap signed with an OpenSSH key (directly, or by
// ssh-keygen -Y sign over the message the CLI prints) work end to end, and `chain verify`
// shows who signed them. SIGHUP re-reads a node's file and proposes it (refused and logged
// while signatures are required; committed once they are not).
// Method: a 3-node mesh of real processes on loopback; the CLI as an operator runs it; keys
// made by ssh-keygen and as a raw seed file.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { signOperatorCommand } from "@revoada/fabric-core/attest";
import {
  type FabricStrategy,
  loadBlake3,
  type NodeId,
  signerFromSeed,
} from "@revoada/fabric-core/vocabulary";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ChainHeadReply, StrategyReply } from "../src/api/strategy-routes.js";
import { openSshSeed } from "../src/cli/operator-key.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { findLeader, type MeshNodeHandle, stateOf, statusOf, waitFor } from "../src/mesh/observe.js";
import { calmStrategy } from "./calm-strategy.js";
import { runBuiltCli as runCli } from "./cli-harness.js";

const patienceMs = 60_000;

let local: LocalMesh;
let directory = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-strategy-"));
  local = await LocalMesh.start({ directory, nodes: 3, faceId: "pureraft", strategy: base });
});

after(async () => {
  await local?.stopAll(5000);
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

/** The founding strategy (test/calm-strategy.ts). */
const base: FabricStrategy = calmStrategy;

function variant(name: string, patch: (draft: FabricStrategy) => void): FabricStrategy {
  const draft = structuredClone(base);
  draft.name = name;
  patch(draft);
  return draft;
}

async function writeStrategy(name: string, strategy: unknown): Promise<string> {
  const path = join(directory, `${name}.yaml`);
  await writeFile(path, stringifyYaml(strategy));
  return path;
}

async function committedOn(node: MeshNodeHandle): Promise<string | null | undefined> {
  const reply = await node.client.get("/v1/strategy", StrategyReply).catch(() => undefined);
  return reply === undefined ? undefined : (reply.committed?.name ?? null);
}

async function everyNodeRuns(name: string): Promise<boolean> {
  const names = await Promise.all(local.nodes.map(committedOn));
  return names.every((committed) => committed === name);
}

test("strategy apply (plan, --yes), refusals, operator-signed shifts end to end, chain verify, SIGHUP", async () => {
  const dir = ["--dir", directory];
  const [n1, n2, n3] = local.nodes as [MeshNodeHandle, MeshNodeHandle, MeshNodeHandle];
  const formed = await waitFor(async () => {
    const leader = await findLeader(local.nodes);
    const state = leader === undefined ? undefined : await stateOf(leader.node);
    const voters = leader === undefined ? 0 : ((await statusOf(leader.node))?.raft.voters.length ?? 0);
    return state !== undefined && voters === 3 && (await everyNodeRuns(base.name)) ? true : undefined;
  }, patienceMs);
  assert.ok(formed, "the mesh formed and every node runs the founding strategy");

  // Operator keys: an OpenSSH ed25519 key (ssh-keygen) and a raw 32-byte seed (a stranger's).
  const sshKey = join(directory, "operator_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "operator@test", "-f", sshKey]);
  const strangerSeed = randomBytes(32);
  const strangerKey = join(directory, "stranger.seed");
  await writeFile(strangerKey, strangerSeed, { mode: 0o600 });
  const printed = await runCli(["strategy", "operator-key", sshKey]);
  assert.equal(printed.code, 0, printed.stderr);
  const operatorPublic = printed.stdout.trim();
  assert.match(operatorPublic, /^[0-9a-f]{64}$/);
  const sshPublic = (await readFile(`${sshKey}.pub`, "utf8")).split(" ")[1]!;
  assert.ok(
    Buffer.from(sshPublic, "base64").subarray(-32).equals(Buffer.from(operatorPublic, "hex")),
    "the public key printed is the one ssh-keygen wrote",
  );

  // 1. The plan without --yes changes nothing; with --yes every node runs the new strategy.
  // The operator is listed as its OpenSSH public key line (the .pub file), as an admin would.
  const sshPublicLine = (await readFile(`${sshKey}.pub`, "utf8")).trim();
  const steady = variant("steady-state", (s) => {
    s.attestation.require_operator_signature = true;
    s.attestation.operators = [sshPublicLine];
  });
  const steadyFile = await writeStrategy("steady", steady);
  const plan = await runCli(["strategy", "apply", steadyFile, ...dir]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /strategy: calm-3node \([0-9a-f]{12}\) -> steady-state/);
  assert.match(plan.stdout, /~ attestation\.require_operator_signature: false -> true/);
  assert.match(plan.stdout, /voters: 3 now \(\d alive\); target (\d) -> \1 /);
  assert.match(plan.stdout, /plan only: nothing changed/);
  assert.equal(await committedOn(n2), base.name, "nothing applied without --yes");
  const applied = await runCli(["strategy", "apply", steadyFile, "--yes", ...dir]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /applied: strategy steady-state committed at index \d+/);
  assert.ok(
    await waitFor(async () => ((await everyNodeRuns("steady-state")) ? true : undefined), patienceMs),
  );
  // Every node's file still says calm-3node: status, metrics and log say so.
  const status = await statusOf(n3);
  assert.equal(status?.strategy?.agrees, false);
  assert.equal(status?.strategy?.local.name, base.name);
  const metrics = await n3.client.text("/metrics");
  assert.match(metrics, /revoada_strategy_info\{[^}]*name="steady-state"[^}]*\} 1/);
  assert.match(metrics, /revoada_strategy_file_agrees 0/);
  const shown = await runCli(["strategy", "show", ...dir, "-o", "json"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).committed.name, "steady-state");

  // 2. Bad strategies are refused, nothing applied.
  const even = await writeStrategy(
    "even",
    variant("even", (s) => {
      s.consensus.kind.quorum_size = 4;
    }),
  );
  const evenRun = await runCli(["strategy", "apply", even, "--yes", ...dir]);
  assert.equal(evenRun.code, 3, evenRun.stderr);
  assert.match(evenRun.stderr, /even\.yaml:\d+:\d+: consensus\.kind\.quorum_size: even-quorum/);
  const leader = await findLeader(local.nodes);
  assert.ok(leader !== undefined);
  const notLive = await leader.node.client.fetch("POST", "/v1/strategy", {
    strategy: variant("zero", (s) => {
      s.reconciliation.millis = 0;
    }),
    yes: true,
  });
  assert.equal(notLive.status, 409);
  assert.match(
    ((await notLive.json()) as { error: string }).error,
    /not-live: reconciliation\.millis: zero-reconciliation-cadence/,
  );
  const seven = await writeStrategy("seven", {
    ...steady,
    name: "seven",
    consensus: { kind: { ...steady.consensus.kind, quorum_size: 7 } },
  });
  const sevenRun = await runCli(["strategy", "apply", seven, "--yes", "--sign-with", sshKey, ...dir]);
  assert.equal(sevenRun.code, 1, sevenRun.stderr);
  assert.match(
    sevenRun.stderr,
    /below-quorum: quorum_size 7 needs 4 voters alive for a quorum, but only \d nodes? (is|are) alive/,
  );
  const back = await writeStrategy("back", base);
  const unsignedSwap = await runCli(["strategy", "apply", back, "--yes", ...dir]);
  assert.equal(unsignedSwap.code, 1);
  assert.match(unsignedSwap.stderr, /operator-signature-missing/);
  assert.ok(await everyNodeRuns("steady-state"), "no refused strategy was applied");

  // 3. Operator shifts: unsigned and forged are refused; signed works; a replay is refused.
  const unsigned = await runCli(["shift", "quarantine", n3.name, ...dir]);
  assert.equal(unsigned.code, 1);
  assert.match(unsigned.stderr, /operator-signature-missing: require_operator_signature is on/);
  const forged = await runCli(["shift", "quarantine", n3.name, "--sign-with", strangerKey, ...dir]);
  assert.equal(forged.code, 1);
  assert.match(forged.stderr, /operator-signature-invalid/);
  const n3Id = status?.id as NodeId | undefined;
  assert.ok(n3Id !== undefined);
  assert.deepEqual((await stateOf(n1))?.nodes[n3Id]?.roles.includes("quarantined"), false, "nothing applied");
  const signed = await runCli(["shift", "quarantine", n3.name, "--force", "--sign-with", sshKey, ...dir]);
  assert.equal(signed.code, 0, signed.stderr);
  assert.ok(
    await waitFor(
      async () => ((await stateOf(n1))?.nodes[n3Id]?.roles.includes("quarantined") ? true : undefined),
      patienceMs,
    ),
    "the signed quarantine applied on every node",
  );
  // The restore, signed in the test as the CLI does, then sent again: the second is a replay.
  const current = (await findLeader(local.nodes))!.node;
  const head = await current.client.get("/v1/chain/head", ChainHeadReply);
  const operator = signerFromSeed(await seedOf(sshKey));
  const restore = { type: "restore" as const, node: n3Id };
  const body = {
    action: "restore",
    node: n3Id,
    force: true,
    operator_after: head.sequence,
    operator_signature: signOperatorCommand(restore, head, operator),
  };
  const first = await current.client.fetch("POST", "/v1/shifts", body);
  assert.equal(first.status, 200, await first.clone().text());
  const replay = await current.client.fetch("POST", "/v1/shifts", body);
  assert.equal(replay.status, 409);
  assert.match(((await replay.json()) as { error: string }).error, /operator-signature-replayed/);

  // 3b. A detached SSHSIG by ssh-keygen over the message the CLI prints: a wrong namespace is
  // refused by the CLI, and by every node when sent anyway; a stranger's key is refused by the
  // nodes; the operator's commits; the same signature again is a replay.
  const printedMessage = await runCli(["shift", "quarantine", n3.name, "--print-message", ...dir]);
  assert.equal(printedMessage.code, 0, printedMessage.stderr);
  assert.match(printedMessage.stdout, /^revoada\/operator-command\/v2\n\{"after":\d+,"command":\{/);
  /** The printed message in a file of its own, signed by `key` for `namespace`: the .sig path. */
  const sshSigned = async (key: string, namespace: string, name: string): Promise<string> => {
    const file = join(directory, name);
    await writeFile(file, printedMessage.stdout);
    execFileSync("ssh-keygen", ["-q", "-Y", "sign", "-n", namespace, "-f", key, file], { stdio: "pipe" });
    return `${file}.sig`;
  };
  const quarantineWith = (sigFile: string) =>
    runCli(["shift", "quarantine", n3.name, "--force", "--sshsig", sigFile, ...dir]);
  const otherSig = await sshSigned(sshKey, "file", "other-namespace.msg");
  const wrongNamespace = await quarantineWith(otherSig);
  assert.equal(wrongNamespace.code, 3, wrongNamespace.stderr);
  assert.match(
    wrongNamespace.stderr,
    /other-namespace\.msg\.sig: SSH signature: signed for the namespace "file"; .* -n revoada-shift/,
  );
  // The raw signature is the blob's last 64 bytes (PROTOCOL.sshsig: string signature last).
  const otherArmor = (await readFile(otherSig, "utf8")).split("\n").slice(1, -2).join("");
  const otherSignature = Buffer.from(otherArmor, "base64").subarray(-64).toString("hex");
  const after = Number(/"after":(\d+)/.exec(printedMessage.stdout)?.[1]);
  const leaderNow = (await findLeader(local.nodes))!.node;
  const sentAnyway = await leaderNow.client.fetch("POST", "/v1/shifts", {
    action: "quarantine",
    node: n3Id,
    force: true,
    operator_after: after,
    operator_signature: otherSignature,
  });
  assert.equal(sentAnyway.status, 409);
  assert.match(((await sentAnyway.json()) as { error: string }).error, /operator-signature-invalid/);
  const strangerSsh = join(directory, "stranger_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "stranger@test", "-f", strangerSsh]);
  const strangerRun = await quarantineWith(await sshSigned(strangerSsh, "revoada-shift", "stranger.msg"));
  assert.equal(strangerRun.code, 1, strangerRun.stderr);
  assert.match(strangerRun.stderr, /operator-signature-invalid/);
  assert.deepEqual((await stateOf(n1))?.nodes[n3Id]?.roles.includes("quarantined"), false, "nothing applied");
  const operatorSig = await sshSigned(sshKey, "revoada-shift", "quarantine.msg");
  const sshsigned = await quarantineWith(operatorSig);
  assert.equal(sshsigned.code, 0, sshsigned.stderr);
  assert.ok(
    await waitFor(
      async () => ((await stateOf(n1))?.nodes[n3Id]?.roles.includes("quarantined") ? true : undefined),
      patienceMs,
    ),
    "the SSHSIG-signed quarantine applied on every node",
  );
  const sshReplay = await quarantineWith(operatorSig);
  assert.equal(sshReplay.code, 1);
  assert.match(sshReplay.stderr, /operator-signature-replayed/);
  const restoreAgain = await runCli(["shift", "restore", n3.name, "--force", "--sign-with", sshKey, ...dir]);
  assert.equal(restoreAgain.code, 0, restoreAgain.stderr);

  // 4. chain verify names the operator who signed each operator block, and the strategies.
  const verify = await runCli(["chain", "verify", "--node", n2.client.address, "--mode", "every-block"]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, new RegExp(`quarantine [0-9a-f]+ signed by operator ${operatorPublic}`));
  assert.match(verify.stdout, new RegExp(`restore [0-9a-f]+ signed by operator ${operatorPublic}`));
  assert.match(verify.stdout, /STRATEGIES\n {2}block \d+: calm-3node .*\n {2}block \d+: steady-state/);

  // 4b. strategy apply signed by ssh-keygen over the message it prints, in the shift's namespace
  // (the message names the command kind): another namespace and a message printed for another
  // strategy are refused by the CLI, a stranger's key by the nodes; the operator's commits.
  const sshSwapFile = await writeStrategy("steady-ssh", { ...steady, name: "steady-ssh" });
  const printAndSend = await runCli(["strategy", "apply", sshSwapFile, "--print-message", "--yes", ...dir]);
  assert.equal(printAndSend.code, 2, printAndSend.stderr);
  const twoWays = await runCli([
    "strategy",
    "apply",
    sshSwapFile,
    "--sign-with",
    sshKey,
    "--sshsig",
    "x.sig",
    ...dir,
  ]);
  assert.equal(twoWays.code, 2, twoWays.stderr);
  assert.match(twoWays.stderr, /--sign-with, --sshsig and --print-message exclude each other/);
  const swapMessage = await runCli(["strategy", "apply", sshSwapFile, "--print-message", ...dir]);
  assert.equal(swapMessage.code, 0, swapMessage.stderr);
  assert.match(
    swapMessage.stdout,
    /^revoada\/operator-command\/v2\n\{"after":\d+,"command":\{[^\n]*"type":"strategy"/,
  );
  const swapSigned = async (key: string, namespace: string, name: string): Promise<string> => {
    const file = join(directory, name);
    await writeFile(file, swapMessage.stdout);
    execFileSync("ssh-keygen", ["-q", "-Y", "sign", "-n", namespace, "-f", key, file], { stdio: "pipe" });
    return `${file}.sig`;
  };
  const swapWith = (sigFile: string, file = sshSwapFile) =>
    runCli(["strategy", "apply", file, "--yes", "--sshsig", sigFile, ...dir]);
  const swapOtherNamespace = await swapWith(await swapSigned(sshKey, "revoada-strategy", "swap-ns.msg"));
  assert.equal(swapOtherNamespace.code, 3, swapOtherNamespace.stderr);
  assert.match(swapOtherNamespace.stderr, /signed for the namespace "revoada-strategy"; .* -n revoada-shift/);
  const swapOperatorSig = await swapSigned(sshKey, "revoada-shift", "swap.msg");
  const otherStrategy = await swapWith(swapOperatorSig, back);
  assert.equal(otherStrategy.code, 3, otherStrategy.stderr);
  assert.match(otherStrategy.stderr, /swap\.msg: the message is not this strategy swap's/);
  const strangerSwap = await swapWith(await swapSigned(strangerSsh, "revoada-shift", "swap-stranger.msg"));
  assert.equal(strangerSwap.code, 1, strangerSwap.stderr);
  assert.match(strangerSwap.stderr, /operator-signature-invalid/);
  assert.ok(await everyNodeRuns("steady-state"), "no refused swap was applied");
  const sshSwap = await swapWith(swapOperatorSig);
  assert.equal(sshSwap.code, 0, sshSwap.stderr);
  assert.match(sshSwap.stdout, /applied: strategy steady-ssh committed at index \d+/);
  assert.ok(await waitFor(async () => ((await everyNodeRuns("steady-ssh")) ? true : undefined), patienceMs));

  // 5. SIGHUP: node-2's file now says `drain-aggressive`; unsigned, it is refused and logged.
  const config = parseYaml(await readFile(local.mesh.nodes[1]!.config, "utf8")) as {
    strategy: FabricStrategy;
  };
  config.strategy = variant("drain-aggressive", (s) => {
    s.reconciliation.millis = 1200;
  });
  await writeFile(local.mesh.nodes[1]!.config, stringifyYaml(config));
  local.signal(n2.name, "SIGHUP");
  const logOf = () => readFile(join(directory, n2.name, "node.log"), "utf8");
  assert.ok(
    await waitFor(
      async () => ((await logOf()).includes("strategy reload refused") ? true : undefined),
      patienceMs,
    ),
    "the refused reload is logged",
  );
  assert.match(await logOf(), /operator-signature-missing/);
  assert.ok(await everyNodeRuns("steady-ssh"));
  // A signed swap back to a strategy without required signatures; then SIGHUP commits.
  const swapBack = await runCli(["strategy", "apply", back, "--yes", "--sign-with", sshKey, ...dir]);
  assert.equal(swapBack.code, 0, swapBack.stderr);
  assert.ok(await waitFor(async () => ((await everyNodeRuns(base.name)) ? true : undefined), patienceMs));
  local.signal(n2.name, "SIGHUP");
  assert.ok(
    await waitFor(async () => ((await everyNodeRuns("drain-aggressive")) ? true : undefined), patienceMs),
    "SIGHUP proposed node-2's file and every node runs it",
  );
  assert.equal((await statusOf(n2))?.strategy?.agrees, true, "node-2's file is the committed strategy");
  assert.equal((await statusOf(n1))?.strategy?.agrees, false, "node-1's file is not");
  assert.match(
    await logOf(),
    /"strategy committed".*drain-aggressive|drain-aggressive.*"strategy committed"/,
  );
});

/** The seed of an unencrypted OpenSSH ed25519 key, through the CLI's own reader. */
async function seedOf(path: string): Promise<Uint8Array> {
  return openSshSeed(await readFile(path, "utf8"), path);
}
