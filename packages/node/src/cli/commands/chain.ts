import { writeFile } from "node:fs/promises";
import {
  blockCommandLabel,
  type ChainExport,
  ConsistencyBundleSchema,
  generateSampleChain,
  InclusionBundleSchema,
  makeConsistencyBundle,
  makeInclusionBundle,
  parseChainExport,
  RoleTable,
  type VerifyMode,
  verifyConsistencyBundle,
  verifyInclusionBundle,
} from "@revoada/fabric-core/attest";
import {
  canonicalJson,
  formatIssue,
  loadBlake3,
  type NodeRole,
  parseSourceText,
  shortNodeId,
} from "@revoada/fabric-core/vocabulary";
import { type Command, Option } from "commander";
import { z } from "zod";
import { type VerifyProgress, verifyChainParallel } from "../../attest/parallel-verify.js";
import { ApiClient } from "../../mesh/api-client.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { readInputFile } from "../io.js";
import { wholeNumber } from "../numbers.js";
import { type OutputFormat, outputOption, type Row, render } from "../output.js";

/**
 * `revoada chain verify|show|prove|verify-proof|sample`: the attestation chain, read from an
 * export file (docs/attestation.md describes the format) or from a running node's
 * `GET /v1/chain/export`, which serves the same bytes.
 */

interface SourceOptions {
  readonly file?: string;
  readonly node?: string;
  readonly token?: string;
}

const fileOption = () => new Option("--file <export>", "an exported chain (JSON Lines)");
const nodeOption = () => new Option("--node <host:port>", "read the chain from a running node's HTTP API");

export function registerChain(program: Command): void {
  const chain = program
    .command("chain")
    .description("the attestation chain: every role transition, signed, hash-linked and witnessed");
  registerVerify(chain);
  registerShow(chain);
  registerProve(chain);
  registerProveConsistency(chain);
  registerVerifyProof(chain);
  registerSample(chain);
}

function registerVerify(chain: Command): void {
  chain
    .command("verify")
    .description("verify a chain end to end; exits 1 naming the first bad record and why")
    .addOption(fileOption())
    .addOption(nodeOption())
    .addOption(
      new Option(
        "--mode <mode>",
        "checkpoints: trust cosigned checkpoints; every-block: check every signature",
      )
        .choices(["checkpoints", "every-block"])
        .default("checkpoints"),
    )
    .option("--genesis <hash>", "refuse a chain whose genesis hash differs (pin it out of band)")
    .option(
      "--threads <n>",
      "threads checking block signatures, this one included (default: the cores; 1: no worker threads)",
      (value: string) => wholeNumber("--threads", value, 1, 256),
    )
    .addOption(outputOption("table"))
    .action(
      async (
        options: SourceOptions & {
          mode: VerifyMode;
          genesis?: string;
          threads?: number;
          output: OutputFormat;
        },
      ) => {
        const text = await readChainText(options);
        let reported = false;
        const report = await verifyChainParallel(text, {
          mode: options.mode,
          ...(options.genesis === undefined ? {} : { trustedGenesisHash: options.genesis }),
          ...(options.threads === undefined ? {} : { threads: options.threads }),
          // Long work says how far it is, on stderr, once a second (nothing for a short chain).
          onProgress: (progress) => {
            const finished =
              progress.lines === progress.linesTotal &&
              progress.signaturesChecked === progress.signaturesQueued;
            if (!reported && finished) return;
            reported = true;
            process.stderr.write(`${progressLine(progress)}\n`);
          },
        });
        if (!report.ok) {
          const failure = report.failure;
          const where = failure.sequence === null ? "" : ` (block ${failure.sequence})`;
          throw new CliError(
            `line ${failure.line}${where}: ${failure.reason}: ${failure.message}; ${report.verifiedBlocks} block(s) verified before it`,
            exitCodes.failed,
          );
        }
        const summary = report.summary;
        process.stdout.write(
          render(options.output, summary, () => [
            {
              origin: summary.origin,
              blocks: summary.blocks,
              sealed: summary.sealedSize,
              checkpoints: summary.checkpoints,
              block_signatures: summary.blockSignaturesChecked,
              genesis: summary.genesisHash,
            },
          ]),
        );
        // Who signed each operator shift (and each swap), and the strategies the chain recorded.
        if (options.output === "table" && summary.operatorSigned.length > 0) {
          process.stdout.write("\nOPERATOR-SIGNED BLOCKS\n");
          for (const signed of summary.operatorSigned) {
            const subject = signed.node === null ? "" : ` ${shortNodeId(signed.node)}`;
            process.stdout.write(
              `  block ${signed.sequence}: ${signed.command}${subject} signed by operator ${signed.signer}\n`,
            );
          }
        }
        if (options.output === "table" && summary.strategies.length > 0) {
          process.stdout.write("\nSTRATEGIES\n");
          for (const strategy of summary.strategies) {
            process.stdout.write(
              `  block ${strategy.sequence}: ${strategy.name} (${strategy.digest.slice(0, 16)})\n`,
            );
          }
        }
      },
    );
}

