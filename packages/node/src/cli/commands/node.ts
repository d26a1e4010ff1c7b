import { formatIssue } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { apiTlsMaterial } from "../../api/api-tls.js";
import { createApiServer } from "../../api/http-server.js";
import { nodeRoutes } from "../../api/routes.js";
import { loadNodeConfig } from "../../daemon/config.js";
import { FabricNode } from "../../daemon/fabric-node.js";
import { createLogger, type Logger } from "../../daemon/log.js";
import { unlockDataDirectory } from "../../daemon/pid-file.js";
import { parseHostPort } from "../../gossip/gossip-driver.js";
import { joinRoutes } from "../../join/join-routes.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { fileError, readInputFile } from "../io.js";
import { registerNodeRepair } from "./repair.js";

/**
 * SIGHUP: the strategy of the re-read config is proposed like `revoada strategy apply --yes`
 * (the same checks, on the leader); a file that does not parse or prove live is refused here,
 * logged with the field and line:column, and nothing is proposed.
 */
async function reloadStrategy(path: string, node: FabricNode, logger: Logger): Promise<void> {
  const loaded = await loadNodeConfig(path).catch((error: unknown) => error as Error);
  if (loaded instanceof Error || !loaded.ok) {
    const reason = loaded instanceof Error ? loaded.message : loaded.issues.map(formatIssue).join("; ");
    logger.warn("strategy reload refused: the config does not load", { file: path, reason });
    return;
  }
  await node.proposeLocalStrategy(loaded.value.config.strategy).catch((error: unknown) => {
    logger.warn("strategy reload failed", { error: error instanceof Error ? error.message : String(error) });
  });
}

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
    // SIGHUP re-reads the config file's strategy and proposes it (docs/daemon.md).
    process.on("SIGHUP", () => void reloadStrategy(options.config, node, logger));
  });
}
