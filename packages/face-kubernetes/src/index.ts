import {
  defaultKubernetesRelease,
  type Face,
  type FaceParameters,
  type KubernetesRelease,
  kubernetesRelease,
  kubernetesReleases,
} from "@revoada/fabric-core/face";
import { failed, ok, type Result } from "@revoada/fabric-core/vocabulary";
import { kubernetesLost, modelState } from "./model.js";
import { readKubernetes } from "./reader.js";
import { kubernetesContainerEnvironments } from "./runtime.js";
import { validateKubernetes } from "./validate.js";
import { writeKubernetes } from "./writer.js";

/**
 * face-kubernetes: Node role patches (applied API-side), kubeadm-shaped static pods, and
 * workloads as Deployment + Service + ConfigMap, as YAML 1.1-safe multi-document files.
 * Its one parameter, `version`, picks the Kubernetes release the static pods run
 * (`kubernetes-releases.ts` in fabric-core: component images, the etcd image, etcd's flags
 * and probes); the default is the prescribed face's 1.34.
 */

const versionParameter = {
  name: "version",
  description:
    "the Kubernetes release of the static pods: component and etcd images, etcd's flags (3.5 or 3.6 spelling) and probes",
  default: defaultKubernetesRelease.minor,
  values: kubernetesReleases.map((release) => release.minor),
} as const;

/** face-kubernetes rendering `release`. */
export function kubernetesFaceFor(release: KubernetesRelease): Face {
  return {
    id: "kubernetes",
    protocol: "kubernetes",
    description: "Kubernetes: Node role patches, kubeadm static pods, Deployments/Services/ConfigMaps",
    writer: { write: (state, scope, context) => writeKubernetes(state, scope, release, context) },
    reader: { read: (files) => readKubernetes(files, release) },
    model: modelState,
    lost: kubernetesLost,
    validate: validateKubernetes,
    containerEnvironments: kubernetesContainerEnvironments,
    parameters: [versionParameter],
    configure: (parameters) => configureKubernetes(parameters, release),
  };
}

function configureKubernetes(parameters: FaceParameters, current: KubernetesRelease): Result<Face> {
  for (const name of Object.keys(parameters)) {
    if (name !== "version")
      return failed([
        {
          code: "unknown_parameter",
          message: `face-kubernetes has no parameter ${name} (it takes: version)`,
          path: [name],
        },
      ]);
  }
  const version = parameters.version;
  if (version === undefined) return ok(kubernetesFaceFor(current));
  if (typeof version !== "string")
    return failed([{ code: "invalid_type", message: "version is a string like 1.30", path: ["version"] }]);
  const release = kubernetesRelease(version);
  return release.ok ? ok(kubernetesFaceFor(release.value)) : release;
}

export const kubernetesFace: Face = kubernetesFaceFor(defaultKubernetesRelease);

export default kubernetesFace;
export { renderNodePatch } from "./node-patch.js";
export { renderStaticPod } from "./static-pods.js";
export { renderConfigMap, renderDeployment, renderService } from "./workload-objects.js";
