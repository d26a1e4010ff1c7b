export type {
  CommittedEtcdMember,
  ContainerEnvironments,
  DroppedField,
  Face,
  FaceFile,
  FaceParameter,
  FaceParameters,
  FaceParameterValue,
  FaceReader,
  FaceWriter,
  LostField,
  ReadResult,
  RenderContext,
  RenderScope,
  UnknownField,
  WriteResult,
} from "./contract.js";
export type {
  ControlPlaneComponent,
  ControlPlaneOptions,
  EtcdClusterState,
  HostPathMount,
} from "./control-plane.js";
export {
  advertiseHost,
  apiServerPort,
  bareHost,
  componentImage,
  componentOfRole,
  controlPlaneComponent,
  controlPlaneImageRegistry,
  controlPlaneOptionsOf,
  controlPlaneVersions,
  etcdCertificateDirectory,
  etcdClientAddress,
  etcdClientPort,
  etcdClusterState,
  etcdDataDirectory,
  etcdMemberName,
  etcdMembers,
  etcdMembership,
  etcdPeerAddress,
  etcdPeerPort,
  etcdRevocationListFile,
  etcdRevocationListPath,
  kubernetesPkiDirectory,
} from "./control-plane.js";
export type { EtcdFlagSet, EtcdProbeSet, KubernetesRelease } from "./kubernetes-releases.js";
export { defaultKubernetesRelease, kubernetesRelease, kubernetesReleases } from "./kubernetes-releases.js";
export { compareText, nodeAddressKinds, nodeDirectories, sortedNodes } from "./layout.js";
export { anyKey, lostFields, matchesLostPattern, withoutLost } from "./loss.js";
export { provenByRendering } from "./proof.js";
export type { FaceDeclaration, FaceNameMap, FaceSource } from "./registry.js";
export {
  builtinFacePackages,
  checkFaceShape,
  FaceName,
  faceDeclaration,
  faceFromModule,
  faceKeyword,
  faceNamePattern,
  faceProtocolPattern,
  knownFaceNames,
  resolveFaceSource,
  unknownFaceIssue,
} from "./registry.js";
