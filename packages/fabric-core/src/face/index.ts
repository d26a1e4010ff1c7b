export type {
  ContainerEnvironments,
  DroppedField,
  Face,
  FaceFile,
  FaceReader,
  FaceWriter,
  LostField,
  ReadResult,
  RenderScope,
  UnknownField,
  WriteResult,
} from "./contract.js";
export type {
  ControlPlaneComponent,
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
  controlPlaneVersions,
  etcdClientAddress,
  etcdClientPort,
  etcdClusterState,
  etcdDataDirectory,
  etcdMemberName,
  etcdMembers,
  etcdPeerAddress,
  etcdPeerPort,
  kubernetesPkiDirectory,
} from "./control-plane.js";
export { compareText, nodeAddressKinds, nodeDirectories, sortedNodes } from "./layout.js";
export { anyKey, lostFields, matchesLostPattern, withoutLost } from "./loss.js";
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
