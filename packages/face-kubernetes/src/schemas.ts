import { z } from "zod";

/**
 * zod schemas over the Kubernetes objects this face writes and reads: the single source of
 * truth for their shapes. They cover the subset the face emits; objects are not strict, so a
 * hand-edited file with extra fields still parses and the extras are reported as `unknown`.
 */

const StringMap = z.record(z.string(), z.string());

export const ObjectMeta = z.object({
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63).optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

export const Taint = z.object({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});
export type Taint = z.infer<typeof Taint>;

/** A Node as a server-side apply / strategic-merge patch: only the fields revoada owns. */
export const NodePatch = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Node"),
  metadata: ObjectMeta,
  spec: z
    .object({
      taints: z.array(Taint).optional(),
      unschedulable: z.boolean().optional(),
    })
    .optional(),
});
export type NodePatch = z.infer<typeof NodePatch>;

const Port = z.int().min(1).max(65535);

export const EnvVar = z.object({ name: z.string().min(1), value: z.string() });

export const ContainerPort = z.object({
  containerPort: Port,
  name: z.string().min(1).max(15).optional(),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).optional(),
});

export const ResourceRequirements = z.object({
  requests: StringMap.optional(),
  limits: StringMap.optional(),
});

export const Probe = z.object({
  httpGet: z.object({
    host: z.string().optional(),
    path: z.string(),
    port: Port,
    scheme: z.enum(["HTTP", "HTTPS"]),
  }),
  initialDelaySeconds: z.int().min(0).optional(),
  periodSeconds: z.int().min(1).optional(),
  timeoutSeconds: z.int().min(1).optional(),
  failureThreshold: z.int().min(1).optional(),
});
export type Probe = z.infer<typeof Probe>;

export const VolumeMount = z.object({
  name: z.string().min(1),
  mountPath: z.string().min(1),
  readOnly: z.boolean().optional(),
});

export const Container = z.object({
  name: z.string().min(1).max(63),
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(EnvVar).optional(),
  ports: z.array(ContainerPort).optional(),
  resources: ResourceRequirements.optional(),
  volumeMounts: z.array(VolumeMount).optional(),
  livenessProbe: Probe.optional(),
  readinessProbe: Probe.optional(),
  startupProbe: Probe.optional(),
});
export type Container = z.infer<typeof Container>;

export const Toleration = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
});
export type Toleration = z.infer<typeof Toleration>;

export const NodeSelectorRequirement = z.object({
  key: z.string().min(1),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]),
  values: z.array(z.string()).optional(),
});

export const Affinity = z.object({
  nodeAffinity: z
    .object({
      requiredDuringSchedulingIgnoredDuringExecution: z
        .object({
          nodeSelectorTerms: z.array(
            z.object({ matchExpressions: z.array(NodeSelectorRequirement).optional() }),
          ),
        })
        .optional(),
    })
    .optional(),
});
export type Affinity = z.infer<typeof Affinity>;

export const LabelSelector = z.object({ matchLabels: StringMap });

export const TopologySpreadConstraint = z.object({
  maxSkew: z.int().min(1),
  topologyKey: z.string().min(1),
  whenUnsatisfiable: z.enum(["DoNotSchedule", "ScheduleAnyway"]),
  labelSelector: LabelSelector.optional(),
});

export const Volume = z.object({
  name: z.string().min(1),
  hostPath: z
    .object({
      path: z.string().min(1),
      type: z.enum(["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File"]).optional(),
    })
    .optional(),
  configMap: z.object({ name: z.string().min(1) }).optional(),
});
export type Volume = z.infer<typeof Volume>;

export const PodSpec = z.object({
  containers: z.array(Container).min(1),
  hostNetwork: z.boolean().optional(),
  priorityClassName: z.string().optional(),
  securityContext: z.object({ seccompProfile: z.object({ type: z.string() }).optional() }).optional(),
  nodeSelector: StringMap.optional(),
  affinity: Affinity.optional(),
  tolerations: z.array(Toleration).optional(),
  topologySpreadConstraints: z.array(TopologySpreadConstraint).optional(),
  volumes: z.array(Volume).optional(),
});
export type PodSpec = z.infer<typeof PodSpec>;

/** A kubeadm-shaped static pod (`/etc/kubernetes/manifests/<component>.yaml`). */
export const StaticPod = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Pod"),
  metadata: ObjectMeta,
  spec: PodSpec,
});
export type StaticPod = z.infer<typeof StaticPod>;

export const Deployment = z.object({
  apiVersion: z.literal("apps/v1"),
  kind: z.literal("Deployment"),
  metadata: ObjectMeta,
  spec: z.object({
    replicas: z.int().min(0),
    selector: LabelSelector,
    template: z.object({ metadata: z.object({ labels: StringMap }), spec: PodSpec }),
  }),
});
export type Deployment = z.infer<typeof Deployment>;

export const ServicePort = z.object({
  name: z.string().optional(),
  port: Port,
  protocol: z.enum(["TCP", "UDP", "SCTP"]).optional(),
  targetPort: z.union([Port, z.string().min(1)]).optional(),
});

export const Service = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Service"),
  metadata: ObjectMeta,
  spec: z.object({
    ports: z.array(ServicePort).min(1),
    selector: StringMap,
    type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).optional(),
  }),
});
export type Service = z.infer<typeof Service>;

export const ConfigMap = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("ConfigMap"),
  metadata: ObjectMeta,
  data: StringMap.optional(),
});
export type ConfigMap = z.infer<typeof ConfigMap>;

/** Every kind the face writes, told apart by `kind`. */
export const FaceObject = z.discriminatedUnion("kind", [
  NodePatch,
  StaticPod,
  Deployment,
  Service,
  ConfigMap,
]);
export type FaceObject = z.infer<typeof FaceObject>;
