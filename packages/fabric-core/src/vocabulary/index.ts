export { assert, assertNever, assertUint, InvariantError } from "./assert.js";
export { createBlake3Hasher } from "./blake3-wasm.js";
export type { CommandType } from "./command.js";
export {
  AttestCheckpointCommand,
  Command,
  DemoteCommand,
  decodeProposal,
  EtcdCredential,
  EtcdMemberCommand,
  encodeProposal,
  isAttestedCommand,
  isRoleCommand,
  JoinTokenCommand,
  MemberFlapCommand,
  NodeJoinCommand,
  NodeRemoveCommand,
  PlacementCommand,
  PromoteCommand,
  Proposal,
  QuarantineCommand,
  RestoreCommand,
  RoleCommandSchema,
  roleCommandTypes,
  ShiftProcedureCommand,
  StrategyCommand,
  WorkloadDeleteCommand,
  WorkloadUpsertCommand,
} from "./command.js";
export { emptyFabricState, FabricState } from "./fabric-state.js";
export type { FaceProtocol } from "./face-kind.js";
export {
  AddOnFaceKind,
  BuiltInFaceKind,
  builtInFaceProtocols,
  exampleFaces,
  FabricFace,
  FaceKind,
  isBuiltInFaceKind,
  k8sV134Face,
} from "./face-kind.js";
export { Formation, formationDescriptions, largestOddAtMost, votersFor } from "./formation.js";
export { blake3, blake3Hex, isBlake3Loaded, loadBlake3 } from "./hash.js";
export { Blake3Hash, DnsLabel, isNodeId, Millis, NodeId, shortNodeId } from "./ids.js";
export type { FabricIssue, Result } from "./issue.js";
export { failed, formatIssue, issuesFromZod, ok, parseWith } from "./issue.js";
export { limits } from "./limits.js";
export {
  Capacity,
  ControlPlaneRole,
  controlPlaneRoles,
  HostPort,
  isControlPlaneRole,
  Labels,
  NodeAddresses,
  NodeRole,
  NodeState,
  ShiftReason,
} from "./node.js";
export type { Random } from "./random.js";
export type { RoleCommand } from "./roles.js";
export { nextRoles, sortedRoles } from "./roles.js";
export { schemaCatalog, toJsonSchema } from "./schema-catalog.js";
export type { Signer } from "./signing.js";
export { signerFromSeed, verifySignature } from "./signing.js";
export type { SourceTextOptions, YamlOptions } from "./source-text.js";
export {
  canonicalJson,
  parseSourceText,
  sortKeysDeep,
  sourceTextCharsMax,
  stringifyYaml,
} from "./source-text.js";
export type { SshsigHashAlgorithm } from "./ssh-key.js";
export {
  operatorKeyHex,
  operatorSshsigNamespace,
  sshEd25519Blob,
  sshEd25519Line,
  sshEd25519LineKey,
  sshString,
  sshsigHashAlgorithms,
  sshsigSignedData,
} from "./ssh-key.js";
export type { LivenessError, LivenessProof } from "./strategy.js";
export {
  AttestationConfig,
  ConsensusKind,
  ContentConfig,
  FabricStrategy,
  homelabStrategy,
  livenessIssues,
  MembershipConfig,
  OperatorKey,
  PlacementPolicy,
  prescribedStrategies,
  proveLiveness,
  ReconciliationCadence,
} from "./strategy.js";
export { ConfigBlobRef, Workload, WorkloadPlacement, WorkloadPort, workloadKey } from "./workload.js";
