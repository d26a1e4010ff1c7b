import { z } from "zod";
import { limits } from "./limits.js";

/** Why `certified_cncf` is refused (docs/faces.md, "Face parameters"). */
export const certifiedCncfRemoved =
  "certified_cncf was removed: certification is granted to a product release from its conformance results, and no rendered file changes it (the face always renders kubeadm's control plane); delete the line";

/** The built-in faces' kinds, each with its own parameters; internally tagged by `protocol`. */
export const BuiltInFaceKind = z.discriminatedUnion("protocol", [
  z.strictObject({
    protocol: z.literal("kubernetes"),
    version: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "a Kubernetes version like 1.34"),
    /**
     * Removed: CNCF certification is granted to a product release from its submitted
     * conformance results; no rendered file makes a cluster certified or not, and the face
     * always renders kubeadm's control plane. A config that still has it is refused with how
     * to migrate (delete the line).
     */
    certified_cncf: z
      .unknown()
      .refine((value) => value === undefined, certifiedCncfRemoved)
      .optional(),
  }),
  z.strictObject({ protocol: z.literal("nomad"), version: z.string().regex(/^\d+\.\d+(\.\d+)?$/) }),
  z.strictObject({
    protocol: z.literal("systemd"),
    user_units: z.boolean(),
    /**
     * The Kubernetes release whose control-plane flags the units carry (default 1.34). The
     * units run the host's binaries, so this follows the host's etcd: etcd 3.4/3.5 (Debian 12's
     * etcd-server is 3.4.23) takes the flags of 1.33 and older, etcd 3.6 those of 1.34.
     */
    kubernetes_version: z
      .string()
      .regex(/^\d+\.\d+(\.\d+)?$/, "a Kubernetes version like 1.33")
      .optional(),
  }),
  z.strictObject({ protocol: z.literal("pure-raft") }),
  z.strictObject({ protocol: z.literal("bare-metal-supervisor") }),
]);
export type BuiltInFaceKind = z.infer<typeof BuiltInFaceKind>;
/** The protocols the built-in faces serve (each maps to its package). */
export type FaceProtocol = BuiltInFaceKind["protocol"];
export const builtInFaceProtocols: readonly FaceProtocol[] = [
  "kubernetes",
  "nomad",
  "systemd",
  "pure-raft",
  "bare-metal-supervisor",
];

/**
 * An add-on face (a package found by name, `revoada face new`): its protocol is the face's
 * name, resolved by the node's face registry, with flat options of its own.
 */
export const AddOnFaceKind = z.strictObject({
  protocol: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,62}$/, "a face protocol is a lowercase name: letters, digits and '-'")
    .refine(
      (protocol) => !(builtInFaceProtocols as readonly string[]).includes(protocol),
      // Aborting here lets a built-in protocol report its own kind's issues, not this branch's.
      {
        message:
          "a built-in protocol takes its own parameters (kubernetes: version; nomad: version; systemd: user_units, kubernetes_version)",
        abort: true,
      },
    ),
  options: z.record(z.string().max(63), z.union([z.string().max(1024), z.number(), z.boolean()])).optional(),
});
export type AddOnFaceKind = z.infer<typeof AddOnFaceKind>;

/** What kind of orchestrator a face serves: a built-in one, or an add-on face by name. */
export const FaceKind = z.union([BuiltInFaceKind, AddOnFaceKind]);
export type FaceKind = z.infer<typeof FaceKind>;

export function isBuiltInFaceKind(kind: FaceKind): kind is BuiltInFaceKind {
  return (builtInFaceProtocols as readonly string[]).includes(kind.protocol);
}

export const FabricFace = z.strictObject({
  name: z.string().min(1).max(limits.nameLengthMax),
  kind: FaceKind,
});
export type FabricFace = z.infer<typeof FabricFace>;

/** The prescribed face. */
export const k8sV134Face: FabricFace = FabricFace.parse({
  name: "k8s-v1.34",
  kind: { protocol: "kubernetes", version: "1.34" },
});

/** One example of every face kind: used by `revoada face list` and the round-trip tests. */
export const exampleFaces: readonly FabricFace[] = [
  k8sV134Face,
  FabricFace.parse({ name: "nomad-1.10", kind: { protocol: "nomad", version: "1.10" } }),
  FabricFace.parse({ name: "systemd", kind: { protocol: "systemd", user_units: false } }),
  FabricFace.parse({ name: "pure-raft", kind: { protocol: "pure-raft" } }),
  FabricFace.parse({ name: "bare-metal", kind: { protocol: "bare-metal-supervisor" } }),
];
