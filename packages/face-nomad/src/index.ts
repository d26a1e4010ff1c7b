import type { Face, FaceParameters } from "@revoada/fabric-core/face";
import { failed, ok, type Result } from "@revoada/fabric-core/vocabulary";
import { modelNomad, nomadLost } from "./model.js";
import { defaultNomadProfile, type NomadProfile, nomadProfile } from "./nomad-versions.js";
import { readNomad } from "./reader.js";
import { nomadContainerEnvironments } from "./runtime.js";
import { validateNomad } from "./validate.js";
import { writeNomad } from "./writer.js";

/**
 * face-nomad: one job IR per workload, written as an HCL2 jobspec and as job API JSON, and a
 * Nomad agent configuration per node (server where the node holds the control plane). Its one
 * parameter, `version`, gates the job fields that Nomad version accepts (`nomad-versions.ts`).
 */

const versionParameter = {
  name: "version",
  description:
    'the Nomad version the jobs are for: native service checks from 1.4, datacenters = ["*"] from 1.5 (listed datacenters before)',
  default: defaultNomadProfile.version,
  values: ["1.3", "1.4", defaultNomadProfile.version],
} as const;

/** face-nomad writing for `profile`. */
export function nomadFaceFor(profile: NomadProfile): Face {
  return {
    id: "nomad",
    protocol: "nomad",
    description: "Nomad: jobs as HCL2 jobspecs and job API JSON, agent server/client configuration",
    writer: { write: (state, scope) => writeNomad(state, scope, profile) },
    reader: { read: (files) => readNomad(files, profile) },
    model: modelNomad,
    lost: nomadLost,
    validate: validateNomad,
    containerEnvironments: nomadContainerEnvironments,
    parameters: [versionParameter],
    configure: (parameters) => configureNomad(parameters, profile),
  };
}

function configureNomad(parameters: FaceParameters, current: NomadProfile): Result<Face> {
  for (const name of Object.keys(parameters)) {
    if (name !== "version")
      return failed([
        {
          code: "unknown_parameter",
          message: `face-nomad has no parameter ${name} (it takes: version)`,
          path: [name],
        },
      ]);
  }
  const version = parameters.version;
  if (version === undefined) return ok(nomadFaceFor(current));
  if (typeof version !== "string")
    return failed([{ code: "invalid_type", message: "version is a string like 1.10", path: ["version"] }]);
  const profile = nomadProfile(version);
  return profile.ok ? ok(nomadFaceFor(profile.value)) : profile;
}

export const nomadFace: Face = nomadFaceFor(defaultNomadProfile);

export default nomadFace;
export { jobToApi } from "./api-json.js";
export { formatDuration, parseDuration } from "./duration.js";
export { escapeTemplate } from "./hcl-printer.js";
export { readJobHcl } from "./hcl-read.js";
export type { Job } from "./ir.js";
export { jobHcl } from "./job-hcl.js";
export type { NomadProfile } from "./nomad-versions.js";
export { defaultNomadProfile, nomadMinors, nomadProfile } from "./nomad-versions.js";
export { escapeNomadRuntime, unescapeNomadRuntime } from "./workload-job.js";
