import { z } from "zod";
import { limits } from "./limits.js";

/** What kind of orchestrator a face serves; internally tagged by `protocol`. */
export const FaceKind = z.discriminatedUnion("protocol", [
  z.strictObject({
    protocol: z.literal("kubernetes"),
    version: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "a Kubernetes version like 1.34"),
    certified_cncf: z.boolean(),
  }),
  z.strictObject({ protocol: z.literal("nomad"), version: z.string().regex(/^\d+\.\d+(\.\d+)?$/) }),
  z.strictObject({ protocol: z.literal("systemd"), user_units: z.boolean() }),
  z.strictObject({ protocol: z.literal("pure-raft") }),
  z.strictObject({ protocol: z.literal("bare-metal-supervisor") }),
]);
export type FaceKind = z.infer<typeof FaceKind>;
export type FaceProtocol = FaceKind["protocol"];

export const FabricFace = z.strictObject({
  name: z.string().min(1).max(limits.nameLengthMax),
  kind: FaceKind,
});
export type FabricFace = z.infer<typeof FabricFace>;

/** The prescribed face. */
export const k8sV134Face: FabricFace = FabricFace.parse({
  name: "k8s-v1.34",
  kind: { protocol: "kubernetes", version: "1.34", certified_cncf: true },
});

/** One example of every face kind: used by `revoada face list` and the round-trip tests. */
export const exampleFaces: readonly FabricFace[] = [
  k8sV134Face,
  FabricFace.parse({ name: "nomad-1.10", kind: { protocol: "nomad", version: "1.10" } }),
  FabricFace.parse({ name: "systemd", kind: { protocol: "systemd", user_units: false } }),
  FabricFace.parse({ name: "pure-raft", kind: { protocol: "pure-raft" } }),
  FabricFace.parse({ name: "bare-metal", kind: { protocol: "bare-metal-supervisor" } }),
];
