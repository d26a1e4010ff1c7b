export type { LinearizabilityVerdict, RegisterOperation } from "./linearizability.js";
export { checkLinearizable } from "./linearizability.js";
export type { Envelope, NetworkFaults } from "./network.js";
export { reliableNetwork, SimNetwork } from "./network.js";
export type { RaftClusterOptions, SimCommand, SimDisk, SimNode } from "./raft-cluster.js";
export { decodeSimCommand, encodeSimCommand, RaftCluster, SimViolation } from "./raft-cluster.js";
export type { RaftSimOptions, RaftSimReport } from "./raft-sim.js";
export { countingReplicasCommitRule, replayCommand, runRaftSimulation } from "./raft-sim.js";
export { SeededRandom } from "./random.js";
