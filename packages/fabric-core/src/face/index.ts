export type { FabricStateArbitraryOptions, FaceConformanceOptions } from "./conformance/index.js";
export {
  arbitraryDnsLabel,
  arbitraryFabricState,
  arbitraryHex64,
  arbitraryLabels,
  arbitraryPrintable,
  checkByteStable,
  checkDropped,
  checkFileShape,
  checkNoTimestamps,
  checkRoundTrip,
  checkValidates,
  exampleFabricStates,
  reverseKeyOrder,
  runFaceConformance,
} from "./conformance/index.js";
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
