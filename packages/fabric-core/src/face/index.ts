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
export type { FaceSource } from "./registry.js";
export {
  builtinFacePackages,
  checkFaceShape,
  faceFromModule,
  knownFaceNames,
  resolveFaceSource,
  unknownFaceIssue,
} from "./registry.js";
