export type {
  FabricClusterOptions,
  FabricRunStats,
  FabricSimNode,
  OperatorOutcome,
} from "./fabric-cluster.js";
export { FabricCluster } from "./fabric-cluster.js";
export type { FabricSimOptions, FabricSimProfile, FabricSimReport } from "./fabric-sim.js";
export { fabricSimProfiles, runFabricSimulation } from "./fabric-sim.js";
export type { GossipClusterOptions, SimGossipMember, SimGossipPacket } from "./gossip-cluster.js";
export { GossipCluster } from "./gossip-cluster.js";
export type { LinearizabilityVerdict, RegisterOperation } from "./linearizability.js";
export { checkLinearizable } from "./linearizability.js";
export type { Envelope, NetworkFaults } from "./network.js";
export { reliableNetwork, SimNetwork } from "./network.js";
export type { RaftClusterOptions, SimCommand, SimDisk, SimNode } from "./raft-cluster.js";
export { decodeSimCommand, encodeSimCommand, RaftCluster, SimViolation } from "./raft-cluster.js";
export { RaftInteraction } from "./raft-interaction.js";
export type { RaftSimOptions, RaftSimReport } from "./raft-sim.js";
export { countingReplicasCommitRule, replayCommand, runRaftSimulation } from "./raft-sim.js";
export { SeededRandom } from "./random.js";
