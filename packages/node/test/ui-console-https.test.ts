// Goal: the web console reads a cluster whose API is HTTPS with closed reads (issue 16 part
// 4): without a token the page says so and shows nothing of the mesh (the event stream is
// refused); with the read token it goes live and shows every member and the Raft view, never
// putting the token in a URL; the read token cannot act (the shift form says so); a wrong
// token is refused; Forget closes the stream again.
// Method: a 3-node LocalMesh of real processes with the API as a cluster of separate hosts
// has it (HTTPS under the cluster CA, reads behind a token, a read token), on loopback; Debian's
// chromium through playwright-core (test/browser-harness.ts). The browser does not hold the
// cluster CA, so certificate errors are ignored; the TLS is real.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadBlake3 } from "@revoada/fabric-core/vocabulary";
import type { BrowserContext } from "playwright-core";
import { LocalMesh } from "../src/mesh/local-mesh.js";
import { findLeader, waitFor } from "../src/mesh/observe.js";
import { launchBrowser } from "./browser-harness.js";

const patienceMs = 45_000;

let local: LocalMesh;
let directory = "";
let context: BrowserContext;
let readToken = "";

before(async () => {
  await loadBlake3();
  directory = await mkdtemp(join(tmpdir(), "revoada-ui-https-"));
  local = await LocalMesh.start({ directory, nodes: 3, faceId: "pureraft", secureApi: true });
  readToken = (await readFile(join(directory, "read.token"), "utf8")).trim();
  context = await launchBrowser(directory, { ignoreHTTPSErrors: true });
});

after(async () => {
  await context?.close();
  await local?.stopAll(5000);
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

/** GET over HTTPS under the cluster CA, with or without a bearer token: the status code. */
function statusOf(address: string, path: string, token?: string): Promise<number> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    address.slice(address.lastIndexOf(":") + 1),
  ];
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host,
        port: Number(port),
        path,
        ca: local.caPem,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (response) => {
        response.destroy();
        resolve(response.statusCode ?? 0);
      },
    );
    outgoing.on("error", reject);
    outgoing.end();
  });
}

test("the console over HTTPS with closed reads: refused without a token, live with the read token, which cannot act", async () => {
  const formed = await waitFor(async () => {
    const leader = await findLeader(local.nodes);
    return leader !== undefined && leader.status.raft.voters.length === 3 ? leader : undefined;
  }, patienceMs);
  assert.ok(formed, "the mesh formed over its HTTPS API");
  const api = local.mesh.nodes.find((node) => node.name === formed.node.name)!.api;
  assert.equal(await statusOf(api, "/v1/status"), 401, "reads are closed");
  assert.equal(await statusOf(api, "/v1/status", readToken), 200, "the read token reads");

  const page = await context.newPage();
  page.setDefaultTimeout(patienceMs);
  const urls: string[] = [];
  page.on("request", (sent) => urls.push(sent.url()));
  await page.goto(`https://${api}/ui`);
  assert.ok(page.url().startsWith("https://"), "served over TLS");

  // 1. No token: the stream is refused and nothing of the mesh is shown.
  await page.getByTestId("connection").filter({ hasText: "token needed to read" }).waitFor();
  assert.equal(
    await page.locator('[data-testid^="mesh-status-"]').count(),
    0,
    "no member is shown without a token",
  );

  // 2. A wrong token is refused.
  await page.getByTestId("token").fill("not-the-token");
  await page.getByTestId("token-set").click();
  await page.getByTestId("connection").filter({ hasText: "token not accepted" }).waitFor();

  // 3. The read token: live, every member and the Raft view (the node reads its peers over HTTPS).
  await page.getByTestId("token").fill(readToken);
  await page.getByTestId("token-set").click();
  await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
  await page.getByTestId("mesh-alive").filter({ hasText: "3 / 3" }).waitFor();
  for (const node of local.nodes) {
    assert.equal(await page.getByTestId(`mesh-status-${node.name}`).textContent(), "alive");
  }
  await page.getByRole("tab", { name: "Raft" }).click();
  await page.getByTestId("raft-table").waitFor();
  const states = await waitFor(
    async () => {
      const shown = await page.locator('[data-testid^="raft-state-"]').allTextContents();
      return shown.filter((state) => state === "leader").length === 1 &&
        shown.filter((state) => state === "follower").length === 2
        ? shown
        : undefined;
    },
    patienceMs,
    200,
  );
  assert.ok(states, "the Raft view shows one leader and two followers");

  // 4. The read token may not act: the shift form says so, nothing is proposed.
  await page.getByRole("tab", { name: "Shifts" }).click();
  await page.getByTestId("shift-form").waitFor();
  await page.getByTestId("shift-action").selectOption("quarantine");
  await page.getByTestId("shift-node").selectOption(local.nodes[2]!.name);
  await page.getByTestId("shift-submit").click();
  await page.getByTestId("shift-result").filter({ hasText: "this token may only read" }).waitFor();

  // 5. Forget: the stream is opened again without a token, and refused.
  await page.locator("#token-forget").click();
  await page.getByTestId("connection").filter({ hasText: "token needed to read" }).waitFor();

  assert.ok(urls.length > 0);
  for (const url of urls) assert.ok(!url.includes(readToken), `the token is in no URL: ${url}`);
  await page.close();
});
