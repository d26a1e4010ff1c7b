/**
 * Debian's chromium through playwright-core (no browser download), as the console's browser
 * tests launch it. Chromium is required: scripts/setup-system.sh installs it, and the tests
 * fail (never skip) without it.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const chromiumPath = "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * A headless chromium with a profile in `directory`. `ignoreHTTPSErrors`: the page is served
 * under a cluster CA this browser does not hold (the TLS itself is real).
 */
export async function launchBrowser(
  directory: string,
  options: { readonly ignoreHTTPSErrors?: boolean } = {},
): Promise<BrowserContext> {
  assert.ok(
    existsSync(chromiumPath),
    `${chromiumPath} is missing: run scripts/setup-system.sh (it installs Debian's chromium)`,
  );
  return chromium.launchPersistentContext(join(directory, "browser-profile"), {
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    viewport: { width: 1280, height: 860 },
    ...(options.ignoreHTTPSErrors === true ? { ignoreHTTPSErrors: true } : {}),
  });
}