function progressLine(progress: VerifyProgress): string {
  const percent = Math.floor((100 * progress.lines) / Math.max(1, progress.linesTotal));
  return `chain verify: ${percent}% of ${progress.linesTotal} lines walked (${progress.blocks} blocks), ${progress.signaturesChecked} of ${progress.signaturesQueued} block signatures checked`;
}

function registerShow(chain: Command): void {
  chain
    .command("show")
    .description("who held which role when (parses only: run `chain verify` to check the chain)")
    .addOption(fileOption())
    .addOption(nodeOption())
    .addOption(outputOption("table"))
    .action(async (options: SourceOptions & { output: OutputFormat }) => {
      const parsed = await readChainExport(options);
      const history = roleHistory(parsed);
      const columns = [
        "seq",
        "raft_index",
        "term",
        "committed_at",
        "command",
        "node",
        "roles_after",
        "proposer",
        "origin",
      ];
      process.stdout.write(render(options.output, history, () => history.blocks.map(historyRow), columns));
    });
}

function registerProve(chain: Command): void {
  chain
    .command("prove")
    .description("print an inclusion proof of block INDEX against the first checkpoint that covers it")
    .argument("<index>", "the block's sequence number (0-based), or a Raft index with --raft-index")
    .addOption(fileOption())
    .addOption(nodeOption())
    .option("--raft-index", "INDEX is the Raft log index of the role command")
    .action(async (indexText: string, options: SourceOptions & { raftIndex?: boolean }) => {
      const index = Number(indexText);
      if (!Number.isSafeInteger(index) || index < 0) {
        throw new CliError(`INDEX must be a non-negative integer, not "${indexText}"`, exitCodes.usage);
      }
      const parsed = await readChainExport(options);
      const sequence =
        options.raftIndex === true ? parsed.blocks.findIndex((block) => block.body.index === index) : index;
      if (sequence < 0 || sequence >= parsed.blocks.length) {
        throw new CliError(
          `no block at ${options.raftIndex === true ? "raft index" : "sequence"} ${index}`,
          exitCodes.notFound,
        );
      }
      const bundle = makeInclusionBundle(parsed, sequence);
      if (bundle === undefined) {
        throw new CliError(
          `block ${sequence} is not covered by a checkpoint yet (not sealed)`,
          exitCodes.failed,
        );
      }
      process.stdout.write(canonicalJson(bundle));
    });
}

function registerProveConsistency(chain: Command): void {
  chain
    .command("prove-consistency")
    .description("print a consistency proof between the export's checkpoints of sizes OLD and NEW")
    .argument("<old>", "tree size of the older checkpoint")
    .argument("<new>", "tree size of the newer checkpoint")
    .addOption(fileOption())
    .addOption(nodeOption())
    .action(async (oldText: string, newText: string, options: SourceOptions) => {
      const [oldSize, newSize] = [Number(oldText), Number(newText)];
      if (
        !Number.isSafeInteger(oldSize) ||
        !Number.isSafeInteger(newSize) ||
        oldSize < 0 ||
        oldSize > newSize
      ) {
        throw new CliError("OLD and NEW are checkpoint sizes with OLD <= NEW", exitCodes.usage);
      }
      const parsed = await readChainExport(options);
      const bundle = makeConsistencyBundle(parsed, oldSize, newSize);
      if (bundle === undefined) {
        throw new CliError(
          `the chain has no checkpoints of sizes ${oldSize} and ${newSize}`,
          exitCodes.notFound,
        );
      }
      process.stdout.write(canonicalJson(bundle));
    });
}

const ProofFile = z.discriminatedUnion("kind", [InclusionBundleSchema, ConsistencyBundleSchema]);

function registerVerifyProof(chain: Command): void {
  chain
    .command("verify-proof")
    .description(
      "check a proof from `chain prove` or `chain prove-consistency` (offline; trust comes from --key)",
    )
    .argument("<proof>", "the proof file (JSON)")
    .addOption(
      new Option("--key <node-id...>", "a trusted signer/witness public key (NodeId), repeatable").default(
        [],
      ),
    )
    .addOption(new Option("--cosignatures <k>", "cosignatures required from other trusted keys").default("0"))
    .action(async (file: string, options: { key: string[]; cosignatures: string }) => {
      await loadBlake3();
      const parsed = parseSourceText(ProofFile, await readInputFile(file), file);
      if (!parsed.ok) throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
      const required = wholeNumber("--cosignatures", options.cosignatures, 0);
      const bundle = parsed.value;
      const check =
        bundle.kind === "revoada-inclusion-proof"
          ? verifyInclusionBundle(bundle, options.key, required)
          : verifyConsistencyBundle(bundle, options.key, required);
      if (!check.ok) throw new CliError(`${check.reason}: ${check.message}`, exitCodes.failed);
      const trust =
        options.key.length === 0
          ? "checkpoint signatures NOT checked (no --key given)"
          : `checkpoint signed by ${check.signers.map(shortNodeId).join(", ")}, cosigned by ${check.cosigners.map(shortNodeId).join(", ") || "nobody"}`;
      const claim =
        bundle.kind === "revoada-inclusion-proof"
          ? `block ${bundle.leaf_index} is in the tree of size ${bundle.tree_size}`
          : "the older checkpoint's tree is a prefix of the newer one's";
      process.stdout.write(`${claim}; ${trust}\n`);
    });
}

