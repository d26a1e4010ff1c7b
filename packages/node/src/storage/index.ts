export type { PersistBatch, RaftRecovery } from "./raft-storage.js";
export { RaftStorage } from "./raft-storage.js";
export type { StoredSnapshot } from "./snapshot-store.js";
export { SnapshotStore } from "./snapshot-store.js";
export type { SnapshotMark, WalBatch, WalEntry, WalHardState, WalOptions, WalRecovery } from "./wal.js";
export { WriteAheadLog } from "./wal.js";
