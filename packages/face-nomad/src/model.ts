import type { DroppedField, LostField } from "@revoada/fabric-core/face";
import { type FabricState, type NodeState, workloadKey } from "@revoada/fabric-core/vocabulary";
import { isInterpolated } from "./runtime.js";
import { mebibyte } from "./workload-job.js";

/**
 * What the Nomad face carries: nodes as agent configurations (name, zone as datacenter,
 * roles, rack, labels and addresses in client meta), workloads as jobs, placements in job
 * meta. Lost: what a Nomad client fingerprints itself (capacity), the node version and gossip
 * generation, the Raft log position, memory below whole MiB (`MemoryMB` is an integer;
 * the writer rounds up so a task never gets less than asked for), and env values holding
 * `${...}`, which Nomad would resolve at run time (`runtime.ts`).
 */

/** What no Nomad file written here carries (read back as absent), and what it rounds. */
export const nomadLost: readonly LostField[] = [
  { path: ["nodes", "*", "capacity"], reason: "a Nomad client fingerprints its own resources" },
  { path: ["nodes", "*", "version"], reason: "no Nomad agent setting carries it" },
  { path: ["nodes", "*", "generation"], reason: "no Nomad agent setting carries it" },
  { path: ["applied"], reason: "Nomad has no place for the Raft log position" },
  {
    path: ["workloads", "*", "resources", "memory_bytes"],
    reason: "MemoryMB is whole MiB: rounded up",
    approximate: true,
  },
];

function modelWorkloads(state: FabricState): FabricState["workloads"] {
  const workloads: FabricState["workloads"] = {};
  for (const [key, workload] of Object.entries(state.workloads)) {
    if (key !== workloadKey(workload)) continue;
    const memory = Math.ceil(workload.resources.memory_bytes / mebibyte) * mebibyte;
    const env = Object.fromEntries(
      Object.entries(workload.env).filter(([, value]) => !isInterpolated(value)),
    );
    workloads[key] = { ...workload, env, resources: { ...workload.resources, memory_bytes: memory } };
  }
  return workloads;
}

export function modelNomad(state: FabricState): FabricState {
  const nodes: FabricState["nodes"] = {};
  for (const [id, node] of Object.entries(state.nodes)) {
    const empty = { cpu_millis: 0, memory_bytes: 0, storage_bytes: 0, pods: 0 };
    nodes[id as NodeState["id"]] = {
      ...node,
      id: id as NodeState["id"],
      capacity: empty,
      version: "",
      generation: 0,
    };
  }
  const workloads = modelWorkloads(state);
  const placements = Object.fromEntries(
    Object.entries(state.placements).filter(([key]) => workloads[key] !== undefined),
  );
  return { nodes, workloads, placements, applied: { term: 0, index: 0 } };
}

/** One entry per field `modelNomad` changes, in a stable order. */
export function droppedByNomad(state: FabricState): DroppedField[] {
  const dropped: DroppedField[] = [];
  for (const id of Object.keys(state.nodes).sort()) {
    const node = state.nodes[id as NodeState["id"]]!;
    const lost = (["capacity", "version", "generation"] as const).filter((field) =>
      field === "capacity" ? Object.values(node.capacity).some((value) => value > 0) : Boolean(node[field]),
    );
    for (const field of lost) {
      dropped.push({ path: ["nodes", id, field], reason: "no Nomad agent setting carries it" });
    }
  }
  for (const key of Object.keys(state.workloads).sort()) {
    const workload = state.workloads[key]!;
    if (key !== workloadKey(workload))
      dropped.push({ path: ["workloads", key], reason: "key is not namespace/name" });
    else {
      for (const name of Object.keys(workload.env).sort()) {
        if (!isInterpolated(workload.env[name]!)) continue;
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Nomad's interpolation syntax, named in prose
        const reason = "Nomad resolves ${...} in env values at run time and has no escape for it";
        dropped.push({ path: ["workloads", key, "env", name], reason });
      }
      if (workload.resources.memory_bytes % mebibyte !== 0) {
        const reason = "MemoryMB is whole MiB: rounded up";
        dropped.push({ path: ["workloads", key, "resources", "memory_bytes"], reason });
      }
    }
  }
  for (const key of Object.keys(state.placements).sort()) {
    const workload = state.workloads[key];
    if (workload === undefined || key !== workloadKey(workload)) {
      dropped.push({ path: ["placements", key], reason: "a placement of no written job" });
    }
  }
  if (state.applied.term + state.applied.index > 0) {
    dropped.push({ path: ["applied"], reason: "Nomad has no place for the Raft log position" });
  }
  return dropped;
}
