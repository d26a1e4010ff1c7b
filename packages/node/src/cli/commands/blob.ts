import { copyFile, readFile } from "node:fs/promises";
import type { FetchEvent, FetchStatus } from "@revoada/fabric-core/content";
import { Blake3Hash, HostPort, NodeId } from "@revoada/fabric-core/vocabulary";
import { type Command, Option } from "commander";
import { fetchBlob } from "../../content/blob-fetcher.js";
import { BlobStore } from "../../content/blob-store.js";
import { ContentService } from "../../content/content-service.js";
import { connectFrameLink, type FrameLink, listenFrameLinks } from "../../content/frame-link.js";
import { TransportContentLinks } from "../../content/transport-links.js";
import { loadOrCreateIdentity } from "../../identity.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { wholeNumber } from "../numbers.js";
import { type OutputFormat, outputOption, render } from "../output.js";

/**
 * `revoada blob put|get|ls|verify|serve`: the content-addressed store of a data dir, and
 * peer-to-peer fetches from `--peer host:port` providers (until the daemon finds providers
 * through gossip). See docs/content.md.
 */

const dataDirOption = () =>
  new Option("--data-dir <dir>", "the node's data directory").default("./.revoada/data");

export function registerBlob(program: Command): void {
  const blob = program.command("blob").description("content-addressed blobs (BLAKE3), fetched peer to peer");

  blob
    .command("put")
    .description("store a file; prints its BLAKE3 hash (the same as b3sum)")
    .argument("<file>", "file to store")
    .addOption(dataDirOption())
    .action(async (file: string, options: { dataDir: string }) => {
      const store = await BlobStore.open(options.dataDir);
      const stored = await store.putFile(file).catch((error: unknown) => {
        if (error instanceof Error && "code" in error && error.code === "ENOENT") {
          throw new CliError(`no such file: ${file}`, exitCodes.notFound);
        }
        throw error;
      });
      process.stdout.write(`${stored.hash}\n`);
    });

  blob
    .command("get")
    .description("fetch a blob from providers (verified as it streams) and write it to a file")
    .argument("<hash>", "BLAKE3 hash of the blob")
    .requiredOption("-o, --out <file>", "where to write the blob")
    .addOption(
      new Option(
        "--peer <peer...>",
        "a provider: host:port, or nodeid@host:port with --cluster-key-file",
      ).default([]),
    )
    .addOption(new Option("--listen <host:port>", "also serve the groups fetched so far to other peers"))
    .addOption(
      new Option("--linger-ms <ms>", "with --listen, keep serving this long after the fetch").default("0"),
    )
    .addOption(
      new Option(
        "--connect-timeout-ms <ms>",
        "keep trying to reach a plain host:port peer this long",
      ).default("10000"),
    )
    .addOption(clusterKeyOption())
    .addOption(dataDirOption())
    .action(async (hashText: string, options: GetOptions) => {
      const hash = parseHash(hashText);
      const store = await BlobStore.open(options.dataDir);
      const service = new ContentService(store);
      service.expect(hash);
      const links = await openLinks(options, service);
      try {
        if (!(await store.has(hash))) await fetchFromPeers(store, hash, options.peer, service, links);
        await copyFile(store.blobPath(hash), options.out);
        if (options.listen !== undefined)
          await new Promise((resolve) =>
            setTimeout(resolve, wholeNumber("--linger-ms", options.lingerMs, 0)),
          );
      } finally {
        await links.close();
        if (options.listen !== undefined)
          process.stderr.write(`uploaded ${service.counters.uploadedBytes} bytes\n`);
      }
    });

  blob
    .command("ls")
    .description("list the blobs in the store")
    .addOption(dataDirOption())
    .addOption(outputOption("table"))
    .action(async (options: { dataDir: string; output: OutputFormat }) => {
      const store = await BlobStore.open(options.dataDir);
      const blobs = await store.list();
      process.stdout.write(
        render(options.output, blobs, () => blobs.map((b) => ({ hash: b.hash, size: b.size }))),
      );
    });

  blob
    .command("verify")
    .description("re-hash a stored blob; exit 0 if intact, 1 if corrupt, 4 if missing")
    .argument("<hash>", "BLAKE3 hash of the blob")
    .addOption(dataDirOption())
    .action(async (hashText: string, options: { dataDir: string }) => {
      const hash = parseHash(hashText);
      const store = await BlobStore.open(options.dataDir);
      const verdict = await store.verify(hash);
      if (verdict === "missing")
        throw new CliError(`no blob ${hash} in ${options.dataDir}`, exitCodes.notFound);
      if (verdict === "corrupt") throw new CliError(`blob ${hash} is corrupt`, exitCodes.failed);
      process.stdout.write(`${hash} ok\n`);
    });

  blob
    .command("serve")
    .description("serve the store's blobs to peers until interrupted; prints the listening address")
    .addOption(new Option("--listen <host:port>", "address to listen on").default("127.0.0.1:0"))
    .addOption(clusterKeyOption())
    .addOption(dataDirOption())
    .action(async (options: { listen: string; dataDir: string; clusterKeyFile?: string }) => {
      const store = await BlobStore.open(options.dataDir);
      const service = new ContentService(store);
      const links = await openLinks(options, service);
      process.stdout.write(`listening ${links.listening}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      await links.close();
      process.stdout.write(`uploaded ${service.counters.uploadedBytes} bytes\n`);
      process.exit(0);
    });
}

interface GetOptions {
  out: string;
  peer: string[];
  listen?: string;
  lingerMs: string;
  dataDir: string;
  clusterKeyFile?: string;
  connectTimeoutMs: string;
}

const clusterKeyOption = () =>
  new Option(
    "--cluster-key-file <file>",
    "authenticate peers with this cluster key (64 hex characters) and the data dir's node identity",
  );

/**
 * The links a command fetches and serves over: the authenticated node transport when a
 * cluster key is given (peers named nodeid@host:port), else plain TCP (host:port; for a
 * loopback trial only: anyone who can connect may fetch).
 */
interface CliLinks {
  /** How other fetchers name this node (it splits a seed's spans by it), if it serves. */
  readonly selfId: string | undefined;
  /** What `serve` prints: host:port, or nodeid@host:port. */
  readonly listening: string;
  providers(peers: readonly string[]): Promise<Map<string, { link: FrameLink; complete: boolean | null }>>;
  close(): Promise<void>;
}

async function openLinks(
  options: { listen?: string; dataDir: string; clusterKeyFile?: string; connectTimeoutMs?: string },
  service: ContentService,
): Promise<CliLinks> {
  if (options.clusterKeyFile !== undefined)
    return openAuthenticatedLinks({ ...options, clusterKeyFile: options.clusterKeyFile }, service);
  const listening =
    options.listen === undefined
      ? null
      : await listenFrameLinks(...hostAndPort(options.listen), (link) => service.serve(link));
  const address = listening === null ? "" : `${hostAndPort(options.listen!)[0]}:${listening.port}`;
  const opened: FrameLink[] = [];
  return {
    selfId: listening === null ? undefined : address,
    listening: address,
    providers: async (peers) => {
      const providers = new Map<string, { link: FrameLink; complete: boolean | null }>();
      const timeoutMs = wholeNumber("--connect-timeout-ms", options.connectTimeoutMs ?? "10000", 1);
      const links = await Promise.all(peers.map((peer) => connectWithRetry(peer, timeoutMs)));
      links.forEach((link, i) => {
        if (link === null) return;
        opened.push(link);
        providers.set(peers[i]!, { link, complete: null });
      });
      return providers;
    },
    close: async () => {
      for (const link of opened) link.close();
      listening?.server.close();
    },
  };
}

async function openAuthenticatedLinks(
  options: { listen?: string; dataDir: string; clusterKeyFile: string },
  service: ContentService,
): Promise<CliLinks> {
  const keyText = await readFile(options.clusterKeyFile, "utf8").catch(() => "");
  if (!/^[0-9a-f]{64}$/.test(keyText.trim())) {
    throw new CliError(
      `${options.clusterKeyFile} must hold a 32-byte cluster key as 64 hex characters`,
      exitCodes.invalidInput,
    );
  }
  const links = new TransportContentLinks({
    signer: await loadOrCreateIdentity(options.dataDir),
    clusterKey: Buffer.from(keyText.trim(), "hex"),
    onNewPeer: (link) => service.serve(link),
  });
  const bound = options.listen === undefined ? null : await links.listen(toAddress(options.listen));
  return {
    selfId: bound === null ? undefined : links.nodeId,
    listening: bound === null ? "" : `${links.nodeId}@${bound.host}:${bound.port}`,
    providers: async (peers) => {
      const providers = new Map<string, { link: FrameLink; complete: boolean | null }>();
      for (const peer of peers) {
        const at = peer.indexOf("@");
        const nodeId = NodeId.safeParse(peer.slice(0, at));
        if (at < 0 || !nodeId.success)
          throw new CliError(`with a cluster key, a peer is nodeid@host:port: ${peer}`, exitCodes.usage);
        providers.set(nodeId.data, {
          link: links.linkTo(nodeId.data, toAddress(peer.slice(at + 1))),
          complete: null,
        });
      }
      return providers;
    },
    close: () => links.close(),
  };
}

async function fetchFromPeers(
  store: BlobStore,
  hash: Blake3Hash,
  peers: readonly string[],
  service: ContentService,
  links: CliLinks,
): Promise<void> {
  if (peers.length === 0) {
    throw new CliError(`blob ${hash} is not stored here and no --peer was given`, exitCodes.notFound);
  }
  const providers = await links.providers(peers);
  if (providers.size === 0)
    throw new CliError(`no peer reachable: ${peers.join(", ")}`, exitCodes.unavailable);
  const progress = new ProgressLine();
  const startedMs = Date.now();
  try {
    const stored = await fetchBlob({
      store,
      hash,
      providers,
      service,
      // Other fetchers know this one by this id: they split the seed's spans by it.
      ...(links.selfId === undefined ? {} : { config: { selfId: links.selfId } }),
      onProgress: (status, events) => progress.update(status, events),
    });
    progress.finish();
    process.stderr.write(`fetched ${stored.hash} (${stored.size} bytes) in ${Date.now() - startedMs} ms\n`);
  } catch (error) {
    progress.finish();
    throw new CliError(error instanceof Error ? error.message : String(error), exitCodes.failed);
  }
}

/** Connects, retrying until `timeoutMs` (a peer of a swarm may still be starting). */
async function connectWithRetry(peer: string, timeoutMs: number): Promise<FrameLink | null> {
  const [host, port] = hostAndPort(peer);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 10_000; attempt += 1) {
    const link = await connectFrameLink(host, port).catch(() => null);
    if (link !== null || Date.now() >= deadline) return link;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}

function toAddress(text: string): { host: string; port: number } {
  return parseHostPort(text);
}

/** Bytes, rate and providers on stderr: redrawn in place on a terminal, a line a second otherwise. */
class ProgressLine {
  private readonly startedMs = Date.now();
  private lastDrawMs = 0;
  private text = "";

  update(status: FetchStatus, events: readonly FetchEvent[]): void {
    for (const event of events) {
      if (event.type === "provider-banned")
        process.stderr.write(`banned ${event.provider}: ${event.reason}\n`);
      if (event.type === "provider-removed")
        process.stderr.write(`dropped ${event.provider}: ${event.reason}\n`);
    }
    const seconds = Math.max(0.001, (Date.now() - this.startedMs) / 1000);
    const active = status.providers.filter((p) => !p.banned).length;
    const total = status.size === null ? "?" : mebibytes(status.size);
    const rate = status.verifiedBytes / seconds / 1e6;
    this.text = `${mebibytes(status.verifiedBytes)} / ${total} MiB  ${rate.toFixed(1)} MB/s  providers ${active}/${status.providers.length}`;
    const now = Date.now();
    const interval = process.stderr.isTTY ? 100 : 1000;
    if (now - this.lastDrawMs < interval && !status.done) return;
    this.lastDrawMs = now;
    process.stderr.write(process.stderr.isTTY ? `\r${this.text}` : `${this.text}\n`);
  }

  finish(): void {
    if (this.text !== "") process.stderr.write(process.stderr.isTTY ? `\r${this.text}\n` : "");
  }
}

function mebibytes(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function parseHash(text: string): Blake3Hash {
  const parsed = Blake3Hash.safeParse(text);
  if (!parsed.success)
    throw new CliError(`not a BLAKE3 hash (64 lowercase hex): ${text}`, exitCodes.invalidInput);
  return parsed.data;
}

function hostAndPort(text: string): [string, number] {
  const { host, port } = parseHostPort(text);
  return [host, port];
}

function parseHostPort(text: string): { host: string; port: number } {
  if (!HostPort.safeParse(text).success) throw new CliError(`not host:port: ${text}`, exitCodes.usage);
  const colon = text.lastIndexOf(":");
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(text.slice(colon + 1)) };
}
