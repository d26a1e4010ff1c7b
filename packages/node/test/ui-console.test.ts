// Goal: the web console every node serves at /ui shows a real mesh and stays live, as an
// operator sees it in a browser: every view renders what the API says (mesh, Raft, the
// attested shift history with its verification, policy decisions, workloads, content); a
// kill -9 of the Raft leader heals on the open page without a reload (pushed over one
// /v1/events stream); a shift made from the page is judged by the policy (refused without
// force, with the rule and the reason shown), and commits with force, its block in the
// attested history and the workload it starves shown as unplaced.
// Method: a 5-node LocalMesh of real processes and Debian's chromium driven by
// playwright-core (no browser download). Conditions are waited on, never fixed timings.
// Screenshots of each view go to packages/node/test-output/ui/ (gitignored). Chromium is
// required: scripts/setup-system.sh installs it, and this test fails (never skips) without it.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import type { BrowserContext, Page } from "playwright-core";
import { z } from "zod";
import { CommittedReply } from "../src/api/schemas.js";
import { sampleWorkload } from "../src/cli/commands/demo.js";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import {
  chainOf,
  etcdHolders,
  findLeader,
  type MeshNodeHandle,
  postToLeader as postToLeaderOf,
  stateOf,
  waitFor,
} from "../src/mesh/observe.js";
import { launchBrowser } from "./browser-harness.js";

const patienceMs = 90_000;
const screenshots = fileURLToPath(new URL("../test-output/ui/", import.meta.url));

let local: LocalMesh;
let directory = "";
let context: BrowserContext;

function apiOf(name: string): string {
  const entry = local.mesh.nodes.find((node) => node.name === name);
  assert.ok(entry, `${name} is in mesh.json`);
  return entry.api;
}

async function healthy(members: readonly MeshNodeHandle[]) {
  return waitFor(
    async () => {
      const leader = await findLeader(members);
      if (leader === undefined) return undefined;
      const state = await stateOf(leader.node);
      if (state === undefined || etcdHolders(state).length !== 3) return undefined;
      return { leader, state };
    },
    patienceMs,
    100,
  );
}

async function postToLeader<T>(path: string, body: unknown, reply: z.ZodType<T>): Promise<T> {
  return (await postToLeaderOf(local.running(), path, body, reply)).value;
}

async function openConsole(name: string): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(patienceMs);
  await page.goto(`http://${apiOf(name)}/ui`);
  await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
  return page;
}

async function showView(page: Page, tab: string, testId: string): Promise<void> {
  await page.getByRole("tab", { name: tab }).click();
  await page.getByTestId(testId).waitFor();
}

/** The leader the page names, once the API names the same one (leadership may move at formation). */
async function agreedLeader(page: Page, testId: string): Promise<string> {
  const agreed = await waitFor(
    async () => {
      const shown = (await page.getByTestId(testId).textContent()) ?? "";
      const leader = await findLeader(local.running());
      return leader !== undefined && shown.split(" ")[0] === leader.node.name ? leader.node.name : undefined;
    },
    patienceMs,
    200,
  );
  assert.ok(agreed, `the page's ${testId} names the leader the API names`);
  return agreed;
}

async function enterToken(page: Page): Promise<void> {
  await page.getByTestId("token").fill(local.token);
  await page.getByTestId("token-set").click();
  await page.getByTestId("token-state").filter({ hasText: "token set" }).waitFor();
}

/**
 * Proposes `quarantine node` from the page's form and returns the result line. When the
 * page's node is no longer the leader (leadership moves under load), the page says so with a
 * link to the leader's console: follow it, enter the token again (it lives in the page only)
 * and propose there.
 */
async function proposeQuarantine(
  page: Page,
  node: string,
  force: boolean,
): Promise<{ page: Page; text: string }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    await showView(page, "Shifts", "shift-form");
    await page.getByTestId("shift-action").selectOption("quarantine");
    await page.getByTestId("shift-node").selectOption(node);
    await page.getByTestId("shift-force").setChecked(force);
    await page.getByTestId("shift-submit").click();
    const settled = await page.waitForFunction(() => {
      const text = document.querySelector('[data-testid="shift-result"]')?.textContent ?? "";
      return text !== "" && !text.startsWith("proposing") ? text : null;
    });
    const text = String(await settled.jsonValue());
    if (!text.includes("not the leader")) return { page, text };
    const link = page.getByTestId("shift-result").locator("a");
    if ((await link.count()) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    await link.click();
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    await enterToken(page);
  }
  assert.fail("no leader accepted the shift in five attempts");
}

