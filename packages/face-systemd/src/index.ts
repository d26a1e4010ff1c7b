import { systemdFace } from "./systemd-face.js";

export { componentOrder, components, componentUnitEntries } from "./components.js";
export type { UnitEntries, WorkloadFacts } from "./fabric-keys.js";
export {
  appliedEntries,
  collect,
  entryIssue,
  entryWords,
  integerWord,
  keys as revoadaKeys,
  missingKeyIssue,
  nodeFactEntries,
  readApplied,
  readNodeFacts,
  readWorkloadFacts,
  singleWord,
  workloadFactEntries,
} from "./fabric-keys.js";
export type { PlacedReplica } from "./layout.js";
export {
  compareText,
  droppedUnplaced,
  fabricTargetName,
  modelPlacedWorkloads,
  nodeDirectories,
  nodesDirectory,
  nodeTargetName,
  replicasByNode,
  replicaUnitBase,
  sortedNodes,
  userUnitDirectory,
} from "./layout.js";
export {
  blobDirectory,
  podmanArgv,
  podmanPath,
  readPodmanArgv,
  type SystemdFaceOptions,
  systemdFace,
  systemdFaceFor,
} from "./systemd-face.js";
export { fabricTarget, nodeTarget, renderedHeader } from "./targets.js";
export type { SectionKeys, UnitCheckOptions } from "./unit-check.js";
export {
  checkUnitFiles,
  installSectionKeys,
  serviceSectionKeys,
  systemdUnitKeys,
  unitSectionKeys,
  wellKnownUnits,
} from "./unit-check.js";
export type { UnitDocument, UnitEntry, UnitFile, UnitSection } from "./unit-syntax.js";
export { lastValue, listValues, parseUnitFile, sectionEntries, stringifyUnitFile } from "./unit-syntax.js";
export type { ClassifyUnit, UnitReading } from "./unit-tree-reader.js";
export { readUnitTree } from "./unit-tree-reader.js";
export type { NodeUnitRenderers, RenderNodeFiles } from "./unit-tree-writer.js";
export { renderNodeUnits, writeUnitTree } from "./unit-tree-writer.js";
export type { WordError } from "./unit-values.js";
export {
  escapeDollars,
  escapeSpecifiers,
  formatArguments,
  formatEnvironment,
  formatExecLine,
  isWordError,
  joinWords,
  parseEnvironment,
  parseExecLine,
  quoteWord,
  splitWords,
  unescapeDollars,
  unescapeSpecifiers,
} from "./unit-values.js";
export type { ContainerFields } from "./workload-units.js";
export {
  classifyReplicaUnit,
  cpuQuota,
  environmentEntries,
  parseCpuQuota,
  readEnvironment,
  readResources,
  replicaUnitEntries,
  replicaUnitMarks,
  resourceEntries,
} from "./workload-units.js";
export default systemdFace;
