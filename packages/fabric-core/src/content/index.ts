export {
  BlobHasher,
  chainingValueBytes,
  chunkBytes,
  chunkGroupBytes,
  chunksPerGroup,
  type GroupHasher,
  loadBlobHasher,
} from "./blake3-tree.js";
export type {
  BlobFetchConfig,
  FetchEvent,
  FetchReady,
  FetchResume,
  FetchStatus,
  GroupWrite,
  OutgoingRequest,
  ProviderId,
} from "./blob-fetch.js";
export { BlobFetch, defaultFetchConfig } from "./blob-fetch.js";
export type { GcPlan } from "./blob-gc.js";
export { pinnedBlobs, planGarbageCollection } from "./blob-gc.js";
export type { Holding, PlannedResponse } from "./blob-serve.js";
export { planContentResponse } from "./blob-serve.js";
export type { BlobTree } from "./blob-tree.js";
export {
  BlobTreeBuilder,
  buildBlobTree,
  groupCountOf,
  groupLengthOf,
  groupsCovering,
  hashToHex,
  isGroupOf,
  isOutboardOf,
  outboardBytesOf,
  rootOfOutboard,
} from "./blob-tree.js";
export { GroupBitfield } from "./group-bitfield.js";
export type { ContentFrame } from "./messages.js";
export {
  ContentMessage,
  ContentRequest,
  ContentResponse,
  decodeContentFrame,
  encodeContentFrame,
} from "./messages.js";
