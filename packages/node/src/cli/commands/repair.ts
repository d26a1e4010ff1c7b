import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { formatIssue, type NodeId } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { z } from "zod";
import { apiUsesTls } from "../../api/api-config.js";
import { MeshMember, NodeStatusReply } from "../../api/schemas.js";
import { loadNodeConfig } from "../../daemon/config.js";
import { runningPidOf } from "../../daemon/pid-file.js";
import { fsyncDirectory } from "../../fs/durable.js";
import { identityFileName, loadOrCreateIdentity } from "../../identity.js";
import { type ApiAccess, apiClientFor } from "../../mesh/api-client.js";
import { RaftStorage } from "../../storage/index.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { fileError, readInputFile } from "../io.js";

/**
 * `revoada node --config node.yaml repair --peer API...`: for a stopped node whose Raft log or
 * snapshot is damaged (the node refuses to start, naming the file and offset). It asks a
 * peer for the Raft configuration, refuses when the cluster would lack a majority without
 * this node, then moves the node's Raft state and attestation chain aside. The node keeps
 * its identity (so it is the same voter), its content blobs (verified by hash) and its
 * witness records; on its next start it rejoins with an empty log and the leader sends it
 * the log or a snapshot.
 */

/** What `repair` learned from the cluster, gathered before anything is judged. */
export interface RepairSurvey {
  readonly self: NodeId;
  /** The peer API that answered first. */
  readonly peer: string;
  readonly leader: string | null;
  readonly voters: readonly string[];
  /** Voters other than this node whose own API answered. */
  readonly votersAnswering: readonly string[];
}

export type RepairVerdict =
  | { readonly safe: true; readonly reason: string }
  | { readonly safe: false; readonly reason: string };

/** Directories of the data directory that hold Raft state and what is derived from it. */
export const discardedDirectories = ["raft", "chain"] as const;

const peerTimeoutMs = 3_000;

/**
 * Whether discarding this node's state keeps the cluster able to decide: there must be a
 * leader to resync from, and, when this node is a voter, the other voters that answer must
 * form a majority of the voter set on their own.
 */
export function judgeRepair(survey: RepairSurvey): RepairVerdict {
  if (survey.leader === null) {
    return {
      safe: false,
      reason: `${survey.peer} knows no leader now; a node rejoins from the leader, so repair once the cluster has one`,
    };
  }
  if (survey.leader === survey.self) {
    return {
      safe: false,
      reason: `${survey.peer} still names this node the leader; wait until another leader is elected`,
    };
  }
  if (!survey.voters.includes(survey.self)) {
    return { safe: true, reason: "this node is not a voter; the cluster's quorum does not depend on it" };
  }
  const quorum = Math.floor(survey.voters.length / 2) + 1;
  const others = survey.voters.length - 1;
  const answering = survey.votersAnswering.length;
  if (answering < quorum) {
    return {
      safe: false,
      reason: `this node is one of ${survey.voters.length} voters (quorum ${quorum}); only ${answering} of the ${others} others answer, so the cluster needs this node's state for a majority: bring other voters back first`,
    };
  }
  return {
    safe: true,
    reason: `${answering} of the other ${others} voters answer, a majority of ${survey.voters.length} (quorum ${quorum}) without this node`,
  };
}

/** Asks the peers, in order, until one answers; then asks every other voter for itself. */
export async function surveyCluster(
  self: NodeId,
  peers: readonly string[],
  access: ApiAccess = { token: undefined, caPem: undefined },
): Promise<RepairSurvey> {
  let status: NodeStatusReply | undefined;
  let peer = "";
  const failures: string[] = [];
  for (const address of peers) {
    const client = apiClientFor(address, access, peerTimeoutMs);
    status = await client.get("/v1/status", NodeStatusReply).catch((error: unknown) => {
      failures.push(error instanceof Error ? error.message : String(error));
      return undefined;
    });
    if (status !== undefined) {
      peer = address;
      break;
    }
  }
  if (status === undefined) {
    throw new CliError(
      `no peer answers, so quorum cannot be checked and there is nothing to rejoin from:\n${failures.join("\n")}`,
      exitCodes.unavailable,
    );
  }
  if (status.id === self) {
    throw new CliError(`${peer} is this node itself (${self}); name another node's API`, exitCodes.usage);
  }
  const voters = status.raft.voters;
  const votersAnswering: string[] = voters.includes(status.id) ? [status.id] : [];
  if (voters.includes(self)) {
    const members = await apiClientFor(peer, access, peerTimeoutMs)
      .get("/v1/mesh", z.array(MeshMember))
      .catch(() => [] as MeshMember[]);
    for (const voter of voters) {
      if (voter === self || voter === status.id) continue;
      const api = members.find((member) => member.id === voter)?.addresses.api;
      if (api === undefined) continue;
      const answer = await apiClientFor(api, access, peerTimeoutMs)
        .get("/v1/status", NodeStatusReply)
        .catch(() => undefined);
      if (answer?.id === voter) votersAnswering.push(voter);
    }
  }
  return { self, peer, leader: status.raft.leader, voters, votersAnswering };
}

