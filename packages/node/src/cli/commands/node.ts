import { formatIssue } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { apiTlsMaterial } from "../../api/api-tls.js";
import { createApiServer } from "../../api/http-server.js";
import { nodeRoutes } from "../../api/routes.js";
import { loadNodeConfig } from "../../daemon/config.js";
import { FabricNode } from "../../daemon/fabric-node.js";
import { createLogger } from "../../daemon/log.js";
import { unlockDataDirectory } from "../../daemon/pid-file.js";
import { parseHostPort } from "../../gossip/gossip-driver.js";
import { joinRoutes } from "../../join/join-routes.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { fileError, readInputFile } from "../io.js";
import { registerNodeRepair } from "./repair.js";

/** `revoada node --config node.yaml`: runs the daemon until SIGTERM or SIGINT. */
export function registerNode(program: Command): void {
  const node = program
    .command("node")
    .description("run a revoada node (the daemon) until SIGTERM/SIGINT, which stop it gracefully")
    // Not `requiredOption`: the `repair` subcommand reads it too, and commander would demand it twice.
    .option("--config <file>", "node config (YAML or JSON), required")
    .action(async (options: { config?: string }) => {
      if (options.config === undefined)
        throw new CliError("required option '--config <file>' not specified", exitCodes.usage);
      await runNode({ config: options.config });
    });
  registerNodeRepair(node);
}

async function runNode(options: { config: string }): Promise<void> {
  // The file checks and the size cap of every CLI input, before the loader parses it.
  await readInputFile(options.config);
  const loaded = await loadNodeConfig(options.config).catch((error: unknown) => {
    throw fileError(options.config, error);
  });
  if (!loaded.ok) throw new CliError(loaded.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
  const logger = createLogger({
    level: loaded.value.config.log_level,
    component: loaded.value.config.name,
  });
  let node: FabricNode;
  try {
    node = await FabricNode.start({ loaded: loaded.value, logger });
  } catch (error) {
    // Drivers that did start hold sockets and timers: end the process, do not hang.
    const message = error instanceof Error ? error.message : String(error);
    await unlockDataDirectory(loaded.value.config.data_dir);
    process.stderr.write(`error: cannot start the node: ${message}\n`, () => process.exit(exitCodes.failed));
    return new Promise<never>(() => undefined);
  }
  const api = parseHostPort(loaded.value.config.listen.api);
  const apiConfig = loaded.value.config.api;
  const tls = await apiTlsMaterial(loaded.value).catch((error: unknown) => error as Error);
  const server =
    tls instanceof Error
      ? null
      : createApiServer({
          routes: nodeRoutes(node, joinRoutes(node, loaded.value)),
          token: loaded.value.apiToken,
          ...(loaded.value.readToken === undefined ? {} : { readToken: loaded.value.readToken }),
          openReads: apiConfig?.open_reads === true,
          ...(tls === null ? {} : { tls }),
          logger: logger.child("api"),
        });
  const listening =
    server === null
      ? Promise.reject(new Error(`no TLS certificate: ${(tls as Error).message}`))
      : api === null
        ? Promise.reject(new Error("listen.api is not host:port"))
        : new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(api.port, api.host, resolve);
          });
  const failed = await listening.then(
    () => null,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  if (failed !== null) {
    await node.stop();
    process.stderr.write(
      `error: the API cannot listen on ${loaded.value.config.listen.api}: ${failed}\n`,
      () => process.exit(exitCodes.failed),
    );
    return new Promise<never>(() => undefined);
  }
  node.apiServer = server;
  logger.info("api listening", {
    address: loaded.value.config.listen.api,
    scheme: tls === null ? "http" : "https",
    reads: apiConfig?.open_reads === true ? "open" : "token",
  });
  await new Promise<void>((resolve) => {
    const stop = () => {
      void node.stop().then(resolve, (error: unknown) => {
        logger.error("graceful stop failed", {
          error: error instanceof Error ? error.message : String(error),
        });
        resolve();
      });
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
