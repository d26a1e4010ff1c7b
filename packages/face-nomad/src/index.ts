import type { Face } from "@revoada/fabric-core/face";
import { modelNomad, nomadLost } from "./model.js";
import { readNomad } from "./reader.js";
import { nomadContainerEnvironments } from "./runtime.js";
import { validateNomad } from "./validate.js";
import { writeNomad } from "./writer.js";

/**
 * face-nomad: one job IR per workload, written as an HCL2 jobspec and as job API JSON, and a
 * Nomad agent configuration per node (server where the node holds the control plane).
 */
export const nomadFace: Face = {
  id: "nomad",
  protocol: "nomad",
  description: "Nomad: jobs as HCL2 jobspecs and job API JSON, agent server/client configuration",
  writer: { write: writeNomad },
  reader: { read: readNomad },
  model: modelNomad,
  lost: nomadLost,
  validate: validateNomad,
  containerEnvironments: nomadContainerEnvironments,
};

export default nomadFace;
export { jobToApi } from "./api-json.js";
export { formatDuration, parseDuration } from "./duration.js";
export { escapeTemplate } from "./hcl-printer.js";
export { readJobHcl } from "./hcl-read.js";
export type { Job } from "./ir.js";
export { jobHcl } from "./job-hcl.js";
