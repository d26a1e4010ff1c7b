export type {
  DroppedField,
  Face,
  FaceFile,
  FaceReader,
  FaceWriter,
  ReadResult,
  RenderScope,
  UnknownField,
  WriteResult,
} from "./contract.js";
export { compareText, nodeDirectories, sortedNodes } from "./layout.js";
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