function registerSample(chain: Command): void {
  chain
    .command("sample")
    .description("write a deterministic sample chain export (for trying the commands, tests and benchmarks)")
    .requiredOption("--out <file>", "where to write the export")
    .option("--blocks <count>", "number of role-transition blocks", "200")
    .option("--seed <seed>", "seed for keys and commands", "1")
    .option("--checkpoint-every <count>", "blocks per checkpoint", "64")
    .action(async (options: { out: string; blocks: string; seed: string; checkpointEvery: string }) => {
      const blocks = positiveInteger(options.blocks, "--blocks");
      const seed = positiveInteger(options.seed, "--seed");
      const checkpointEvery = positiveInteger(options.checkpointEvery, "--checkpoint-every");
      await loadBlake3();
      const sample = generateSampleChain({ blocks, seed, checkpointEvery });
      await writeFile(options.out, sample.text);
      process.stdout.write(`wrote ${blocks} blocks to ${options.out}; genesis ${sample.genesis.hash}\n`);
    });
}

function positiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > 10_000_000) {
    throw new CliError(`${name} must be a whole number from 1 to 10000000`, exitCodes.usage);
  }
  return value;
}

async function readChainText(options: SourceOptions): Promise<string> {
  await loadBlake3();
  if ((options.file === undefined) === (options.node === undefined)) {
    throw new CliError("give exactly one of --file EXPORT or --node HOST:PORT", exitCodes.usage);
  }
  if (options.file !== undefined) return readInputFile(options.file, "chain");
  // A node whose API is HTTPS (docs/join.md): REVOADA_CA names the cluster CA certificate file.
  const caFile = process.env.REVOADA_CA;
  const caPem = caFile === undefined || caFile === "" ? undefined : await readInputFile(caFile);
  return new ApiClient(options.node!, process.env.REVOADA_TOKEN, 5000, caPem).text("/v1/chain/export");
}

async function readChainExport(options: SourceOptions): Promise<ChainExport> {
  const text = await readChainText(options);
  const parsed = parseChainExport(text);
  if (!parsed.ok) {
    const name = options.file ?? options.node ?? "chain";
    throw new CliError(
      parsed.issues.map((issue) => formatIssue({ ...issue, file: name })).join("\n"),
      exitCodes.invalidInput,
    );
  }
  return parsed.value;
}

interface HistoryBlock {
  readonly sequence: number;
  readonly raft_index: number;
  readonly term: number;
  readonly committed_at: string;
  readonly command: string;
  readonly node: string | null;
  readonly roles_after: readonly NodeRole[];
  readonly proposer: string;
  readonly origin: string;
  readonly force: boolean;
}

/** Replays the commands to say which roles each node held after every block. */
function roleHistory(chain: ChainExport): {
  genesis: { hash: string; origin: string; control_plane: readonly string[] };
  blocks: HistoryBlock[];
  roles: Record<string, NodeRole[]>;
} {
  const roles = new RoleTable(chain.genesis.body.control_plane);
  const blocks = chain.blocks.map((block) => {
    const body = block.body;
    const command = body.command;
    roles.apply(command);
    // A strategy block names no node; an etcd block names the member's node, whose roles it leaves as they are.
    const node = command.type === "strategy" ? null : command.node;
    return {
      sequence: body.sequence,
      raft_index: body.index,
      term: body.term,
      committed_at: new Date(body.committed_at_ms).toISOString(),
      command: blockCommandLabel(command),
      node,
      roles_after: node === null ? [] : [...roles.rolesOf(node)],
      proposer: body.proposer,
      origin: body.force ? `${body.origin} (forced)` : body.origin,
      force: body.force,
    };
  });
  const table = roles.snapshot();
  return {
    genesis: {
      hash: chain.genesis.hash,
      origin: chain.genesis.body.origin,
      control_plane: chain.genesis.body.control_plane,
    },
    blocks,
    roles: table,
  };
}

function historyRow(block: HistoryBlock): Row {
  return {
    seq: block.sequence,
    raft_index: block.raft_index,
    term: block.term,
    committed_at: block.committed_at,
    command: block.command,
    node: block.node === null ? "-" : shortNodeId(block.node),
    roles_after: block.roles_after.join(",") || "-",
    proposer: shortNodeId(block.proposer),
    origin: block.origin,
  };
}
