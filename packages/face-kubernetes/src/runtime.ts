import type { ContainerEnvironments, FaceFile } from "@revoada/fabric-core/face";
import { failed, ok, type Result } from "@revoada/fabric-core/vocabulary";
import { containerEnvironment } from "./expansion.js";
import { Deployment } from "./schemas.js";
import { parseDocuments } from "./yaml-documents.js";

/**
 * The environment the kubelet gives each Deployment's container: the `env` list as written,
 * expanded the way the kubelet expands it (`expansion.ts`), keyed `namespace/name`. This reads
 * the YAML itself rather than the face's reader, so it checks the writer's escaping against
 * Kubernetes' rules, not against its own inverse.
 */
export async function kubernetesContainerEnvironments(
  files: readonly FaceFile[],
): Promise<Result<ContainerEnvironments>> {
  const environments: Record<string, Record<string, string>> = {};
  for (const file of files) {
    if (!file.path.endsWith(".yaml")) continue;
    const documents = parseDocuments(file.content, file.path);
    if (!documents.ok) return failed(documents.issues);
    for (const document of documents.value) {
      const deployment = Deployment.safeParse(document.value);
      if (!deployment.success) continue;
      const key = `${deployment.data.metadata.namespace ?? "default"}/${deployment.data.metadata.name}`;
      const container = deployment.data.spec.template.spec.containers[0];
      environments[key] = containerEnvironment(container?.env ?? []);
    }
  }
  return ok(environments);
}