export function registerNodeRepair(node: Command): void {
  node
    .command("repair")
    .description(
      "for a stopped node whose Raft log or snapshot is damaged: discard its Raft state and attestation chain " +
        "(moved aside to DATA_DIR/discarded-TIME) so it rejoins from the leader on its next start; refuses when " +
        "the cluster needs this node for a majority, when no peer answers, or when the state is not damaged " +
        "(--force). Uses --config of `revoada node`",
    )
    .requiredOption("--peer <api...>", "API address (host:port) of one or more other nodes to ask")
    .option("--check", "only judge whether repair is safe; change nothing")
    .option("--force", "discard the state even when it opens cleanly (e.g. a restored old copy)")
    .action(async (options: { peer: string[]; check?: boolean; force?: boolean }, command: Command) => {
      const configPath = command.optsWithGlobals<{ config?: string }>().config;
      if (configPath === undefined)
        throw new CliError("give the node's config: revoada node --config FILE repair", exitCodes.usage);
      const { dataDir, access } = await repairableDataDirectory(configPath);
      const self = await identityOf(dataDir);
      const damage = diagnose(dataDir);
      process.stderr.write(`${damage === null ? "the Raft state opens cleanly" : `damaged: ${damage}`}\n`);
      if (damage === null && options.force !== true && options.check !== true) {
        throw new CliError(
          "the Raft state is not damaged; repair discards a healthy state only with --force",
          exitCodes.failed,
        );
      }
      const survey = await surveyCluster(self, options.peer, access);
      const verdict = judgeRepair(survey);
      if (!verdict.safe) throw new CliError(`refused: ${verdict.reason}`, exitCodes.failed);
      process.stderr.write(`safe: ${verdict.reason}\n`);
      if (options.check === true) return;
      const moved = await discardState(dataDir);
      process.stdout.write(
        `moved ${moved.names.join(", ")} to ${moved.to}; start the node again ` +
          `(revoada node --config ${configPath}) and it rejoins from leader ${survey.leader}\n`,
      );
    });
}

/** The config's data directory, when the node is stopped and would not found a new cluster. */
async function repairableDataDirectory(configPath: string): Promise<{ dataDir: string; access: ApiAccess }> {
  await readInputFile(configPath);
  const loaded = await loadNodeConfig(configPath).catch((error: unknown) => {
    throw fileError(configPath, error);
  });
  if (!loaded.ok) throw new CliError(loaded.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
  const config = loaded.value.config;
  if (config.bootstrap) {
    throw new CliError(
      `${configPath}: bootstrap: true would found a new cluster on an empty log; set it to false, then repair`,
      exitCodes.invalidInput,
    );
  }
  const pid = await runningPidOf(config.data_dir);
  if (pid !== undefined) {
    throw new CliError(
      `the node runs (pid ${pid}, ${config.data_dir}); stop it before repairing`,
      exitCodes.failed,
    );
  }
  // Peers are asked with this node's own token and CA, as the daemon asks them.
  const caPem = apiUsesTls(config) ? loaded.value.clusterCa?.certPem : undefined;
  return { dataDir: config.data_dir, access: { token: loaded.value.apiToken, caPem } };
}

/** The node's NodeId from its identity file; never creates one (a new identity is a new node). */
async function identityOf(dataDir: string): Promise<NodeId> {
  if (!existsSync(join(dataDir, identityFileName))) {
    throw new CliError(
      `${dataDir} holds no ${identityFileName}: no node state to repair`,
      exitCodes.notFound,
    );
  }
  return (await loadOrCreateIdentity(dataDir)).nodeId;
}

/** Opens the Raft storage as the node would; the reason it cannot, or null when it opens. */
function diagnose(dataDir: string): string | null {
  const directory = join(dataDir, "raft");
  if (!existsSync(directory)) return null;
  try {
    RaftStorage.open(directory).storage.close();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Moves the Raft state and the chain into one `discarded-TIME` directory, durably. */
async function discardState(dataDir: string): Promise<{ to: string; names: string[] }> {
  const to = join(dataDir, `discarded-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await mkdir(to, { mode: 0o700 });
  const names: string[] = [];
  for (const name of discardedDirectories) {
    if (!existsSync(join(dataDir, name))) continue;
    await rename(join(dataDir, name), join(to, name));
    names.push(name);
  }
  await fsyncDirectory(to);
  await fsyncDirectory(dataDir);
  return { to, names };
}
