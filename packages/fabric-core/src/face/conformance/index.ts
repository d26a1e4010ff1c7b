export type { FabricStateArbitraryOptions } from "./arbitraries.js";
export {
  arbitraryDnsLabel,
  arbitraryFabricState,
  arbitraryHex64,
  arbitraryLabels,
  arbitraryPrintable,
} from "./arbitraries.js";
export {
  checkByteStable,
  checkContainerEnvironments,
  checkDropped,
  checkFileShape,
  checkLossReport,
  checkNoTimestamps,
  checkParametersChangeOutput,
  checkRoundTrip,
  checkValidates,
  configuredFace,
  reverseKeyOrder,
} from "./checks.js";
export { exampleFabricStates } from "./examples.js";
export type { FaceConformanceOptions } from "./run.js";
export { runFaceConformance } from "./run.js";
