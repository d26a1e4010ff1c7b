import type { FaceFile, RenderScope, WriteResult } from "@revoada/fabric-core/face";
import type { FabricState, NodeId } from "@revoada/fabric-core/vocabulary";
import { nodeToAgent, type ServerMembership, serverMembership } from "./agent.js";
import { apiJobText } from "./api-json.js";
import type { Job } from "./ir.js";
import { agentHcl, jobHcl } from "./job-hcl.js";
import { droppedByNomad, modelNomad } from "./model.js";
import { agentDatacenters, defaultNomadProfile, type NomadProfile } from "./nomad-versions.js";
import { type JobOptions, workloadToJob } from "./workload-job.js";

/**
 * The Nomad writer. Layout (a node's view is the subset that concerns it):
 * - `jobs/<namespace>/<name>.nomad.hcl`: the HCL2 jobspec (`nomad job run`);
 * - `jobs/<namespace>/<name>.json`: the same job as job API JSON (`PUT /v1/jobs`);
 * - `nodes/<node>/agent.hcl`: the node's agent configuration (server or client).
 */

const pathSafe = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Node folder names: the node's name when it is path-safe and unique, else its id. */
export function agentFolders(state: FabricState): Map<NodeId, string> {
  const seen = new Map<string, number>();
  for (const node of Object.values(state.nodes)) seen.set(node.name, (seen.get(node.name) ?? 0) + 1);
  const folders = new Map<NodeId, string>();
  for (const [id, node] of Object.entries(state.nodes)) {
    const usable = pathSafe.test(node.name) && seen.get(node.name) === 1 && !/^[0-9a-f]{64}$/.test(node.name);
    folders.set(id as NodeId, usable ? node.name : id);
  }
  return folders;
}

export interface RenderContext {
  /** Folder name -> node id. */
  readonly nodeOfFolder: ReadonlyMap<string, NodeId>;
  readonly servers: ServerMembership;
  readonly job: JobOptions;
  /**
   * The job rendered last: a workload's two files (API JSON and jobspec) sit side by side in
   * path order, so both are printed from one job. Only one is kept, so nothing piles up.
   */
  latest: { readonly key: string; readonly job: Job } | undefined;
}

export function renderContext(
  state: FabricState,
  profile: NomadProfile = defaultNomadProfile,
): RenderContext {
  const nodeOfFolder = new Map([...agentFolders(state)].map(([id, folder]) => [folder, id]));
  return {
    nodeOfFolder,
    servers: serverMembership(state),
    job: jobOptions(state, profile),
    latest: undefined,
  };
}

function jobOptions(state: FabricState, profile: NomadProfile): JobOptions {
  return { profile, datacenters: profile.datacenterWildcard ? [] : agentDatacenters(state) };
}

/** Renders one file of `state` by its path, or undefined when the state has no such file. */
export function renderNomadFile(
  state: FabricState,
  path: string,
  context: RenderContext,
): string | undefined {
  const agent = /^nodes\/([^/]+)\/agent\.hcl$/.exec(path);
  if (agent !== null) {
    const id = context.nodeOfFolder.get(agent[1]!);
    return id === undefined ? undefined : agentHcl(nodeToAgent(state.nodes[id]!, context.servers));
  }
  const job = /^jobs\/([^/]+)\/([^/]+)\.(nomad\.hcl|json)$/.exec(path);
  const key = job === null ? undefined : `${job[1]}/${job[2]}`;
  const workload = key === undefined ? undefined : state.workloads[key];
  if (workload === undefined) return undefined;
  let latest = context.latest;
  if (latest === undefined || latest.key !== key) {
    latest = { key: key!, job: workloadToJob(workload, state.placements[key!], context.job) };
    context.latest = latest;
  }
  const ir = latest.job;
  return job![3] === "json" ? apiJobText(ir) : jobHcl(ir);
}

/** The files of `input` for Nomad `profile` (the job fields that version accepts; default 1.10). */
export function writeNomad(
  input: FabricState,
  scope: RenderScope,
  profile: NomadProfile = defaultNomadProfile,
): WriteResult {
  const state = modelNomad(input);
  const files: FaceFile[] = [];
  const servers = serverMembership(state);
  const options = jobOptions(state, profile);
  for (const [id, folder] of agentFolders(state)) {
    if (scope.kind === "node" && scope.node !== id) continue;
    files.push({
      path: `nodes/${folder}/agent.hcl`,
      content: agentHcl(nodeToAgent(state.nodes[id]!, servers)),
    });
  }
  for (const [key, workload] of Object.entries(state.workloads)) {
    const placement = state.placements[key];
    if (scope.kind === "node" && !(placement ?? []).includes(scope.node)) continue;
    const job = workloadToJob(workload, placement, options);
    const stem = `jobs/${workload.namespace}/${workload.name}`;
    files.push({ path: `${stem}.nomad.hcl`, content: jobHcl(job) });
    files.push({ path: `${stem}.json`, content: apiJobText(job) });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, dropped: droppedByNomad(input) };
}
