export type { BlockBody, GenesisBody, OperatorHead } from "./block.js";
export {
  BlockCommand,
  BlockRecord,
  blockBodyLine,
  blockCommandLabel,
  blockHashOf,
  blockRecordLine,
  blockSigningMessage,
  canonicalLine,
  GenesisRecord,
  genesisHash,
  HashHex,
  isCanonicalBlockLine,
  LogOrigin,
  makeBlock,
  makeGenesis,
  operatorSignerOf,
  operatorSigningMessage,
  RoleCommand,
  SignatureHex,
  StrategyRecord,
  signBlockBody,
  signOperatorCommand,
  strategyDigest,
  strategyRecordOf,
  verifyBlockSignature,
} from "./block.js";
export type { ApplyOutcome, BlockProblem, ChainHead, CommittedEntry, ExtendProblem } from "./chain.js";
export {
  AttestChain,
  blockBodyFor,
  blockCommandOf,
  headAfter,
  prospectiveHead,
  signRoleProposal,
} from "./chain.js";
export type { Checkpoint, CheckpointCheck, CheckpointProblem } from "./checkpoint.js";
export {
  checkCheckpointSignatures,
  checkpointNoteSize,
  checkpointText,
  defaultCosignaturesMin,
  formatCheckpointNote,
  parseCheckpointText,
  signCheckpoint,
  withCosignatures,
} from "./checkpoint.js";
export type { ChainExport, DecodedLine } from "./export.js";
export {
  ChainRecord,
  CheckpointRecord,
  decodeRecordLine,
  formatChainExport,
  formatChainLog,
  parseChainExport,
  parseRecordLine,
  recordLine,
} from "./export.js";
export type { ChainBlocks, ChainExtension } from "./extension.js";
export { verifyChainExtension } from "./extension.js";
export {
  emptyTreeRoot,
  MerkleTree,
  merkleLeafHash,
  merkleNodeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
export type { NoteParse, NoteSignature, NoteSignatureType, SignedNote } from "./note.js";
export {
  cosignNote,
  formatSignedNote,
  noteKeyId,
  noteSignatureType,
  parseSignedNote,
  signatureTypeOf,
  signNote,
  verifyCosignature,
  verifyNoteSignature,
} from "./note.js";
export type { OperatorCheck, OperatorClaim, OperatorProblem, OperatorRules } from "./operator.js";
export { checkOperatorClaim, operatorWindowBlocks } from "./operator.js";
export type { BundleCheck, ConsistencyBundle, ConsistencyCheck, InclusionBundle } from "./proof.js";
export {
  ConsistencyBundleSchema,
  InclusionBundleSchema,
  makeConsistencyBundle,
  makeInclusionBundle,
  verifyConsistencyBundle,
  verifyInclusionBundle,
} from "./proof.js";
export { foundingRoles, isControlPlaneMember, RoleTable } from "./role-table.js";
export type { SampleChain, SampleChainOptions } from "./sample.js";
export { generateSampleChain, sampleSigner } from "./sample.js";
export type { SealerConfig } from "./sealer.js";
export { Sealer } from "./sealer.js";
export type {
  BadSignature,
  DeferredSignature,
  VerifyFailure,
  VerifyMode,
  VerifyOptions,
  VerifyReason,
  VerifyReport,
  VerifySummary,
} from "./verify.js";
export { ChainWalk, verifyChain } from "./verify.js";
export type { CosignOutcome, CosignRefusal, CosignRequest, WitnessState } from "./witness.js";
export { Witness } from "./witness.js";