async function snap(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

before(async () => {
  await loadBlake3();
  await mkdir(screenshots, { recursive: true });
  directory = await mkdtemp(join(tmpdir(), "revoada-ui-"));
  local = await LocalMesh.start({ directory, nodes: 5, faceId: "kubernetes" });
  context = await launchBrowser(directory);
});

afterEach(async () => {
  // A page still open here belongs to a failed test: keep what it showed.
  for (const [index, page] of (context?.pages() ?? []).entries()) {
    await page
      .screenshot({ path: join(screenshots, `failed-${Date.now()}-${index}.png`) })
      .catch(() => undefined);
    await page.close();
  }
});

after(async () => {
  await context?.close();
  await local?.stopAll(5000);
  await rm(directory, { recursive: true, force: true });
});

describe("the web console on a real 5-node mesh", () => {
  test("serves the page and its script with a strict content security policy", async () => {
    const formed = await healthy(local.nodes);
    assert.ok(formed, "the mesh formed a control plane of three");
    const page = await fetch(`http://${apiOf(formed.leader.node.name)}/ui`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/ui\/console.js">/);
    const script = await fetch(`http://${apiOf(formed.leader.node.name)}/ui/console.js`);
    assert.equal(script.status, 200);
    assert.match(await script.text(), /fetch\("\/v1\/events", \{ headers, signal/);
    const missing = await fetch(`http://${apiOf(formed.leader.node.name)}/ui/secrets.txt`);
    assert.equal(missing.status, 404, "only the console's own files are served");
  });

  test("every view shows the mesh as the API reports it, and a screenshot of each is written", async () => {
    const formed = await healthy(local.nodes);
    assert.ok(formed);
    await postToLeader("/v1/workloads", sampleWorkload, CommittedReply);
    const placed = await waitFor(async () => {
      const state = await stateOf(formed.leader.node);
      return state?.placements["default/web"]?.length === 2 ? state : undefined;
    }, patienceMs);
    assert.ok(placed, "the workload was placed");
    const blob = await postToLeader(
      "/v1/blobs",
      { data_base64: Buffer.from("console blob").toString("base64") },
      z.object({ hash: z.string(), size: z.number() }),
    );
    const page = await openConsole(formed.leader.node.name);

    await page.getByTestId("mesh-alive").filter({ hasText: "5 / 5" }).waitFor();
    await page.getByTestId("mesh-voters").filter({ hasText: "3" }).waitFor();
    await agreedLeader(page, "mesh-leader");
    for (const node of local.nodes) {
      assert.equal(await page.getByTestId(`mesh-status-${node.name}`).textContent(), "alive");
    }
    await snap(page, "mesh");

    await showView(page, "Raft", "raft-table");
    const leaderName = await agreedLeader(page, "raft-leader");
    assert.equal(await page.getByTestId(`raft-state-${leaderName}`).textContent(), "leader");
    const followers = await page.locator('[data-testid^="raft-state-"]').allTextContents();
    assert.deepEqual(
      followers.filter((state) => state === "follower").length,
      4,
      "the four other nodes answer as followers",
    );
    await snap(page, "raft");

    await showView(page, "Shifts", "shift-table");
    await page.getByTestId("chain-verdict").filter({ hasText: "verified" }).waitFor();
    const exported = await waitFor(async () => {
      const text = await chainOf(formed.leader.node);
      const blocks =
        text?.split("\n").filter((line) => line !== "" && JSON.parse(line).kind === "block").length ?? 0;
      const shown = Number(await page.getByTestId("chain-height").textContent());
      return blocks > 0 && blocks === shown ? blocks : undefined;
    }, patienceMs);
    assert.ok(exported, "the page's chain height is the exported chain's block count");
    assert.equal(await page.getByTestId("shift-table").locator("tbody tr").count(), exported);
    await snap(page, "shifts");

    await showView(page, "Policy", "notes-table");
    await snap(page, "policy");

    await showView(page, "Workloads", "workload-table");
    assert.equal(await page.getByTestId("placed-default/web").textContent(), "2 of 2 placed");
    await snap(page, "workloads");

    await showView(page, "Content", "blob-table");
    await page
      .getByTestId("blob-table")
      .filter({ hasText: blob.hash.slice(0, 24) })
      .waitFor();
    await snap(page, "content");
    await page.close();
  });

  test("a kill -9 of the leader heals on the open page, pushed live without a reload", async () => {
    const formed = await healthy(local.nodes);
    assert.ok(formed);
    const watcher = local.nodes.find((node) => node.name !== formed.leader.node.name)!;
    const page = await openConsole(watcher.name);
    await showView(page, "Raft", "raft-table");
    const leaderName = await agreedLeader(page, "raft-leader");
    assert.notEqual(leaderName, watcher.name, "the watching page is not on the leader's node");
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    await local.kill(leaderName);
    await page.getByTestId(`raft-unreachable-${leaderName}`).waitFor();
    await page.waitForFunction(
      (old) => {
        const text = document.querySelector('[data-testid="raft-leader"]')?.textContent ?? "";
        return text !== "" && text !== "no leader" && text !== old;
      },
      leaderName,
      { timeout: patienceMs },
    );
    await snap(page, "raft-after-leader-kill");
    await showView(page, "Mesh", "mesh-table");
    await page.getByTestId(`mesh-status-${leaderName}`).filter({ hasText: "dead" }).waitFor();
    await page.getByTestId("mesh-voters").filter({ hasText: "3" }).waitFor();
    await showView(page, "Shifts", "shift-table");
    await page.getByTestId("shift-table").locator("tr", { hasText: leaderName }).first().waitFor();
    await snap(page, "shifts-after-leader-kill");
    const stillSamePage = await page.evaluate(
      () => (window as unknown as { notReloaded?: boolean }).notReloaded,
    );
    assert.equal(stillSamePage, true, "the page was updated in place, not reloaded");

    const healed = await healthy(local.running());
    assert.ok(healed, "the mesh healed");
    await showView(page, "Raft", "raft-table");
    const newLeader = await agreedLeader(page, "raft-leader");
    assert.notEqual(newLeader, leaderName, "the page names the new leader");
    assert.ok(!etcdHolders(healed.state).some((id) => healed.state.nodes[id]?.name === leaderName));
    await page.close();
  });

  test("a shift from the page is judged by the policy: the last worker is refused with its reason, forced with force", async () => {
    // The README's situation: one node killed, one worker left. Under load the policy's
    // damper may quarantine a worker that flapped (a flapping node takes no workload anyway),
    // even between this check and the shift: then wait for the shape again and retry.
    const lastWorker = async () =>
      waitFor(async () => {
        const shape = await healthy(local.running());
        if (shape === undefined) return undefined;
        const hosts = Object.values(shape.state.nodes).filter(
          (node) => local.isRunning(node.name) && node.roles.length === 1 && node.roles[0] === "worker",
        );
        return hosts.length === 1 ? { ...shape, worker: hosts[0]! } : undefined;
      }, patienceMs);
    const formed = await lastWorker();
    assert.ok(formed, "after the leader kill one running worker is left (the README's situation)");
    let worker = formed.worker;
    let page = await openConsole(formed.leader.node.name);
    await showView(page, "Shifts", "shift-form");
    await page.getByTestId("shift-action").selectOption("quarantine");
    await page.getByTestId("shift-node").selectOption(worker.name);
    await page.getByTestId("shift-submit").click();
    await page.getByTestId("shift-result").filter({ hasText: "enter the API token" }).waitFor();

    await enterToken(page);
    assert.equal(await page.getByTestId("token").inputValue(), "", "the token is not left in the field");
    assert.ok(!page.url().includes(local.token), "the token is never in the URL");

    let refused = await proposeQuarantine(page, worker.name, false);
    for (let retry = 0; retry < 3 && /would change nothing/.test(refused.text); retry += 1) {
      const again = await lastWorker();
      assert.ok(again, "one running worker is left again");
      worker = again.worker;
      refused = await proposeQuarantine(refused.page, worker.name, false);
    }
    page = refused.page;
    assert.match(refused.text, /refused/);
    assert.match(refused.text, /no-workload-host/, "the refusal names the rule it breaks");
    assert.match(refused.text, /no node able to take a workload/, "the refusal says why");
    assert.match(refused.text, /force/, "the refusal says force would override it");
    await snap(page, "shift-refused");

    await showView(page, "Policy", "decision-table");
    await page
      .getByTestId("decision-table")
      .locator("tr", { hasText: "refused" })
      .filter({ hasText: "no-workload-host" })
      .first()
      .waitFor();
    await snap(page, "policy-refusal");

    const forced = await proposeQuarantine(page, worker.name, true);
    page = forced.page;
    assert.match(forced.text, /committed at index/);
    await page
      .getByTestId("shift-table")
      .locator("tr", { hasText: "quarantine" })
      .filter({ hasText: worker.name })
      .filter({ hasText: "forced" })
      .first()
      .waitFor();
    await page.getByTestId("chain-verdict").filter({ hasText: "verified" }).waitFor();
    await snap(page, "shift-forced");
    await showView(page, "Workloads", "workload-table");
    await page.getByTestId("unplaced-alert").waitFor();
    await snap(page, "workloads-unplaced");
    await page.close();
  });
});
