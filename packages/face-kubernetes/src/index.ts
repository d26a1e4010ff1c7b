import type { Face } from "@revoada/fabric-core/face";
import { kubernetesLost, modelState } from "./model.js";
import { readKubernetes } from "./reader.js";
import { kubernetesContainerEnvironments } from "./runtime.js";
import { validateKubernetes } from "./validate.js";
import { writeKubernetes } from "./writer.js";

/**
 * face-kubernetes: Node role patches (applied API-side), kubeadm-shaped static pods, and
 * workloads as Deployment + Service + ConfigMap, as YAML 1.1-safe multi-document files.
 */
export const kubernetesFace: Face = {
  id: "kubernetes",
  protocol: "kubernetes",
  description: "Kubernetes: Node role patches, kubeadm static pods, Deployments/Services/ConfigMaps",
  writer: { write: writeKubernetes },
  reader: { read: readKubernetes },
  model: modelState,
  lost: kubernetesLost,
  validate: validateKubernetes,
  containerEnvironments: kubernetesContainerEnvironments,
};

export default kubernetesFace;
export { renderNodePatch } from "./node-patch.js";
export { renderStaticPod } from "./static-pods.js";
export { renderConfigMap, renderDeployment, renderService } from "./workload-objects.js";
